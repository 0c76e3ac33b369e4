package bench

import (
	"fmt"
	"math"
	"time"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/advdiff"
	"github.com/probinv/probinv/physics/burgers"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/physics/heat"
	"github.com/probinv/probinv/physics/smoke"
	"github.com/probinv/probinv/sbikit/backend"
)

// The physics_* cases measure the PDE simulators of physics/ as physics.Rollout runs them (one
// compiled step called from a Go loop, with its in-graph finite check), each at two grid sizes on a
// batch of physicsBatch float32 fields: physics_<simulator>_<n> for an n × n grid (n cells in 1-D).
// Each reports
//
//   - seconds_per_step: one step of the whole batch;
//   - cell_updates_per_second: batch × cells / seconds_per_step;
//   - bytes_per_cell_update: the state traffic of one cell update if the step were one fused kernel
//     that reads and writes each float32 field once per stage (4 bytes per access; the accesses are
//     counted in each case's comment). Constant coefficient arrays and dense spectral matrices are
//     shared by the batch and left out. This is the least memory traffic the scheme needs;
//   - implied_gb_per_second: bytes_per_cell_update × cell_updates_per_second, the memory bandwidth
//     that rate would need at that least traffic. Far below the machine's bandwidth (~10 GB/s per
//     core and more), it says the step is bound by something else: the pure-Go backend's per-op
//     overhead and the intermediate arrays it writes between unfused ops (an XLA build fuses
//     them), or for the dense spectral steps by arithmetic (2n multiply-adds per cell and axis);
//   - one_step_rollout_seconds: a rollout of one step (compilation included) after a warm-up.
//
// A case takes about two seconds (physicsDuration of timed steps plus the warm-up), all of them
// about twenty: `sbikit bench --run physics`.
func init() {
	for _, c := range physicsSimulators {
		for _, n := range c.sizes {
			register(physicsCase(c.name, n, c.setup))
		}
	}
}

// physicsSimulators are the simulators measured, with their two grid sizes.
var physicsSimulators = []struct {
	name  string
	sizes []int
	setup func(n int) (physicsSetup, error)
}{
	{"heat_explicit", []int{64, 128}, func(n int) (physicsSetup, error) { return heatSetup(n, heat.Explicit) }},
	{"heat_exact", []int{64, 128}, func(n int) (physicsSetup, error) { return heatSetup(n, heat.Exact) }},
	{"burgers", []int{256, 1024}, burgersSetup},
	{"advdiff", []int{64, 128}, advdiffSetup},
	{"smoke", []int{32, 64}, smokeSetup},
}

const (
	physicsBatch = 16
	// physicsDuration is how long the timed rollout of each case lasts, about.
	physicsDuration = 1500 * time.Millisecond
)

// physicsSetup is a simulator with a batch of initial states and the state traffic of one cell
// update (bytes_per_cell_update above), and the settings that go into the case's params.
type physicsSetup struct {
	sim    physics.Simulator
	state  []*tensors.Tensor
	bytes  float64
	params map[string]any
}

func physicsCase(name string, n int, setup func(n int) (physicsSetup, error)) Case {
	params := map[string]any{"simulator": name, "n": n, "batch": physicsBatch, "dtype": "float32"}
	return Case{Name: fmt.Sprintf("physics_%s_%d", name, n), Params: params, Run: func() (map[string]float64, error) {
		b, err := backend.Get()
		if err != nil {
			return nil, err
		}
		s, err := setup(n)
		if err != nil {
			return nil, err
		}
		g := s.sim.Grid()
		params["grid"] = g.N
		params["boundary"] = g.BC
		for k, v := range s.params {
			params[k] = v
		}
		return physicsRate(b, s, float64(physicsBatch*g.Cells()))
	}}
}

// physicsRate times rollouts of s: two of one step (the first warms up; the faster counts), then
// longer ones, each sized from the last, until one takes at least half of physicsDuration more than
// the one-step rollout. The time per step is that difference per extra step, which cancels
// compilation and the rollout's set-up.
func physicsRate(b backends.Backend, s physicsSetup, cells float64) (map[string]float64, error) {
	rollout := func(steps int) (float64, error) {
		start := time.Now()
		final, _, err := physics.Rollout(b, s.sim, s.state, steps, physics.Options{})
		seconds := time.Since(start).Seconds()
		free(final...)
		return seconds, err
	}
	first := math.Inf(1) // the faster of two one-step rollouts, the first of which also warms up
	for range 2 {
		t, err := rollout(1)
		if err != nil {
			return nil, err
		}
		first = math.Min(first, t)
	}
	target := physicsDuration.Seconds()
	steps, perStep := 9, 0.0
	for {
		t, err := rollout(steps)
		if err != nil {
			return nil, err
		}
		extra := t - first
		if extra >= target/2 {
			perStep = extra / float64(steps-1)
			break
		}
		steps = 1 + int(float64(steps-1)*target/max(extra, target/100))
	}
	rate := cells / perStep
	return map[string]float64{
		"seconds_per_step":         perStep,
		"cell_updates_per_second":  rate,
		"bytes_per_cell_update":    s.bytes,
		"implied_gb_per_second":    rate * s.bytes / 1e9,
		"steps_timed":              float64(steps),
		"one_step_rollout_seconds": first,
	}, nil
}

