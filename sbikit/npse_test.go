package sbikit

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/backend"
	"github.com/probinv/probinv/sbikit/cnf"
	"github.com/probinv/probinv/sbikit/diagnostics"
	"github.com/probinv/probinv/sbikit/npy"
	"github.com/probinv/probinv/sbikit/score"
)

// smallNPSE is a quick score estimator for tests.
func smallNPSE(dir string, maxEpochs int) NPSE {
	return NPSE{
		Net:      cnf.Net{Hidden: 32, Layers: 3},
		Training: Training{Seed: 3, MaxEpochs: maxEpochs, Dir: dir},
		Prior:    boxGaussian{},
	}
}

// truncatedMoments are the mean and standard deviation of N(μ, σ²) truncated to [−B, B].
func truncatedMoments(mu float64) (mean, std float64) {
	phi := func(z float64) float64 { return math.Exp(-0.5*z*z) / math.Sqrt(2*math.Pi) }
	cdf := func(z float64) float64 { return 0.5 * (1 + math.Erf(z/math.Sqrt2)) }
	a, b := (-bgBound-mu)/bgSigma, (bgBound-mu)/bgSigma
	z := cdf(b) - cdf(a)
	r := (phi(a) - phi(b)) / z
	return mu + bgSigma*r, bgSigma * math.Sqrt(1+(a*phi(a)-b*phi(b))/z-r*r)
}

// TestNPSEMatchesAnalyticPosterior trains the score estimator on the box-Gaussian problem and compares
// its annealed Langevin samples with the exact truncated normal: moments, and C2ST against exact
// samples. Its LogProb is an error that says why. The means are held to a fifth of the posterior's
// std inside the box: the denoising targets are noisy, and 4,000 pairs teach the network the
// conditional mean to about a tenth (with NPE's batches of 225, to a fifth; more steps of the
// sampler do not change it). At the box's edge, twice that: the truncation is a jump of the density,
// which the perturbed scores smooth over, and the samples there lie about 0.35 std too far inside.
func TestNPSEMatchesAnalyticPosterior(t *testing.T) {
	model, _, _ := trainBoxGaussian(t, 4000, smallNPSE("", 150))
	checkSampledAnalytic(t, model, 0.6, 0.1)
}

// checkSampledAnalytic compares a model's samples with the exact box-Gaussian posterior for an
// observation inside the box and one near its edge: moments (the std within stdTol, relative), and
// C2ST against exact samples (at most c2stMax). A model without a density must say so from LogProb.
func checkSampledAnalytic(t *testing.T, model *Model, c2stMax, stdTol float64) {
	t.Helper()
	var p boxGaussian
	for k, yObs := range [][]float64{{0.3, -0.5}, {1.9, 0.2}} {
		tol := 0.2
		if k == 1 {
			tol = 0.4
		}
		post, err := model.Posterior(yObs)
		if err != nil {
			t.Fatal(err)
		}
		const n = 2000
		samples, err := post.Sample(n, 7)
		if err != nil {
			t.Fatal(err)
		}
		// Exact samples by rejection from N(y, σ²I).
		rng := rand.New(rand.NewPCG(11, uint64(k)))
		exact := make([][]float64, 0, n)
		for len(exact) < n {
			x := []float64{yObs[0] + bgSigma*rng.NormFloat64(), yObs[1] + bgSigma*rng.NormFloat64()}
			if !math.IsInf(p.logPosterior(x, yObs), -1) {
				exact = append(exact, x)
			}
		}
		c2st, err := diagnostics.C2ST(samples, exact, diagnostics.WithSeed(5))
		if err != nil {
			t.Fatal(err)
		}
		for j := range 2 {
			mean, sq := 0.0, 0.0
			for _, s := range samples {
				mean += s[j] / n
				sq += s[j] * s[j] / n
			}
			std := math.Sqrt(sq - mean*mean)
			wantMean, wantStd := truncatedMoments(yObs[j])
			t.Logf("y=%v x_%d: mean %.3f (exact %.3f), std %.3f (exact %.3f)", yObs, j, mean, wantMean, std, wantStd)
			if math.Abs(mean-wantMean) > tol*wantStd || math.Abs(std/wantStd-1) > stdTol {
				t.Errorf("y=%v x_%d: mean %.3f and std %.3f, want %.3f ± %.3f and %.3f ± %g%%", yObs, j, mean, std, wantMean, tol*wantStd, wantStd, 100*stdTol)
			}
		}
		t.Logf("y=%v: C2ST %.3f against exact samples, %d epochs", yObs, c2st, model.Report().Epochs)
		if c2st > c2stMax {
			t.Errorf("y=%v: C2ST %.3f > %g", yObs, c2st, c2stMax)
		}
		if _, err := post.LogProb(samples[:1]); model.logProb == nil && (err == nil || !strings.Contains(err.Error(), "no log-density")) {
			t.Errorf("LogProb of an npse posterior: err = %v, want one saying there is no log-density", err)
		}
	}
}

