// Package smoke is the 2-D incompressible flow with buoyancy of a smoke plume in a closed box, as a
// differentiable physics.Simulator: the buoyancy experiments of Holzschuh et al. 2023, "Solving
// Inverse Physics Problems with Score Matching", which used phiflow's smoke step.
//
// The equations, for the velocity v = (vx, vy), the smoke density d and a source rate s:
//
//	∂d/∂t + (v·∇)d = s
//	∂v/∂t + (v·∇)v = −∇p + β·d·ŷ,   ∇·v = 0
//
// with no flow through the walls (v·n = 0) and no flux of d (∂d/∂n = 0). One step of length dt
// splits them, as phiflow does:
//
//  1. d ← d(x − dt·v) + dt·s: semi-Lagrangian advection (backtrace one Euler step, bilinear
//     interpolation), then the source;
//  2. v ← v(x − dt·v) + dt·β·d·ŷ: the same advection of each velocity component at its own faces,
//     then buoyancy with the new density;
//  3. v ← v − ∇p with ∆p = ∇·v: the pressure projection, solved exactly (see Projection).
//
// The fields live on a staggered (MAC) grid, all [b, ny, nx] (see mac.go): the state is
// [vx, vy, d, s], with the source s carried unchanged, so that one batch holds plumes with different
// inflows and a loss can be differentiated with respect to the source (and, through Inflow, its
// position). Grid axis 0 is y, pointing up: buoyancy lifts the smoke towards larger j.
//
// Semi-Lagrangian advection is stable for any dt, but its one-step backtrace loses accuracy as a
// sample travels further per step; the stability guard enforces the CFL number
// dt·max|v|/min(dx, dy) ≤ CFL = 5, the practical limit for semi-Lagrangian smoke (Foster & Fedkiw
// 2001; Bridson, "Fluid Simulation for Computer Graphics"), with max|v| bounded by the setting
// MaxSpeed (Check) and measured on a state (CheckState).
//
// Semi-Lagrangian advection does not conserve the total density: bilinear interpolation flattens
// peaks where the flow moves the smoke by a fraction of a cell and leaves it exact where the flow
// rests, so its errors do not sum to zero. The drift is a spatial error (it does not shrink with
// dt): a Gaussian blob of width 0.07 rising in the unit box loses 7.9% of its mass by t = 0.4 on
// 24 × 24 cells and 5.0% on 48 × 48; Plume(32)'s smoke loses 30% between t = 0.2 and 0.6. Bilinear
// interpolation is a convex combination, so the density never leaves its initial bounds.
package smoke

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/grid"
)

// CFL is the largest CFL number dt·max|v|/min(dx, dy) the guard allows: a backtrace of at most five
// cells per step.
const CFL = 5.0

// The state's fields, in order.
const (
	VX = iota // x-velocity on the vertical faces
	VY        // y-velocity on the horizontal faces
	D         // smoke density at the cell centres
	S         // source rate (density per unit time) at the cell centres, constant
	NumFields
)

// Smoke is the plume simulator's settings.
type Smoke struct {
	Box      grid.Grid // ny × nx cells with Neumann walls (the closed box)
	Dt       float64   // time step
	Buoyancy float64   // β: the upward acceleration per unit density
	MaxSpeed float64   // the bound on |v| the stability guard assumes
}

var (
	_ physics.Simulator    = Smoke{}
	_ physics.StateChecker = Smoke{}
)

// Plume is the setup of Holzschuh et al.'s buoyancy experiment (phiflow's 100 × 100 box with dt = 1,
// buoyancy 0.1 and one unit of smoke added per step), rescaled to the unit box on n × n cells:
// dt = 0.01, β = 10, and PlumeSource at (y, x) = (0.1, 0.5) as the source for t < 0.2. MaxSpeed is 6, above the speeds that plume reaches (max|v| ≈ 4.1 on 32 × 32, 4.8 on
// 64 × 64, at t ≈ 0.25), so Check passes for n ≤ 83; finer grids need a smaller Dt.
func Plume(n int) Smoke {
	return Smoke{Box: grid.New2D(n, n, 1, 1, grid.Neumann), Dt: 0.01, Buoyancy: 10, MaxSpeed: 6}
}

