package physics

import (
	"fmt"
	"io"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/internal/chain"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/sbikit/progress"
)

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

// StateChecker is a Simulator whose stability depends on the state as well as on its settings:
// burgers.Burgers and smoke.Smoke bound the speed in their CFL rule by a setting, which a state
// faster than that bound silently breaks. CheckState reports such a state (a *StabilityError naming
// the dt the state needs) or one that is not the simulator's state; Rollout calls it on the
// initial state.
type StateChecker interface {
	CheckState(state []*tensors.Tensor) error
}

// Options are a rollout's settings.
type Options struct {
	Every    int       // keep a snapshot of the state every Every steps (0: only the final state)
	Progress io.Writer // a progress bar (sbikit/progress) while stepping; nil prints nothing
}

// Rollout runs steps steps of sim from state, compiling Step once and calling it in a Go loop.
// It returns the final state and the snapshots asked for; a state that turns non-finite stops the
// rollout with an error naming the step.
//
// snapshots[i] is the state after (i+1)·opts.Every steps (the initial state is the caller's own);
// the last snapshot and final may be the same tensors. sim.Check runs first, and CheckState on the
// initial state when sim is a StateChecker, so an unstable dt is reported before any work. The compiled step also returns whether the new state is finite, a
// reduction in the graph, so that the check costs no copy of the state to the host.
func Rollout(b backends.Backend, sim Simulator, state []*tensors.Tensor, steps int, opts Options) (final []*tensors.Tensor, snapshots [][]*tensors.Tensor, err error) {
	if err := sim.Check(); err != nil {
		return nil, nil, err
	}
	switch {
	case len(state) == 0:
		return nil, nil, fmt.Errorf("physics: Rollout needs a state of at least one field")
	case steps < 0:
		return nil, nil, fmt.Errorf("physics: Rollout needs steps ≥ 0, got %d", steps)
	case opts.Every < 0:
		return nil, nil, fmt.Errorf("physics: Options.Every must be ≥ 0 (0: no snapshots), got %d", opts.Every)
	}
	if sc, ok := sim.(StateChecker); ok {
		if err := sc.CheckState(state); err != nil {
			return nil, nil, err
		}
	}
	n := len(state)
	exec, err := NewExec(b, func(in []*Node) []*Node {
		next := sim.Step(in)
		if len(next) != n {
			panic(fmt.Sprintf("physics: Step returned %d fields from a state of %d", len(next), n))
		}
		return append(next, chain.AllFinite(next))
	})
	if err != nil {
		return nil, nil, err
	}
	defer exec.Finalize()
	bar := progress.New(opts.Progress, steps, fmt.Sprintf("rollout %T", sim))
	defer bar.Done()
	in := make([]any, n)
	for step := 1; step <= steps; step++ {
		for i, x := range state {
			in[i] = x
		}
		out, err := exec.Exec(in...)
		if err != nil {
			return nil, snapshots, fmt.Errorf("physics: step %d: %w", step, err)
		}
		if !tensors.ToScalar[bool](out[n]) {
			return nil, snapshots, fmt.Errorf("physics: the state is not finite after step %d of %d: "+
				"dt too large for the scheme, or a non-finite initial state", step, steps)
		}
		state = out[:n]
		if opts.Every > 0 && step%opts.Every == 0 {
			snapshots = append(snapshots, state)
		}
		bar.Add(1)
	}
	return state, snapshots, nil
}

// Unroll builds steps steps of sim into the graph, so that a loss of the final state can be
// differentiated with respect to the initial state or the simulator's parameters.
func Unroll(sim Simulator, state []*Node, steps int) []*Node {
	for range steps {
		state = sim.Step(state)
	}
	return state
}
