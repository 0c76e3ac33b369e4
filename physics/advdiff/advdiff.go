// Package advdiff is the advection–diffusion of a scalar c (a dye, a pollutant, a temperature)
// carried by a given, fixed velocity field v and spreading with diffusivity κ,
//
//	∂c/∂t + ∇·(v c) = κ∆c,
//
// as a physics.Simulator on a cell-centred 1-D or 2-D grid.
//
// Space: the conservative (finite-volume) form. Along each axis a the flux through the face i+½
// between cells i and i+1 is F_{i+½} = u_{i+½}·c_{i+½}, with the face velocity u_{i+½} the average
// of the two cells' velocities and the face concentration c_{i+½} taken either upwind (the cell the
// flow comes from: first order, monotone) or central (the average of the two: second order, not
// monotone). A cell changes by the difference of the fluxes through its two faces, so what leaves
// one cell enters its neighbour and, on a periodic grid, the mass Σ c·dx·dy is conserved to
// rounding whatever v (divergence-free or not). Walls (Dirichlet or Neumann grids) are closed to
// the flow: the face velocity on them is zero. Diffusion is the face flux −κ·(c_{i+1} − c_i)/dx,
// whose difference is the grid Laplacian's stencil with the grid's ghost cells (grid.Laplacian to
// rounding): folded into the same face coefficients as advection, one flux difference per axis
// carries both, which halves the work of a step on the pure-Go backend.
//
// Time: the upwind scheme steps with forward Euler, first order like its fluxes, one flux
// evaluation per step and monotone (no new extrema, c ≥ 0 stays) under the outflow condition of
// MaxDt. The central scheme steps with the three-stage SSP Runge–Kutta method of Shu and Osher
// (SSP-RK3): central advection has purely imaginary eigenvalues ±i·Σ_a|v_a|·sin θ_a/dx_a, and
// the stability regions of forward Euler and of RK2 touch the imaginary axis only at 0, so with
// little or no diffusion both blow up; RK3's region holds the imaginary axis up to ±i√3, and its
// third-order time error stays below the second-order space error at dt ∝ dx.
//
// Like heat.Heat and burgers.Burgers, the simulator is a struct of its settings:
//
//	v, _ := advdiff.Cellular(g, 1)
//	s := advdiff.AdvDiff{Domain: g, V: v, Kappa: 1e-3, Scheme: advdiff.Upwind}
//	s.Dt = 0.9 * s.MaxDt()
package advdiff

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/grid"
)

// Scheme is the face concentration of the advective flux, with its time stepper.
type Scheme string

// The schemes.
const (
	// Upwind takes the face concentration from the upstream cell and steps with forward Euler:
	// first order in space and time, monotone.
	Upwind Scheme = "upwind"
	// Central takes the average of the two cells and steps with SSP-RK3: second order in space,
	// third in time, not monotone (wiggles near sharp fronts unless diffusion smooths them).
	Central Scheme = "central"
)

// The stability region of SSP-RK3 contains the triangle with vertices ±i√3 on the imaginary axis and
// −2.5 on the real axis (its real-axis limit is −2.5127…; TestRK3Region checks the triangle), which
// holds every eigenvalue of central advection plus diffusion under the rule of MaxDt.
const (
	rk3Imag = 1.7320508075688772 // √3
	rk3Real = 2.5
)

// AdvDiff is ∂c/∂t + ∇·(v c) = κ∆c on Domain, stepped by Dt with Scheme. Its state is one field c,
// [b, n] or [b, ny, nx].
type AdvDiff struct {
	Domain grid.Grid // 1-D or 2-D, any boundary; walls (Dirichlet or Neumann) are closed to the flow
	// V is the velocity, one component per grid axis in axis order ((v_y, v_x) in 2-D), each at the
	// cell centres flat in row-major order (Domain.Cells() values); Uniform and Cellular build common
	// flows. It is fixed in time: Step puts the face coefficients it implies into the graph as
	// constants.
	V      [][]float64
	Kappa  float64 // the diffusivity κ ≥ 0
	Dt     float64 // the time step dt > 0; see MaxDt
	Scheme Scheme  // Upwind (the zero value) or Central
}

var _ physics.Simulator = AdvDiff{}

// Grid is the grid the field lives on.
func (s AdvDiff) Grid() grid.Grid { return s.Domain }

// scheme is s.Scheme with the zero value resolved.
func (s AdvDiff) scheme() Scheme {
	if s.Scheme == "" {
		return Upwind
	}
	return s.Scheme
}

