package physics

import (
	"fmt"
	"io"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/physics/grid"
)

// TODO(issue 7): bodies. The signatures are fixed: the simulators are written against them.

// Simulator is one explicit time step of a PDE on a grid. Its state is a list of fields, each
// [b, n] (1-D) or [b, ny, nx] (2-D): one field for heat or Burgers, velocity components and density
// for the smoke plume.
type Simulator interface {
	Grid() grid.Grid
	// Step advances the state by the simulator's dt.
	Step(state []*Node) []*Node
	// Residual is the PDE's residual between two consecutive states, as the mean square over the
	// cells of each batch row, [b]: zero when next solves the equation from prev. It is the
	// physics prior's penalty and energy (see physics/prior).
	Residual(prev, next []*Node) *Node
	// Check reports settings that cannot run: a *StabilityError when dt exceeds the scheme's
	// stability limit, another error for bad settings.
	Check() error
}

// StabilityError is a time step beyond a scheme's stability limit (a CFL or diffusion number).
type StabilityError struct {
	Dt, MaxDt float64
	Rule      string // the limit, e.g. "diffusion number ν·dt/dx² ≤ 1/4"
}

func (e *StabilityError) Error() string {
	return fmt.Sprintf("physics: dt = %g is unstable (%s); use dt ≤ %g", e.Dt, e.Rule, e.MaxDt)
}

// Options are a rollout's settings.
type Options struct {
	Every    int       // keep a snapshot of the state every Every steps (0: only the final state)
	Progress io.Writer // a progress bar (sbikit/progress) while stepping; nil prints nothing
}

// Rollout runs steps steps of sim from state, compiling Step once and calling it in a Go loop.
// It returns the final state and the snapshots asked for; a state that turns non-finite stops the
// rollout with an error naming the step.
func Rollout(b backends.Backend, sim Simulator, state []*tensors.Tensor, steps int, opts Options) (final []*tensors.Tensor, snapshots [][]*tensors.Tensor, err error) {
	panic("physics.Rollout: not yet implemented")
}

// Unroll builds steps steps of sim into the graph, so that a loss of the final state can be
// differentiated with respect to the initial state or the simulator's parameters.
func Unroll(sim Simulator, state []*Node, steps int) []*Node {
	for range steps {
		state = sim.Step(state)
	}
	return state
}
