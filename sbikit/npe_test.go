package sbikit

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/probinv/probinv/sbikit/cnf"
	"github.com/probinv/probinv/sbikit/flows"
	"github.com/probinv/probinv/sbikit/score"
	"github.com/probinv/probinv/sbikit/tasks"
)

// boxGaussian is a conjugate test problem with a known posterior: x ~ U[−B, B]², y = x + σ·ε. The
// posterior p(x|y) is N(y, σ²I) truncated to the box, a product of 1-D truncated normals.
type boxGaussian struct{}

const (
	bgBound = 2.0
	bgSigma = 0.5
)

func (boxGaussian) Bounds() (lo, hi []float64) {
	return []float64{-bgBound, -bgBound}, []float64{bgBound, bgBound}
}
func (boxGaussian) Sample(n int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([][]float64, n)
	for i := range x {
		x[i] = []float64{bgBound * (2*rng.Float64() - 1), bgBound * (2*rng.Float64() - 1)}
	}
	return x
}
func (boxGaussian) LogProb(x []float64) float64 {
	for _, v := range x {
		if math.Abs(v) > bgBound {
			return math.Inf(-1)
		}
	}
	return -2 * math.Log(2*bgBound)
}

// simulate draws y = x + σε.
func (boxGaussian) simulate(x [][]float64, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	y := make([][]float64, len(x))
	for i, r := range x {
		y[i] = []float64{r[0] + bgSigma*rng.NormFloat64(), r[1] + bgSigma*rng.NormFloat64()}
	}
	return y
}

// logPosterior is the exact log p(x|y).
func (boxGaussian) logPosterior(x, y []float64) float64 {
	lp := 0.0
	for j := range x {
		if math.Abs(x[j]) > bgBound {
			return math.Inf(-1)
		}
		z := (x[j] - y[j]) / bgSigma
		mass := 0.5 * (math.Erf((bgBound-y[j])/(bgSigma*math.Sqrt2)) - math.Erf((-bgBound-y[j])/(bgSigma*math.Sqrt2)))
		lp += -0.5*z*z - math.Log(bgSigma*math.Sqrt(2*math.Pi)) - math.Log(mass)
	}
	return lp
}

// smallNPE is a quick estimator for tests: a small spline flow, few epochs.
func smallNPE(dir string, maxEpochs int) NPE {
	return NPE{
		Flow:     flows.Config{Kind: flows.KindNSF, Transforms: 3, Hidden: 32},
		Training: Training{Seed: 3, MaxEpochs: maxEpochs, Dir: dir},
		Prior:    boxGaussian{},
	}
}

// trainer is what NPE, FMPE, CNF and NPSE have in common, for tests that run on all of them.
type trainer interface {
	Train(x, y [][]float64) (*Model, error)
}

// smallFMPE is a quick flow-matching estimator for tests.
func smallFMPE(dir string, maxEpochs int) FMPE {
	return FMPE{
		Net:      cnf.Net{Hidden: 32, Layers: 3},
		Density:  ODE{Method: "dopri5", RTol: 1e-4, ATol: 1e-4},
		Training: Training{Seed: 3, MaxEpochs: maxEpochs, Dir: dir},
		Prior:    boxGaussian{},
	}
}

// smallCNF is a quick maximum-likelihood continuous flow for tests.
func smallCNF(dir string, maxEpochs int) CNF {
	return CNF{
		Net:        cnf.Net{Hidden: 32, Layers: 2},
		Likelihood: Likelihood{Solver: ODE{Method: "rk4", Steps: 4}, Trace: cnf.TraceExact},
		Training:   Training{Seed: 3, MaxEpochs: maxEpochs, Dir: dir},
		Prior:      boxGaussian{},
	}
}

func trainBoxGaussian(t *testing.T, n int, e trainer) (*Model, [][]float64, [][]float64) {
	t.Helper()
	var p boxGaussian
	x := p.Sample(n, 1)
	y := p.simulate(x, 2)
	model, err := e.Train(x, y)
	if err != nil {
		t.Fatal(err)
	}
	return model, x, y
}

// TestNPEMatchesAnalyticPosterior trains on the box-Gaussian problem and compares the posterior with
// the exact truncated normal (see checkAnalytic).
func TestNPEMatchesAnalyticPosterior(t *testing.T) {
	model, _, _ := trainBoxGaussian(t, 4000, smallNPE("", 60))
	checkAnalytic(t, model, 0.08, 0.35, 200)
}

