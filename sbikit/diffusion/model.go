package diffusion

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/cnf"
)

// Model is the noise predictor ε_θ(x_t, t, c): the continuous flows' field network (cnf.Net) with
// the time feature τ = log t / log T, and the schedule's tables.
//
// Why log t and not t/T: the noise std √(1 − ᾱ_t) grows like a power of t at small t (√t for the
// linear schedule, t for the cosine one), so it is the first few steps that decide structure finer
// than the data's scale. For two_moons' crescent, 0.02 wide in standardized units, that is t ≤ 12,
// which t/T squeezes into 1% of the network's input and log t / log T spreads over its first third.
type Model struct {
	Net    cnf.Net
	Tables Tables
	// Times is how training draws the step t: TimesUniform (Algorithm 1, the default) or TimesLog.
	Times string
	// Dropout is the probability of training a step without its condition, which makes the network
	// also an unconditional model ε_θ(x_t, t, ∅) for classifier-free guidance (Ho & Salimans 2022).
	// With Dropout > 0 the network sees the condition with a presence flag, [c, 1] or [0, 0].
	Dropout float64
}

// How training draws the step t.
const (
	// TimesUniform is Algorithm 1's t ~ U{1, …, T}.
	TimesUniform = "uniform"
	// TimesLog draws half of the steps as Algorithm 1 does and half with log t uniform (P(t) ∝ 1/t),
	// so that each decade of steps gets at least a sixth of the training (for T = 1000). The
	// minimizer ε_θ(·, t) of each step's loss is the same as under Algorithm 1 (only the weights
	// between steps change), but a finite network spends more of itself on the small-noise steps
	// that decide narrow posteriors: on two_moons the steps t ≤ 12 get 19% of the draws instead of
	// 1.2%. The uniform half keeps the large-t steps, where the posterior's bulk forms, as well
	// trained as before.
	TimesLog = "log"
)

// Check reports settings that cannot build a model.
func (m Model) Check() error {
	if err := m.Net.Check(); err != nil {
		return err
	}
	if m.Times != "" && m.Times != TimesUniform && m.Times != TimesLog {
		return fmt.Errorf("diffusion: times must be %q or %q, got %q", TimesUniform, TimesLog, m.Times)
	}
	if !(m.Dropout >= 0 && m.Dropout < 1) {
		return fmt.Errorf("diffusion: the condition dropout must be in [0, 1), got %g", m.Dropout)
	}
	return nil
}

// Epsilon is ε_θ(x, t, c) for x [b, d], the step t (float, a scalar or [b]) and the condition c
// [b or 1, dc] as the network takes it (Condition's output; nil for an unconditional model).
func (m Model) Epsilon(ctx *context.Context, x, t, c *Node) *Node {
	return m.Net.Velocity(ctx, x, DivScalar(Log(ConvertDType(t, x.DType())), math.Log(float64(m.Tables.T))), c)
}

// Condition is the network's input for the condition c [b, dc]: c itself for a model trained without
// dropout; with dropout, [c·k, k] with k [b] the presence flags (1 keeps the condition, 0 drops it).
func (m Model) Condition(c, keep *Node) *Node {
	if c == nil || m.Dropout == 0 {
		return c
	}
	k := Reshape(ConvertDType(keep, c.DType()), -1, 1)
	return Concatenate([]*Node{Mul(c, k), k}, -1)
}

// Guided is the classifier-free guided noise (1 + w) ε_θ(x, t, c) − w ε_θ(x, t, ∅) for one condition
// c [1, dc]; w = 0 is the conditional model alone. Guidance needs a model trained with Dropout > 0.
func (m Model) Guided(ctx *context.Context, x, t, c *Node, w float64) *Node {
	if c == nil {
		return m.Epsilon(ctx, x, t, nil)
	}
	g := c.Graph()
	eps := m.Epsilon(ctx, x, t, m.Condition(c, Ones(g, shapes.Make(c.DType(), 1))))
	if w == 0 {
		return eps
	}
	if m.Dropout == 0 {
		panic("diffusion: classifier-free guidance needs a model trained with condition dropout")
	}
	free := m.Epsilon(ctx, x, t, m.Condition(c, Zeros(g, shapes.Make(c.DType(), 1))))
	return Sub(MulScalar(eps, 1+w), MulScalar(free, w))
}

// Loss is Algorithm 1 of Ho et al. (2020) for a batch x₀ [b, d] with conditions c [b, dc] (nil:
// unconditional): t ~ U{1, …, T} (or log-uniform, see Times), ε ~ N(0, I) from ctx's random state,
// and the batch mean of ‖ε − ε_θ(√ᾱ_t x₀ + √(1 − ᾱ_t) ε, t, c)‖², the condition dropped with
// probability Dropout.
func (m Model) Loss(ctx *context.Context, x0, c *Node) *Node {
	g, dtype := x0.Graph(), x0.DType()
	b := x0.Shape().Dim(0)
	t := m.steps(ctx.RandomUniform(g, shapes.Make(dtype, b)))
	alphaBar := Gather(ConstAsDType(g, dtype, m.Tables.AlphaBar), Reshape(ConvertDType(t, dtypes.Int32), b, 1))
	ab := Reshape(alphaBar, b, 1)
	eps := ctx.RandomNormal(g, x0.Shape())
	xt := Add(Mul(Sqrt(ab), x0), Mul(Sqrt(OneMinus(ab)), eps))
	if c != nil && m.Dropout > 0 {
		keep := GreaterOrEqual(ctx.RandomUniform(g, shapes.Make(dtype, b)), Scalar(g, dtype, m.Dropout))
		c = m.Condition(c, keep)
	}
	return ReduceAllMean(ReduceSum(Square(Sub(eps, m.Epsilon(ctx, xt, t, c))), -1))
}

// steps turns uniform draws u ∈ [0, 1) into training steps t ∈ {1, …, T} (as floats) by Times.
func (m Model) steps(u *Node) *Node {
	T := float64(m.Tables.T)
	if m.Times != TimesLog {
		return MinScalar(AddScalar(Floor(MulScalar(u, T)), 1), T) // the Min guards float rounding
	}
	// u < ½: uniform from 2u; u ≥ ½: ⌊(T+1)^(2u−1)⌋, for which P(t) = log((t+1)/t) / log(T+1).
	v := MulScalar(u, 2)
	uniform := AddScalar(Floor(MulScalar(v, T)), 1)
	log := Floor(Exp(MulScalar(AddScalar(v, -1), math.Log(T+1))))
	t := Where(LessThan(u, Scalar(u.Graph(), u.DType(), 0.5)), uniform, log)
	return MinScalar(MaxScalar(t, 1), T)
}
