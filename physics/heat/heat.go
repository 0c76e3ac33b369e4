// Package heat is the heat (diffusion) equation ∂u/∂t = ν∆u on a 1-D or 2-D grid, as a
// physics.Simulator: explicit finite differences, or the exact step through the eigenbasis of the
// Laplacian.
package heat

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/physics/spectral"
)

// Scheme is a time-stepping scheme for the heat equation.
type Scheme string

// The schemes.
const (
	// Explicit is forward Euler on the (2d+1)-point Laplacian, u ← u + ν·dt·∆u: second order in
	// space, first in time, stable for ν·dt·Σ_a 1/dx_a² ≤ 1/2. The zero Scheme is Explicit.
	Explicit Scheme = "explicit"
	// Exact is the exact solution operator u ← exp(ν·dt·∆)u, applied in the eigenbasis of ∆
	// (physics/spectral): each mode is multiplied by exp(−ν·K²·dt), one dense matrix per axis. It is
	// exact for the trigonometric modes of the grid's boundary (Fourier for periodic, cosines for
	// Neumann, sines for Dirichlet) and stable for every dt.
	Exact Scheme = "exact"
)

// Heat is ∂u/∂t = ν∆u on Domain, stepped by Dt with Scheme. Its state is one field u, [b, n] or
// [b, ny, nx].
type Heat struct {
	Domain grid.Grid // 1-D or 2-D, any boundary
	Nu, Dt float64   // the diffusivity ν ≥ 0 and the time step dt > 0
	Scheme Scheme    // Explicit (the zero value) or Exact
}

var _ physics.Simulator = Heat{}

// Grid is the grid the field lives on.
func (h Heat) Grid() grid.Grid { return h.Domain }

// scheme is h.Scheme with the zero value resolved.
func (h Heat) scheme() Scheme {
	if h.Scheme == "" {
		return Explicit
	}
	return h.Scheme
}

// MaxDt is the explicit scheme's largest stable time step, 1/(2ν·Σ_a 1/dx_a²): the forward-Euler
// amplification factor of the highest grid mode, 1 − 4ν·dt·Σ_a 1/dx_a², stays ≥ −1 up to it
// (+Inf for ν = 0).
func (h Heat) MaxDt() float64 {
	s := 0.0
	for a := range h.Domain.N {
		s += 1 / (h.Domain.Dx(a) * h.Domain.Dx(a))
	}
	return 1 / (2 * h.Nu * s)
}

// Check reports bad settings, and for the explicit scheme a *physics.StabilityError when
// ν·dt·Σ_a 1/dx_a² > 1/2.
func (h Heat) Check() error {
	if err := h.Domain.Check(); err != nil {
		return err
	}
	switch {
	case !(h.Nu >= 0) || math.IsInf(h.Nu, 0):
		return fmt.Errorf("heat: the diffusivity Nu must be finite and ≥ 0, got %g", h.Nu)
	case !(h.Dt > 0) || math.IsInf(h.Dt, 0):
		return fmt.Errorf("heat: the time step Dt must be finite and > 0, got %g", h.Dt)
	}
	switch h.scheme() {
	case Explicit:
		if maxDt := h.MaxDt(); h.Dt > maxDt {
			return &physics.StabilityError{Dt: h.Dt, MaxDt: maxDt, Rule: "diffusion number ν·dt·Σ 1/dx² ≤ 1/2"}
		}
	case Exact:
		for a, n := range h.Domain.N {
			if _, err := spectral.New(n, h.Domain.L[a], h.Domain.BC); err != nil {
				return fmt.Errorf("heat: the exact scheme on axis %d: %w", a, err)
			}
		}
	default:
		return fmt.Errorf("heat: Scheme must be %q or %q, got %q", Explicit, Exact, h.Scheme)
	}
	return nil
}

// Step advances u by dt. Bad settings (see Check) panic here: call Check first, as physics.Rollout
// does.
func (h Heat) Step(state []*Node) []*Node {
	if len(state) != 1 {
		panic(fmt.Sprintf("heat: the state is one field, got %d", len(state)))
	}
	u := state[0]
	if h.scheme() == Explicit {
		// Forward Euler: u ← u + ν·dt·∆u.
		return []*Node{Add(u, MulScalar(h.Domain.Laplacian(u), h.Nu*h.Dt))}
	}
	// exp(ν·dt·∆) = Π_a exp(ν·dt·∂²/∂x_a²): the axes' factors commute, one matrix each.
	for a, n := range h.Domain.N {
		basis, err := spectral.New(n, h.Domain.L[a], h.Domain.BC)
		if err != nil {
			panic(fmt.Sprintf("heat: %v (call Check before building graphs)", err))
		}
		u = spectral.Apply(u, basis.Operator(func(k float64) float64 { return math.Exp(-h.Nu * k * k * h.Dt) }), a)
	}
	return []*Node{u}
}

// Residual is the heat equation's residual per batch row, [b], in the discretization of h.Scheme:
// the mean over the cells of ((next − Step(prev))/dt)², zero (to rounding) exactly when next is
// the scheme's step from prev. For Explicit that is (next − prev)/dt − ν∆prev with the grid
// Laplacian, the equation with forward Euler's time difference; for Exact it is
// (next − exp(ν·dt·∆)prev)/dt, the equation integrated exactly over dt, which the true solution
// satisfies at any dt for the grid's trigonometric modes.
//
// Why the scheme's and not always the explicit one: a residual should measure the PDE, and the
// explicit residual of an exact step is forward Euler's local error over dt, O(dt + dx²) for a
// smooth field and growing with dt, with no meaning left beyond the explicit stability limit where
// the exact scheme still runs (the heat2d task takes its whole horizon in one step). A prior that
// should penalize the finite-difference equation whatever produced the states uses an Explicit
// Heat.
func (h Heat) Residual(prev, next []*Node) *Node {
	r := DivScalar(Sub(next[0], h.Step(prev)[0]), h.Dt)
	axes := make([]int, h.Domain.Dim())
	for a := range axes {
		axes[a] = a + 1
	}
	return ReduceMean(Square(r), axes...)
}
