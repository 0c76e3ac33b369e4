package diagnostics

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// gaussian draws n rows from N(mean·1, scale²·I) in dim dimensions.
func gaussian(rng *rand.Rand, n, dim int, mean, scale float64) [][]float64 {
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, dim)
		for j := range x[i] {
			x[i][j] = mean + scale*rng.NormFloat64()
		}
	}
	return x
}

// shifted returns copies of the rows of x with d added to the first coordinate.
func shifted(x [][]float64, d float64) [][]float64 {
	out := make([][]float64, len(x))
	for i, row := range x {
		out[i] = append([]float64(nil), row...)
		out[i][0] += d
	}
	return out
}

func TestC2STSameDistributionIsChance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, b := gaussian(rng, 2000, 2, 0, 1), gaussian(rng, 2000, 2, 0, 1)
	acc, err := C2ST(a, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("C2ST(N(0,I), N(0,I)) = %.4f", acc)
	if math.Abs(acc-0.5) > 0.03 {
		t.Errorf("C2ST of two samples of one distribution = %.4f, want 0.5 ± 0.03", acc)
	}
}

func TestC2STDisjointIsOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 1))
	a, b := gaussian(rng, 1000, 2, 0, 1), gaussian(rng, 1000, 2, 10, 1)
	acc, err := C2ST(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.995 {
		t.Errorf("C2ST of disjoint sets = %.4f, want ≥ 0.995", acc)
	}
}

// For N(0,1) against N(d,1) with equal priors the Bayes classifier thresholds at d/2 and
// its accuracy is Φ(d/2); a well-trained C2ST classifier should reach it.
func TestC2STReachesBayesAccuracy(t *testing.T) {
	for _, d := range []float64{1, 2} {
		rng := rand.New(rand.NewPCG(3, uint64(d)))
		a := gaussian(rng, 5000, 1, 0, 1)
		b := gaussian(rng, 5000, 1, d, 1)
		acc, err := C2ST(a, b)
		if err != nil {
			t.Fatal(err)
		}
		bayes := 0.5 * math.Erfc(-d/2/math.Sqrt2)
		t.Logf("d=%g: C2ST %.4f, Bayes Φ(d/2) %.4f", d, acc, bayes)
		if math.Abs(acc-bayes) > 0.02 {
			t.Errorf("d=%g: C2ST = %.4f, want Φ(d/2) = %.4f ± 0.02", d, acc, bayes)
		}
	}
}

func TestC2STIsDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 1))
	a := gaussian(rng, 300, 3, 0, 1)
	b := gaussian(rng, 300, 3, 0.5, 1)
	// Few epochs: 300 rows are learnt by heart, and the loss keeps falling for thousands.
	first, err := C2ST(a, b, WithSeed(7), WithWorkers(2), WithMaxEpochs(50))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := C2ST(a, b, WithSeed(7), WithWorkers(1), WithMaxEpochs(50))
	if first != again {
		t.Errorf("same seed gave %v and %v (with 2 and 1 workers)", first, again)
	}
}

func TestC2STRejectsBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 1))
	good := gaussian(rng, 20, 2, 0, 1)
	nan := gaussian(rng, 20, 2, 0, 1)
	nan[3][1] = math.NaN()
	ragged := gaussian(rng, 20, 2, 0, 1)
	ragged[5] = ragged[5][:1]
	constant := gaussian(rng, 20, 2, 0, 1)
	for _, row := range constant {
		row[1] = 3
	}
	cases := []struct {
		name string
		a, b [][]float64
		opts []Option
		want string
	}{
		{"empty", nil, good, nil, "empty"},
		{"dims", good, gaussian(rng, 20, 3, 0, 1), nil, "dimensions"},
		{"nan", good, nan, nil, "NaN"},
		{"ragged", ragged, good, nil, "same length"},
		{"constant", constant, good, nil, "constant"},
		{"few", good[:3], good, nil, "at least 5 rows"},
		{"folds", good, good, []Option{WithFolds(1)}, "at least 2 folds"},
	}
	for _, c := range cases {
		_, err := C2ST(c.a, c.b, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

// The brief for this package: 10k against 10k samples in 2-D within 10 s on 2 cores.
func TestC2STSpeed10k(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test; skipped with -short")
	}
	rng := rand.New(rand.NewPCG(6, 1))
	a, b := gaussian(rng, 10000, 2, 0, 1), shifted(gaussian(rng, 10000, 2, 0, 1), 1)
	start := time.Now()
	acc, err := C2ST(a, b)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("10k vs 10k in 2-D: C2ST %.4f in %v", acc, took)
	if took > 10*time.Second {
		t.Errorf("C2ST of 10k vs 10k in 2-D took %v, want ≤ 10 s", took)
	}
}

func BenchmarkC2ST10k2D(b *testing.B) {
	rng := rand.New(rand.NewPCG(6, 1))
	x, y := gaussian(rng, 10000, 2, 0, 1), shifted(gaussian(rng, 10000, 2, 0, 1), 1)
	for b.Loop() {
		if _, err := C2ST(x, y); err != nil {
			b.Fatal(err)
		}
	}
}
