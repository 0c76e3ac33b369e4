package diffusion

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/internal/chain"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/sbikit/cnf"
	"github.com/probinv/probinv/sbikit/ode"
)

func TestScheduleTables(t *testing.T) {
	lin := Schedule{}.WithDefaults()
	if lin.Check() != nil || lin.Kind != Linear || lin.Steps != 1000 {
		t.Fatalf("defaults %+v", lin)
	}
	for _, s := range []Schedule{lin, {Kind: Cosine, Steps: 1000}} {
		tb := s.Tables()
		if s.Kind == Linear && (tb.Beta[1] != 1e-4 || math.Abs(tb.Beta[1000]-0.02) > 1e-15) {
			t.Errorf("linear β₁ = %g, β_T = %g", tb.Beta[1], tb.Beta[1000])
		}
		if tb.AlphaBar[tb.T] > 1e-4 {
			t.Errorf("%s: ᾱ_T = %g: x_T is not yet pure noise", s.Kind, tb.AlphaBar[tb.T])
		}
		for tt := 2; tt <= tb.T; tt++ {
			if !(tb.AlphaBar[tt] < tb.AlphaBar[tt-1]) {
				t.Fatalf("%s: ᾱ not decreasing at %d", s.Kind, tt)
			}
			// q(x_{t−1} | x_t, x₀) by Gaussian conditioning: the prior N(√ᾱ_{t−1} x₀, 1 − ᾱ_{t−1}) of x_{t−1}
			// times the likelihood N(x_t; √α_t x_{t−1}, β_t).
			precision := 1/(1-tb.AlphaBar[tt-1]) + tb.Alpha[tt]/tb.Beta[tt]
			variance := 1 / precision
			meanX0 := variance * math.Sqrt(tb.AlphaBar[tt-1]) / (1 - tb.AlphaBar[tt-1])
			meanXt := variance * math.Sqrt(tb.Alpha[tt]) / tb.Beta[tt]
			for _, c := range [][2]float64{{variance, tb.PosteriorVar[tt]}, {meanX0, tb.MeanX0[tt]}, {meanXt, tb.MeanXt[tt]}} {
				if math.Abs(c[0]-c[1]) > 1e-9*math.Abs(c[0]) {
					t.Fatalf("%s t=%d: conditioning gives %g, the tables %g", s.Kind, tt, c[0], c[1])
				}
			}
		}
	}
	for _, bad := range []Schedule{{Kind: "quadratic", Steps: 10}, {Kind: Linear, Steps: 0, BetaMin: 0.1, BetaMax: 0.2}, {Kind: Linear, Steps: 10, BetaMin: 0.3, BetaMax: 0.2}} {
		if bad.Check() == nil {
			t.Errorf("%+v passes Check", bad)
		}
	}
}

// TestForwardChain runs q(x_t | x_{t−1}) step by step and checks the closed form
// q(x_t | x₀) = N(√ᾱ_t x₀, (1 − ᾱ_t)) at a few t (four standard errors).
func TestForwardChain(t *testing.T) {
	tb := Schedule{}.WithDefaults().Tables()
	const n, x0 = 20000, 1.5
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float64, n)
	for i := range x {
		x[i] = x0
	}
	for tt := 1; tt <= tb.T; tt++ {
		for i := range x {
			x[i] = math.Sqrt(tb.Alpha[tt])*x[i] + math.Sqrt(tb.Beta[tt])*rng.NormFloat64()
		}
		if tt == 10 || tt == 100 || tt == 500 || tt == 1000 {
			mean, sq := 0.0, 0.0
			for _, v := range x {
				mean += v / n
				sq += v * v / n
			}
			variance := sq - mean*mean
			wantMean, wantVar := math.Sqrt(tb.AlphaBar[tt])*x0, 1-tb.AlphaBar[tt]
			if math.Abs(mean-wantMean) > 4*math.Sqrt(wantVar/n) || math.Abs(variance-wantVar) > 4*wantVar*math.Sqrt(2.0/n) {
				t.Errorf("t=%d: mean %.4f variance %.4f, want %.4f and %.4f", tt, mean, variance, wantMean, wantVar)
			}
		}
	}
}

// gaussianEpsilon is the optimal noise predictor for data N(μ, s² I): x_t ~ N(√ᾱ_t μ, (ᾱ_t s² + 1 − ᾱ_t) I),
// and E[ε | x_t] = √(1 − ᾱ_t) (x_t − √ᾱ_t μ)/(ᾱ_t s² + 1 − ᾱ_t).
func gaussianEpsilon(tb Tables, mu, s float64) Func {
	return func(_ *context.Context, x, t *Node, _ []*Node) *Node {
		logAB, _ := tb.Continuous(ConvertDType(t, x.DType()))
		ab := Reshape(Exp(logAB), 1, 1)
		v := AddScalar(MulScalar(ab, s*s), 1)
		v = Sub(v, ab)
		return Div(Mul(Sqrt(OneMinus(ab)), Sub(x, MulScalar(Sqrt(ab), mu))), v)
	}
}

