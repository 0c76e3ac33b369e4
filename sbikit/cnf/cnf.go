// Package cnf is the continuous normalizing flow of the lecture: a neural ODE
//
//	dz/dt = v_θ(z, t, c),  z(0) ~ N(0, I),  x = z(1),
//
// conditioned on an embedded observation c, whose density follows the instantaneous change of
// variables (Chen et al. 2018)
//
//	d log p(z(t))/dt = −Tr(∂v_θ/∂z),
//
// so that log q(x|c) = log N(z(0); 0, I) − ∫₀¹ Tr(∂v_θ/∂z)(z(t), t) dt, with z(t) the trajectory
// through x, integrated backwards from t = 1. The trace is computed exactly (one vector-Jacobian
// product per dimension) or estimated by Hutchinson's εᵀ(∂v/∂z)ε with one product (FFJORD,
// Grathwohl et al. 2019).
//
// Two ways to train the same field live here: maximum likelihood through the unrolled solver
// (LogProb inside the loss), whose cost grows with the number of solver steps and, for the exact
// trace, with the dimension; and flow matching (MatchingLoss, Lipman et al. 2023), a regression
// onto the velocity of a fixed probability path that never solves the ODE while training.
//
// Time runs from the base (t = 0) to the data (t = 1), as in the flow-matching papers.
package cnf

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/flows"
	"github.com/probinv/probinv/sbikit/nn"
	"github.com/probinv/probinv/sbikit/ode"
)

// Net is the vector field network v_θ(z, t, c): Layers hidden layers of Hidden units with the SiLU
// activation, smooth so that the trace's own gradient (needed to train through the divergence) is
// informative, unlike ReLU's piecewise-constant derivative. z, the time features and c enter the
// first layer through weights of their own, so one observation or one time (batch 1) broadcasts
// over a batch of states without being copied.
type Net struct {
	Hidden int `json:"hidden"`
	Layers int `json:"layers"`
	// Frequencies is the number K of Fourier features of time: t, sin(2πkt) and cos(2πkt) for
	// k = 1..K, so that the field can change quickly in t where the path needs it (near the data).
	Frequencies int `json:"frequencies"`
}

// WithDefaults fills the unset fields for a field over dim dimensions: 64 units per 4 dimensions
// (at least 64, a multiple of the pure-Go matrix product's 32-wide block), 3 layers, 4 frequencies.
func (n Net) WithDefaults(dim int) Net {
	if n.Hidden == 0 {
		n.Hidden = 64 * max(1, (dim+3)/4)
	}
	if n.Layers == 0 {
		n.Layers = 3
	}
	if n.Frequencies == 0 {
		n.Frequencies = 4
	}
	return n
}

// Check reports settings that cannot build a network.
func (n Net) Check() error {
	if n.Hidden < 1 || n.Layers < 1 || n.Frequencies < 0 {
		return fmt.Errorf("cnf: the field network needs hidden and layers ≥ 1 and frequencies ≥ 0, got %+v", n)
	}
	return nil
}

// Velocity is v_θ(z, t, c) for states z [b, d], times t (a scalar, or [b] for one time per row) and
// the context c [b or 1, dc] (nil for an unconditional field), in the scope of ctx.
func (n Net) Velocity(ctx *context.Context, z, t, c *Node) *Node {
	g, dtype := z.Graph(), z.DType()
	tt := Reshape(ConvertDType(t, dtype), -1, 1) // [b or 1, 1]
	h := nn.Dense(ctx.In("layer_0"), z, n.Hidden, nil, false)
	h = Add(h, nn.Dense(ctx.In("time"), tt, n.Hidden, nil, false))
	if n.Frequencies > 0 {
		k := make([]float64, n.Frequencies)
		for i := range k {
			k[i] = 2 * math.Pi * float64(i+1)
		}
		arg := Mul(tt, Reshape(ConstAsDType(g, dtype, k), 1, n.Frequencies))
		h = Add(h, nn.Dense(ctx.In("time_sin"), Sin(arg), n.Hidden, nil, false))
		h = Add(h, nn.Dense(ctx.In("time_cos"), Cos(arg), n.Hidden, nil, false))
	}
	if c != nil {
		h = Add(h, nn.Dense(ctx.In("context"), c, n.Hidden, nil, false))
	}
	h = silu(h)
	for l := 1; l < n.Layers; l++ {
		h = silu(nn.Dense(ctx.In(fmt.Sprintf("layer_%d", l)), h, n.Hidden, nil, false))
	}
	// A zero last layer starts the flow as the identity map: training starts from the base.
	return nn.Dense(ctx.In("output"), h, z.Shape().Dim(-1), nil, true)
}

