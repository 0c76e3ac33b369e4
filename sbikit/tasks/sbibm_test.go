package tasks

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadCSV(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.csv")
	writeFile(t, path, "data_1,data_2\n1.5,-2e-3\n3, 4\n")
	rows, err := ReadCSV(path)
	if err != nil || len(rows) != 2 || !slices.Equal(rows[0], []float64{1.5, -2e-3}) || !slices.Equal(rows[1], []float64{3, 4}) {
		t.Errorf("with header: %v, %v", rows, err)
	}
	writeFile(t, path, "1,2\n3,4\n")
	if rows, err := ReadCSV(path); err != nil || len(rows) != 2 || rows[0][0] != 1 {
		t.Errorf("without header: %v, %v", rows, err)
	}
	for _, c := range []struct{ text, want string }{
		{"a,b\n1,2\n3\n", "line 3 has 1 fields, want 2"},
		{"a,b\n1,2\n3,x\n", `line 3, field 2: "x" is not a number`},
		{"a,\"b\n", "corrupt"},
	} {
		writeFile(t, path, c.text)
		if _, err := ReadCSV(path); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: error %v, want one naming %s and saying %q", c.text, err, path, c.want)
		}
	}
	missing := filepath.Join(dir, "nope.csv.bz2")
	if _, err := ReadCSV(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v should name it", err)
	}
	// Not bzip2 data behind a .bz2 name.
	bad := filepath.Join(dir, "bad.csv.bz2")
	writeFile(t, bad, "1,2\n")
	if _, err := ReadCSV(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt bz2: error %v should name the file", err)
	}
}

// TestLoadLayout reads a hand-made directory in sbibm's layout, and checks that a file with
// the wrong width for its task is refused.
func TestLoadLayout(t *testing.T) {
	dir := t.TempDir()
	obs := filepath.Join(dir, "two_moons", "num_observation_3")
	writeFile(t, filepath.Join(obs, "observation.csv"), "data_1,data_2\n0.1,0.2\n")
	writeFile(t, filepath.Join(obs, "true_parameters.csv"), "parameter_1,parameter_2,parameter_3\n1,2,3\n")
	y, err := LoadObservation(dir, "two_moons", 3)
	if err != nil || !slices.Equal(y, []float64{0.1, 0.2}) {
		t.Errorf("LoadObservation: %v, %v", y, err)
	}
	if _, err := LoadTrueParameters(dir, "two_moons", 3); err == nil || !strings.Contains(err.Error(), "DimX = 2") {
		t.Errorf("three parameters for two_moons: error %v", err)
	}
	if _, err := LoadObservation(dir, "two_moons", 4); err == nil || !strings.Contains(err.Error(), "num_observation_4") {
		t.Errorf("missing observation: error %v should name the path", err)
	}
}

// sbibmTasks are the tasks whose reference files are in the shared data.
var sbibmTasks = []string{"two_moons", "gaussian_linear", "gaussian_mixture", "slcp"}

type sbibmObservation struct {
	y, truth []float64
	ref      [][]float64
}

// sbibmCache keeps the files read once per test binary: bzip2 is slow, and two tests use them.
var sbibmCache sync.Map // task name → []sbibmObservation

