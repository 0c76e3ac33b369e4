package ode

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/internal/chain"
)

// System builds the field inside a graph from the context (the network's variables) and extra inputs
// that are constant over time (e.g. the observation).
type System func(ctx *context.Context, extra []*Node) Field

// Options choose how Solver integrates: Steps > 0 gives that many fixed steps of Method; Steps == 0
// with a Method that has E is adaptive with error control. The zero Method is DormandPrince, so the
// zero Options solve adaptively with the defaults below.
type Options struct {
	Method     Method
	Steps      int
	RTol, ATol float64 // adaptive tolerances (defaults 1e-5 and 1e-6)
	MaxSteps   int     // adaptive: give up with an error after this many steps, accepted or rejected (default 10000)
	// FirstStep is the adaptive initial |h|; by default it is chosen by the starting-step heuristic of
	// Hairer, Nørsett & Wanner (§II.4), at the cost of two field evaluations.
	FirstStep float64
}

// withDefaults fills the unset fields and reports options that cannot work.
func (o Options) withDefaults() (Options, error) {
	if o.Method.Stages() == 0 {
		o.Method = DormandPrince
	}
	if err := o.Method.check(); err != nil {
		return o, err
	}
	if o.RTol == 0 {
		o.RTol = 1e-5
	}
	if o.ATol == 0 {
		o.ATol = 1e-6
	}
	if o.MaxSteps == 0 {
		o.MaxSteps = 10000
	}
	switch {
	case o.Steps < 0:
		return o, fmt.Errorf("ode: Steps must be ≥ 0 (0: adaptive), got %d", o.Steps)
	case o.Steps == 0 && o.Method.E == nil:
		return o, fmt.Errorf("ode: method %q has no error estimate, so it cannot choose its steps: set Steps > 0 or use %q",
			o.Method.Name, DormandPrince.Name)
	case !(o.RTol > 0) || !(o.ATol > 0) || math.IsInf(o.RTol, 0) || math.IsInf(o.ATol, 0):
		return o, fmt.Errorf("ode: tolerances must be positive and finite, got RTol %g, ATol %g", o.RTol, o.ATol)
	case o.MaxSteps < 0 || !(o.FirstStep >= 0) || math.IsInf(o.FirstStep, 0):
		return o, fmt.Errorf("ode: MaxSteps and FirstStep must be ≥ 0 (0: default), got %d and %g", o.MaxSteps, o.FirstStep)
	}
	return o, nil
}

// Stats count the work of a solve.
type Stats struct {
	Steps    int `json:"steps"`    // accepted steps
	Rejected int `json:"rejected"` // rejected adaptive steps
	// Evaluations of the field: stages × (Steps + Rejected), plus 2 for the starting-step heuristic.
	Evaluations int `json:"evaluations"`
}

// Solver integrates an ODE by calling one compiled step from a Go loop: the way to run an adaptive
// solver (step sizes chosen at run time), and the cheap way to run many steps without unrolling them
// into a big graph. A solver compiles (at its first Solve) one graph per shape of the inputs. An
// adaptive solver without FirstStep also compiles the starting-step heuristic, a second graph on ctx,
// so ctx must let both create or reuse its variables (an unchecked context does).
type Solver struct {
	opts        Options
	adaptive    bool
	step, start *context.Exec

	mu             sync.Mutex
	nState, nExtra int // input counts, fixed by the first Solve (-1 before)
}

