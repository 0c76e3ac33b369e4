package grid

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
)

// The operators below take the neighbours of a cell from the field extended by one ghost cell on
// each side (Ghosts), built with Slice and Concatenate only: the pure-Go backend has no Pad, and
// both ops are differentiable everywhere (Slice's gradient through internal/fastgrad).

// Roll rolls u by k cells along grid axis a (the field's axis a+1), periodically: out[i] = u[i−k],
// as numpy.roll. It is built from Slice and Concatenate, so it is differentiable on every backend.
func Roll(u *Node, a, k int) *Node {
	axis := a + 1
	n := u.Shape().Dim(axis)
	k = ((k % n) + n) % n
	if k == 0 {
		return u
	}
	// out = [u[n−k:], u[:n−k]].
	return Concatenate([]*Node{
		SliceAxis(u, axis, AxisRangeToEnd(n-k)),
		SliceAxis(u, axis, AxisRangeFromStart(n-k)),
	}, axis)
}

// Ghosts is u extended by one ghost cell beyond each wall along grid axis a: n+2 cells along the
// field's axis a+1, u[−1], u[0], …, u[n−1], u[n]. The ghost cells implement g's boundary condition:
// periodic u[−1] = u[n−1]; Dirichlet u[−1] = −u[0] (so that the wall value ½(u[−1]+u[0]) is zero);
// Neumann u[−1] = u[0] (so that the wall derivative (u[0]−u[−1])/dx is zero); likewise at u[n].
// Simulators with fluxes through the cell faces build them from Faces, which uses these ghosts.
func (g Grid) Ghosts(u *Node, a int) *Node {
	g.checkField(u, a)
	axis := a + 1
	n := g.N[a]
	first := SliceAxis(u, axis, AxisRange(0, 1))
	last := SliceAxis(u, axis, AxisRange(n-1, n))
	var lo, hi *Node
	switch g.BC {
	case Periodic:
		lo, hi = last, first
	case Dirichlet:
		lo, hi = Neg(first), Neg(last)
	case Neumann:
		lo, hi = first, last
	default:
		panic(fmt.Sprintf("grid: unknown boundary %q (call Grid.Check before building graphs)", g.BC))
	}
	return Concatenate([]*Node{lo, u, hi}, axis)
}

// checkField panics when u is not a field over g with a batch axis, or a is not an axis of g:
// programmer mistakes inside graph building.
func (g Grid) checkField(u *Node, a int) {
	if a < 0 || a >= g.Dim() {
		panic(fmt.Sprintf("grid: axis %d out of range for a %d-D grid", a, g.Dim()))
	}
	dims := u.Shape().Dimensions
	if len(dims) != g.Dim()+1 {
		panic(fmt.Sprintf("grid: field of shape %v over a %d-D grid: want [batch, %v]", dims, g.Dim(), g.N))
	}
	for i, n := range g.N {
		if dims[i+1] != n {
			panic(fmt.Sprintf("grid: field of shape %v over a grid of %v cells", dims, g.N))
		}
	}
}

// Neighbors are u[i−1] and u[i+1] along grid axis a, with the ghost cells beyond the walls taken
// from g's boundary condition.
func (g Grid) Neighbors(u *Node, a int) (minus, plus *Node) {
	ext, axis, n := g.Ghosts(u, a), a+1, g.N[a]
	return SliceAxis(ext, axis, AxisRange(0, n)), SliceAxis(ext, axis, AxisRange(2, n+2))
}

// Faces are the states on either side of the n+1 cell faces along grid axis a, face j lying
// between cells j−1 and j (face 0 and face n are the walls): left[j] = u[j−1], right[j] = u[j],
// with the ghost cells of g's boundary condition. A conservative (finite-volume) scheme computes a
// numerical flux F_{j−½} = F(left[j], right[j]) from them and updates each cell by FaceDifference.
// With a periodic boundary the two wall faces see the same pair of states, so their fluxes are
// equal and Σ_i (F_{i+½} − F_{i−½}) = 0 exactly: the scheme conserves the field's sum to rounding.
func (g Grid) Faces(u *Node, a int) (left, right *Node) {
	ext, axis, n := g.Ghosts(u, a), a+1, g.N[a]
	return SliceAxis(ext, axis, AxisRange(0, n+1)), SliceAxis(ext, axis, AxisRange(1, n+2))
}

