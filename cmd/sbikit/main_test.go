package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/probinv/probinv/datasets"
	"github.com/probinv/probinv/sbikit/npy"
	"github.com/probinv/probinv/sbikit/tasks"
)

// runJSON runs the command line and decodes every output line as a JSON object.
func runJSON(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	var out bytes.Buffer
	if err := run(args, &out); err != nil {
		t.Fatalf("sbikit %s: %v", strings.Join(args, " "), err)
	}
	var objects []map[string]any
	scanner := bufio.NewScanner(&out)
	for scanner.Scan() {
		var obj map[string]any
		if err := json.Unmarshal(scanner.Bytes(), &obj); err != nil {
			t.Fatalf("sbikit %s: output line %q is not JSON: %v", strings.Join(args, " "), scanner.Text(), err)
		}
		objects = append(objects, obj)
	}
	return objects
}

func TestTasksLists(t *testing.T) {
	dims := map[string][2]float64{}
	for _, obj := range runJSON(t, "tasks", "--json") {
		dims[obj["task"].(string)] = [2]float64{obj["dim_x"].(float64), obj["dim_y"].(float64)}
	}
	want := map[string][2]float64{"two_moons": {2, 2}, "gaussian_linear": {10, 10}, "slcp": {5, 8},
		"gaussian_mixture": {2, 2}, "sir": {2, 10}, "lotka_volterra": {4, 20}, "gaussian_linear_uniform": {10, 10}}
	for name, d := range want {
		if dims[name] != d {
			t.Errorf("task %s: dims %v, want %v", name, dims[name], d)
		}
	}
}

func TestSimulateWritesDataset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sims.npz")
	summary := runJSON(t, "simulate", "--task", "two_moons", "--n", "500", "--seed", "4", "--out", path, "--json")
	if len(summary) != 1 || summary[0]["n"].(float64) != 500 {
		t.Fatalf("summary %v, want n=500", summary)
	}
	d, err := datasets.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Task != "two_moons" || d.Seed != 4 || len(d.X) != 500 || len(d.Y[0]) != 2 {
		t.Errorf("loaded %s seed %d with %d rows, want two_moons seed 4 with 500", d.Task, d.Seed, len(d.X))
	}
	var out bytes.Buffer
	if err := run([]string{"simulate", "--task", "no_such_task", "--out", path}, &out); err == nil {
		t.Error("unknown task: want an error")
	}
}

// TestSimulatePDETask writes a heat2d dataset (sbikit/tasks/pde) and reads it back.
func TestSimulatePDETask(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heat.npz")
	runJSON(t, "simulate", "--task", "heat2d", "--n", "20", "--seed", "3", "--out", path, "--json")
	d, err := datasets.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Task != "heat2d" || d.Seed != 3 || len(d.X) != 20 || len(d.X[0]) != 1024 || len(d.Y[0]) != 1024 {
		t.Errorf("loaded %s seed %d with %d rows of %d and %d values, want heat2d seed 3 with 20 of 1024 and 1024",
			d.Task, d.Seed, len(d.X), len(d.X[0]), len(d.Y[0]))
	}
}

// TestC2STOnFiles compares a .csv with a .npy: the same distribution gives about 0.5, a shifted
// one clearly more; a missing file is an error that names it.
func TestC2STOnFiles(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 1))
	sample := func(n int, shift float64) [][]float64 {
		rows := make([][]float64, n)
		for i := range rows {
			rows[i] = []float64{rng.NormFloat64() + shift, rng.NormFloat64()}
		}
		return rows
	}
	writeCSV := func(name string, rows [][]float64) string {
		var b strings.Builder
		b.WriteString("theta_1,theta_2\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "%g,%g\n", r[0], r[1])
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	writeNPY := func(name string, rows [][]float64) string {
		arr, err := npy.FromRows(rows)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := npy.Save(path, arr); err != nil {
			t.Fatal(err)
		}
		return path
	}
	a := writeCSV("a.csv", sample(1000, 0))
	same := writeNPY("same.npy", sample(1000, 0))
	shifted := writeNPY("shifted.npy", sample(1000, 3))
	if r := runJSON(t, "c2st", "--json", a, same); r[0]["c2st"].(float64) > 0.56 {
		t.Errorf("c2st of samples of one distribution = %v, want ≈ 0.5", r[0]["c2st"])
	}
	// N(0,1) vs N(3,1): the Bayes classifier's accuracy is Φ(1.5) = 0.933.
	if r := runJSON(t, "c2st", a, shifted, "--json"); r[0]["c2st"].(float64) < 0.9 {
		t.Errorf("c2st of shifted samples = %v, want ≈ 0.93", r[0]["c2st"])
	}
	var out bytes.Buffer
	missing := filepath.Join(dir, "missing.csv")
	if err := run([]string{"c2st", a, missing}, &out); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v, want one naming %s", err, missing)
	}
}

