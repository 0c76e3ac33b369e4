package datasets

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/probinv/probinv/sbikit/tasks"
)

// lineTask is a small task with per-row random streams, as tasks.Task asks: x ~ U(-1, 1)²,
// y = (x0 + x1, x0 - x1, x0 x1) + noise. A fraction bad of the simulations return NaN or Inf,
// and a fraction badX of the prior draws NaN.
type lineTask struct{ bad, badX float64 }

func (lineTask) Name() string              { return "line" }
func (lineTask) DimX() int                 { return 2 }
func (lineTask) DimY() int                 { return 3 }
func (t lineTask) Prior() tasks.Prior      { return boxPrior{t.badX} }
func stream(seed uint64, i int) *rand.Rand { return rand.New(rand.NewPCG(seed, uint64(i))) }

func (t lineTask) Simulate(x [][]float64, seed uint64) [][]float64 {
	y := make([][]float64, len(x))
	for i, xi := range x {
		r := stream(seed, i)
		y[i] = []float64{xi[0] + xi[1] + 0.1*r.NormFloat64(), xi[0] - xi[1] + 0.1*r.NormFloat64(), xi[0] * xi[1]}
		switch u := r.Float64(); {
		case u < t.bad/2:
			y[i][1] = math.NaN()
		case u < t.bad:
			y[i][2] = math.Inf(-1)
		}
	}
	return y
}

type boxPrior struct{ bad float64 }

func (p boxPrior) Sample(n int, seed uint64) [][]float64 {
	x := make([][]float64, n)
	for i := range x {
		r := stream(seed, i)
		x[i] = []float64{2*r.Float64() - 1, 2*r.Float64() - 1}
		if r.Float64() < p.bad {
			x[i][1] = math.NaN()
		}
	}
	return x
}
func (boxPrior) LogProb(x []float64) float64 { return -math.Log(4) }
func (boxPrior) Bounds() (lo, hi []float64)  { return []float64{-1, -1}, []float64{1, 1} }

func TestSimulateIsDeterministic(t *testing.T) {
	a, err := Simulate(lineTask{}, 2500, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.X) != 2500 || len(a.Y) != 2500 || len(a.X[0]) != 2 || len(a.Y[0]) != 3 || a.Dropped != 0 || a.Task != "line" || a.Seed != 7 {
		t.Fatalf("got %d x %d rows of widths %d, %d, dropped %d", len(a.X), len(a.Y), len(a.X[0]), len(a.Y[0]), a.Dropped)
	}
	b, _ := Simulate(lineTask{}, 2500, 7, nil)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different datasets")
	}
	c, _ := Simulate(lineTask{}, 2500, 8, nil)
	if c.X[0][0] == a.X[0][0] || c.Y[1234][0] == a.Y[1234][0] {
		t.Fatal("seeds 7 and 8 gave the same rows")
	}
	// Blocks must not repeat each other, nor x be reused as noise.
	if a.X[0][0] == a.X[blockSize][0] || a.Y[0][0] == a.Y[blockSize][0] {
		t.Fatal("blocks 0 and 1 start with the same row")
	}
}

// TestSplittingDoesNotMatter: the number of goroutines, the size of the dataset and the
// ranges rows are simulated in must not change any row.
func TestSplittingDoesNotMatter(t *testing.T) {
	task := lineTask{bad: 0.1}
	big, err := simulate(task, 2500, 3, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{2, 5} {
		other, _ := simulate(task, 2500, 3, nil, workers)
		if !reflect.DeepEqual(big, other) {
			t.Fatalf("%d workers changed the dataset", workers)
		}
	}
	small, _ := simulate(task, 1300, 3, nil, 3)
	if !reflect.DeepEqual(small.X, big.X[:1300]) || !reflect.DeepEqual(small.Y, big.Y[:1300]) {
		t.Fatal("a smaller dataset is not a prefix of a larger one")
	}
	whole, _, _ := simulateRows(task, 3, 0, 2200, 2, nil)
	for _, cut := range []int{1, 999, 1000, 1500} {
		head, _, _ := simulateRows(task, 3, 0, cut, 1, nil)
		tail, _, _ := simulateRows(task, 3, cut, 2200, 3, nil)
		if !reflect.DeepEqual(append(head, tail...), whole) {
			t.Fatalf("rows [0, %d) + [%d, 2200) differ from [0, 2200)", cut, cut)
		}
	}
}

func TestInvalidRowsAreDroppedAndCounted(t *testing.T) {
	var log bytes.Buffer
	d, err := Simulate(lineTask{bad: 0.05}, 1000, 11, &log)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.X) != 1000 || d.check() != nil {
		t.Fatalf("got %d rows, check: %v", len(d.X), d.check())
	}
	// 5% of ~1050 simulations: 52 on average, sd 7.
	if d.Dropped < 25 || d.Dropped > 80 {
		t.Fatalf("dropped %d rows, want about 52", d.Dropped)
	}
	// The kept rows are the valid ones among the first 1000+Dropped rows, in order.
	x, y, _ := simulateRows(lineTask{bad: 0.05}, 11, 0, 1000+d.Dropped, 1, nil)
	var kept [][]float64
	for i := range x {
		if tasks.Finite(y[i]) {
			kept = append(kept, y[i])
		}
	}
	if !reflect.DeepEqual(kept, d.Y) || !tasks.Finite(y[len(y)-1]) {
		t.Fatal("kept rows are not the valid prefix of the row sequence")
	}
	want := fmt.Sprintf("dropped %d of %d simulations with NaN/Inf\n", d.Dropped, 1000+d.Dropped)
	if !strings.HasSuffix(log.String(), want) || !strings.Contains(log.String(), "simulate line 1000/1000") {
		t.Fatalf("progress output %q lacks the final count or %q", log.String(), want)
	}
}

func TestInvalidParametersAreDropped(t *testing.T) {
	d, err := Simulate(lineTask{badX: 0.1}, 500, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.X) != 500 || d.Dropped < 20 || d.check() != nil {
		t.Fatalf("got %d rows, dropped %d, check %v", len(d.X), d.Dropped, d.check())
	}
}

func TestMostlyInvalidIsAnError(t *testing.T) {
	_, err := Simulate(lineTask{bad: 0.7}, 500, 1, nil)
	if err == nil || !strings.Contains(err.Error(), `"line"`) || !strings.Contains(err.Error(), "more than half") {
		t.Fatalf("error %v, want one naming the task and the invalid fraction", err)
	}
}

// brokenTask returns the wrong number of rows, or panics.
type brokenTask struct {
	lineTask
	panics bool
}

func (b brokenTask) Simulate(x [][]float64, seed uint64) [][]float64 {
	if b.panics {
		panic("out of cheese")
	}
	return b.lineTask.Simulate(x, seed)[1:]
}

func TestBadArgumentsAndTasksAreErrors(t *testing.T) {
	for name, f := range map[string]func() (*Dataset, error){
		"nil task":   func() (*Dataset, error) { return Simulate(nil, 10, 1, nil) },
		"zero n":     func() (*Dataset, error) { return Simulate(lineTask{}, 0, 1, nil) },
		"negative n": func() (*Dataset, error) { return Simulate(lineTask{}, -5, 1, nil) },
		"short rows": func() (*Dataset, error) { return Simulate(brokenTask{}, 10, 1, nil) },
		"panics":     func() (*Dataset, error) { return Simulate(brokenTask{panics: true}, 10, 1, nil) },
	} {
		if d, err := f(); err == nil || d != nil {
			t.Errorf("%s: got dataset %v, error %v", name, d != nil, err)
		}
	}
}