func silu(x *Node) *Node { return Mul(x, Logistic(x)) }

// Trace estimators of the divergence Tr(∂v/∂z).
const (
	TraceExact      = "exact"      // d vector-Jacobian products: exact, d times the cost
	TraceRademacher = "rademacher" // Hutchinson with ±1 probes: unbiased, the lower variance of the two
	TraceGaussian   = "gaussian"   // Hutchinson with N(0, I) probes
)

// Traces lists the trace estimators.
var Traces = []string{TraceExact, TraceRademacher, TraceGaussian}

// Divergence is Tr(∂v/∂z) per row, for v [b, d] computed from z [b, d] row by row, together with
// the squared Frobenius norm ‖∂v/∂z‖²_F, which maximum-likelihood training penalizes (see
// Likelihood in sbikit). With eps nil both are exact: for each dimension i the gradient of Σ_rows v_i
// with respect to z gives row i of every row's Jacobian (rows do not interact), whose diagonal
// entry goes into the trace and whose squares into the norm; one-hot products pick the entries
// instead of slices, so the result can be differentiated again on any backend. With Hutchinson
// probes eps [b, d] (E[εεᵀ] = I) one vector-Jacobian product u = εᵀ(∂v/∂z) gives the unbiased
// estimates u·ε of the trace and ‖u‖² of the norm, whatever the dimension.
func Divergence(v, z, eps *Node) (trace, frobenius *Node) {
	if eps != nil {
		u := Gradient(ReduceAllSum(Mul(v, eps)), z)[0]
		return ReduceSum(Mul(u, eps), -1), ReduceSum(Square(u), -1)
	}
	g, dtype := z.Graph(), z.DType()
	d := z.Shape().Dim(-1)
	for i := range d {
		e := make([]float64, d)
		e[i] = 1
		ei := Reshape(ConstAsDType(g, dtype, e), 1, d)
		row := Gradient(ReduceAllSum(Mul(v, ei)), z)[0]
		diag, sq := ReduceSum(Mul(row, ei), -1), ReduceSum(Square(row), -1)
		if trace == nil {
			trace, frobenius = diag, sq
		} else {
			trace, frobenius = Add(trace, diag), Add(frobenius, sq)
		}
	}
	return trace, frobenius
}

// Probes draws Hutchinson probes of the given kind with the shape of z from the context's random
// state; it returns nil for the exact trace.
func Probes(ctx *context.Context, z *Node, trace string) *Node {
	switch trace {
	case TraceRademacher:
		u := ctx.RandomUniform(z.Graph(), z.Shape())
		return SignPlusOrMinus(AddScalar(u, -0.5))
	case TraceGaussian:
		return ctx.RandomNormal(z.Graph(), z.Shape())
	case TraceExact:
		return nil
	}
	panic(fmt.Sprintf("cnf: unknown trace %q, want one of %v", trace, Traces))
}

// VectorField is a conditional, time-dependent vector field v(z, t, c), built in the scope of ctx:
// Net is the learned one; tests plug in fields whose flows are known in closed form.
type VectorField interface {
	Velocity(ctx *context.Context, z, t, c *Node) *Node
}

// Flow is a conditional continuous normalizing flow over Dim dimensions.
type Flow struct {
	Dim int
	Net VectorField
}

// Field is the ODE dz/dt = v_θ(z, t, c) over the state (z), for the ode solvers.
func (f Flow) Field(ctx *context.Context, c *Node) ode.Field {
	return func(t *Node, z []*Node) []*Node {
		return []*Node{f.Net.Velocity(ctx, z[0], t, c)}
	}
}

