// Package spectral holds the real orthonormal eigenbases of the second derivative on a cell-centred
// grid with each boundary condition, and the dense operators built from them.
//
// The pure-Go backend has no FFT, so a spectral operator here is an n×n matrix Q diag(f(k)) Qᵀ
// applied with one matrix product per grid axis: exact (to rounding), differentiable and fast for
// the grids of this project (n ≤ MaxN). The same Q diagonalizes both the continuous operator
// d²/dx² (eigenvalue −K²) and the 3-point stencil (u[i+1] − 2u[i] + u[i−1])/dx² with the boundary's
// ghost cells (eigenvalue Stencil), so one basis gives exact heat steps for either, Poisson solves
// and the covariances of Gaussian random fields.
//
// The bases, on the cell centres xᵢ = (i+½)·dx, dx = L/n:
//
//   - periodic: the real Fourier basis: the constant, then cos(Kx), sin(Kx) pairs with K = 2πk/L,
//     and for even n the Nyquist mode (−1)ⁱ (which is sin(Kx) at the cell centres, K = πn/L:
//     cos(Kx) vanishes there);
//   - Neumann (ghost = edge cell): DCT-II, cos(πk(i+½)/n), K = πk/L, k = 0…n−1;
//   - Dirichlet (ghost = −edge cell, zero on the wall faces): DST-II, sin(π(k+1)(i+½)/n),
//     K = π(k+1)/L, k = 0…n−1.
//
// Modes are ordered by increasing K. The stencil eigenvalue of a mode with discrete frequency θ
// (θ = 2πk/n periodic, πk/n Neumann, π(k+1)/n Dirichlet) is −(4/dx²)·sin²(θ/2).
package spectral

import (
	"fmt"
	"math"
	"slices"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/probinv/probinv/physics/grid"
)

// MaxN is the largest number of cells per axis: the matrices are dense, n² entries each, and a
// product with one costs n² per grid row.
const MaxN = 256

// Basis is the orthonormal eigenbasis of the second derivative on n cells over [0, L) with boundary
// BC.
type Basis struct {
	N  int
	L  float64
	BC grid.Boundary
	// Q is n×n orthonormal; column k (Q[i][k], i over cells) is mode k.
	Q [][]float64
	// K is the continuous wavenumber of mode k: d²/dx² mode = −K²·mode.
	K []float64
	// Stencil is the eigenvalue of the 3-point second difference (u[i+1] − 2u[i] + u[i−1])/dx², with
	// the boundary's ghost cells, on mode k.
	Stencil []float64
}

// New builds the basis of n cells (2 ≤ n ≤ MaxN) over [0, l) with boundary bc.
func New(n int, l float64, bc grid.Boundary) (Basis, error) {
	if n < 2 || n > MaxN {
		return Basis{}, fmt.Errorf("spectral: the number of cells must be in [2, %d] (dense matrices), got %d", MaxN, n)
	}
	if !(l > 0) || math.IsInf(l, 0) {
		return Basis{}, fmt.Errorf("spectral: the length must be finite and positive, got %g", l)
	}
	b := Basis{N: n, L: l, BC: bc, Q: make([][]float64, n), K: make([]float64, n), Stencil: make([]float64, n)}
	for i := range b.Q {
		b.Q[i] = make([]float64, n)
	}
	// mode fills column k with φ(i+½) normalised to unit length, and records its continuous
	// wavenumber K and discrete frequency θ (radians per cell).
	mode := func(k int, phi func(c float64) float64, K, theta float64) {
		norm := 0.0
		for i := range n {
			v := phi(float64(i) + 0.5)
			b.Q[i][k] = v
			norm += v * v
		}
		norm = math.Sqrt(norm)
		for i := range n {
			b.Q[i][k] /= norm
		}
		b.K[k] = K
		s := math.Sin(theta / 2)
		dx := l / float64(n)
		b.Stencil[k] = -4 * s * s / (dx * dx)
	}
	switch bc {
	case grid.Periodic:
		mode(0, func(float64) float64 { return 1 }, 0, 0)
		for f := 1; 2*f <= n; f++ {
			theta := 2 * math.Pi * float64(f) / float64(n)
			K := 2 * math.Pi * float64(f) / l
			if 2*f == n { // Nyquist: cos(θc) is zero at the cell centres, sin(θc) = ±1.
				mode(n-1, func(c float64) float64 { return math.Sin(theta * c) }, K, theta)
				break
			}
			mode(2*f-1, func(c float64) float64 { return math.Cos(theta * c) }, K, theta)
			mode(2*f, func(c float64) float64 { return math.Sin(theta * c) }, K, theta)
		}
	case grid.Neumann:
		for k := range n {
			theta := math.Pi * float64(k) / float64(n)
			mode(k, func(c float64) float64 { return math.Cos(theta * c) }, math.Pi*float64(k)/l, theta)
		}
	case grid.Dirichlet:
		for k := range n {
			theta := math.Pi * float64(k+1) / float64(n)
			mode(k, func(c float64) float64 { return math.Sin(theta * c) }, math.Pi*float64(k+1)/l, theta)
		}
	default:
		return Basis{}, fmt.Errorf("spectral: boundary must be %q, %q or %q, got %q", grid.Periodic, grid.Dirichlet, grid.Neumann, bc)
	}
	return b, nil
}