// fitUnconditional trains the variables of a new model's context on the rows x with the training loop
// of every estimator (its defaults for regression losses, at most maxEpochs), for a loss without a
// condition: the pairs' y is a dummy column the loss ignores.
func fitUnconditional(t *testing.T, loss func(ctx *context.Context, x *Node) *Node, x [][]float64, maxEpochs int) (*Model, Report) {
	t.Helper()
	n, d := len(x), len(x[0])
	data := pairs{x: make([]float32, 0, d*n), y: make([]float32, n), dimX: d, dimY: 1}
	for _, r := range x {
		for _, v := range r {
			data.x = append(data.x, float32(v))
		}
	}
	data.train, data.valid = split(n, 0.1, 1)
	model := &Model{ctx: context.New().Checked(false)}
	var err error
	if model.backend, err = backend.Get(); err != nil {
		t.Fatal(err)
	}
	if err := model.ctx.SetRNGStateFromSeed(1); err != nil {
		t.Fatal(err)
	}
	fn := func(ctx *context.Context, x, _ *Node) *Node { return loss(ctx, x) }
	cfg := Training{MaxEpochs: maxEpochs, Seed: 1}.forRegression().withDefaults(n)
	var report Report
	if err := fit(model.backend, model.ctx, fn, repeated(fn, validationDraws), data, cfg, &report, nil, func(map[string]*npy.Array) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return model, report
}

// TestDSMLearnsMixtureScore trains a noise conditional score network by multi-scale denoising score
// matching on draws of a 2-D Gaussian mixture, with the training loop of every estimator, and
// compares it at σ = 0.5 with the mixture's closed-form perturbed score, at draws of p_σ.
func TestDSMLearnsMixtureScore(t *testing.T) {
	mix := score.Mixture{
		Weights: []float64{0.5, 0.3, 0.2},
		Means:   [][]float64{{-1, 0}, {1, 0.5}, {0, -1.5}},
		Stds:    []float64{0.5, 0.4, 0.6},
	}
	sm := score.Model{Net: cnf.Net{Hidden: 64, Layers: 3, Frequencies: 2}, Noise: score.Noise{SigmaMin: 0.1, SigmaMax: 3}}
	x := mix.Sample(8000, 0, rand.New(rand.NewPCG(1, 1)))
	model, report := fitUnconditional(t, func(ctx *context.Context, x *Node) *Node { return sm.Loss(ctx, x, nil) }, x, 200)
	const sigma = 0.5
	xt := mix.Sample(2000, sigma, rand.New(rand.NewPCG(2, 2)))
	exec, err := context.NewExec(model.backend, model.ctx, func(ctx *context.Context, x *Node) []*Node {
		s := Scalar(x.Graph(), x.DType(), sigma)
		return []*Node{sm.Score(ctx.In(modelScope), x, s, nil), mix.Score(ctx, x, s, nil)}
	})
	if err != nil {
		t.Fatal(err)
	}
	flat := make([]float32, 0, 2*len(xt))
	for _, r := range xt {
		flat = append(flat, float32(r[0]), float32(r[1]))
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(flat, len(xt), 2))
	if err != nil {
		t.Fatal(err)
	}
	learned, _ := tensors.CopyFlatData[float32](out[0])
	exact, _ := tensors.CopyFlatData[float32](out[1])
	num, den := 0.0, 0.0
	for i := range learned {
		num += float64((learned[i] - exact[i]) * (learned[i] - exact[i]))
		den += float64(exact[i] * exact[i])
	}
	rel := math.Sqrt(num / den)
	t.Logf("relative error of the learned score at σ = %g: %.3f (%d epochs)", sigma, rel, report.Epochs)
	if rel > 0.1 {
		t.Errorf("the learned score's relative error at σ = %g is %.3f, want ≤ 0.1", sigma, rel)
	}
}