// Check reports settings that cannot run: a bad grid, scheme, velocity or diffusivity, a
// non-positive Dt, or (as a *physics.StabilityError) a Dt beyond MaxDt.
func (s AdvDiff) Check() error {
	if err := s.settings(); err != nil {
		return err
	}
	if !(s.Dt > 0) || math.IsInf(s.Dt, 0) {
		return fmt.Errorf("advdiff: the time step Dt must be finite and positive, got %g", s.Dt)
	}
	if maxDt := s.MaxDt(); s.Dt > maxDt {
		return &physics.StabilityError{Dt: s.Dt, MaxDt: maxDt, Rule: s.rule()}
	}
	return nil
}

// settings reports what Check does, bar the time step.
func (s AdvDiff) settings() error {
	g := s.Domain
	if err := g.Check(); err != nil {
		return err
	}
	if sc := s.scheme(); sc != Upwind && sc != Central {
		return fmt.Errorf("advdiff: Scheme must be %q or %q, got %q", Upwind, Central, sc)
	}
	if len(s.V) != g.Dim() {
		return fmt.Errorf("advdiff: the velocity V needs one component per grid axis (%d), got %d", g.Dim(), len(s.V))
	}
	for a, va := range s.V {
		if len(va) != g.Cells() {
			return fmt.Errorf("advdiff: velocity component %d has %d values; it needs one per cell (%d, row-major over %v)", a, len(va), g.Cells(), g.N)
		}
		for _, x := range va {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("advdiff: velocity component %d is not finite (%g)", a, x)
			}
		}
	}
	if !(s.Kappa >= 0) || math.IsInf(s.Kappa, 0) {
		return fmt.Errorf("advdiff: the diffusivity Kappa must be finite and ≥ 0, got %g", s.Kappa)
	}
	return nil
}

// MaxDt is the largest stable time step of the scheme for the velocity and diffusivity on the grid
// (+Inf when both vanish), whatever Dt is; NaN for other settings that Check rejects, so that
// s.Dt = 0.9·s.MaxDt() leaves Check to say what is wrong.
//
// Upwind with forward Euler: dt·max_i(Σ_a outflow_{a,i}/dx_a + 2κ·Σ_a 1/dx_a²) ≤ 1, where
// outflow_{a,i} = max(u_{i+½}, 0) + max(−u_{i−½}, 0) is the rate at which the faces of cell i
// along axis a carry c out of it. Every coefficient of the update is then non-negative, so c ≥ 0
// stays and no new extrema appear; with a uniform v this is the CFL condition
// Σ_a |v_a|·dt/dx_a + 2κ·dt·Σ_a 1/dx_a² ≤ 1.
//
// Central with SSP-RK3: Σ_a max|u_a|·dt/dx_a / √3 + 4κ·dt·Σ_a 1/dx_a² / 2.5 ≤ 1, which puts the
// eigenvalues of the frozen-coefficient operator (imaginary part up to Σ_a|u_a|/dx_a, real part
// down to −4κ·Σ_a 1/dx_a²) inside RK3's stability region.
func (s AdvDiff) MaxDt() float64 {
	if s.settings() != nil {
		return math.NaN()
	}
	g := s.Domain
	// diffusion is κ·Σ_a 1/dx_a², the rate of the Laplacian's stencil centre over 2.
	diffusion := 0.0
	for a := range g.N {
		diffusion += s.Kappa / (g.Dx(a) * g.Dx(a))
	}
	var rate float64 // 1/MaxDt
	if s.scheme() == Upwind {
		out := make([]float64, g.Cells())
		for a := range g.N {
			u, _ := faceVelocity(g, s.V[a], a)
			outer, n, inner := strides(g, a)
			for o := range outer {
				for i := range n {
					for k := range inner {
						plus, minus := u[(o*(n+1)+i+1)*inner+k], u[(o*(n+1)+i)*inner+k]
						out[(o*n+i)*inner+k] += (max(plus, 0) + max(-minus, 0)) / g.Dx(a)
					}
				}
			}
		}
		for _, r := range out {
			rate = max(rate, r+2*diffusion)
		}
	} else {
		for a := range g.N {
			u, _ := faceVelocity(g, s.V[a], a)
			speed := 0.0
			for _, x := range u {
				speed = max(speed, math.Abs(x))
			}
			rate += speed / g.Dx(a) / rk3Imag
		}
		rate += 4 * diffusion / rk3Real
	}
	return 1 / rate
}