// DensityField is the augmented ODE of the instantaneous change of variables over the state
// (z [b, d], a [b]): dz/dt = v_θ(z, t, c) and da/dt = Tr(∂v_θ/∂z), the trace exact when eps is nil
// and Hutchinson's estimate with the probes eps otherwise (the same probes along the whole path, as
// FFJORD does, so that the estimate of the integral stays unbiased). A state of four elements
// (z, a, k, j) also integrates the regularizers of RNODE (Finlay et al. 2020), the kinetic energy
// dk/dt = ‖v_θ‖² and the Jacobian's dj/dt = ‖∂v_θ/∂z‖²_F.
func (f Flow) DensityField(ctx *context.Context, c, eps *Node) ode.Field {
	return func(t *Node, s []*Node) []*Node {
		z := s[0]
		v := f.Net.Velocity(ctx, z, t, c)
		div, frob := Divergence(v, z, eps)
		if len(s) == 2 {
			return []*Node{v, div}
		}
		return []*Node{v, div, ReduceSum(Square(v), -1), frob}
	}
}

// Regularizers are path integrals that keep a CNF trained by maximum likelihood easy to solve, per
// row: the kinetic energy ∫₀¹ ‖v_θ‖² dt (straight paths) and ∫₀¹ ‖∂v_θ/∂z‖²_F dt (no stiff
// contraction). Maximum likelihood through a few fixed solver steps otherwise fits fields whose
// discretized flow the same steps do not invert: the model exploits the solver's error, and its
// samples miss its density.
type Regularizers struct {
	Kinetic, Jacobian *Node
}

// LogProb is log q(x|c) for x [b, Dim] by integrating the augmented ODE from t = 1 back to t = 0
// with n steps of m, unrolled in the graph so that training can backpropagate through it:
//
//	log q(x|c) = log N(z(0); 0, I) + a(0),  a(1) = 0,  da/dt = Tr(∂v_θ/∂z).
//
// eps are Hutchinson probes (nil for the exact trace). It also returns the regularizers along
// each path.
func (f Flow) LogProb(ctx *context.Context, x, c, eps *Node, m ode.Method, n int) (*Node, Regularizers) {
	zero := ZerosLike(ReduceSum(x, -1))
	s := ode.Integrate(m, f.DensityField(ctx, c, eps), []*Node{x, zero, zero, zero}, 1, 0, n)
	// Integrated backwards, the accumulated integrals come out negated.
	return Add(flows.StandardNormalLogProb(s[0]), s[1]), Regularizers{Kinetic: Neg(s[2]), Jacobian: Neg(s[3])}
}

// Sample maps base draws eps [b, Dim] to x = z(1) with n steps of m, unrolled in the graph.
func (f Flow) Sample(ctx *context.Context, eps, c *Node, m ode.Method, n int) *Node {
	return ode.Integrate(m, f.Field(ctx, c), []*Node{eps}, 0, 1, n)[0]
}

// Matching is the flow-matching objective: the conditional optimal-transport path of Lipman et al.
// (2023) between a base draw z₀ ~ N(0, I) and a data point x₁,
//
//	x_t = (1 − (1 − σ_min) t) z₀ + t x₁,  u_t = x₁ − (1 − σ_min) z₀,
//
// whose marginal velocity field the network regresses, E_{t, z₀, (x₁, c)} ‖v_θ(x_t, t, c) − u_t‖².
// The time t is drawn from Time.
type Matching struct {
	// SigmaMin is the width of the path's end at the data (default 1e-3 in standardized units):
	// above zero, so the target field stays bounded.
	SigmaMin float64 `json:"sigma_min"`
	// Time is the distribution of t: "power" (p(t) ∝ t^Power, the default; Wildberger et al. 2023's
	// p(t) ∝ t^{1/(1+α)}), "uniform", or "logit-normal" (Esser et al. 2024: t = sigmoid(N(0, 1)),
	// weighting the middle of the path).
	Time string `json:"time"`
	// Power is the exponent of the power law (default 5). A narrow posterior takes its shape only in
	// the last few percent of the path, where the field contracts onto it: on two_moons (a crescent
	// about 1% of the prior wide) p(t) ∝ t left it four times too thick (C2ST 0.72 on observations
	// 1–2), t⁵ nearly right (0.65).
	Power float64 `json:"power,omitempty"`
	// Uniform is the share of times drawn uniformly instead of from the power law (0.5 when Time is
	// left empty, else as given): the early times decide where the mass goes, and t⁵ alone starves them. On gaussian_linear (10-D)
	// t⁵ alone gave samples of twice the posterior's variance and log q off by 1.5 nats; with half
	// the times uniform, 0.35 nats.
	Uniform float64 `json:"uniform,omitempty"`
}

