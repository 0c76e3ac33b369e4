package score

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/sbikit/diagnostics"
)

func flat(rows [][]float64) []float64 {
	var out []float64
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func unflat(v []float64, d int) [][]float64 {
	out := make([][]float64, len(v)/d)
	for i := range out {
		out[i] = v[i*d : (i+1)*d]
	}
	return out
}

// sample runs a sampler of the mixture's exact score from x0.
func sample(t *testing.T, mix Mixture, noise Noise, cfg Langevin, x0 [][]float64, seed uint64) ([][]float64, Stats) {
	t.Helper()
	s, err := NewSampler(testbackend.Get(t), context.New(), mix.Score, noise, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := mix.Dim()
	out, stats, err := s.Sample(tensors.FromFlatDataAndDimensions(flat(x0), len(x0), d), nil, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := tensors.CopyFlatData[float64](out)
	if err != nil {
		t.Fatal(err)
	}
	return unflat(v, d), stats
}

// uniformBox draws n points uniformly in [−a, a]^d.
func uniformBox(n, d int, a float64, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, d)
		for j := range out[i] {
			out[i][j] = a * (2*rng.Float64() - 1)
		}
	}
	return out
}

// threeBumps is a 2-D mixture whose modes overlap enough for plain Langevin dynamics to mix.
var threeBumps = Mixture{
	Weights: []float64{0.5, 0.3, 0.2},
	Means:   [][]float64{{-1, 0}, {1, 0.5}, {0, -1.5}},
	Stds:    []float64{0.5, 0.4, 0.6},
}

// TestMixtureScore checks the closed-form perturbed score against central differences of log p_σ.
func TestMixtureScore(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	x := threeBumps.Sample(50, 1, rng)
	for _, sigma := range []float64{0, 0.1, 0.5, 2} {
		exec, err := context.NewExec(testbackend.Get(t), context.New(), func(ctx *context.Context, x *Node) *Node {
			return threeBumps.Score(ctx, x, Scalar(x.Graph(), x.DType(), sigma), nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(flat(x), len(x), 2))
		if err != nil {
			t.Fatal(err)
		}
		got, err := tensors.CopyFlatData[float64](out[0])
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i, row := range x {
			for j := range row {
				const h = 1e-5
				plus, minus := append([]float64(nil), row...), append([]float64(nil), row...)
				plus[j] += h
				minus[j] -= h
				want := (threeBumps.LogProb(plus, sigma) - threeBumps.LogProb(minus, sigma)) / (2 * h)
				worst = max(worst, math.Abs(got[i*2+j]-want)/(1+math.Abs(want)))
			}
		}
		if worst > 1e-6 {
			t.Errorf("σ = %g: the closed-form score differs from finite differences by %.2g", sigma, worst)
		}
	}
}

// TestLangevinReproducesMixture: plain Langevin dynamics with the exact score, from a broad start,
// samples the mixture (C2ST against exact samples).
func TestLangevinReproducesMixture(t *testing.T) {
	const n = 2000
	got, stats := sample(t, threeBumps, Noise{}, Langevin{Levels: 1, Steps: 1000, Epsilon: 0.01, NoDenoise: true},
		uniformBox(n, 2, 3, 4), 5)
	if stats.Evaluations != 1000 || stats.Steps != 1000 {
		t.Errorf("stats %+v, want 1000 steps and evaluations", stats)
	}
	want := threeBumps.Sample(n, 0, rand.New(rand.NewPCG(6, 6)))
	c2st, err := diagnostics.C2ST(got, want, diagnostics.WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Langevin (1000 steps, ε = 0.01) against exact samples: C2ST %.3f", c2st)
	if c2st > 0.55 {
		t.Errorf("C2ST %.3f > 0.55", c2st)
	}
}

// farModes is Song & Ermon's (2019) example of the low-density problem: two well-separated modes of
// unequal weight.
var farModes = Mixture{
	Weights: []float64{0.2, 0.8},
	Means:   [][]float64{{-5, -5}, {5, 5}},
	Stds:    []float64{1, 1},
}

// upperShare is the fraction of points nearer the heavy mode (5, 5).
func upperShare(x [][]float64) float64 {
	k := 0
	for _, r := range x {
		if r[0]+r[1] > 0 {
			k++
		}
	}
	return float64(k) / float64(len(x))
}

// TestAnnealingRecoversModeWeights is the lecture's low-density argument: started uniformly in
// [−8, 8]², plain Langevin dynamics with the exact score finds both modes but keeps each chain in the
// mode it first falls into, so the weights stay those of the start (about ½), not 0.8; annealed
// Langevin dynamics, whose large scales join the modes, recovers them.
func TestAnnealingRecoversModeWeights(t *testing.T) {
	const n = 2000
	x0 := uniformBox(n, 2, 8, 8)
	plain, _ := sample(t, farModes, Noise{}, Langevin{Levels: 1, Steps: 1000, Epsilon: 0.1, NoDenoise: true}, x0, 9)
	annealed, stats := sample(t, farModes, Noise{SigmaMin: 0.1, SigmaMax: 20}, Langevin{Levels: 10, Steps: 100, Epsilon: 0.1 * 400}, x0, 9)
	wp, wa := upperShare(plain), upperShare(annealed)
	t.Logf("weight of the heavy mode (exact 0.8): plain Langevin %.3f, annealed %.3f (%d evaluations each: %d)", wp, wa, 1000, stats.Evaluations)
	if math.Abs(wa-0.8) > 0.05 {
		t.Errorf("annealed Langevin gives the heavy mode weight %.3f, want 0.8 ± 0.05", wa)
	}
	if math.Abs(wp-0.8) < 0.15 {
		t.Errorf("plain Langevin gives the heavy mode weight %.3f: the test no longer shows the low-density problem", wp)
	}
}

func TestNoise(t *testing.T) {
	s := Noise{SigmaMin: 0.01, SigmaMax: 10}.Scales(4)
	for i, want := range []float64{0.01, 0.1, 1, 10} {
		if math.Abs(s[i]-want) > 1e-12*want {
			t.Errorf("scale %d = %g, want %g", i, s[i], want)
		}
	}
	// Four points on a square of side 2: the largest distance is the diagonal.
	n := NoiseFor([]float32{0, 0, 2, 0, 0, 2, 2, 2}, 2)
	if math.Abs(n.SigmaMax-2*math.Sqrt2) > 1e-6 || n.SigmaMin != DefaultSigmaMin || n.Check() != nil {
		t.Errorf("NoiseFor: %+v, want σ_max 2√2", n)
	}
	l := Langevin{}.WithDefaults(n)
	if r := math.Pow(n.SigmaMax/n.SigmaMin, 1/float64(l.Levels-1)); r > DefaultRatio || r < DefaultRatio/1.2 {
		t.Errorf("%d levels: ratio %g, want about %g", l.Levels, r, DefaultRatio)
	}
	for _, bad := range []Noise{{SigmaMin: 1, SigmaMax: 0.1}, {SigmaMax: 1}, {SigmaMin: -1, SigmaMax: 1}, {SigmaMin: 1, SigmaMax: math.Inf(1)}} {
		if bad.Check() == nil {
			t.Errorf("%+v passes Check", bad)
		}
	}
}

// TestSamplerErrors: bad settings and a diverging chain are errors that name the fix.
func TestSamplerErrors(t *testing.T) {
	b, ctx := testbackend.Get(t), context.New()
	for _, c := range []struct {
		noise Noise
		cfg   Langevin
	}{{Noise{}, Langevin{Steps: 1, Epsilon: 1}}, {Noise{}, Langevin{Levels: 1, Epsilon: 1}}, {Noise{}, Langevin{Levels: 1, Steps: 1}},
		{Noise{SigmaMin: math.NaN()}, Langevin{Levels: 1, Steps: 1, Epsilon: 1}}} {
		if _, err := NewSampler(b, ctx, farModes.Score, c.noise, c.cfg); err == nil {
			t.Errorf("%+v, %+v: no error", c.noise, c.cfg)
		}
	}
	// A step of 50 times the variance makes Langevin dynamics on a unit Gaussian blow up.
	s, err := NewSampler(b, ctx, farModes.Score, Noise{}, Langevin{Levels: 1, Steps: 200, Epsilon: 50})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Sample(tensors.FromFlatDataAndDimensions([]float64{1, 2}, 1, 2), nil, rand.New(rand.NewPCG(1, 1)))
	if err == nil {
		t.Fatal("a diverging chain gave no error")
	}
	t.Log(err)
}

// TestDSMIdentity checks the identity behind denoising score matching on the mixture, where the
// perturbed score s* is known: for any s, E‖s(x̃) + (x̃ − x)/σ²‖² = E‖s(x̃) − s*(x̃)‖² + C with C
// independent of s, so the DSM losses of s and s* differ by E‖s − s*‖² (Monte Carlo, common draws,
// within four standard errors).
func TestDSMIdentity(t *testing.T) {
	const n, sigma = 200000, 0.5
	rng := rand.New(rand.NewPCG(12, 12))
	x := threeBumps.Sample(n, 0, rng)
	xt := make([][]float64, n)
	for i, r := range x {
		xt[i] = []float64{r[0] + sigma*rng.NormFloat64(), r[1] + sigma*rng.NormFloat64()}
	}
	exec, err := context.NewExec(testbackend.Get(t), context.New(), func(ctx *context.Context, x, xt *Node) []*Node {
		s := Scalar(x.Graph(), x.DType(), sigma)
		exact := threeBumps.Score(ctx, xt, s, nil)
		other := AddScalar(MulScalar(exact, 1.2), 0.3) // a wrong score
		return []*Node{Sub(DSM(other, x, xt, s), DSM(exact, x, xt, s)), ReduceSum(Square(Sub(other, exact)), -1)}
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(flat(x), n, 2), tensors.FromFlatDataAndDimensions(flat(xt), n, 2))
	if err != nil {
		t.Fatal(err)
	}
	diff, _ := tensors.CopyFlatData[float64](out[0])
	dist, _ := tensors.CopyFlatData[float64](out[1])
	mean, sq, want := 0.0, 0.0, 0.0
	for i := range diff {
		e := diff[i] - dist[i]
		mean += e / n
		sq += e * e / n
		want += dist[i] / n
	}
	stderr := math.Sqrt((sq - mean*mean) / n)
	t.Logf("DSM(s) − DSM(s*) − E‖s − s*‖² = %.4f ± %.4f (E‖s − s*‖² = %.3f)", mean, stderr, want)
	if math.Abs(mean) > 4*stderr || stderr > 0.05*want {
		t.Errorf("DSM(s) − DSM(s*) − E‖s − s*‖² = %.4f ± %.4f, want 0", mean, stderr)
	}
}
