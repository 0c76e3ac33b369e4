// Package burgers is the 1-D viscous Burgers equation
//
//	∂u/∂t + ∂(u²/2)/∂x = ν ∂²u/∂x²
//
// on a 1-D grid, as a physics.Simulator: a finite-volume scheme that captures shocks without
// oscillations when ν is small, and conserves the mean of u to rounding on a periodic grid.
// The ghost cells of the grid's boundary condition give the wall fluxes: Dirichlet holds u = 0 on the
// walls (the odd mirror image, so the solution on [0, L) is the periodic one on [−L, L) for odd u₀),
// Neumann copies the edge cell (zero gradient: waves leave through the wall).
//
// The scheme, in the notation of LeVeque, "Finite Volume Methods for Hyperbolic Problems" (2002):
//
//	du_i/dt = −(F_{i+½} − F_{i−½})/dx + ν (u_{i+1} − 2u_i + u_{i−1})/dx²
//
// with the Rusanov (local Lax–Friedrichs) flux at each face between a left state uᴸ and a right
// state uᴿ,
//
//	F(uᴸ, uᴿ) = ½(f(uᴸ) + f(uᴿ)) − ½ a (uᴿ − uᴸ),  f(u) = u²/2,  a = max(|uᴸ|, |uᴿ|),
//
// a monotone flux: its dissipation ½a(uᴿ − uᴸ) is what keeps a shock free of oscillations. The face
// states are the cell averages (first order), or with MUSCL the piecewise-linear reconstruction
// u_i ± σ_i/2 with the minmod-limited slope σ_i = minmod(u_i − u_{i−1}, u_{i+1} − u_i) (second order
// where u is smooth, first order at extrema and shocks, total variation diminishing). Time is SSP-RK2
// (Heun's method as a convex combination of two forward-Euler steps, Shu & Osher 1988): second order,
// and TVD under the same dt as forward Euler, so the one stability rule below covers both.
package burgers

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/grid"
)

// Burgers steps the viscous Burgers equation on a 1-D grid. Its state is one field u, [b, n].
type Burgers struct {
	Domain grid.Grid // a 1-D grid, any boundary
	Nu     float64   // the viscosity ν ≥ 0 (0: the inviscid equation; the scheme spreads shocks over a few cells)
	Dt     float64   // the time step; see MaxDt
	// UMax bounds |u| over the whole run; it sets the CFL limit of Check. Burgers' maximum principle
	// makes max|u₀| such a bound forever: use Bound(u0).
	UMax float64
	// MUSCL selects the second-order reconstruction with the minmod limiter; false is the first-order
	// scheme (cell averages as face states), more diffusive, with twice the advective limit on dt.
	MUSCL bool
}

var (
	_ physics.Simulator    = Burgers{}
	_ physics.StateChecker = Burgers{}
)

// Grid is the simulator's grid.
func (s Burgers) Grid() grid.Grid { return s.Domain }

// courant is the largest Courant number a·dt/dx of the advective part alone at which its forward-
// Euler step is TVD: 1 for the first-order Rusanov scheme, ½ with the minmod-limited MUSCL
// reconstruction (Harten's incremental-form conditions; LeVeque 2002, ch. 6).
func (s Burgers) courant() float64 {
	if s.MUSCL {
		return 0.5
	}
	return 1
}

// MaxDt is the largest stable time step for the settings: the step at which
//
//	dt·(UMax/(c·dx) + 2ν/dx²) = 1,
//
// c the Courant limit of the advective part (1 first order, ½ MUSCL). Writing the forward-Euler step
// as a convex combination of an advective step and a viscous step shows that this one rule makes the
// whole step TVD with no new extrema; it reduces to the CFL condition UMax·dt/dx ≤ c when ν = 0 and to
// the diffusion number ν·dt/dx² ≤ ½ when u = 0. SSP-RK2 keeps the property at the same dt.
func (s Burgers) MaxDt() float64 { return s.maxDt(s.UMax) }