// TestFMPEMatchesAnalyticPosterior: the same for flow matching, whose log-density is the adaptive
// solve of the instantaneous change of variables with the exact trace.
func TestFMPEMatchesAnalyticPosterior(t *testing.T) {
	model, _, _ := trainBoxGaussian(t, 4000, smallFMPE("", 40))
	checkAnalytic(t, model, 0.08, 0.35, 100)
}

// TestCNFMatchesAnalyticPosterior: the same for a continuous flow trained by maximum likelihood
// through two midpoint steps (looser: few epochs, since each step backpropagates through the solver
// and the trace).
func TestCNFMatchesAnalyticPosterior(t *testing.T) {
	model, _, _ := trainBoxGaussian(t, 2000, smallCNF("", 15))
	checkAnalytic(t, model, 0.15, 0.5, 100)
}

// checkAnalytic compares a trained model's posterior with the exact truncated normal, for
// observations in the middle and near an edge of the box:
//
//   - KL(q‖p) = E_q[log q − log p], estimated at q's own samples, is at most klMax (and a wrong
//     constant in LogProb, such as a forgotten standardization scale, would show here as an offset),
//     and the mean |log q − log p| at most absMax;
//   - exp(LogProb) integrates to 1 over the box (a cells² grid), which checks the renormalization by
//     the acceptance and that LogProb is −Inf outside;
//   - every sample lies in the support.
func checkAnalytic(t *testing.T, model *Model, klMax, absMax float64, cells int) {
	t.Helper()
	var p boxGaussian
	for _, yObs := range [][]float64{{0.3, -0.5}, {1.9, 0.2}} {
		post, err := model.Posterior(yObs)
		if err != nil {
			t.Fatal(err)
		}
		samples, err := post.Sample(2000, 7)
		if err != nil {
			t.Fatal(err)
		}
		lq, err := post.LogProb(samples)
		if err != nil {
			t.Fatal(err)
		}
		kl, absErr := 0.0, 0.0
		for i, s := range samples {
			if math.Abs(s[0]) > bgBound || math.Abs(s[1]) > bgBound {
				t.Fatalf("sample %v lies outside the prior's support", s)
			}
			d := lq[i] - p.logPosterior(s, yObs)
			kl += d / float64(len(samples))
			absErr += math.Abs(d) / float64(len(samples))
		}
		step := 2 * bgBound / float64(cells)
		grid := make([][]float64, 0, cells*cells)
		for i := range cells {
			for j := range cells {
				grid = append(grid, []float64{-bgBound + (float64(i)+0.5)*step, -bgBound + (float64(j)+0.5)*step})
			}
		}
		lg, err := post.LogProb(grid)
		if err != nil {
			t.Fatal(err)
		}
		mass := 0.0
		for _, v := range lg {
			mass += math.Exp(v) * step * step
		}
		acc, err := post.Acceptance()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("y=%v: KL(q‖p) ≈ %.3f nats, mean |log q − log p| = %.3f, ∫q = %.4f, acceptance %.3f, %d epochs",
			yObs, kl, absErr, mass, acc, model.Report().Epochs)
		if kl > klMax || absErr > absMax {
			t.Errorf("y=%v: KL(q‖p) ≈ %.3f nats and mean |log q − log p| = %.3f, want ≤ %g and ≤ %g", yObs, kl, absErr, klMax, absMax)
		}
		if math.Abs(mass-1) > 0.02 {
			t.Errorf("y=%v: the posterior density integrates to %.4f over the prior's support, want 1 ± 2%%", yObs, mass)
		}
		// Flow matching smooths the edge of a truncated posterior more than a flow trained by likelihood
		// does (0.77 here at y = (1.9, 0.2), where NPE keeps 0.97).
		if !(acc > 0.7 && acc <= 1) {
			t.Errorf("y=%v: acceptance %.3f; the estimator learns from x inside the box, so little mass should leak", yObs, acc)
		}
		outside, err := post.LogProb([][]float64{{bgBound + 0.1, 0}})
		if err != nil || !math.IsInf(outside[0], -1) {
			t.Errorf("LogProb outside the support = %v (%v), want −Inf", outside, err)
		}
	}
}