// heatSetup is ∂u/∂t = ν∆u on the periodic unit square, n × n, at 0.9 of the explicit scheme's
// largest stable dt (the exact scheme takes the same dt). The explicit step reads and writes u once
// (2 accesses: 8 bytes per cell update); the exact step applies one dense n × n matrix per axis,
// each pass reading and writing u (4 accesses: 16 bytes), with 2n multiply-adds per cell and axis.
func heatSetup(n int, scheme heat.Scheme) (physicsSetup, error) {
	h := heat.Heat{Domain: grid.New2D(n, n, 1, 1, grid.Periodic), Nu: 0.01, Scheme: scheme}
	h.Dt = 0.9 * h.MaxDt()
	bytes := 8.0
	if scheme == heat.Exact {
		bytes = 16
	}
	return physicsSetup{sim: h, state: []*tensors.Tensor{waves2D(h.Domain)}, bytes: bytes,
		params: map[string]any{"scheme": string(scheme), "nu": h.Nu, "dt": h.Dt}}, nil
}

// burgersSetup is viscous Burgers on the periodic unit interval with the MUSCL scheme (the costlier
// one), u₀ = sin(2π(x + phase)), ν = 10⁻³, at 0.9 of the largest stable dt. SSP-RK2 reads u and
// writes u⁽¹⁾, then reads u and u⁽¹⁾ and writes uⁿ⁺¹ (5 accesses: 20 bytes per cell update).
func burgersSetup(n int) (physicsSetup, error) {
	s := burgers.Burgers{Domain: grid.New1D(n, 1, grid.Periodic), Nu: 1e-3, UMax: 1, MUSCL: true}
	s.Dt = 0.9 * s.MaxDt()
	x := s.Domain.Coords(0)
	u := make([]float32, 0, physicsBatch*n)
	for r := range physicsBatch {
		for _, xi := range x {
			u = append(u, float32(math.Sin(2*math.Pi*(xi+float64(r)/physicsBatch))))
		}
	}
	state := tensors.FromFlatDataAndDimensions(u, physicsBatch, n)
	return physicsSetup{sim: s, state: []*tensors.Tensor{state}, bytes: 20,
		params: map[string]any{"nu": s.Nu, "dt": s.Dt, "muscl": s.MUSCL}}, nil
}

// advdiffSetup is a scalar in the periodic cellular flow of peak speed 1 on the unit square,
// κ = 10⁻³, upwind fluxes with forward Euler at 0.9 of the largest stable dt: one flux difference
// per axis reads c and writes c' (2 accesses: 8 bytes per cell update; the face coefficients are
// constants shared by the batch).
func advdiffSetup(n int) (physicsSetup, error) {
	g := grid.New2D(n, n, 1, 1, grid.Periodic)
	v, err := advdiff.Cellular(g, 1)
	if err != nil {
		return physicsSetup{}, err
	}
	sim := advdiff.AdvDiff{Domain: g, V: v, Kappa: 1e-3, Scheme: advdiff.Upwind}
	sim.Dt = 0.9 * sim.MaxDt()
	return physicsSetup{sim: sim, state: []*tensors.Tensor{waves2D(g)}, bytes: 8,
		params: map[string]any{"scheme": string(sim.Scheme), "kappa": sim.Kappa, "dt": sim.Dt, "flow": "cellular"}}, nil
}

// smokeSetup is smoke.Plume(n), the box at rest with its source (PlumeSource: a disk of radius
// 0.05, rate 100) low in the box at a different x per row. Per cell update, the step reads vx, vy, d, s and writes the
// advected vx*, vy* and d (7 accesses: semi-Lagrangian advection gathers four neighbours, counted as
// one read), takes the divergence of v* (3), solves for the pressure with four dense DCT passes, each
// a read and a write (8, with 2n multiply-adds per cell each), and subtracts its gradient, reading p,
// vx*, vy* and writing vx, vy (5): 23 accesses, 92 bytes.
func smokeSetup(n int) (physicsSetup, error) {
	b, err := backend.Get()
	if err != nil {
		return physicsSetup{}, err
	}
	s := smoke.Plume(n)
	centers := make([]float32, 0, 2*physicsBatch)
	for r := range physicsBatch {
		centers = append(centers, 0.1, float32(0.3+0.4*float64(r)/physicsBatch))
	}
	src, err := ExecOnce(b, s.PlumeSource, tensors.FromFlatDataAndDimensions(centers, physicsBatch, 2))
	if err != nil {
		return physicsSetup{}, err
	}
	zero := tensors.FromFlatDataAndDimensions(make([]float32, physicsBatch*n*n), physicsBatch, n, n)
	return physicsSetup{sim: s, state: []*tensors.Tensor{zero, zero, zero, src}, bytes: 92,
		params: map[string]any{"dt": s.Dt, "buoyancy": s.Buoyancy, "source": "disk r=0.05 rate=100 at y=0.1"}}, nil
}

// waves2D is a batch of smooth fields on a 2-D grid, 1 + sin(2π(x + r/batch))·cos(2πy) for row r.
func waves2D(g grid.Grid) *tensors.Tensor {
	ys, xs := g.Coords(0), g.Coords(1)
	u := make([]float32, 0, physicsBatch*g.Cells())
	for r := range physicsBatch {
		for _, y := range ys {
			for _, x := range xs {
				u = append(u, float32(1+math.Sin(2*math.Pi*(x+float64(r)/physicsBatch))*math.Cos(2*math.Pi*y)))
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(u, physicsBatch, g.N[0], g.N[1])
}
