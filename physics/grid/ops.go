package grid

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
)

// TODO(issue 7): bodies. The signatures are fixed: the simulators are written against them.

// Roll rolls u by k cells along grid axis a (the field's axis a+1), periodically: out[i] = u[i−k],
// as numpy.roll. It is built from Slice and Concatenate, so it is differentiable on every backend.
func Roll(u *Node, a, k int) *Node { panic("grid.Roll: not yet implemented") }

// Neighbors are u[i−1] and u[i+1] along grid axis a, with the ghost cells beyond the walls taken
// from g's boundary condition.
func (g Grid) Neighbors(u *Node, a int) (minus, plus *Node) {
	panic("grid.Neighbors: not yet implemented")
}

// Derivative is ∂u/∂x_a by central differences (u[i+1] − u[i−1])/(2dx), second order.
func (g Grid) Derivative(u *Node, a int) *Node { panic("grid.Derivative: not yet implemented") }

// Gradient is ∇u, one central Derivative per axis.
func (g Grid) Gradient(u *Node) []*Node { panic("grid.Gradient: not yet implemented") }

// Divergence is ∇·v = Σ_a ∂v_a/∂x_a by central differences, for v with one component per axis.
func (g Grid) Divergence(v []*Node) *Node { panic("grid.Divergence: not yet implemented") }

// Laplacian is ∆u by the (2d+1)-point stencil Σ_a (u[i+1] − 2u[i] + u[i−1])/dx_a², second order.
func (g Grid) Laplacian(u *Node) *Node { panic("grid.Laplacian: not yet implemented") }

// AdvectUpwind is v·∇u with first-order upwind differences: along each axis, the one-sided
// difference on the side the velocity comes from.
func (g Grid) AdvectUpwind(u *Node, v []*Node) *Node {
	panic("grid.AdvectUpwind: not yet implemented")
}

// AdvectCentral is v·∇u with central differences (second order, not monotone).
func (g Grid) AdvectCentral(u *Node, v []*Node) *Node {
	panic("grid.AdvectCentral: not yet implemented")
}