// Time distributions of Matching.
const (
	TimeUniform     = "uniform"
	TimePower       = "power"
	TimeLogitNormal = "logit-normal"
)

// TimeDistributions lists Matching.Time's values.
var TimeDistributions = []string{TimeUniform, TimePower, TimeLogitNormal}

// WithDefaults fills the unset fields.
func (m Matching) WithDefaults() Matching {
	if m.SigmaMin == 0 {
		m.SigmaMin = 1e-3
	}
	if m.Time == "" { // the tuned default: half t⁵, half uniform
		m.Time = TimePower
		if m.Uniform == 0 {
			m.Uniform = 0.5
		}
	}
	if m.Time == TimePower && m.Power == 0 {
		m.Power = 5
	}
	return m
}

// Check reports settings that do not define a path.
func (m Matching) Check() error {
	if !(m.SigmaMin > 0 && m.SigmaMin < 1) || m.Power <= -1 || !(m.Uniform >= 0 && m.Uniform <= 1) {
		return fmt.Errorf("cnf: flow matching needs σ_min in (0, 1), a power > −1 and a uniform share in [0, 1], got %+v", m)
	}
	for _, t := range TimeDistributions {
		if m.Time == t {
			return nil
		}
	}
	return fmt.Errorf("cnf: unknown time distribution %q, want one of %v", m.Time, TimeDistributions)
}

// SampleTime draws b times in (0, 1) from the distribution m.Time with the context's random state.
func (m Matching) SampleTime(ctx *context.Context, g *Graph, dtype dtypes.DType, b int) *Node {
	switch m.Time {
	case TimeUniform:
		return ctx.RandomUniform(g, shapes.Make(dtype, b))
	case TimePower:
		// The CDF of p(t) ∝ t^k is t^{k+1}: invert it.
		u := ctx.RandomUniform(g, shapes.Make(dtype, b))
		power := PowScalar(u, 1/(m.Power+1))
		if m.Uniform == 0 {
			return power
		}
		pick := ctx.RandomUniform(g, shapes.Make(dtype, b))
		return Where(LessThan(pick, Scalar(g, dtype, m.Uniform)), ctx.RandomUniform(g, shapes.Make(dtype, b)), power)
	case TimeLogitNormal:
		return Logistic(ctx.RandomNormal(g, shapes.Make(dtype, b)))
	}
	panic(fmt.Sprintf("cnf: unknown time distribution %q, want one of %v", m.Time, TimeDistributions))
}

// Loss is the flow-matching loss of a batch x₁ [b, d] with contexts c [b, dc]: the squared error
// summed over dimensions and averaged over the batch, with t and z₀ drawn from ctx's random state.
func (m Matching) Loss(ctx *context.Context, f Flow, x1, c *Node) *Node {
	g, dtype := x1.Graph(), x1.DType()
	b := x1.Shape().Dim(0)
	t := m.SampleTime(ctx, g, dtype, b)
	z0 := ctx.RandomNormal(g, x1.Shape())
	tt := Reshape(t, b, 1)
	xt := Add(Mul(OneMinus(MulScalar(tt, 1-m.SigmaMin)), z0), Mul(tt, x1))
	u := Sub(x1, MulScalar(z0, 1-m.SigmaMin))
	v := f.Net.Velocity(ctx, xt, t, c)
	return ReduceAllMean(ReduceSum(Square(Sub(v, u)), -1))
}