// NewSolver prepares a solver of the ODE that sys builds on ctx, run on backend b. It returns an error
// for options that cannot work (Steps < 0, adaptive with a method without error estimate, tolerances
// ≤ 0, …).
func NewSolver(b backends.Backend, ctx *context.Context, sys System, opts Options) (*Solver, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Solver{opts: opts, adaptive: opts.Steps == 0, nState: -1, nExtra: -1}
	// The step graph takes t, h, the state, then the extra inputs; it returns the next state and one
	// float64 scalar: the scaled error norm (0 for fixed steps), or NaN if the next state is not finite.
	s.step, err = context.NewExec(b, ctx, func(ctx *context.Context, in []*Node) []*Node {
		t, h, z, extra := in[0], in[1], in[2:2+s.nState], in[2+s.nState:]
		m := opts.Method
		if !s.adaptive {
			m.E = nil
		}
		next, errEst := Step(m, sys(ctx, extra), t, h, z)
		norm := Scalar(t.Graph(), dtypes.Float64, 0)
		if s.adaptive {
			norm = ConvertDType(rms(errEst, scales(z, next, opts.RTol, opts.ATol)), dtypes.Float64)
		}
		return append(next, Where(chain.AllFinite(next), norm, Scalar(t.Graph(), dtypes.Float64, math.NaN())))
	})
	if err != nil {
		return nil, err
	}
	if s.adaptive && opts.FirstStep == 0 {
		s.start, err = context.NewExec(b, ctx, func(ctx *context.Context, in []*Node) []*Node {
			t, dir, z, extra := in[0], in[1], in[2:2+s.nState], in[2+s.nState:]
			return []*Node{firstStep(sys(ctx, extra), t, dir, z, opts)}
		})
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// scales are the error scales atol + rtol·max(|z|, |next|) per element.
func scales(z, next []*Node, rtol, atol float64) []*Node {
	sc := make([]*Node, len(z))
	for j := range z {
		sc[j] = AddScalar(MulScalar(Max(Abs(z[j]), Abs(next[j])), rtol), atol)
	}
	return sc
}

// rms is sqrt(mean((x/sc)²)) over all elements of all nodes: one norm for the whole state, so that a
// component's share in the error control does not depend on how the state is split into nodes.
func rms(x, sc []*Node) *Node {
	var sum *Node
	n := 0
	for j := range x {
		s := ReduceAllSum(Square(Div(x[j], sc[j])))
		if sum == nil {
			sum = s
		} else {
			sum = Add(sum, s)
		}
		n += x[j].Shape().Size()
	}
	return Sqrt(DivScalar(sum, float64(n)))
}

// firstStep is the starting step |h| of Hairer, Nørsett & Wanner (§II.4), a float64 scalar: a first
// guess h0 = 0.01·‖z‖/‖f(z)‖, then one Euler step of that size to estimate ‖z″‖, and the step whose
// local error bound would be 0.01 of the tolerance; dir (±1) is the direction of integration.
func firstStep(f Field, t, dir *Node, z []*Node, opts Options) *Node {
	g, dtype := t.Graph(), t.DType()
	c := func(v float64) *Node { return Scalar(g, dtype, v) }
	f0 := f(t, z)
	sc := scales(z, z, opts.RTol, opts.ATol)
	d0, d1 := rms(z, sc), rms(f0, sc)
	tiny := LogicalOr(LessThan(d0, c(1e-5)), LessThan(d1, c(1e-5)))
	h0 := Where(tiny, c(1e-6), MulScalar(Div(d0, d1), 0.01))
	signed := Mul(dir, h0)
	f1 := f(Add(t, signed), combine(z, signed, []float64{1}, [][]*Node{f0}))
	diff := make([]*Node, len(z))
	for j := range z {
		diff[j] = Sub(f1[j], f0[j])
	}
	d2 := Div(rms(diff, sc), h0)
	dm := Max(d1, d2)
	h1 := Where(LessOrEqual(dm, c(1e-15)), Max(c(1e-6), MulScalar(h0, 1e-3)),
		Pow(Div(c(0.01), dm), c(1/float64(opts.Method.Order))))
	return ConvertDType(Min(MulScalar(h0, 100), h1), dtypes.Float64)
}

// Solve integrates z0 from t0 to t1 (t1 < t0 allowed) with the extra inputs. It returns the final
// state, the work done, and an error for a state that becomes non-finite, a step size that underflows
// or more than MaxSteps steps; with an error the stats count the work done until then. Every call must
// pass as many state and extra tensors as the first. z0 is returned as is when t0 = t1.
func (s *Solver) Solve(z0, extra []*tensors.Tensor, t0, t1 float64) ([]*tensors.Tensor, Stats, error) {
	var stats Stats
	if len(z0) == 0 {
		return nil, stats, errors.New("ode: empty state")
	}
	s.mu.Lock()
	if s.nState < 0 {
		s.nState, s.nExtra = len(z0), len(extra)
	}
	nState, nExtra := s.nState, s.nExtra
	s.mu.Unlock()
	if len(z0) != nState || len(extra) != nExtra {
		return nil, stats, fmt.Errorf("ode: this solver was first called with %d state and %d extra tensors, now %d and %d",
			nState, nExtra, len(z0), len(extra))
	}
	if math.IsNaN(t0) || math.IsInf(t0, 0) || math.IsNaN(t1) || math.IsInf(t1, 0) {
		return nil, stats, fmt.Errorf("ode: times must be finite, got t0 = %g, t1 = %g", t0, t1)
	}
	if t0 == t1 {
		return z0, stats, nil
	}
	r := &run{s: s, dtype: z0[0].DType(), z0: z0, z: z0, extra: extra}
	var err error
	if s.adaptive {
		err = r.adaptive(t0, t1, &stats)
	} else {
		err = r.fixed(t0, t1, &stats)
	}
	if err != nil {
		r.release(r.z)
		return nil, stats, err
	}
	return r.z, stats, nil
}

// run is the state of one Solve.
type run struct {
	s     *Solver
	dtype dtypes.DType
	z0, z []*tensors.Tensor // the caller's initial state, and the current one
	extra []*tensors.Tensor
}

// call runs exec on (a, b, z, extra), with a and b scalars of the state's dtype, and splits its
// outputs into the tensors and the last one, a float64 scalar.
func (r *run) call(exec *context.Exec, a, b float64) ([]*tensors.Tensor, float64, error) {
	ta := tensors.FromAnyValue(shapes.CastAsDType(a, r.dtype))
	tb := tensors.FromAnyValue(shapes.CastAsDType(b, r.dtype))
	args := []any{ta, tb}
	for _, x := range r.z {
		args = append(args, x)
	}
	for _, x := range r.extra {
		args = append(args, x)
	}
	out, err := exec.Exec(args...)
	if err != nil {
		free(ta, tb)
		return nil, 0, fmt.Errorf("ode: %w", err)
	}
	last := out[len(out)-1]
	v := tensors.ToScalar[float64](last) // waits for the step to finish
	free(ta, tb, last)
	return out[:len(out)-1], v, nil
}

// step runs one compiled step of size h from (t, r.z) and counts its evaluations.
func (r *run) step(t, h float64, stats *Stats) ([]*tensors.Tensor, float64, error) {
	next, norm, err := r.call(r.s.step, t, h)
	if err == nil {
		stats.Evaluations += r.s.opts.Method.Stages()
	}
	return next, norm, err
}

// release frees a state the solve made (never the caller's z0) once it is no longer needed, rather than
// leaving the device memory of every step to the garbage collector.
func (r *run) release(z []*tensors.Tensor) {
	if len(z) > 0 && z[0] == r.z0[0] {
		return
	}
	free(z...)
}

// free releases tensors at once. It cannot fail in a way the solve could act on (a tensor already
// freed is a no-op), so errors are dropped.
func free(ts ...*tensors.Tensor) {
	for _, x := range ts {
		_ = x.FinalizeAll()
	}
}

// fixed takes Steps equal steps; each time is t0 + i·h, as in Integrate, so both give the same result.
func (r *run) fixed(t0, t1 float64, stats *Stats) error {
	n := r.s.opts.Steps
	dt := (t1 - t0) / float64(n)
	for i := range n {
		t := t0 + float64(i)*dt
		next, flag, err := r.step(t, dt, stats)
		if err != nil {
			return err
		}
		r.release(r.z)
		r.z = next
		stats.Steps++
		if math.IsNaN(flag) {
			return fmt.Errorf("ode: the state is not finite (NaN or Inf) after the step from t = %g to %g: the field "+
				"or the initial state is not finite, or the steps are too large for the problem (raise Steps)", t, t+dt)
		}
	}
	return nil
}

// adaptive chooses each step from the last one's error norm (Hairer, Nørsett & Wanner §II.4): a step
// is accepted when its norm is ≤ 1, and the next |h| is |h|·0.9·norm^(−1/Order) (the error estimate
// is of order Order−1, so it scales as h^Order), changed by a factor in [0.2, 5], and not grown after
// a rejection. A step that would end within 1% of t1 is stretched to end on it, so the solve lands
// exactly on t1 without a tiny last step. A step whose state is not finite is rejected like a too
// large one: explicit methods blow up on stiff problems when h leaves their stability region.
func (r *run) adaptive(t0, t1 float64, stats *Stats) error {
	s, o := r.s, r.s.opts
	span, dir := math.Abs(t1-t0), math.Copysign(1, t1-t0)
	h := o.FirstStep
	if h == 0 {
		_, h0, err := r.call(s.start, t0, dir)
		if err != nil {
			return err
		}
		stats.Evaluations += 2
		h = h0
		if !(h > 0) || math.IsInf(h, 0) { // e.g. a non-finite initial state: let the steps report it
			h = span / 100
		}
	}
	h = min(h, span)
	t := t0
	nonFinite := false
	for t != t1 {
		if err := r.giveUp(t0, t1, t, h, nonFinite, stats); err != nil {
			return err
		}
		last := math.Abs(t1-t) <= 1.01*h
		if last {
			h = math.Abs(t1 - t)
		}
		next, norm, err := r.step(t, dir*h, stats)
		if err != nil {
			return err
		}
		nonFinite = math.IsNaN(norm)
		if norm <= 1 {
			stats.Steps++
			r.release(r.z)
			r.z = next
			if t += dir * h; last {
				t = t1 // exact, free of rounding
			}
		} else {
			stats.Rejected++
			r.release(next)
		}
		switch {
		case norm <= 1:
			h *= min(5, max(0.2, 0.9*math.Pow(norm, -1/float64(o.Method.Order)))) // 5 for a zero norm
		case norm > 1:
			h *= max(0.2, 0.9*math.Pow(norm, -1/float64(o.Method.Order))) // < 1 since norm > 1
		default: // NaN: the state was not finite
			h *= 0.2
		}
	}
	return nil
}

// giveUp is the error that ends an adaptive solve at t with step |h|, or nil to go on: after MaxSteps
// attempts, or when the step has shrunk to a few ulps of t (it could make no progress), naming the
// likely cause: a state that is not finite, or tolerances that the problem's stiffness puts out of reach.
func (r *run) giveUp(t0, t1, t, h float64, nonFinite bool, stats *Stats) error {
	o := r.s.opts
	tooMany := stats.Steps+stats.Rejected >= o.MaxSteps
	tooSmall := h < 10*epsilon*max(math.Abs(t), math.Abs(t1-t0))
	switch {
	case !tooMany && !tooSmall:
		return nil
	case nonFinite:
		return fmt.Errorf("ode: the state is not finite (NaN or Inf) after a step from t = %g, even with |h| down to %g "+
			"(%d steps, %d rejected): check the field and the initial state", t, h, stats.Steps+stats.Rejected, stats.Rejected)
	case tooMany:
		return fmt.Errorf("ode: %d steps (%d accepted, %d rejected) did not reach t1 = %g from t0 = %g (at t = %g, "+
			"|h| = %g): raise Options.MaxSteps, or loosen RTol/ATol (now %g, %g)",
			stats.Steps+stats.Rejected, stats.Steps, stats.Rejected, t1, t0, t, h, o.RTol, o.ATol)
	default:
		return fmt.Errorf("ode: step size underflow at t = %g (|h| = %g) after %d steps (%d rejected): the problem "+
			"is too stiff for these tolerances (RTol %g, ATol %g); raise them",
			t, h, stats.Steps+stats.Rejected, stats.Rejected, o.RTol, o.ATol)
	}
}

// epsilon is the float64 machine epsilon: a step below a few ulps of t makes no progress.
const epsilon = 0x1p-52