// maxDt is MaxDt for the bound uMax on |u|.
func (s Burgers) maxDt(uMax float64) float64 {
	dx := s.Domain.Dx(0)
	return 1 / (uMax/(s.courant()*dx) + 2*s.Nu/(dx*dx))
}

// unstable is the StabilityError of Dt for the bound uMax on |u|, named bound in the message, or nil.
func (s Burgers) unstable(uMax float64, bound string) error {
	maxDt := s.maxDt(uMax)
	if s.Dt <= maxDt {
		return nil
	}
	return &physics.StabilityError{Dt: s.Dt, MaxDt: maxDt,
		Rule: fmt.Sprintf("dt·(u/(%g·dx) + 2ν/dx²) ≤ 1 with u = %s, ν = %g, dx = %g", s.courant(), bound, s.Nu, s.Domain.Dx(0))}
}

// Check reports settings that cannot run: a *physics.StabilityError when Dt > MaxDt.
func (s Burgers) Check() error {
	if err := s.Domain.Check(); err != nil {
		return err
	}
	switch {
	case s.Domain.Dim() != 1:
		return fmt.Errorf("burgers: the grid must be 1-D (grid.New1D), got %d axes", s.Domain.Dim())
	case !(s.Nu >= 0) || math.IsInf(s.Nu, 0):
		return fmt.Errorf("burgers: the viscosity Nu must be finite and ≥ 0, got %g", s.Nu)
	case !(s.UMax > 0) || math.IsInf(s.UMax, 0):
		return fmt.Errorf("burgers: UMax must be a finite bound > 0 on |u|, got %g: set it to Bound(u0)", s.UMax)
	case !(s.Dt > 0) || math.IsInf(s.Dt, 0):
		return fmt.Errorf("burgers: Dt must be finite and > 0, got %g (the largest stable one is %g)", s.Dt, s.MaxDt())
	}
	return s.unstable(s.UMax, fmt.Sprintf("UMax = %g", s.UMax))
}

// CheckState is Check for the state the rollout starts from: a *physics.StabilityError when Dt exceeds
// the largest stable step for max|u₀| (UMax below the state's actual bound), another error when the
// state is not one finite field over the grid. physics.Rollout calls it on the initial state
// (Burgers is a physics.StateChecker): without it a wrong UMax would show only when the rollout
// blows up (Rollout's non-finite error), or as oscillations if it does not.
func (s Burgers) CheckState(state []*tensors.Tensor) error {
	if err := s.Check(); err != nil {
		return err
	}
	if len(state) != 1 {
		return fmt.Errorf("burgers: the state is one field u, got %d", len(state))
	}
	if dims := state[0].Shape().Dimensions; len(dims) != 2 || dims[1] != s.Domain.N[0] {
		return fmt.Errorf("burgers: u must be [batch, %d] over the grid, got shape %v", s.Domain.N[0], dims)
	}
	m, err := Bound(state[0])
	if err != nil || m <= s.UMax {
		return err
	}
	return s.unstable(m, fmt.Sprintf("the state's max|u₀| = %g, above UMax = %g (set UMax = Bound(u0))", m, s.UMax))
}

// Bound is max|u₀| over all cells and batch rows of a float32 or float64 field: a bound on |u| for
// all time by the maximum principle of Burgers' equation (which the scheme keeps under MaxDt), and
// so the value for UMax.
func Bound(u0 *tensors.Tensor) (float64, error) {
	m, err := physics.MaxAbs(u0)
	switch {
	case err != nil:
		return 0, fmt.Errorf("burgers: u₀: %w", err)
	case math.IsNaN(m) || math.IsInf(m, 0):
		return 0, fmt.Errorf("burgers: u₀ is not finite (max|u₀| = %g)", m)
	}
	return m, nil
}