// rule is MaxDt's rule, for the StabilityError.
func (s AdvDiff) rule() string {
	if s.scheme() == Upwind {
		return "upwind, forward Euler: dt·max over cells of (Σ_a outflow_a/dx_a + 2κ·Σ_a 1/dx_a²) ≤ 1, " +
			"for a uniform v the CFL condition Σ_a |v_a|·dt/dx_a + 2κ·dt·Σ_a 1/dx_a² ≤ 1"
	}
	return "central, SSP-RK3: Σ_a max|v_a|·dt/dx_a / √3 + 4κ·dt·Σ_a 1/dx_a² / 2.5 ≤ 1"
}

// strides splits the row-major cells of g around axis a: outer cells before it, n along it, inner
// after it (cell (o, i, k) is at (o·n + i)·inner + k).
func strides(g grid.Grid, a int) (outer, n, inner int) {
	outer, inner = 1, 1
	for b, nb := range g.N {
		if b < a {
			outer *= nb
		} else if b > a {
			inner *= nb
		}
	}
	return outer, g.N[a], inner
}

// faceVelocity is the velocity component va (cell-centred, along axis a) on the n+1 faces along
// axis a, face j between cells j−1 and j: the average ½(v[j−1] + v[j]); on a periodic grid the wall
// faces average the two edge cells, on a walled grid they are closed (zero). It returns the face
// values flat in row-major order and their dimensions (g.N with n+1 along axis a).
func faceVelocity(g grid.Grid, va []float64, a int) (u []float64, dims []int) {
	outer, n, inner := strides(g, a)
	dims = append([]int(nil), g.N...)
	dims[a] = n + 1
	u = make([]float64, outer*(n+1)*inner)
	for o := range outer {
		for j := range n + 1 {
			// Face j lies between cells j−1 and j, the wall faces 0 and n between cells n−1 and 0
			// of a periodic grid; on a walled grid they stay zero.
			left, right := j-1, j
			if j == 0 || j == n {
				if g.BC != grid.Periodic {
					continue
				}
				left, right = n-1, 0
			}
			face := u[(o*(n+1)+j)*inner:][:inner]
			vl, vr := va[(o*n+left)*inner:][:inner], va[(o*n+right)*inner:][:inner]
			for k := range face {
				face[k] = (vl[k] + vr[k]) / 2
			}
		}
	}
	return u, dims
}

// Step advances c by Dt: forward Euler for Upwind, SSP-RK3 for Central. Bad settings (see Check)
// panic here: call Check first, as physics.Rollout does.
func (s AdvDiff) Step(state []*Node) []*Node {
	if len(state) != 1 {
		panic(fmt.Sprintf("advdiff: the state is one field c, got %d", len(state)))
	}
	c := state[0]
	lo, hi := s.coefficients(c.Graph(), c.DType()) // once, for all the stages
	// euler is u + dt·L(u), L(u) = −∇·(v u) + κ∆u.
	euler := func(u *Node) *Node { return Add(u, s.increment(u, lo, hi)) }
	if s.scheme() == Upwind {
		return []*Node{euler(c)}
	}
	// SSP-RK3 (Shu & Osher 1988), convex combinations of Euler steps:
	// c⁽¹⁾ = c + dt·L(c); c⁽²⁾ = ¾c + ¼(c⁽¹⁾ + dt·L(c⁽¹⁾)); c' = ⅓c + ⅔(c⁽²⁾ + dt·L(c⁽²⁾)).
	// Written as c + w·(euler − c): the rounded weights ⅓ and ⅔ of float32 sum to 1 + 3e-8, which
	// as ⅓c + ⅔(…) would drift the mass by 3e-8 per step.
	c1 := euler(c)
	c2 := Add(c, MulScalar(Sub(euler(c1), c), 1.0/4))
	return []*Node{Add(c, MulScalar(Sub(euler(c2), c), 2.0/3))}
}

// Residual is the mean square over the cells of each batch row of the PDE's residual between
// consecutive states, (c' − c)/dt + ∇·(v c) − κ∆c, the fluxes and Laplacian taken at c (forward
// Euler's): zero for an Upwind step, O(dt) for a Central one (whose RK3 stages differ from Euler).
func (s AdvDiff) Residual(prev, next []*Node) *Node {
	c := prev[0]
	lo, hi := s.coefficients(c.Graph(), c.DType())
	r := DivScalar(Sub(Sub(next[0], c), s.increment(c, lo, hi)), s.Dt)
	axes := make([]int, s.Domain.Dim())
	for a := range axes {
		axes[a] = a + 1
	}
	return ReduceMean(Square(r), axes...)
}

