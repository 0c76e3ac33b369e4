package diagnostics

import (
	"bufio"
	"bytes"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// python is Debian's interpreter, the one that sees python3-sklearn; the python3 first on
// PATH may be another one.
const python = "/usr/bin/python3"

// moons draws n points from two interleaved half circles with Gaussian noise of the
// given standard deviation, like sklearn's make_moons.
func moons(rng *rand.Rand, n int, noise float64) [][]float64 {
	x := make([][]float64, n)
	for i := range x {
		t := math.Pi * rng.Float64()
		if i%2 == 0 {
			x[i] = []float64{math.Cos(t), math.Sin(t)}
		} else {
			x[i] = []float64{1 - math.Cos(t), 0.5 - math.Sin(t)}
		}
		x[i][0] += noise * rng.NormFloat64()
		x[i][1] += noise * rng.NormFloat64()
	}
	return x
}

func writeCSV(t *testing.T, path string, x [][]float64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for _, row := range x {
		for j, v := range row {
			if j > 0 {
				w.WriteByte(',')
			}
			w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

var sklearnAll = flag.Bool("sklearn.all", false, "also compare C2ST with sklearn on the slow 5-D pairs (about a minute of sklearn)")

// Our C2ST must agree with sbibm's (sklearn's MLPClassifier and KFold) to within 0.02 on
// the same samples. The two use different random streams, so they agree to within the
// run-to-run spread of the test (a standard deviation of 0.003–0.008 at these sizes), not
// bit for bit. sklearn runs in its own process while we compute ours, to save time.
func TestC2STAgreesWithSklearn(t *testing.T) {
	if testing.Short() {
		t.Skip("runs sklearn for several seconds; skipped with -short")
	}
	if _, err := os.Stat(python); err != nil {
		t.Skip("needs Debian's /usr/bin/python3 with scikit-learn: apt-get install python3-sklearn")
	}
	if out, err := exec.Command(python, "-c", "import sklearn, numpy").CombinedOutput(); err != nil {
		t.Skipf("needs scikit-learn for /usr/bin/python3 (apt-get install python3-sklearn): %v\n%s", err, out)
	}

	const n = 2000
	rng := rand.New(rand.NewPCG(21, 1))
	type pair struct {
		name string
		a, b [][]float64
	}
	pairs := []pair{
		{"2-D Gaussians, shift 1", gaussian(rng, n, 2, 0, 1), shifted(gaussian(rng, n, 2, 0, 1), 1)},
		{"moons vs Gaussian", moons(rng, n, 0.2), gaussianLike(rng, n, []float64{0.5, 0.25}, []float64{0.9, 0.55})},
		{"3-D Gaussians, shift 0.3", gaussian(rng, n, 3, 0, 1), gaussian(rng, n, 3, 0.3, 1)},
	}
	if *sklearnAll {
		pairs = append(pairs,
			pair{"5-D Gaussians, shift 0.2, scale 1.2", gaussian(rng, n, 5, 0, 1), gaussian(rng, n, 5, 0.2, 1.2)},
			pair{"5-D, one distribution", gaussian(rng, n, 5, 0, 1), gaussian(rng, n, 5, 0, 1)})
	}
	dir := t.TempDir()
	args := []string{filepath.Join("testdata", "c2st_sklearn.py"), "1"}
	for i, p := range pairs {
		pa := filepath.Join(dir, strconv.Itoa(i)+"a.csv")
		pb := filepath.Join(dir, strconv.Itoa(i)+"b.csv")
		writeCSV(t, pa, p.a)
		writeCSV(t, pb, p.b)
		args = append(args, pa, pb)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(python, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ours := make([]float64, len(pairs))
	for i, p := range pairs {
		var err error
		if ours[i], err = C2ST(p.a, p.b); err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sklearn reference failed: %v\n%s", err, stderr.Bytes())
	}
	lines := strings.Fields(stdout.String())
	if len(lines) != len(pairs) {
		t.Fatalf("sklearn printed %d numbers for %d pairs: %q", len(lines), len(pairs), stdout.String())
	}
	for i, p := range pairs {
		want, err := strconv.ParseFloat(lines[i], 64)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-36s ours %.4f  sklearn %.4f  diff %+.4f", p.name, ours[i], want, ours[i]-want)
		if math.Abs(ours[i]-want) > 0.02 {
			t.Errorf("%s: C2ST %.4f, sklearn/sbibm %.4f; want within 0.02", p.name, ours[i], want)
		}
	}
}

// gaussianLike draws n rows from N(mean, diag(std²)).
func gaussianLike(rng *rand.Rand, n int, mean, std []float64) [][]float64 {
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, len(mean))
		for j := range mean {
			x[i][j] = mean[j] + std[j]*rng.NormFloat64()
		}
	}
	return x
}