// loadSBIBM reads the ten observations of a task, in parallel.
func loadSBIBM(t *testing.T, dir, name string) []sbibmObservation {
	if obs, ok := sbibmCache.Load(name); ok {
		return obs.([]sbibmObservation)
	}
	obs := make([]sbibmObservation, 10)
	errs := make([]error, 10)
	parallelRows(10, func(i int) {
		o := &obs[i]
		var err1, err2, err3 error
		o.y, err1 = LoadObservation(dir, name, i+1)
		o.truth, err2 = LoadTrueParameters(dir, name, i+1)
		o.ref, err3 = LoadReferenceSamples(dir, name, i+1)
		errs[i] = firstError(err1, err2, err3)
	})
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		if len(obs[i].ref) != 10_000 {
			t.Fatalf("%s observation %d: %d reference samples, want 10000", name, i+1, len(obs[i].ref))
		}
	}
	sbibmCache.Store(name, obs)
	return obs
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestSBIBMObservationsFitSimulator checks, for each of sbibm's observations, that y_o is a
// plausible output of our simulator at sbibm's true parameters: the same noise statistic on
// both, summed over the ten observations, lands where its law says.
func TestSBIBMObservationsFitSimulator(t *testing.T) {
	dir := sbibmDir(t)
	for _, name := range sbibmTasks {
		obs := loadSBIBM(t, dir, name)
		switch name {
		case "gaussian_linear":
			// Σ |y − x|²/0.1 over 10 observations × 10 dims is χ²₁₀₀: mean 100, std 14.
			chi2 := 0.0
			for _, o := range obs {
				for j := range o.y {
					chi2 += (o.y[j] - o.truth[j]) * (o.y[j] - o.truth[j]) / 0.1
				}
			}
			if chi2 < 100-4*14 || chi2 > 100+4*14 {
				t.Errorf("gaussian_linear: χ²₁₀₀ = %.1f", chi2)
			}
		case "two_moons":
			// p = y − g(x) must lie on the half ring: radius within 5σ of 0.1, right of the centre.
			for k, o := range obs {
				if ll := twoMoonsLogLik(o.truth, o.y); ll < logNormalPDF(0.1+5*0.01, 0.1, 0.01)-math.Log(math.Pi*0.15) {
					t.Errorf("two_moons observation %d: log-likelihood at the true parameters %.2f", k+1, ll)
				}
			}
		case "gaussian_mixture":
			// Each y − x is ½N(0, I) + ½N(0, 0.01 I): |y − x|² < 20 (a 5σ-ish bound for χ²₂).
			for k, o := range obs {
				if d := math.Hypot(o.y[0]-o.truth[0], o.y[1]-o.truth[1]); d*d > 20 {
					t.Errorf("gaussian_mixture observation %d: |y − x| = %.2f", k+1, d)
				}
			}
		case "slcp":
			// Σ_k (y_k − m)ᵀS⁻¹(y_k − m) over 4 points and 10 observations is χ²₈₀: mean 80, std 12.6.
			chi2 := 0.0
			for _, o := range obs {
				a, b, c := slcpCov(o.truth)
				det := a*b - c*c
				for k := range 4 {
					dx, dy := o.y[2*k]-o.truth[0], o.y[2*k+1]-o.truth[1]
					chi2 += (b*dx*dx - 2*c*dx*dy + a*dy*dy) / det
				}
			}
			if chi2 < 80-4*12.6 || chi2 > 80+4*12.6 {
				t.Errorf("slcp: χ²₈₀ = %.1f", chi2)
			}
		}
	}
}

// TestReferencePosteriorsMatchSBIBM compares our reference samples with sbibm's, for all ten
// observations of the four tasks: per-dimension means (in units of sbibm's std) and stds, a
// sliced Kolmogorov–Smirnov statistic over the axes and 20 random directions, and the accuracy
// of a k-nearest-neighbour classifier telling the two sets apart (0.5: indistinguishable).
// The bounds are about 4 standard errors of each statistic between two exact samplers.
func TestReferencePosteriorsMatchSBIBM(t *testing.T) {
	dir := sbibmDir(t)
	for _, name := range sbibmTasks {
		task := mustGet(t, name).(ReferencePosterior)
		obs := loadSBIBM(t, dir, name)
		var lines []string
		for k, o := range obs {
			x, err := task.SamplePosterior(o.y, 10_000, uint64(k+1))
			if err != nil {
				t.Fatal(err)
			}
			worstMean, worstStd := 0.0, 0.0
			for j := range o.ref[0] {
				m1, s1 := meanStd(column(x, j))
				m2, s2 := meanStd(column(o.ref, j))
				worstMean = math.Max(worstMean, math.Abs(m1-m2)/s2)
				worstStd = math.Max(worstStd, math.Abs(s1/s2-1))
			}
			sks := slicedKS(x, o.ref, 20, uint64(k))
			acc := knnAccuracy(x, o.ref, 1000, 11)
			lines = append(lines, fmt.Sprintf("obs %2d: mean %.3f std %.3f slicedKS %.4f kNN %.3f", k+1, worstMean, worstStd, sks, acc))
			if worstMean > 0.08 || worstStd > 0.1 || sks > 0.04 || acc > 0.545 {
				t.Errorf("%s observation %d disagrees with sbibm: |Δmean|/std %.3f, |Δstd|/std %.3f, sliced KS %.4f, kNN accuracy %.3f",
					name, k+1, worstMean, worstStd, sks, acc)
			}
		}
		t.Logf("%s against sbibm (worst over dimensions):\n%s", name, strings.Join(lines, "\n"))
	}
}