func TestBenchPrintsJSONWithBackend(t *testing.T) {
	results := runJSON(t, "bench", "--run", "^simulate_two_moons$")
	if len(results) != 1 {
		t.Fatalf("got %d results, want 1: %v", len(results), results)
	}
	r := results[0]
	metrics, _ := r["metrics"].(map[string]any)
	if r["name"] != "simulate_two_moons" || r["backend"] == "" || metrics["simulations_per_second"].(float64) <= 0 {
		t.Errorf("result %v lacks name, backend or a positive simulations_per_second", r)
	}
}

// tinyTraining are flags that train in about a second: good enough to test the plumbing, not the
// quality of the posterior.
var tinyTraining = []string{"--task", "two_moons", "--sims", "300", "--max-epochs", "3", "--transforms", "2", "--hidden", "16", "--flow", "maf", "--seed", "2"}

// needSbibm skips a test that reads sbibm's reference observations when they are not here.
func needSbibm(t *testing.T) {
	if _, err := tasks.SbibmDir(); err != nil {
		t.Skip(err)
	}
}

// readRows reads a sample file written by `sbikit sample`.
func readRows(t *testing.T, path string) [][]float64 {
	t.Helper()
	rows, err := readSamples(path)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestTrainThenSample trains a model, refuses to train over it, and samples it for an sbibm
// observation given by index and by file: the same observation and seed give the same samples,
// and every sample lies in two_moons' prior box [-1, 1]².
func TestTrainThenSample(t *testing.T) {
	needSbibm(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	summary := runJSON(t, append([]string{"train", "--out", model, "--json"}, tinyTraining...)...)
	if len(summary) != 1 {
		t.Fatalf("train printed %d lines, want 1", len(summary))
	}
	s := summary[0]
	if s["task"] != "two_moons" || s["method"] != "npe" || s["flow"] != "maf" || s["sims"] != 300.0 ||
		s["epochs"] != 3.0 || s["stopped"] != "max epochs" || s["out"] != model || s["backend"] == "" ||
		!(s["train_seconds"].(float64) > 0) || !(s["best_validation_loss"].(float64) < 10) {
		t.Errorf("train summary %v: want two_moons, npe, maf, 300 sims, 3 epochs, a finite loss and the backend", s)
	}
	for _, f := range []string{"model.json", "params.npz", "state.npz"} {
		if _, err := os.Stat(filepath.Join(model, f)); err != nil {
			t.Errorf("the model directory lacks %s: %v", f, err)
		}
	}
	var out bytes.Buffer
	err := run(append([]string{"train", "--out", model}, tinyTraining...), &out)
	if err == nil || !strings.Contains(err.Error(), "already holds a trained model") || !strings.Contains(err.Error(), "--out") {
		t.Errorf("training into a finished model directory: error %v, want one saying so and naming --out", err)
	}

	byIndex := filepath.Join(dir, "index.npy")
	r := runJSON(t, "sample", "--model", model, "--obs-index", "1", "--n", "300", "--seed", "5", "--out", byIndex, "--json")[0]
	if r["n"] != 300.0 || r["obs"] != "two_moons observation 1" || !(r["acceptance"].(float64) > 0 && r["acceptance"].(float64) <= 1) {
		t.Errorf("sample summary %v: want n 300, observation 1 and an acceptance in (0, 1]", r)
	}
	samples := readRows(t, byIndex)
	if len(samples) != 300 || len(samples[0]) != 2 {
		t.Fatalf("%s holds %d rows of %d values, want 300 of 2", byIndex, len(samples), len(samples[0]))
	}
	for _, x := range samples {
		if x[0] < -1 || x[0] > 1 || x[1] < -1 || x[1] > 1 {
			t.Fatalf("sample %v lies outside the prior's support [-1, 1]²", x)
		}
	}

	// The same observation from files (.csv, and a 1-D .npy as np.save writes it), same seed.
	sbibm, _ := tasks.SbibmDir()
	y, err := tasks.LoadObservation(sbibm, "two_moons", 1)
	if err != nil {
		t.Fatal(err)
	}
	csvObs := filepath.Join(dir, "y.csv")
	if err := os.WriteFile(csvObs, fmt.Appendf(nil, "y_1,y_2\n%v,%v\n", y[0], y[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	npyObs := filepath.Join(dir, "y.npy")
	if err := npy.Save(npyObs, npy.Float64(y, 2)); err != nil {
		t.Fatal(err)
	}
	for _, obs := range []string{csvObs, npyObs} {
		byFile := filepath.Join(dir, "file.csv")
		runJSON(t, "sample", "--model", model, "--obs", obs, "--n", "300", "--seed", "5", "--out", byFile, "--json")
		if got := readRows(t, byFile); !reflect.DeepEqual(got, samples) {
			t.Errorf("samples for the observation in %s differ from those for --obs-index 1 with the same seed", obs)
		}
	}
}

// TestTrainOnSavedData trains on a dataset file instead of simulating.
func TestTrainOnSavedData(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "sims.npz")
	runJSON(t, "simulate", "--task", "two_moons", "--n", "200", "--seed", "7", "--out", data, "--json")
	s := runJSON(t, "train", "--data", data, "--out", filepath.Join(dir, "model"), "--max-epochs", "2",
		"--transforms", "1", "--hidden", "8", "--json")[0]
	if s["task"] != "two_moons" || s["sims"] != 200.0 || s["epochs"] != 2.0 || s["flow"] != "nsf" {
		t.Errorf("train summary %v: want task two_moons, 200 sims, 2 epochs and the default flow nsf", s)
	}
}

// TestEvalPrintsEachObservationThenSummary runs a tiny evaluation on two observations.
func TestEvalPrintsEachObservationThenSummary(t *testing.T) {
	needSbibm(t)
	lines := runJSON(t, append([]string{"eval", "--method", "npe", "--obs", "1,3", "--samples", "300", "--json"}, tinyTraining...)...)
	if len(lines) != 3 {
		t.Fatalf("eval printed %d lines, want 2 observations and a summary: %v", len(lines), lines)
	}
	mean := 0.0
	for i, k := range []float64{1, 3} {
		o := lines[i]
		c2st := o["c2st"].(float64)
		if o["obs"] != k || o["task"] != "two_moons" || o["method"] != "npe" || o["flow"] != "maf" ||
			c2st < 0.4 || c2st > 1 || !(o["sample_seconds"].(float64) > 0) || !(o["acceptance"].(float64) > 0) {
			t.Errorf("line %d: %v, want observation %v of two_moons with a c2st in [0.4, 1]", i, o, k)
		}
		mean += c2st / 2
	}
	s := lines[2]
	if s["sims"] != 300.0 || s["seed"] != 2.0 || s["epochs"] != 3.0 || s["backend"] == "" ||
		math.Abs(s["c2st_mean"].(float64)-mean) > 1e-12 || !(s["train_seconds"].(float64) > 0) || !(s["sample_seconds_mean"].(float64) > 0) {
		t.Errorf("summary %v: want 300 sims, seed 2, 3 epochs and c2st_mean %v", s, mean)
	}
}

// TestBadTrainingFlags checks that bad flags fail at once with a message that names the fix.
func TestBadTrainingFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "model")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "--task", "two_moons", "--method", "vae", "--out", out}, "available: npe"},
		{[]string{"eval", "--task", "two_moons", "--method", "sde"}, "available: npe, fmpe, cnf, npse, ddpm, ddim"},
		{[]string{"train", "--task", "two_moons", "--flow", "glow", "--out", out}, "available: coupling, maf, nsf, nsf-ar"},
		{[]string{"train", "--task", "two_moons"}, "--out"},
		{[]string{"train", "--out", out}, "--task"},
		{[]string{"train", "--task", "no_such_task", "--out", out}, "valid names are"},
		{[]string{"train", "--data", "x.npz", "--sims", "5", "--out", out}, "--data replaces"},
		{[]string{"eval", "--task", "two_moons", "--obs", "0-3"}, "1-10"},
		{[]string{"eval", "--task", "two_moons", "--obs", "5-2"}, "backwards"},
		{[]string{"eval", "--obs", "1"}, "--task"},
		{[]string{"sample", "--model", out, "--obs-index", "1"}, "--out"},
		{[]string{"sample", "--model", out, "--out", "s.npy"}, "--obs"},
		{[]string{"sample", "--model", out, "--obs-index", "1", "--out", "s.txt"}, ".npy or .csv"},
		{[]string{"sample", "--model", out, "--obs-index", "1", "--out", "s.npy"}, "sbikit train --out"},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		err := run(c.args, &buf)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("sbikit %s: error %v, want one containing %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}

// TestContinuousFlowCLI trains a tiny FMPE model from the command line and samples it with the
// model's own solver and with one chosen by --solver, which must change the samples but keep them
// in the support; a malformed --solver, or one given for an NPE model, is an error.
func TestContinuousFlowCLI(t *testing.T) {
	needSbibm(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	s := runJSON(t, "train", "--method", "fmpe", "--task", "two_moons", "--sims", "300", "--max-epochs", "2",
		"--hidden", "16", "--out", model, "--json")[0]
	if s["method"] != "fmpe" || s["flow"] != "ode" || s["epochs"] != 2.0 {
		t.Errorf("train summary %v: want fmpe, ode, 2 epochs", s)
	}
	var sets [][][]float64
	for _, solver := range []string{"", "euler:3"} {
		path := filepath.Join(dir, "s"+strings.ReplaceAll(solver, ":", "")+".npy")
		args := []string{"sample", "--model", model, "--obs-index", "1", "--n", "200", "--out", path, "--json"}
		if solver != "" {
			args = append(args, "--solver", solver)
		}
		runJSON(t, args...)
		rows := readRows(t, path)
		for _, x := range rows {
			if x[0] < -1 || x[0] > 1 || x[1] < -1 || x[1] > 1 {
				t.Fatalf("sample %v lies outside the prior's support [-1, 1]²", x)
			}
		}
		sets = append(sets, rows)
	}
	if reflect.DeepEqual(sets[0], sets[1]) {
		t.Error("--solver euler:3 gave the same samples as the model's 16 midpoint steps")
	}
	var out bytes.Buffer
	for _, bad := range []string{"rk4", "rk4:0", "heun:4"} {
		err := run([]string{"sample", "--model", model, "--obs-index", "1", "--out", filepath.Join(dir, "x.npy"), "--solver", bad}, &out)
		if err == nil || !strings.Contains(err.Error(), "--solver") {
			t.Errorf("--solver %s: error %v, want one naming --solver", bad, err)
		}
	}
}

// TestScoreCLI trains tiny NPSE and DDIM models from the command line and samples them (by annealed
// Langevin dynamics, by DDIM's reverse process); their samples lie in the prior's support.
func TestScoreCLI(t *testing.T) {
	needSbibm(t)
	// An untrained noise predictor (ε ≈ 0) sends DDIM's x̂₀ = x_T/√ᾱ_T far outside the prior, so the
	// diffusion model trains a little longer.
	for _, c := range []struct{ method, flow, sims, epochs string }{{"npse", "score", "300", "2"}, {"ddim", "diffusion", "1000", "20"}} {
		dir := t.TempDir()
		model := filepath.Join(dir, "model")
		s := runJSON(t, "train", "--method", c.method, "--task", "two_moons", "--sims", c.sims, "--max-epochs", c.epochs,
			"--hidden", "16", "--out", model, "--json")[0]
		if s["method"] != c.method && !(c.method == "ddim" && s["method"] == "diffusion") || s["flow"] != c.flow {
			t.Errorf("train summary %v: want %s, %s", s, c.method, c.flow)
		}
		path := filepath.Join(dir, "s.npy")
		runJSON(t, "sample", "--model", model, "--obs-index", "1", "--n", "200", "--out", path, "--json")
		rows := readRows(t, path)
		if len(rows) != 200 {
			t.Fatalf("%s: %d samples, want 200", c.method, len(rows))
		}
		for _, x := range rows {
			if x[0] < -1 || x[0] > 1 || x[1] < -1 || x[1] > 1 {
				t.Fatalf("%s: sample %v lies outside the prior's support [-1, 1]²", c.method, x)
			}
		}
	}
}
