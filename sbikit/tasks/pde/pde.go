// Package pde holds the inverse problems of the physics part of the lecture as tasks.Task values, so
// that `sbikit simulate --task heat2d|burgers|smoke` and datasets.Simulate make their (x, y) pairs
// like those of the benchmark tasks:
//
//   - heat2d: x the initial temperature on a periodic 32 × 32 grid, a Gaussian random field with the
//     spectrum |k|^−4 (the heat experiment of Holzschuh et al. 2023), y the field after diffusing
//     for a fixed time, with noise;
//   - burgers: x the amplitudes of the first Fourier modes of a Burgers initial condition, y the
//     solution on 128 cells after shocks have formed, with noise;
//   - smoke: x the position of a smoke source in a closed box, y the smoke density of the buoyant
//     plume after a fixed time on 32 × 32 cells, with noise (the buoyancy experiments of Holzschuh
//     et al.).
//
// Each is a Task: a noise-free forward model made of graph pieces (Initial, Simulator, Steps,
// Observe) plus Gaussian observation noise. Simulate runs the pieces through one compiled batch
// rollout per block of rows (physics.Rollout) on the shared backend; Forward builds them into one
// graph, so that a loss of the prediction can be differentiated with respect to x (physics in the
// loop).
//
// The tasks live here, not in sbikit/tasks, because the physics priors depend on that package.
// Register adds them to the tasks tasks.Get finds by name.
package pde

import (
	"fmt"
	"math"
	"sync"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/sbikit/backend"
	"github.com/probinv/probinv/sbikit/tasks"
)

var registerOnce sync.Once

// Register adds heat2d, burgers and smoke, with their default settings, to the tasks tasks.Get and
// tasks.Names know (tasks.Register), once however often it is called. Programs that look tasks up
// by name call it, cmd/sbikit from its init; it is not done in this package's init, so that
// importing it changes no other package's view of the registry.
func Register() {
	registerOnce.Do(func() {
		for _, t := range []Task{NewHeat2D(), NewBurgers(), NewSmoke()} {
			tasks.Register(t)
		}
	})
}

// Task is a PDE inverse problem: y = Observe(state after Steps steps of Simulator from Initial(x)) +
// N(0, Noise²) in every component.
type Task interface {
	tasks.Task
	// Initial is the state at t = 0 of the parameter rows x, [b, DimX].
	Initial(x *Node) []*Node
	// Simulator steps the state; its Check passes for every x in the prior's support.
	Simulator() physics.Simulator
	// Steps is the number of steps to the observation.
	Steps() int
	// Observe is the noise-free observation of a state, [b, DimY].
	Observe(state []*Node) *Node
	// Noise is the standard deviation of the observation noise.
	Noise() float64
}

// Forward is t's noise-free prediction of y for the parameter rows x ([b, DimX] → [b, DimY]), the
// simulator unrolled in the graph (physics.Unroll), so that it can be differentiated with respect
// to x.
func Forward(t Task, x *Node) *Node {
	return t.Observe(physics.Unroll(t.Simulator(), t.Initial(x), t.Steps()))
}

// blockRows is the most rows one rollout steps at once: enough to amortize the per-op cost of the
// pure-Go backend, few enough to bound the memory of a step's intermediate fields.
const blockRows = 256

// simulate is the Simulate of every PDE task: the valid rows of x (finite, inside the prior's
// support; the others come back as NaN) in blocks of blockRows through a float32 rollout, plus noise
// drawn for row i from tasks.SimulatorStream(seed, i). A row's y does not depend on the other rows
// or on the blocks. Rows of the wrong width, or a backend that cannot start, panic (datasets turns
// that into an error that names the task).
func simulate(t Task, x [][]float64, seed uint64) [][]float64 {
	dimX, dimY := t.DimX(), t.DimY()
	prior := t.Prior()
	y := make([][]float64, len(x))
	var valid []int
	for i, row := range x {
		if len(row) != dimX {
			panic(fmt.Sprintf("tasks: %s.Simulate: row %d has %d parameters, want %d (Task.DimX)", t.Name(), i, len(row), dimX))
		}
		y[i] = make([]float64, dimY)
		if tasks.Finite(row) && !math.IsInf(prior.LogProb(row), -1) {
			valid = append(valid, i)
		} else {
			fill(y[i], math.NaN())
		}
	}
	for start := 0; start < len(valid); start += blockRows {
		rows := valid[start:min(start+blockRows, len(valid))]
		fields, err := rollout(t, x, rows)
		if err != nil {
			panic(fmt.Sprintf("tasks: %s.Simulate: %v", t.Name(), err))
		}
		for k, i := range rows {
			copy(y[i], fields[k])
		}
	}
	for i, row := range y {
		rng := tasks.SimulatorStream(seed, i)
		for j := range row {
			row[j] += t.Noise() * rng.NormFloat64()
		}
	}
	return y
}

// rollout is the noise-free observation of x's rows, as float64 rows.
func rollout(t Task, x [][]float64, rows []int) ([][]float64, error) {
	b, err := backend.Get()
	if err != nil {
		return nil, err
	}
	flat := make([]float32, 0, len(rows)*t.DimX())
	for _, i := range rows {
		for _, v := range x[i] {
			flat = append(flat, float32(v))
		}
	}
	initial, err := NewExec(b, t.Initial)
	if err != nil {
		return nil, err
	}
	defer initial.Finalize()
	state, err := initial.Exec(tensors.FromFlatDataAndDimensions(flat, len(rows), t.DimX()))
	if err != nil {
		return nil, err
	}
	final, _, err := physics.Rollout(b, t.Simulator(), state, t.Steps(), physics.Options{})
	if err != nil {
		return nil, err
	}
	observe, err := NewExec(b, t.Observe)
	if err != nil {
		return nil, err
	}
	defer observe.Finalize()
	in := make([]any, len(final))
	for k, f := range final {
		in[k] = f
	}
	out, err := observe.Exec(in...)
	if err != nil {
		return nil, err
	}
	obs := tensors.MustCopyFlatData[float32](out[0])
	fields := make([][]float64, len(rows))
	for k := range fields {
		fields[k] = make([]float64, t.DimY())
		for j := range fields[k] {
			fields[k][j] = float64(obs[k*t.DimY()+j])
		}
	}
	return fields, nil
}

func fill(v []float64, x float64) {
	for i := range v {
		v[i] = x
	}
}