// PlumeSource is the source field of Plume's experiment in s's box for centres [b, 2] ((y, x) per
// batch row, in the box's units): Inflow(s.Box, center, 0.05, 100), a disk of radius 0.05 adding
// 100 units of density per unit time (phiflow's one unit per step of dt = 1, rescaled). The
// experiment starts from the box at rest with this field, centred at (0.1, 0.5), as the state's S,
// and sets S to zero after t = 0.2 (20 steps of Plume's Dt). As a tensor:
//
//	src, err := graph.ExecOnce(backend, s.PlumeSource, [][]float64{{0.1, 0.5}})
func (s Smoke) PlumeSource(center *Node) *Node { return Inflow(s.Box, center, 0.05, 100) }

// Grid is the box.
func (s Smoke) Grid() grid.Grid { return s.Box }

// Check reports settings that cannot run: a bad box or constants, or a *StabilityError when
// dt·MaxSpeed/min(dx, dy) exceeds CFL.
func (s Smoke) Check() error {
	if _, err := NewProjection(s.Box); err != nil {
		return err
	}
	if !(s.Dt > 0) || math.IsInf(s.Dt, 0) {
		return fmt.Errorf("smoke: Dt must be finite and positive, got %g", s.Dt)
	}
	if math.IsNaN(s.Buoyancy) || math.IsInf(s.Buoyancy, 0) {
		return fmt.Errorf("smoke: Buoyancy must be finite, got %g", s.Buoyancy)
	}
	if !(s.MaxSpeed > 0) || math.IsInf(s.MaxSpeed, 0) {
		return fmt.Errorf("smoke: MaxSpeed (the bound on |v| for the CFL check) must be finite and positive, got %g", s.MaxSpeed)
	}
	return s.cfl(s.MaxSpeed, "MaxSpeed")
}

// CheckState is Check for a state, e.g. the one a rollout starts from or a rollout's snapshot: a
// *StabilityError when dt·max|v|/min(dx, dy) exceeds CFL for the state's actual velocity, another
// error when the state is not four finite float32 or float64 [b, ny, nx] fields. physics.Rollout
// calls it on the initial state (Smoke is a physics.StateChecker).
func (s Smoke) CheckState(state []*tensors.Tensor) error {
	if err := s.Check(); err != nil {
		return err
	}
	if len(state) != NumFields {
		return fmt.Errorf("smoke: the state is [vx, vy, d, s], got %d fields", len(state))
	}
	for _, f := range state {
		if dims := f.Shape().Dimensions; len(dims) != 3 || dims[1] != s.Box.N[0] || dims[2] != s.Box.N[1] {
			return fmt.Errorf("smoke: fields are [b, %d, %d] over the box, got shape %v", s.Box.N[0], s.Box.N[1], dims)
		}
		if dt := f.DType(); dt != dtypes.Float32 && dt != dtypes.Float64 {
			return fmt.Errorf("smoke: fields must be float32 or float64, got %s", dt)
		}
	}
	speed, err := physics.MaxAbs(state[VX : VY+1]...)
	if err != nil {
		return fmt.Errorf("smoke: %w", err)
	}
	if math.IsNaN(speed) || math.IsInf(speed, 0) {
		return fmt.Errorf("smoke: the velocity is not finite")
	}
	return s.cfl(speed, "the state's max|v|")
}

// cfl is the error for dt·speed/min(dx, dy) > CFL.
func (s Smoke) cfl(speed float64, what string) error {
	h := math.Min(s.Box.Dx(0), s.Box.Dx(1))
	if s.Dt*speed/h <= CFL {
		return nil
	}
	return &physics.StabilityError{Dt: s.Dt, MaxDt: CFL * h / speed,
		Rule: fmt.Sprintf("CFL number dt·max|v|/min(dx, dy) ≤ %g, with max|v| = %g (%s)", CFL, speed, what)}
}