// sampleGaussian runs a sampler with the exact noise predictor of N(μ, s²) in 2-D and returns the
// mean and variance of the samples.
func sampleGaussian(t *testing.T, tb Tables, s Sampling, mu, sd float64, n int) (mean, variance float64, stats Stats) {
	t.Helper()
	sm, err := NewSampler(testbackend.Get(t), context.New(), gaussianEpsilon(tb, mu, sd), tb, s)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	xT := chain.Normals(rng, dtypes.Float64, n, 2)
	out, stats, err := sm.Sample(xT, nil, rng)
	if err != nil {
		t.Fatal(err)
	}
	v, err := chain.Float64s(out)
	if err != nil {
		t.Fatal(err)
	}
	sq := 0.0
	for _, x := range v {
		mean += x / float64(len(v))
		sq += x * x / float64(len(v))
	}
	return mean, sq - mean*mean, stats
}

// TestSamplersWithExactEpsilon: with the optimal noise predictor of Gaussian data, ε* is linear in
// x_t, so each reverse step x' = c₁x + c₂ε*(x) + σz maps a Gaussian to a Gaussian whose mean and
// variance follow exactly; the samples of DDPM (both variances) and DDIM (deterministic, stochastic;
// 50 and 10 steps) must match that prediction, and DDPM's prediction must be the data's N(μ, s²).
// (DDIM's is not: its large steps shrink a narrow distribution, here by 7% in variance at 50 steps.)
func TestSamplersWithExactEpsilon(t *testing.T) {
	tb := Schedule{}.WithDefaults().Tables()
	const mu, sd, n = 1.0, 0.3, 4000
	for _, s := range []Sampling{{Method: DDPM, Variance: VarianceBeta}, {Method: DDPM, Variance: VariancePosterior},
		{Method: DDIM, Steps: 50}, {Method: DDIM, Steps: 50, Eta: 1}, {Method: DDIM, Steps: 10}} {
		// The exact law of the samples: from N(0, 1), through the steps.
		m, v := 0.0, 1.0
		for _, st := range s.steps(tb) {
			ab := tb.AlphaBar[st.t]
			k := math.Sqrt(1-ab) / (ab*sd*sd + 1 - ab) // ε*(x) = k (x − √ᾱ μ)
			m = st.c1*m + st.c2*k*(m-math.Sqrt(ab)*mu)
			v = (st.c1+st.c2*k)*(st.c1+st.c2*k)*v + st.sigma*st.sigma
		}
		mean, variance, stats := sampleGaussian(t, tb, s, mu, sd, n)
		t.Logf("%+v: mean %.4f variance %.4f; exact law %.4f, %.4f; data %g, %g; %d evaluations",
			s, mean, variance, m, v, mu, sd*sd, stats.Evaluations)
		if math.Abs(mean-m) > 4*math.Sqrt(v/(2*n)) || math.Abs(variance/v-1) > 4*math.Sqrt(2.0/(2*n)) {
			t.Errorf("%+v: samples have mean %.4f and variance %.4f, the exact law %.4f and %.4f", s, mean, variance, m, v)
		}
		if s.Method == DDPM && (math.Abs(m-mu) > 1e-3 || math.Abs(v/(sd*sd)-1) > 0.03) {
			t.Errorf("%+v: DDPM's law is N(%.4f, %.4f), not the data's N(%g, %g)", s, m, v, mu, sd*sd)
		}
	}
}

// TestBoundWithExactEpsilon: for Gaussian data and its optimal noise predictor, the variational
// bound lies above the true −log p(x₀) on average, and with σ_t² = β_t close to it. With σ_t² = β̃_t
// it is looser: the reverse steps' means are exact, but β̃_t is the variance for a known x₀, far
// narrower near t = 1 than the uncertainty of x₀ given x_t (about 0.5 nats per dimension at t = 2).
func TestBoundWithExactEpsilon(t *testing.T) {
	tb := Schedule{}.WithDefaults().Tables()
	const mu, sd, n = 1.0, 0.3, 2000
	rng := rand.New(rand.NewPCG(3, 3))
	x := make([]float64, 2*n)
	truth := 0.0
	for i := range x {
		x[i] = mu + sd*rng.NormFloat64()
		z := (x[i] - mu) / sd
		truth += (0.5*z*z + math.Log(sd*math.Sqrt(2*math.Pi))) / n
	}
	for _, variance := range []string{VarianceBeta, VariancePosterior} {
		bound, err := Bound(testbackend.Get(t), context.New(), gaussianEpsilon(tb, mu, sd), tb, variance,
			tensors.FromFlatDataAndDimensions(x, n, 2), nil, rng)
		if err != nil {
			t.Fatal(err)
		}
		mean, sq := 0.0, 0.0
		for _, v := range bound {
			mean += v / n
			sq += v * v / n
		}
		stderr := math.Sqrt((sq - mean*mean) / n)
		t.Logf("σ_t² = %s: bound %.4f ± %.4f nats, −log p = %.4f", variance, mean, stderr, truth)
		if mean < truth-4*stderr || variance == VarianceBeta && mean > truth+0.1 {
			t.Errorf("σ_t² = %s: bound %.4f ± %.4f, want ≥ −log p = %.4f (and within 0.1 for β_t)", variance, mean, stderr, truth)
		}
	}
}

