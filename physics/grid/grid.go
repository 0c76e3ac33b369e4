// Package grid holds uniform 1-D and 2-D grids with their boundary conditions, and the finite-
// difference operators on fields over them, as GoMLX graph functions (differentiable, and free of
// Pad so that they run on the pure-Go backend).
//
// Grids are cell-centred: cell i covers [i·dx, (i+1)·dx) and its value sits at (i+½)·dx. A field
// over a grid carries a leading batch axis: [b, n] in 1-D and [b, ny, nx] in 2-D, so that one graph
// steps an ensemble (a dataset's block of simulations, a posterior's samples) at once. Grid axis a
// is the field's axis a+1.
package grid

import (
	"fmt"
	"math"
)

// Boundary is the condition on every wall of a grid.
type Boundary string

// The boundary conditions.
const (
	// Periodic wraps each axis around: cell −1 is cell n−1.
	Periodic Boundary = "periodic"
	// Dirichlet holds the field at zero on the walls (the cell faces at 0 and L): the ghost cell
	// beyond a wall is the negated edge cell.
	Dirichlet Boundary = "dirichlet"
	// Neumann holds the normal derivative at zero on the walls (no flux): the ghost cell beyond a
	// wall repeats the edge cell.
	Neumann Boundary = "neumann"
)

// Grid is a uniform cell-centred grid on [0, L₀) × [0, L₁) (one or two axes).
type Grid struct {
	N  []int     // cells per axis: [n] in 1-D, [ny, nx] in 2-D
	L  []float64 // the domain's length per axis
	BC Boundary
}

// New1D is the grid of n cells over [0, l).
func New1D(n int, l float64, bc Boundary) Grid {
	return Grid{N: []int{n}, L: []float64{l}, BC: bc}
}

// New2D is the grid of ny × nx cells over [0, ly) × [0, lx).
func New2D(ny, nx int, ly, lx float64, bc Boundary) Grid {
	return Grid{N: []int{ny, nx}, L: []float64{ly, lx}, BC: bc}
}

// Check reports a grid that cannot carry a field.
func (g Grid) Check() error {
	if len(g.N) < 1 || len(g.N) > 2 || len(g.L) != len(g.N) {
		return fmt.Errorf("grid: one or two axes with a length each, got cells %v and lengths %v", g.N, g.L)
	}
	for a, n := range g.N {
		if n < 3 {
			return fmt.Errorf("grid: axis %d needs at least 3 cells, got %d", a, n)
		}
		if !(g.L[a] > 0) || math.IsInf(g.L[a], 0) {
			return fmt.Errorf("grid: axis %d needs a finite positive length, got %g", a, g.L[a])
		}
	}
	switch g.BC {
	case Periodic, Dirichlet, Neumann:
		return nil
	}
	return fmt.Errorf("grid: boundary must be %q, %q or %q, got %q", Periodic, Dirichlet, Neumann, g.BC)
}

// Dim is the number of axes, 1 or 2.
func (g Grid) Dim() int { return len(g.N) }

// Cells is the number of cells, the product of N.
func (g Grid) Cells() int {
	c := 1
	for _, n := range g.N {
		c *= n
	}
	return c
}

// Dx is the cell width along axis a.
func (g Grid) Dx(a int) float64 { return g.L[a] / float64(g.N[a]) }

// Coords are the cell centres (i+½)·dx along axis a.
func (g Grid) Coords(a int) []float64 {
	c := make([]float64, g.N[a])
	for i := range c {
		c[i] = (float64(i) + 0.5) * g.Dx(a)
	}
	return c
}
