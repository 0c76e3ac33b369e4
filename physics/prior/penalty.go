package prior

import (
	"errors"
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/sbikit/score"
)

// Penalty is the physics prior of a simulator: the residual r(prev, next) of its PDE between two
// consecutive states (physics.Simulator.Residual, the mean square over the cells of each batch row,
// zero when next solves the equation from prev), weighted by λ = Lambda. It enters inference two
// ways: as a penalty λ·r added to an estimator's training loss (Loss), and as an energy E = r whose
// gradient steers a score, s(x) − λ∇ₓE(x) (Guide): the score of p(x)·exp(−λE(x)), the prior
// tilted toward states that satisfy the equation.
type Penalty struct {
	Sim    physics.Simulator
	Lambda float64
}

// Check reports a penalty that cannot be built.
func (p Penalty) Check() error {
	if p.Sim == nil {
		return errors.New("prior: the penalty needs a simulator (Sim)")
	}
	if !(p.Lambda >= 0) || math.IsInf(p.Lambda, 0) {
		return fmt.Errorf("prior: the penalty's weight λ must be finite and ≥ 0, got %g", p.Lambda)
	}
	if err := p.Sim.Check(); err != nil {
		return fmt.Errorf("prior: the penalty's simulator: %w", err)
	}
	return nil
}

// Loss is λ · mean_b r(prev_b, next_b), a scalar to add to a training loss: with next a network's
// prediction of the state after prev, or prev and next two states an estimator proposes, it pulls
// them toward solutions of the equation.
func (p Penalty) Loss(prev, next []*Node) *Node {
	return MulScalar(ReduceAllMean(p.Sim.Residual(prev, next)), p.Lambda)
}

// Direction says which of two consecutive states a sample x is; the other is known.
type Direction int

const (
	// Backward: x is the state one step before the known one, E(x) = r(x, known). It reconstructs
	// the past of an observed state, as the inverse problems of Holzschuh et al. (2023) do step by
	// step.
	Backward Direction = iota
	// Forward: x is the state one step after the known one, E(x) = r(known, x).
	Forward
)

// Energy is E(x) [b], the residual between the state x and the known state in direction dir. A
// state is flat as the samplers see it: x [b, d] holds the known state's fields in order, each
// flattened row-major (d the sum of their cells); the known fields are [b or 1, grid…] (a batch of
// one is shared by every row of x).
func (p Penalty) Energy(x *Node, known []*Node, dir Direction) *Node {
	state := unflatten(x, known)
	b := x.Shape().Dim(0)
	given := make([]*Node, len(known))
	for i, k := range known {
		given[i] = k
		if k.Shape().Dim(0) != b {
			given[i] = BroadcastToDims(k, append([]int{b}, k.Shape().Dimensions[1:]...)...)
		}
	}
	if dir == Forward {
		return p.Sim.Residual(given, state)
	}
	return p.Sim.Residual(state, given)
}

// Guide is the score s(x) − λ∇ₓE(x) as a score.Func: the known state is extra[:fields] (see Energy)
// and s gets all of extra; a nil s is the physics term alone. The energy is that of the clean state
// at every noise scale σ: under annealed Langevin dynamics it steers the noisy states of the large
// scales too, which moves the samples toward the residual's zeros from the start.
func (p Penalty) Guide(s score.Func, dir Direction, fields int) score.Func {
	return func(ctx *context.Context, x, sigma *Node, extra []*Node) *Node {
		if len(extra) < fields {
			panic(fmt.Sprintf("prior.Penalty.Guide: the known state needs %d fields in extra, got %d", fields, len(extra)))
		}
		e := ReduceAllSum(p.Energy(x, extra[:fields], dir)) // rows are independent: ∂/∂x_b of the sum is ∇E_b
		guide := MulScalar(Gradient(e, x)[0], -p.Lambda)
		if s == nil {
			return guide
		}
		return Add(s(ctx, x, sigma, extra), guide)
	}
}

// unflatten splits the flat state x [b, d] into fields shaped like known, [b, grid…] each.
func unflatten(x *Node, known []*Node) []*Node {
	b, d := x.Shape().Dim(0), x.Shape().Dim(1)
	total := 0
	for _, k := range known {
		total += k.Shape().Size() / k.Shape().Dim(0)
	}
	if total != d {
		panic(fmt.Sprintf("prior: a flat state of %d values for known fields of shapes %v", d, shapesOf(known)))
	}
	fields, start := make([]*Node, len(known)), 0
	for i, k := range known {
		size := k.Shape().Size() / k.Shape().Dim(0)
		fields[i] = Reshape(Slice(x, AxisRange(), AxisRange(start, start+size)), append([]int{b}, k.Shape().Dimensions[1:]...)...)
		start += size
	}
	return fields
}

func shapesOf(nodes []*Node) []string {
	s := make([]string, len(nodes))
	for i, n := range nodes {
		s[i] = n.Shape().String()
	}
	return s
}
