package score

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/internal/chain"
	"github.com/probinv/probinv/sbikit/tasks"
)

// Langevin configures (annealed) Langevin dynamics, Song & Ermon's (2019) Algorithm 1: for each of
// Levels geometric noise scales (Noise.Scales) from the largest σ_L down to σ₁, Steps steps of
//
//	x ← x + αᵢ s(x, σᵢ) + √(2αᵢ) z,  z ~ N(0, I),  αᵢ = ε σᵢ²/σ_L²,
//
// each a Langevin step whose invariant distribution, for small αᵢ, is p_σᵢ. With one scale it is
// plain Langevin dynamics with step ε.
type Langevin struct {
	Levels int `json:"levels"` // L, the scales visited (default: a ratio of about DefaultRatio between them)
	Steps  int `json:"steps"`  // T, the steps per scale
	// Epsilon is ε, the step at the largest scale. What matters is αᵢ/σᵢ² = ε/σ_L², the same at every
	// scale: a Langevin step on N(μ, σ²) with α = rσ² contracts by 1 − r and has stationary variance
	// σ²/(1 − r/2), so r must be well below 2 and about 1/r steps mix one scale.
	Epsilon float64 `json:"epsilon"`
	// NoDenoise drops the final denoising step x ← x + σ₁² s(x, σ₁): by Tweedie's formula that is
	// E[x|x̃] for x̃ ~ p_σ₁, which removes the last scale's noise from the samples (Jolicoeur-Martineau
	// et al. 2021).
	NoDenoise bool `json:"no_denoise,omitempty"`
}

// The defaults of WithDefaults, chosen on NPSE for two_moons (10,000 simulations; C2ST on
// observations 1–2; levels:steps:rate = evaluations per sample → C2ST). With the default training:
// 17:20:0.5 = 341 → 0.513, 17:10:0.5 = 171 → 0.528, 17:5:1.0 = 86 → 0.532, 17:5:0.5 → 0.648 (10,000
// samples). With a weaker score (batches of 512, 5,000 samples): 17:20:0.5 0.621, 17:20:0.1 0.880,
// 17:50:0.1 0.641, 17:20:1.0 0.668, 34:10:0.5 0.635, 34:20:0.3 0.724, 9:40:0.5 0.649, and 17:20:0.5
// without the denoising step 0.651. Twenty steps leave a margin for posteriors that mix more slowly;
// Langevin{Steps: 5, Epsilon: σ_max²} is four times cheaper for about 0.02 of C2ST here.
const (
	// DefaultRatio is σᵢ₊₁/σᵢ. Song & Ermon (2020, technique 2) choose it so that a draw of p_σᵢ₊₁
	// lies in the high-density shell of p_σᵢ; that rule is for high dimensions and allows any
	// ratio in two.
	DefaultRatio = 1.5
	DefaultSteps = 20
	// DefaultRate is ε/σ_max² = αᵢ/σᵢ². Song & Ermon's (2020, technique 4) Gaussian analysis
	// suggests 0.1 for 20 steps, but it assumes data narrower than σᵢ; a posterior much wider than
	// the small scales relaxes by αᵢ/(w² + σᵢ²) per step, far slower, and needs the larger step.
	DefaultRate = 0.5
)

// WithDefaults fills the unset fields for the noise range n.
func (l Langevin) WithDefaults(n Noise) Langevin {
	if l.Levels == 0 {
		l.Levels = 1
		if n.SigmaMax > n.SigmaMin {
			l.Levels += int(math.Ceil(math.Log(n.SigmaMax/n.SigmaMin) / math.Log(DefaultRatio)))
		}
	}
	if l.Steps == 0 {
		l.Steps = DefaultSteps
	}
	if l.Epsilon == 0 {
		l.Epsilon = DefaultRate * n.SigmaMax * n.SigmaMax
	}
	return l
}

// Check reports settings that cannot run.
func (l Langevin) Check() error {
	if l.Levels < 1 || l.Steps < 1 || !(l.Epsilon > 0) || math.IsInf(l.Epsilon, 0) {
		return fmt.Errorf("score: Langevin dynamics needs levels ≥ 1, steps ≥ 1 and a finite step ε > 0, got %+v", l)
	}
	return nil
}

// Stats is the work a sampling run did.
type Stats struct {
	Steps       int // Langevin steps
	Evaluations int // evaluations of the score, the denoising step's included (each over the whole batch)
}