// increment is forward Euler's change dt·L(c), L(c) = −∇·(v c) + κ∆c = −Σ_a (F_{i+½} − F_{i−½})/dx_a:
// the difference along each axis of the face values lo·c[j−1] + hi·c[j] = −dt·F_{j−½}.
func (s AdvDiff) increment(c *Node, lo, hi []*Node) *Node {
	var inc *Node
	for a := range s.Domain.N {
		left, right := s.Domain.Faces(c, a)
		d := s.Domain.FaceDifference(Add(Mul(lo[a], left), Mul(hi[a], right)), a)
		if inc == nil {
			inc = d
		} else {
			inc = Add(inc, d)
		}
	}
	return inc
}

// coefficients are, for each axis a, the coefficients of −dt times the flux through its n+1 faces j
// (Grid.Faces' layout), −dt·F_{j−½} = lo[a][j]·c[j−1] + hi[a][j]·c[j], as constants of gr shaped
// [1, faces…] to broadcast over the batch. Computing them on the host once per graph, rather than
// the face velocities and upwind switches in the graph, keeps them out of every step's work.
func (s AdvDiff) coefficients(gr *Graph, dtype dtypes.DType) (lo, hi []*Node) {
	if err := s.settings(); err != nil {
		panic(fmt.Sprintf("advdiff: %v (call Check before building graphs)", err))
	}
	g := s.Domain
	for a := range g.N {
		u, faces := faceVelocity(g, s.V[a], a)
		l, h := make([]float64, len(u)), make([]float64, len(u))
		d := s.Kappa / g.Dx(a)
		for j, uj := range u {
			// The flux F_{j−½} = u·c_{j−½} − κ·(c[j] − c[j−1])/dx, with c_{j−½} = c[j−1] when the
			// flow goes up the axis and c[j] when it goes down (upwind) or their average (central).
			fLo, fHi := uj/2, uj/2
			if s.scheme() == Upwind {
				fLo, fHi = max(uj, 0), min(uj, 0)
			}
			l[j], h[j] = -s.Dt*(fLo+d), -s.Dt*(fHi-d)
		}
		dims := append([]int{1}, faces...)
		lo, hi = append(lo, grid.Constant(gr, dtype, l, dims...)), append(hi, grid.Constant(gr, dtype, h, dims...))
	}
	return lo, hi
}

// Uniform is the constant velocity with components v (in grid-axis order, (v_y, v_x) in 2-D) as
// fields for AdvDiff.V.
func Uniform(g grid.Grid, v ...float64) [][]float64 {
	fields := make([][]float64, len(v))
	for a, va := range v {
		fields[a] = make([]float64, g.Cells())
		for i := range fields[a] {
			fields[a][i] = va
		}
	}
	return fields
}

// Cellular is the periodic cellular flow of peak speed u on a 2-D grid: four counter-rotating
// cells with stream function ψ = u·Ly/(2π)·sin(2πx/Lx)·sin(2πy/Ly), so v_x = ∂ψ/∂y =
// u·sin(2πx/Lx)·cos(2πy/Ly) and v_y = −∂ψ/∂x = −u·(Ly/Lx)·cos(2πx/Lx)·sin(2πy/Ly): divergence-free,
// and zero normal velocity on the walls x = 0, Lx and y = 0, Ly. It returns (v_y, v_x) for AdvDiff.V.
func Cellular(g grid.Grid, u float64) ([][]float64, error) {
	if g.Dim() != 2 || len(g.L) != 2 {
		return nil, fmt.Errorf("advdiff: the cellular flow needs a 2-D grid, got cells %v", g.N)
	}
	ys, xs := g.Coords(0), g.Coords(1)
	ly, lx := g.L[0], g.L[1]
	vy, vx := make([]float64, 0, g.Cells()), make([]float64, 0, g.Cells())
	for _, y := range ys {
		for _, x := range xs {
			sx, cx := math.Sincos(2 * math.Pi * x / lx)
			sy, cy := math.Sincos(2 * math.Pi * y / ly)
			vy = append(vy, -u*(ly/lx)*cx*sy)
			vx = append(vx, u*sx*cy)
		}
	}
	return [][]float64{vy, vx}, nil
}
