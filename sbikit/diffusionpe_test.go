package sbikit

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/cnf"
	"github.com/probinv/probinv/sbikit/diagnostics"
	"github.com/probinv/probinv/sbikit/diffusion"
)

// TestDiffusionLearnsGaussianEpsilon trains ε_θ by Algorithm 1 on Gaussian data N(μ, s²I), whose
// optimal noise predictor is known, ε*(x_t, t) = √(1 − ᾱ_t)(x_t − √ᾱ_t μ)/(ᾱ_t s² + 1 − ᾱ_t), and
// compares them at draws of q(x_t) for several t: the RMS error per dimension, in units of the noise.
func TestDiffusionLearnsGaussianEpsilon(t *testing.T) {
	mu, s := []float64{0.5, -0.5}, 0.5
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([][]float64, 8000)
	for i := range x {
		x[i] = []float64{mu[0] + s*rng.NormFloat64(), mu[1] + s*rng.NormFloat64()}
	}
	tb := diffusion.Schedule{}.WithDefaults().Tables()
	dm := diffusion.Model{Net: cnf.Net{Hidden: 64, Layers: 3, Frequencies: 4}, Tables: tb}
	model, report := fitUnconditional(t, func(ctx *context.Context, x *Node) *Node { return dm.Loss(ctx, x, nil) }, x, 60)
	exec, err := context.NewExec(model.backend, model.ctx, func(ctx *context.Context, x, t *Node) *Node {
		return dm.Epsilon(ctx.In(modelScope), x, t, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []int{10, 100, 500, 900} {
		ab := tb.AlphaBar[step]
		sd := math.Sqrt(ab*s*s + 1 - ab)
		const n = 2000
		xt := make([]float32, 0, 2*n)
		want := make([]float64, 0, 2*n)
		for range n {
			for j := range 2 {
				v := math.Sqrt(ab)*mu[j] + sd*rng.NormFloat64()
				xt = append(xt, float32(v))
				want = append(want, math.Sqrt(1-ab)*(v-math.Sqrt(ab)*mu[j])/(sd*sd))
			}
		}
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(xt, n, 2), tensors.FromScalar(float32(step)))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := tensors.CopyFlatData[float32](out[0])
		sq := 0.0
		for i := range got {
			sq += (float64(got[i]) - want[i]) * (float64(got[i]) - want[i])
		}
		rms := math.Sqrt(sq / float64(len(got)))
		t.Logf("t = %d: RMS error of ε_θ against ε* %.4f (%d epochs)", step, rms, report.Epochs)
		if rms > 0.05 {
			t.Errorf("t = %d: RMS error of ε_θ against the optimal ε* is %.4f, want ≤ 0.05", step, rms)
		}
	}
}

// TestDDPMReproducesMixture trains an unconditional model on a 1-D mixture of two Gaussians and
// samples it by DDPM (Algorithm 2): the components' weights come out within ±5% and C2ST against exact
// samples is at most 0.55.
func TestDDPMReproducesMixture(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	draw := func(n int) [][]float64 {
		out := make([][]float64, n)
		for i := range out {
			m := 1.5
			if rng.Float64() < 0.3 {
				m = -1.5
			}
			out[i] = []float64{m + 0.4*rng.NormFloat64()}
		}
		return out
	}
	tb := diffusion.Schedule{}.WithDefaults().Tables()
	dm := diffusion.Model{Net: cnf.Net{Hidden: 64, Layers: 3, Frequencies: 4}, Tables: tb}
	model, report := fitUnconditional(t, func(ctx *context.Context, x *Node) *Node { return dm.Loss(ctx, x, nil) }, draw(8000), 100)
	exact := draw(3000)
	for _, s := range []diffusion.Sampling{{Method: diffusion.DDPM, Variance: diffusion.VarianceBeta}, {Method: diffusion.DDIM, Steps: 50}} {
		sampler, err := diffusion.NewSampler(model.backend, model.ctx, func(ctx *context.Context, x, t *Node, _ []*Node) *Node {
			return dm.Epsilon(ctx.In(modelScope), x, t, nil)
		}, tb, s)
		if err != nil {
			t.Fatal(err)
		}
		const n = 3000
		xT := make([]float32, n)
		for i := range xT {
			xT[i] = float32(rng.NormFloat64())
		}
		out, _, err := sampler.Sample(tensors.FromFlatDataAndDimensions(xT, n, 1), nil, rng)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := tensors.CopyFlatData[float32](out)
		samples := make([][]float64, n)
		right := 0.0
		for i := range v {
			samples[i] = []float64{float64(v[i])}
			if v[i] > 0 {
				right += 1.0 / n
			}
		}
		c2st, err := diagnostics.C2ST(samples, exact, diagnostics.WithSeed(3))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: weight of the right component %.3f (exact 0.7), C2ST %.3f (%d epochs)", s.Method, right, c2st, report.Epochs)
		if math.Abs(right-0.7) > 0.05 || c2st > 0.55 {
			t.Errorf("%s: weight %.3f and C2ST %.3f, want 0.7 ± 0.05 and ≤ 0.55", s.Method, right, c2st)
		}
	}
}

// TestDiffusionMatchesAnalyticPosterior: the conditional diffusion model on the box-Gaussian problem,
// sampled by DDPM and by DDIM, against the exact posterior (see checkSampledAnalytic). DDPM's noise
// corrects errors of ε_θ as it goes and its moments are held to 10%. DDIM's 50 deterministic steps
// do not: they carry ε_θ's errors along and distort the posterior at the box's edge (std 0.27 for
// 0.32 across the edge, 0.60 for 0.50 along it), as its large steps do to any narrow distribution
// (diffusion.TestSamplersWithExactEpsilon), so its stds are held to 25% and its C2ST to the same 0.6.
func TestDiffusionMatchesAnalyticPosterior(t *testing.T) {
	e := DiffusionPosterior{Net: cnf.Net{Hidden: 64, Layers: 3}, Training: Training{Seed: 3, MaxEpochs: 100}, Prior: boxGaussian{}}
	model, _, _ := trainBoxGaussian(t, 4000, e)
	for _, s := range []diffusion.Sampling{{Method: diffusion.DDPM}, {Method: diffusion.DDIM}} {
		if err := model.SetDiffusionSampling(s); err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", *model.meta.Diffusion)
		stdTol := 0.1
		if s.Method == diffusion.DDIM {
			stdTol = 0.25
		}
		checkSampledAnalytic(t, model, 0.6, stdTol)
	}
	// The probability flow's log-density at exact posterior samples (renormalized by the acceptance of
	// DDIM's samples, the sampler now set).
	var p boxGaussian
	yObs := []float64{0.3, -0.5}
	post, err := model.Posterior(yObs)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	var x [][]float64
	for len(x) < 300 {
		r := []float64{yObs[0] + bgSigma*rng.NormFloat64(), yObs[1] + bgSigma*rng.NormFloat64()}
		if !math.IsInf(p.logPosterior(r, yObs), -1) {
			x = append(x, r)
		}
	}
	lq, err := post.LogProb(x)
	if err != nil {
		t.Fatal(err)
	}
	bias, abs := 0.0, 0.0
	for i, r := range x {
		d := lq[i] - p.logPosterior(r, yObs)
		bias += d / float64(len(x))
		abs += math.Abs(d) / float64(len(x))
	}
	t.Logf("probability-flow log q at exact samples: mean |log q − log p| = %.3f, bias %.3f nats", abs, bias)
	if abs > 0.3 {
		t.Errorf("probability-flow log q is off by %.3f nats on average, want ≤ 0.3", abs)
	}
	if err := model.SetDiffusionSampling(diffusion.Sampling{Guidance: 1}); err == nil {
		t.Error("guidance was accepted for a model trained without condition dropout")
	}
}