// Step is one step of the plume: advection of d and v, the source, buoyancy, and the projection.
// It panics on a state that is not [vx, vy, d, s] over the box (a programming error; Check reports
// bad settings).
func (s Smoke) Step(state []*Node) []*Node {
	s.checkState(state)
	vx, vy, d, src := state[VX], state[VY], state[D], state[S]
	g := s.Box
	proj, err := NewProjection(g)
	if err != nil {
		panic(err)
	}

	// The velocity where each field's samples sit: the centres, the x-faces and the y-faces.
	uxC := MulScalar(Add(vx, after(vx, 2)), 0.5)
	uyC := MulScalar(Add(vy, after(vy, 1)), 0.5)
	uyX := MulScalar(Add(uyC, before(uyC, 2)), 0.5)
	uxY := MulScalar(Add(uxC, before(uxC, 1)), 0.5)

	// Each field is read back at the departure points (j, i) − dt·(uy/dy, ux/dx) of its samples, in
	// its own index units.
	gr, dtype := d.Graph(), d.DType()
	j, i := Iota(gr, d.Shape(), 1), Iota(gr, d.Shape(), 2)
	advect := func(f, uy, ux *Node) *Node {
		return sample(f, Sub(j, MulScalar(uy, s.Dt/g.Dx(0))), Sub(i, MulScalar(ux, s.Dt/g.Dx(1))))
	}

	d = Add(advect(d, uyC, uxC), MulScalar(src, s.Dt))
	vxNew := Mul(advect(extend(vx, 2), uyX, vx), wallMask(gr, g, dtype, 2))
	lift := MulScalar(Add(d, before(d, 1)), 0.5*s.Dt*s.Buoyancy) // dt·β·d on the y-faces
	vyNew := Mul(Add(advect(extend(vy, 1), vy, uxY), lift), wallMask(gr, g, dtype, 1))

	vx, vy = proj.Apply(vxNew, vyNew)
	return []*Node{vx, vy, d, src}
}

// Residual is the mean square, over the cells of vx, vy and d (3·ny·nx values per batch row), of
// (next − Step(prev))/dt: zero exactly when next is the simulator's step from prev. Its velocity
// part is the momentum and incompressibility residual: with v* = the advected velocity plus
// buoyancy and P the projection (orthogonal, as D = −Gᵀ), next_v − P v* = P(next_v − v*) +
// (I − P)next_v, whose squared norm is ‖P(next_v − v*)‖² (momentum, with the pressure gradient
// removed) + ‖(I − P)next_v‖² (the gradient part of next_v, zero iff ∇·next_v = 0).
func (s Smoke) Residual(prev, next []*Node) *Node {
	s.checkState(next)
	want := s.Step(prev)
	var sum *Node
	for f := VX; f <= D; f++ {
		r := ReduceSum(Square(Sub(next[f], want[f])), 1, 2)
		if sum == nil {
			sum = r
		} else {
			sum = Add(sum, r)
		}
	}
	return DivScalar(sum, float64(3*s.Box.Cells())*s.Dt*s.Dt)
}

// checkState panics unless state is four [b, ny, nx] fields of the box.
func (s Smoke) checkState(state []*Node) {
	if len(state) != NumFields {
		panic(fmt.Sprintf("smoke: the state is [vx, vy, d, s], got %d fields", len(state)))
	}
	for _, f := range state {
		dims := f.Shape().Dimensions
		if len(dims) != 3 || dims[1] != s.Box.N[0] || dims[2] != s.Box.N[1] {
			panic(fmt.Sprintf("smoke: fields are [b, %d, %d], got %s", s.Box.N[0], s.Box.N[1], f.Shape()))
		}
	}
}

// Inflow is the source field of a disk of the given radius and rate (density per unit time) at
// center ([b, 2], (y, x) per batch row, in the box's units), [b, ny, nx] in center's dtype. A
// cell's value is rate times its approximate coverage, clamp(½ + (r² − |x − c|²)/(2r·h), 0, 1) with
// h = min(dx, dy): 1 inside, 0 outside and a ramp about a cell wide across the rim (phiflow's
// soft geometry mask, linearised in |x − c|² so that its gradient with respect to the centre is
// finite everywhere).
func Inflow(g grid.Grid, center *Node, radius, rate float64) *Node {
	gr := center.Graph()
	dt := center.DType()
	y := InsertAxes(ConstAsDType(gr, dt, g.Coords(0)), 0, -1) // [1, ny, 1]
	x := InsertAxes(ConstAsDType(gr, dt, g.Coords(1)), 0, 0)  // [1, 1, nx]
	cy := InsertAxes(SliceAxis(center, 1, AxisElem(0)), -1)   // [b, 1, 1]
	cx := InsertAxes(SliceAxis(center, 1, AxisElem(1)), -1)
	r2 := Add(Square(Sub(y, cy)), Square(Sub(x, cx))) // [b, ny, nx]
	h := math.Min(g.Dx(0), g.Dx(1))
	cover := AddScalar(MulScalar(Sub(Scalar(gr, dt, radius*radius), r2), 1/(2*radius*h)), 0.5)
	return MulScalar(MinScalar(MaxScalar(cover, 0.0), 1.0), rate)
}