// TestProbabilityFlowLogLikelihood: with the optimal noise predictor of Gaussian data N(μ, s²I), the
// probability flow is affine, mapping the marginal N(mₛ, vₛ) at one time to the next, with
// mₛ = √ᾱ(s) μ and vₛ = ᾱ(s) s² + 1 − ᾱ(s). The model's density at the first step is N(0, I) at s = 1
// pushed back through it, N(m₀ − √(v₀/v₁) m₁, v₀/v₁): the ODE's log-likelihood (adaptive
// Dormand–Prince, exact trace) must equal it. (It differs from the data's marginal by ᾱ_T, 4e-5 for
// the linear schedule: up to 0.03 nats here.) The error left is the solver's: β(s) jumps at every
// step of the schedule, which the adaptive steps must resolve; at tolerance 1e-6 it is about 0.01
// nats, at 1e-8 0.002 (ten times the steps).
func TestProbabilityFlowLogLikelihood(t *testing.T) {
	const mu, sd, n = 1.0, 0.3, 200
	for _, kind := range []string{Linear, Cosine} {
		tb := Schedule{Kind: kind}.WithDefaults().Tables()
		flow := Flow{Tables: tb, Eps: gaussianEpsilon(tb, mu, sd)}
		cf := cnf.Flow{Dim: 2, Net: flow}
		solver, err := ode.NewSolver(testbackend.Get(t), context.New(), func(ctx *context.Context, _ []*Node) ode.Field {
			return cf.DensityField(ctx, nil, nil)
		}, ode.Options{Method: ode.DormandPrince, RTol: 1e-6, ATol: 1e-6})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(4, 4))
		ab := tb.AlphaBar[1]
		v := ab*sd*sd + 1 - ab
		x := make([]float64, 2*n)
		for i := range x {
			x[i] = math.Sqrt(ab)*mu + math.Sqrt(v)*rng.NormFloat64()
		}
		out, stats, err := solver.Solve([]*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, n, 2), tensors.FromFlatDataAndDimensions(make([]float64, n), n)},
			nil, flow.End(), 0)
		if err != nil {
			t.Fatal(err)
		}
		z, _ := chain.Float64s(out[0])
		a, _ := chain.Float64s(out[1])
		abT := tb.AlphaBar[tb.T]
		v1 := abT*sd*sd + 1 - abT
		mean, variance := math.Sqrt(ab)*mu-math.Sqrt(v/v1)*math.Sqrt(abT)*mu, v/v1
		worst := 0.0
		for i := range n {
			got, want := a[i], 0.0
			for j := range 2 {
				got += -0.5*z[2*i+j]*z[2*i+j] - 0.5*math.Log(2*math.Pi)
				d := x[2*i+j] - mean
				want += -0.5*d*d/variance - 0.5*math.Log(2*math.Pi*variance)
			}
			worst = max(worst, math.Abs(got-want))
		}
		t.Logf("%s: largest |log p_ODE − log p| = %.2g nats (%d steps)", kind, worst, stats.Steps)
		if worst > 0.02 {
			t.Errorf("%s: the probability flow's log-likelihood is off by up to %.3g nats", kind, worst)
		}
	}
}

// TestTrainingSteps checks the law of the training step t under both Times: stratified uniform draws
// u_i = (i + ½)/N put N·P(t) of them on each t, up to the rounding at the ends of each interval.
func TestTrainingSteps(t *testing.T) {
	const n, T = 200_000, 1000
	u := make([]float64, n)
	for i := range u {
		u[i] = (float64(i) + 0.5) / n
	}
	net := cnf.Net{}.WithDefaults(2)
	if err := (Model{Net: net, Times: "loguniform"}).Check(); err == nil {
		t.Error("Times \"loguniform\" was accepted")
	}
	for _, times := range []string{TimesUniform, TimesLog} {
		m := Model{Net: net, Tables: Schedule{}.WithDefaults().Tables(), Times: times}
		if err := m.Check(); err != nil {
			t.Fatal(err)
		}
		out := MustExecOnce(testbackend.Get(t), func(u *Node) *Node { return m.steps(u) }, u)
		count := make([]float64, T+1)
		for _, s := range tensors.MustCopyFlatData[float64](out) {
			count[int(s)]++
		}
		if count[0] != 0 {
			t.Fatalf("%s: t = 0 drawn %g times", times, count[0])
		}
		for s := 1; s <= T; s++ {
			want := float64(n) / T
			if times == TimesLog {
				want = n/2/T + n/2*math.Log(float64(s+1)/float64(s))/math.Log(T+1)
			}
			if math.Abs(count[s]-want) > 1.5 {
				t.Fatalf("%s: t = %d drawn %g times, want %.1f", times, s, count[s], want)
			}
		}
	}
}