// Forward is Qᵀ, the analysis matrix: the coefficients of a field in the basis, ĉ_k = Σᵢ Q[i][k]·uᵢ,
// are Apply(u, b.Forward(), a) (a new matrix each call).
func (b Basis) Forward() [][]float64 {
	t := make([][]float64, b.N)
	for k := range t {
		t[k] = make([]float64, b.N)
		for i := range t[k] {
			t[k][i] = b.Q[i][k]
		}
	}
	return t
}

// Inverse is Q, the synthesis matrix: the field of the coefficients ĉ, uᵢ = Σ_k Q[i][k]·ĉ_k, is
// Apply(ĉ, b.Inverse(), a). Q is orthonormal, so Inverse is Forward's transpose and inverse. It is
// b.Q itself, not a copy.
func (b Basis) Inverse() [][]float64 { return b.Q }

// Operator is the matrix Q diag(f(K)) Qᵀ: the function f of the continuous operator −d²/dx² seen
// through its symbol, e.g. f(k) = exp(−νk²t) for an exact heat step or f(k) = −k² for the spectral
// second derivative of a band-limited field.
func (b Basis) Operator(f func(k float64) float64) [][]float64 {
	return b.diagonal(b.K, f)
}

// StencilOperator is the matrix Q diag(f(λ)) Qᵀ over the 3-point stencil's eigenvalues λ, e.g.
// f(λ) = exp(νλt) for the exact time integration of the semi-discrete heat equation, or f(λ) = 1/λ
// (with the zero mode sent to zero) for the discrete Poisson solve.
func (b Basis) StencilOperator(f func(lam float64) float64) [][]float64 {
	return b.diagonal(b.Stencil, f)
}

// diagonal is Q diag(f(d)) Qᵀ.
func (b Basis) diagonal(d []float64, f func(float64) float64) [][]float64 {
	fd := make([]float64, b.N)
	for k, v := range d {
		fd[k] = f(v)
	}
	m := make([][]float64, b.N)
	for i := range m {
		m[i] = make([]float64, b.N)
		for j := range m[i] {
			s := 0.0
			for k, w := range fd {
				s += b.Q[i][k] * w * b.Q[j][k]
			}
			m[i][j] = s
		}
	}
	return m
}

// Apply is the n×n matrix m along grid axis a of the field u ([b, n] or [b, ny, nx]; grid axis a is
// field axis a+1): v[…, i, …] = Σⱼ m[i][j]·u[…, j, …], in u's dtype. It panics on a matrix that does
// not match the axis.
func Apply(u *Node, m [][]float64, a int) *Node {
	axis := a + 1
	if u.Rank() < 2 || u.Rank() > 3 || a < 0 || axis >= u.Rank() {
		panic(fmt.Sprintf("spectral.Apply: grid axis %d of a field of shape %s", a, u.Shape()))
	}
	n := u.Shape().Dimensions[axis]
	if len(m) != n || len(m[0]) != n {
		panic(fmt.Sprintf("spectral.Apply: a %d×%d matrix along an axis of %d cells", len(m), len(m[0]), n))
	}
	mat := grid.Constant(u.Graph(), u.DType(), slices.Concat(m...), n, n)
	// DotGeneral puts the free axis of the matrix last: move it back to where the grid axis was.
	v := DotGeneral(u, []int{axis}, nil, mat, []int{1}, nil)
	if axis == u.Rank()-1 {
		return v
	}
	perm := make([]int, 0, u.Rank())
	for i := range u.Rank() - 1 {
		if i == axis {
			perm = append(perm, u.Rank()-1)
		}
		perm = append(perm, i)
	}
	return TransposeAllDims(v, perm...)
}

// SquaredWavenumbers is |k|² = Σ_a K_a² of every mode (k_0, k_1, …) of the product basis of the
// axes' bases, row-major over the modes (the last axis varies fastest), as Transform orders the
// coefficients. A function of −∆ that is diagonal in the basis, such as a Gaussian random field's
// variances or the exact heat step's factors exp(−ν|k|²t), is a function of these.
func SquaredWavenumbers(bases ...Basis) []float64 {
	k2 := []float64{0}
	for _, b := range bases {
		next := make([]float64, 0, len(k2)*b.N)
		for _, v := range k2 {
			for _, k := range b.K {
				next = append(next, v+k*k)
			}
		}
		k2 = next
	}
	return k2
}

// Transform is Apply on the host, over every axis at once: ms[a] (len(ms[a]) × len(ms[a])) applied
// along axis a of the row-major field v of dimensions [len(ms[0]), len(ms[1]), …] (the last axis
// varies fastest). With the axes' Forward matrices it gives a field's coefficients, row-major over
// the modes; with their Inverse matrices, the field back. It panics when len(v) does not match.
func Transform(v []float64, ms ...[][]float64) []float64 {
	size := 1
	for _, m := range ms {
		size *= len(m)
	}
	if len(v) != size {
		panic(fmt.Sprintf("spectral.Transform: a field of %d values for matrices of total size %d", len(v), size))
	}
	// Axis a, from the last: out[o, i, r] = Σⱼ m[i][j]·v[o, j, r], r over the inner (later) axes.
	out, inner := slices.Clone(v), 1
	for a := len(ms) - 1; a >= 0; a-- {
		m, n := ms[a], len(ms[a])
		next := make([]float64, len(out))
		for o := range len(out) / (n * inner) {
			for i := range n {
				for r := range inner {
					sum := 0.0
					for j := range n {
						sum += m[i][j] * out[(o*n+j)*inner+r]
					}
					next[(o*n+i)*inner+r] = sum
				}
			}
		}
		out, inner = next, inner*n
	}
	return out
}
