package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probinv/probinv/datasets"
	"github.com/probinv/probinv/sbikit/npy"
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