// Step advances u by Dt with SSP-RK2: u⁽¹⁾ = u + dt·L(u), uⁿ⁺¹ = ½u + ½(u⁽¹⁾ + dt·L(u⁽¹⁾)).
func (s Burgers) Step(state []*Node) []*Node {
	if len(state) != 1 {
		panic(fmt.Sprintf("burgers: the state is one field u, got %d", len(state)))
	}
	u := state[0]
	u1 := Add(u, MulScalar(s.rate(u), s.Dt))
	u2 := Add(u1, MulScalar(s.rate(u1), s.Dt))
	return []*Node{MulScalar(Add(u, u2), 0.5)}
}

// rate is the semi-discrete right-hand side L(u) = −(F_{i+½} − F_{i−½})/dx + ν∆u. Each face's flux is
// computed once, from the states on its two sides (grid.Faces), so the fluxes telescope: on a periodic
// grid Σ_i u_i changes only by rounding.
func (s Burgers) rate(u *Node) *Node {
	g := s.Domain
	left, right := g.Faces(u, 0) // the cell averages on either side of each face
	if s.MUSCL {
		minus, plus := g.Neighbors(u, 0)
		slope := minmod(Sub(u, minus), Sub(plus, u))
		slopeLeft, slopeRight := slopeGrid(g).Faces(slope, 0)
		left = Add(left, MulScalar(slopeLeft, 0.5))    // the left cell's value at the face
		right = Sub(right, MulScalar(slopeRight, 0.5)) // the right cell's value at the face
	}
	rate := Neg(g.FaceDifference(rusanov(left, right), 0))
	if s.Nu != 0 {
		rate = Add(rate, MulScalar(g.Laplacian(u), s.Nu))
	}
	return rate
}

// slopeGrid is g with the boundary condition that a slope obeys: the mirror image of u in a wall
// has the opposite parity to its slope, so the ghost cell's slope is the edge cell's with the sign
// of the other condition (Dirichlet's odd ghost u[−1] = −u[0] has the even slope σ[−1] = σ[0], and
// Neumann's the reverse). Periodic slopes wrap like u.
func slopeGrid(g grid.Grid) grid.Grid {
	switch g.BC {
	case grid.Dirichlet:
		g.BC = grid.Neumann
	case grid.Neumann:
		g.BC = grid.Dirichlet
	}
	return g
}

// rusanov is the Rusanov flux F(uᴸ, uᴿ) = ½(f(uᴸ) + f(uᴿ)) − ½ max(|uᴸ|, |uᴿ|)(uᴿ − uᴸ) of
// f(u) = u²/2: the central flux plus the dissipation of the larger local wave speed, which makes the
// flux monotone (nondecreasing in uᴸ, nonincreasing in uᴿ).
func rusanov(left, right *Node) *Node {
	central := MulScalar(Add(Square(left), Square(right)), 0.25)
	speed := Max(Abs(left), Abs(right))
	return Sub(central, MulScalar(Mul(speed, Sub(right, left)), 0.5))
}

// minmod(a, b) is the smaller of a and b in magnitude when they share a sign, and 0 otherwise:
// ½(sign a + sign b)·min(|a|, |b|).
func minmod(a, b *Node) *Node {
	sameSign := MulScalar(Add(Sign(a), Sign(b)), 0.5)
	return Mul(sameSign, Min(Abs(a), Abs(b)))
}

// Residual is the mean square over the cells of each row of the Burgers residual of a pair of
// states one Dt apart,
//
//	r = (uⁿ⁺¹ − uⁿ)/dt + ∂(uⁿ²/2)/∂x − ν ∂²uⁿ/∂x²,
//
// with central differences: zero up to O(dt + dx²) for the exact solution sampled on the grid, and
// a differentiable physics prior (not the scheme's own update, which adds its numerical dissipation).
func (s Burgers) Residual(prev, next []*Node) *Node {
	g := s.Domain
	u, v := prev[0], next[0]
	r := MulScalar(Sub(v, u), 1/s.Dt)
	r = Add(r, g.Derivative(MulScalar(Square(u), 0.5), 0))
	if s.Nu != 0 {
		r = Sub(r, MulScalar(g.Laplacian(u), s.Nu))
	}
	return ReduceMean(Square(r), 1)
}