// Sampler runs Langevin dynamics with a score Func: one compiled Langevin step called from a Go loop
// (the pure-Go backend has no While), with the noise drawn in Go, so that a seed fixes the samples and
// samplers share no random state. The sampler is apart from the network: an analytic score, a learned
// one, or a learned one plus a physics term all drive it.
type Sampler struct {
	scales  []float64 // ascending
	cfg     Langevin
	step    *context.Exec
	denoise *context.Exec
}

// NewSampler compiles a sampler of score over cfg.Levels scales of the noise range (one level at
// σ_min for plain Langevin dynamics) in ctx, which holds the score's variables if it has any.
func NewSampler(b backends.Backend, ctx *context.Context, score Func, noise Noise, cfg Langevin) (*Sampler, error) {
	if err := noise.Check(); err != nil {
		return nil, err
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	s := &Sampler{scales: noise.Scales(cfg.Levels), cfg: cfg}
	var err error
	// in: x, z, σ, α, extra...
	s.step, err = context.NewExec(b, ctx, func(ctx *context.Context, in []*Node) *Node {
		x, z, sigma, alpha := in[0], in[1], in[2], in[3]
		drift := Mul(alpha, score(ctx, x, sigma, in[4:]))
		return Add(Add(x, drift), Mul(Sqrt(MulScalar(alpha, 2)), z))
	})
	if err != nil {
		return nil, err
	}
	// in: x, σ, extra...
	s.denoise, err = context.NewExec(b, ctx, func(ctx *context.Context, in []*Node) *Node {
		x, sigma := in[0], in[1]
		return Add(x, Mul(Square(sigma), score(ctx, x, sigma, in[2:])))
	})
	return s, err
}

// Scales are the sampler's noise scales, ascending.
func (s *Sampler) Scales() []float64 { return append([]float64(nil), s.scales...) }

// Sample runs the dynamics from x0 [n, d] (float32 or float64) with the caller's extra inputs, drawing
// the noise from rng, and returns the final state. A state that becomes NaN or Inf is an error: the
// step ε is too large for the score.
func (s *Sampler) Sample(x0 *tensors.Tensor, extra []*tensors.Tensor, rng *rand.Rand) (*tensors.Tensor, Stats, error) {
	var stats Stats
	dtype := x0.DType()
	if x0.Rank() != 2 || dtype != dtypes.Float32 && dtype != dtypes.Float64 {
		return nil, stats, fmt.Errorf("score: the initial state must be a float32 or float64 matrix [n, d], got %s", x0.Shape())
	}
	largest := s.scales[len(s.scales)-1]
	x := x0
	next := func(exec *context.Exec, args ...any) error {
		out, err := exec.Exec(append(args, toAny(extra)...)...)
		if err != nil {
			return fmt.Errorf("score: %w", err)
		}
		if x != x0 {
			x.FinalizeAll()
		}
		x = out[0]
		stats.Evaluations++
		return nil
	}
	for i := len(s.scales) - 1; i >= 0; i-- {
		sigma := s.scales[i]
		alpha := s.cfg.Epsilon
		if sigma != largest {
			alpha *= (sigma / largest) * (sigma / largest)
		}
		for range s.cfg.Steps {
			if err := next(s.step, x, chain.Normals(rng, dtype, x0.Shape().Dimensions...), chain.Scalar(dtype, sigma), chain.Scalar(dtype, alpha)); err != nil {
				return nil, stats, err
			}
			stats.Steps++
		}
	}
	if !s.cfg.NoDenoise {
		if err := next(s.denoise, x, chain.Scalar(dtype, s.scales[0])); err != nil {
			return nil, stats, err
		}
	}
	bad, err := nonFinite(x)
	if err != nil {
		return nil, stats, err
	}
	if bad > 0 {
		return nil, stats, fmt.Errorf("score: %d of %d Langevin chains diverged (NaN or Inf): lower the step ε (now %g)",
			bad, x0.Shape().Dim(0), s.cfg.Epsilon)
	}
	return x, stats, nil
}

func toAny(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}

// nonFinite counts the rows of x [n, d] with a NaN or Inf.
func nonFinite(x *tensors.Tensor) (int, error) {
	v, err := chain.Float64s(x)
	if err != nil {
		return 0, err
	}
	d, bad := x.Shape().Dim(1), 0
	for i := 0; i < len(v); i += d {
		if !tasks.Finite(v[i : i+d]) {
			bad++
		}
	}
	return bad, nil
}
