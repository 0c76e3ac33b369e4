package pde

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/smoke"
	"github.com/probinv/probinv/sbikit/tasks"
)

// Smoke is "smoke": find where a puff of smoke was released from a noisy picture of it after it has
// risen, in the buoyant flow of Holzschuh et al.'s (2023) buoyancy experiments (physics/smoke with
// Plume's settings). At t = 0 the box is at rest and holds a disk of smoke of radius Radius and
// density Density (smoke.Inflow's soft disk); buoyancy lifts it and rolls it up into a mushroom cap.
// x = (y, x), the disk's centre (grid-axis order, y up), uniform on the box [Lo, Hi]; y = the density
// after Horizon steps on the box's cells, row-major [ny][nx], + N(0, Sigma²) per cell.
//
// The cap's horizontal position follows the release point's; its height is the release height plus
// a rise that the flow sets, and the semi-Lagrangian advection smears its rim, so the faint parts of
// the picture sink into the noise.
type Smoke struct {
	Plume           smoke.Smoke // the simulator's settings
	Horizon         int         // the number of Plume.Dt steps to the observation
	Radius, Density float64     // the puff at t = 0
	Lo, Hi          [2]float64  // the prior box of the centre (y, x)
	Sigma           float64     // the standard deviation of the observation noise
}

var _ Task = Smoke{}

// NewSmoke is the registered smoke: smoke.Plume(32) (the unit box, dt = 0.01, buoyancy 10), a puff
// of radius 0.08 and density 1 released in [0.1, 0.4] × [0.25, 0.75], observed at t = 0.5 (the
// density peak has fallen to about 0.4 by then) with noise 0.03.
func NewSmoke() Smoke {
	return Smoke{Plume: smoke.Plume(32), Horizon: 50, Radius: 0.08, Density: 1,
		Lo: [2]float64{0.1, 0.25}, Hi: [2]float64{0.4, 0.75}, Sigma: 0.03}
}

func (Smoke) Name() string                   { return "smoke" }
func (Smoke) DimX() int                      { return 2 }
func (t Smoke) DimY() int                    { return t.Plume.Box.Cells() }
func (t Smoke) Prior() tasks.Prior           { return tasks.Uniform(t.Lo[:], t.Hi[:]) }
func (t Smoke) Noise() float64               { return t.Sigma }
func (t Smoke) Steps() int                   { return t.Horizon }
func (t Smoke) Simulator() physics.Simulator { return t.Plume }

// Initial is the box at rest with the puff at x and no source: [vx, vy, d, s].
func (t Smoke) Initial(x *Node) []*Node {
	d := smoke.Inflow(t.Plume.Box, x, t.Radius, t.Density)
	zero := ZerosLike(d)
	return []*Node{zero, zero, d, zero}
}

// Observe is the density, flattened to rows.
func (t Smoke) Observe(state []*Node) *Node {
	return Reshape(state[smoke.D], -1, t.DimY())
}

// Simulate draws y ~ p(y|x) for each row of x (see the type).
func (t Smoke) Simulate(x [][]float64, seed uint64) [][]float64 { return simulate(t, x, seed) }