// TestCheckpointResumeIsExact interrupts a run after its third epoch (copying its directory as a
// killed process would leave it), resumes it, and checks that the result equals an uninterrupted
// run's bit for bit: the optimizer state, learning rate, epoch count, batch order and (for flow
// matching, whose loss draws times and noise) the random draws all survive.
func TestCheckpointResumeIsExact(t *testing.T) {
	// Each trainer checkpoints after every epoch.
	for name, newTrainer := range map[string]func(dir string) trainer{
		"npe": func(dir string) trainer {
			e := smallNPE(dir, 6)
			e.Training.CheckpointEvery = 1
			return e
		},
		"fmpe": func(dir string) trainer {
			e := smallFMPE(dir, 6)
			e.Training.CheckpointEvery = 1
			return e
		},
		"npse": func(dir string) trainer {
			e := smallNPSE(dir, 6)
			e.Training.CheckpointEvery = 1
			return e
		},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			full, interrupted := filepath.Join(root, "full"), filepath.Join(root, "interrupted")
			afterCheckpoint = func(epochs int) {
				if epochs == 3 {
					copyDir(t, full, interrupted)
				}
			}
			defer func() { afterCheckpoint = nil }()
			whole, _, _ := trainBoxGaussian(t, 500, newTrainer(full))
			afterCheckpoint = nil
			if whole.Report().Epochs != 6 || whole.Report().Stopped != "max epochs" {
				t.Fatalf("uninterrupted run: %+v", whole.Report())
			}
			resumed, _, _ := trainBoxGaussian(t, 500, newTrainer(interrupted))
			if r := resumed.Report(); r.Epochs != 6 || len(r.History) != 6 {
				t.Fatalf("resumed run: %d epochs, %d history entries; want 6 and 6", r.Epochs, len(r.History))
			}
			for i, l := range whole.Report().History {
				if resumed.Report().History[i] != l {
					t.Errorf("epoch %d: losses %+v uninterrupted, %+v resumed", i+1, l, resumed.Report().History[i])
				}
			}
			a, err := snapshot(whole.ctx, modelScope)
			if err != nil {
				t.Fatal(err)
			}
			b, err := snapshot(resumed.ctx, modelScope)
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != len(b) || len(a) == 0 {
				t.Fatalf("%d and %d parameter arrays", len(a), len(b))
			}
			for key, arr := range a {
				for i, v := range arr.Float {
					if b[key] == nil || b[key].Float[i] != v {
						t.Fatalf("parameter %s[%d] differs after resuming", key, i)
					}
				}
			}
			// A finished run is not silently overwritten.
			if _, err := newTrainer(interrupted).Train(boxGaussian{}.Sample(500, 1), boxGaussian{}.simulate(boxGaussian{}.Sample(500, 1), 2)); err == nil ||
				!strings.Contains(err.Error(), "already holds a trained model") {
				t.Errorf("training into a finished directory: err = %v", err)
			}
		})
	}
}

// TestSaveLoadRoundTrip checks that a loaded model samples exactly what the trained one does, and
// that damaged directories give errors that say what to do.
func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	model, _, _ := trainBoxGaussian(t, 300, smallNPE(dir, 2))
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	y := []float64{0.1, 0.2}
	pa, _ := model.Posterior(y)
	pb, _ := loaded.Posterior(y)
	sa, err := pa.Sample(100, 9)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := pb.Sample(100, 9)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sa {
		if sa[i][0] != sb[i][0] || sa[i][1] != sb[i][1] {
			t.Fatalf("sample %d: trained %v, loaded %v", i, sa[i], sb[i])
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "sbikit train") {
		t.Errorf("missing directory: err = %v, want one naming `sbikit train`", err)
	}
	params := filepath.Join(dir, paramsFile)
	raw, err := os.ReadFile(params)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(params, raw[:len(raw)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("truncated params.npz: err = %v, want one saying the file is corrupt", err)
	}
}

// TestSupportJSON checks that open bounds (a Gaussian prior's) survive model.json, which has no
// infinities: without this, a model of such a prior could not be saved.
func TestSupportJSON(t *testing.T) {
	in := Support{Lo: []float64{math.Inf(-1), -1}, Hi: []float64{math.Inf(1), 2.5}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Support
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("%+v became %s and then %+v", in, b, out)
	}
}

// TestTrainRejectsBadData checks the errors for data a user could pass.
func TestTrainRejectsBadData(t *testing.T) {
	x := boxGaussian{}.Sample(100, 1)
	y := boxGaussian{}.simulate(x, 2)
	cases := map[string]struct {
		x, y [][]float64
		want string
	}{
		"row counts":  {x, y[:50], "one x per simulated y"},
		"too few":     {x[:5], y[:5], "at least"},
		"ragged":      {append(x[:30:30], []float64{1}), append(y[:30:30], []float64{1, 2}), "row 30"},
		"nan":         {x, append(append([][]float64{}, y[:99]...), []float64{math.NaN(), 0}), "NaN"},
		"empty y col": {x[:30], make([][]float64, 30), "empty"},
	}
	for name, c := range cases {
		if _, err := smallNPE("", 1).Train(c.x, c.y); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, c.want)
		}
	}
	model, _, _ := trainBoxGaussian(t, 100, smallNPE("", 1))
	if _, err := model.Posterior([]float64{1}); err == nil {
		t.Error("an observation of the wrong length was accepted")
	}
	if _, err := model.Posterior([]float64{math.Inf(1), 0}); err == nil {
		t.Error("an infinite observation was accepted")
	}
}