// FaceDifference is (f[i+1] − f[i])/dx_a for a face field f with n+1 faces along grid axis a (as
// from Faces): the divergence of a face flux, (F_{i+½} − F_{i−½})/dx, one value per cell.
func (g Grid) FaceDifference(f *Node, a int) *Node {
	axis, n := a+1, g.N[a]
	if f.Shape().Dim(axis) != n+1 {
		panic(fmt.Sprintf("grid: face field of shape %v needs %d faces along axis %d", f.Shape().Dimensions, n+1, axis))
	}
	d := Sub(SliceAxis(f, axis, AxisRange(1, n+1)), SliceAxis(f, axis, AxisRange(0, n)))
	return DivScalar(d, g.Dx(a))
}

// Derivative is ∂u/∂x_a by central differences (u[i+1] − u[i−1])/(2dx), second order.
func (g Grid) Derivative(u *Node, a int) *Node {
	minus, plus := g.Neighbors(u, a)
	return DivScalar(Sub(plus, minus), 2*g.Dx(a))
}

// Gradient is ∇u, one central Derivative per axis.
func (g Grid) Gradient(u *Node) []*Node {
	grad := make([]*Node, g.Dim())
	for a := range grad {
		grad[a] = g.Derivative(u, a)
	}
	return grad
}

// Divergence is ∇·v = Σ_a ∂v_a/∂x_a by central differences, for v with one component per axis.
func (g Grid) Divergence(v []*Node) *Node {
	g.checkComponents(v)
	var div *Node
	for a := range v {
		div = sum(div, g.Derivative(v[a], a))
	}
	return div
}

// Laplacian is ∆u by the (2d+1)-point stencil Σ_a (u[i+1] − 2u[i] + u[i−1])/dx_a², second order.
func (g Grid) Laplacian(u *Node) *Node {
	var lap *Node
	for a := range g.N {
		minus, plus := g.Neighbors(u, a)
		dx := g.Dx(a)
		lap = sum(lap, DivScalar(Add(Sub(plus, MulScalar(u, 2)), minus), dx*dx))
	}
	return lap
}

// AdvectUpwind is v·∇u with first-order upwind differences: along each axis, the one-sided
// difference on the side the velocity comes from.
//
// Along axis a: v⁺·(u[i] − u[i−1])/dx + v⁻·(u[i+1] − u[i])/dx with v⁺ = max(v, 0), v⁻ = min(v, 0).
func (g Grid) AdvectUpwind(u *Node, v []*Node) *Node {
	g.checkComponents(v)
	var adv *Node
	for a := range v {
		minus, plus := g.Neighbors(u, a)
		back := DivScalar(Sub(u, minus), g.Dx(a))
		fwd := DivScalar(Sub(plus, u), g.Dx(a))
		adv = sum(adv, Add(Mul(MaxScalar(v[a], 0.0), back), Mul(MinScalar(v[a], 0.0), fwd)))
	}
	return adv
}

// AdvectCentral is v·∇u with central differences (second order, not monotone).
func (g Grid) AdvectCentral(u *Node, v []*Node) *Node {
	g.checkComponents(v)
	var adv *Node
	for a := range v {
		adv = sum(adv, Mul(v[a], g.Derivative(u, a)))
	}
	return adv
}

// checkComponents panics unless v has one component per axis of g.
func (g Grid) checkComponents(v []*Node) {
	if len(v) != g.Dim() {
		panic(fmt.Sprintf("grid: a vector field over a %d-D grid needs %d components, got %d", g.Dim(), g.Dim(), len(v)))
	}
}

// sum is acc + x, with a nil acc standing for zero.
func sum(acc, x *Node) *Node {
	if acc == nil {
		return x
	}
	return Add(acc, x)
}