var _ tasks.Prior = boxGaussian{}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestContinuousSettingsErrors checks that bad settings of the continuous flows and of NPSE are refused with
// the reason, before any training, and that a bad sampler leaves a model's own in place.
func TestContinuousSettingsErrors(t *testing.T) {
	x := boxGaussian{}.Sample(100, 1)
	y := boxGaussian{}.simulate(x, 2)
	cases := map[string]struct {
		e    trainer
		want string
	}{
		"net":          {FMPE{Net: cnf.Net{Hidden: -1}}, "hidden and layers ≥ 1"},
		"matching":     {FMPE{Matching: cnf.Matching{SigmaMin: 2}}, "σ_min in (0, 1)"},
		"time":         {FMPE{Matching: cnf.Matching{Time: "cosine"}}, "unknown time distribution"},
		"sampling":     {FMPE{Sampling: ODE{Method: "rk4"}}, "bad ODE settings"},
		"density":      {FMPE{Density: ODE{Method: "heun", Steps: 4}}, "heun"},
		"trace":        {CNF{Likelihood: Likelihood{Trace: "exactly"}}, "unknown trace estimator"},
		"adaptive fit": {CNF{Likelihood: Likelihood{Solver: ODE{Method: "dopri5"}}}, "fixed steps"},
		"weights":      {CNF{Likelihood: Likelihood{Kinetic: -1}}, "≥ 0"},
		"noise":        {NPSE{Noise: score.Noise{SigmaMin: 1, SigmaMax: 0.5}}, "σ_min ≤ σ_max"},
		"langevin":     {NPSE{Langevin: score.Langevin{Steps: -1}}, "steps ≥ 1"},
	}
	for name, c := range cases {
		if _, err := c.e.Train(x, y); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, c.want)
		}
	}
	model, _, _ := trainBoxGaussian(t, 100, smallFMPE("", 1))
	if err := model.SetSampling(ODE{Method: "euler"}); err == nil || !strings.Contains(err.Error(), "bad ODE settings") {
		t.Errorf("SetSampling(euler without steps): err = %v", err)
	}
	if *model.meta.Sampling != DefaultSampling {
		t.Errorf("a refused sampler replaced the model's: %+v", *model.meta.Sampling)
	}
	if npe, _, _ := trainBoxGaussian(t, 100, smallNPE("", 1)); npe.SetSampling(DefaultSampling) == nil || npe.SetLangevin(score.Langevin{}) == nil {
		t.Error("an NPE model accepted an ODE or Langevin sampler")
	}
	npse, _, _ := trainBoxGaussian(t, 100, smallNPSE("", 1))
	before := *npse.meta.Langevin
	if err := npse.SetLangevin(score.Langevin{Epsilon: -1}); err == nil || !strings.Contains(err.Error(), "ε > 0") {
		t.Errorf("SetLangevin(ε < 0): err = %v", err)
	}
	if *npse.meta.Langevin != before {
		t.Errorf("a refused Langevin sampler replaced the model's: %+v", *npse.meta.Langevin)
	}
}
