package smoke

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/physics/spectral"
)

// The staggered (MAC) grid of the closed box. On ny × nx cells of widths dy, dx, with field index
// [b, j, i] (j along y, i along x):
//
//   - density and pressure sit at the cell centres ((i+½)dx, (j+½)dy);
//   - vx[j, i] sits on the face x = i·dx between cells i−1 and i; i = 0 is the left wall, where vx
//     stays zero, and the right wall face x = nx·dx, also zero, is not stored;
//   - vy[j, i] sits on the face y = j·dy between cells j−1 and j; j = 0 is the bottom wall, where vy
//     stays zero, and the top wall face is not stored.
//
// So every field is [b, ny, nx], and the discrete divergence D and gradient G below satisfy
// D·G = the 5-point Laplacian with Neumann ghosts (ghost = edge cell), which spectral's DCT-II basis
// diagonalizes: the pressure solve is exact and the projected velocity is divergence-free to
// rounding.

// after is u[i+1] along field axis `axis`, with the face beyond the last (the wall) set to zero.
func after(u *Node, axis int) *Node {
	n := u.Shape().Dimensions[axis]
	return Concatenate([]*Node{SliceAxis(u, axis, AxisRange(1, n)), ZerosLike(SliceAxis(u, axis, AxisRange(0, 1)))}, axis)
}

// before is u[i−1] along field axis `axis`, with the value before the first repeating the first: the
// callers either mask that entry or want the edge value there.
func before(u *Node, axis int) *Node {
	n := u.Shape().Dimensions[axis]
	return Concatenate([]*Node{SliceAxis(u, axis, AxisRange(0, 1)), SliceAxis(u, axis, AxisRange(0, n-1))}, axis)
}

// extend appends the zero wall face after the last stored face along field axis `axis`: the samples
// of vx ([b, ny, nx+1]) or vy ([b, ny+1, nx]) that semi-Lagrangian advection interpolates between.
func extend(u *Node, axis int) *Node {
	return Concatenate([]*Node{u, ZerosLike(SliceAxis(u, axis, AxisRange(0, 1)))}, axis)
}

// Divergence is the MAC divergence ∇·v of a velocity (vx, vy) on the faces of box g ([b, ny, nx]
// each, the layout above) at the cell centres,
//
//	(D v)[j, i] = (vx[j, i+1] − vx[j, i])/dx + (vy[j+1, i] − vy[j, i])/dy,
//
// with the wall faces zero. It is the divergence the projection removes, so on the velocity of a
// step it is zero to rounding: the incompressibility check of a state (grid.Divergence's central
// differences of cell-centred fields do not apply to the staggered velocity).
func Divergence(g grid.Grid, vx, vy *Node) *Node {
	dy, dx := g.Dx(0), g.Dx(1)
	return Add(DivScalar(Sub(after(vx, 2), vx), dx), DivScalar(Sub(after(vy, 1), vy), dy))
}

// gradient is the MAC gradient of a cell-centred p on the faces,
// (G p)x[j, i] = (p[j, i] − p[j, i−1])/dx and (G p)y[j, i] = (p[j, i] − p[j−1, i])/dy, zero on the
// wall faces (i = 0, j = 0): before repeats the edge there, so the difference vanishes.
func gradient(g grid.Grid, p *Node) (gx, gy *Node) {
	dy, dx := g.Dx(0), g.Dx(1)
	return DivScalar(Sub(p, before(p, 2)), dx), DivScalar(Sub(p, before(p, 1)), dy)
}

// wallMask is 1 on the stored faces of a velocity component and 0 on its wall faces (index 0 along
// field axis `axis`), as [1, ny, nx] in graph gr.
func wallMask(gr *Graph, g grid.Grid, dtype dtypes.DType, axis int) *Node {
	ny, nx := g.N[0], g.N[1]
	m := make([][]float64, ny)
	for j := range m {
		m[j] = make([]float64, nx)
		for i := range m[j] {
			if (axis == 1 && j > 0) || (axis == 2 && i > 0) {
				m[j][i] = 1
			}
		}
	}
	return InsertAxes(ConstAsDType(gr, dtype, m), 0)
}

// Projection is the exact pressure projection of the closed box: v ↦ v − G p with
// D G p = D v (the Poisson equation ∆p = ∇·v with Neumann walls), solved in the DCT-II eigenbasis
// of the 5-point Laplacian: p = Qy (Qyᵀ r Qx ./ λ) Qxᵀ with λ[k, l] = λy[k] + λx[l] and the mean mode
// (λ = 0) dropped, for r = D v. The mean of r is zero (no flux through the walls), so after the
// projection D v = 0 to rounding.
type Projection struct {
	g                grid.Grid
	qy, qyT, qx, qxT [][]float64
	invLambda        [][]float64
}

// NewProjection builds the projection of the Neumann 2-D grid g.
func NewProjection(g grid.Grid) (*Projection, error) {
	if err := g.Check(); err != nil {
		return nil, err
	}
	if g.Dim() != 2 || g.BC != grid.Neumann {
		return nil, fmt.Errorf("smoke: the box is a 2-D grid with Neumann (closed) walls, got %d-D %q: use grid.New2D(ny, nx, ly, lx, grid.Neumann)", g.Dim(), g.BC)
	}
	by, err := spectral.New(g.N[0], g.L[0], grid.Neumann)
	if err != nil {
		return nil, err
	}
	bx, err := spectral.New(g.N[1], g.L[1], grid.Neumann)
	if err != nil {
		return nil, err
	}
	p := &Projection{g: g, qy: by.Inverse(), qyT: by.Forward(), qx: bx.Inverse(), qxT: bx.Forward()}
	p.invLambda = make([][]float64, g.N[0])
	for k, ly := range by.Stencil {
		p.invLambda[k] = make([]float64, g.N[1])
		for l, lx := range bx.Stencil {
			if k+l > 0 { // the mean mode (k = l = 0) has λ = 0 and carries no divergence
				p.invLambda[k][l] = 1 / (ly + lx)
			}
		}
	}
	return p, nil
}

// Pressure solves ∆p = r (5-point, Neumann walls) for a zero-mean r, with zero-mean p.
func (p *Projection) Pressure(r *Node) *Node {
	hat := spectral.Apply(spectral.Apply(r, p.qyT, 0), p.qxT, 1)
	hat = Mul(hat, grid.Constant(r.Graph(), r.DType(), slices.Concat(p.invLambda...), 1, len(p.invLambda), len(p.invLambda[0])))
	return spectral.Apply(spectral.Apply(hat, p.qy, 0), p.qx, 1)
}

// Apply is the projected velocity v − G p, with p from D v.
func (p *Projection) Apply(vx, vy *Node) (*Node, *Node) {
	gx, gy := gradient(p.g, p.Pressure(Divergence(p.g, vx, vy)))
	return Sub(vx, gx), Sub(vy, gy)
}

// sample interpolates f ([b, my, mx]) bilinearly at the fractional indices (py, px) ([b, ny, nx];
// index j is f's sample j along its axis 1), clamped to f's samples, so that beyond the ends f
// repeats its edge values. The corners are read with Gather, whose gradient (a scatter-add) carries
// the derivative to f; the weights carry it to the positions (floor is piecewise constant).
func sample(f, py, px *Node) *Node {
	dims := f.Shape().Dimensions
	b, my, mx := dims[0], dims[1], dims[2]
	py = MinScalar(MaxScalar(py, 0.0), float64(my-1))
	px = MinScalar(MaxScalar(px, 0.0), float64(mx-1))
	j0 := MinScalar(StopGradient(Floor(py)), float64(my-2))
	i0 := MinScalar(StopGradient(Floor(px)), float64(mx-2))
	wy, wx := Sub(py, j0), Sub(px, i0)

	// The flat index of corner (j0, i0) in f reshaped to [b·my·mx].
	row := MulScalar(Iota(f.Graph(), shapes.Make(dtypes.Int32, py.Shape().Dimensions...), 0), my*mx)
	idx := Add(row, Add(MulScalar(ConvertDType(j0, dtypes.Int32), mx), ConvertDType(i0, dtypes.Int32)))
	// Gather reads f[idx] from the flat f with the indices flattened too: GoMLX v0.26's shape check
	// rejects indices of a higher rank than the operand's plus one.
	flat, m := Reshape(f, b*my*mx), py.Shape().Size()
	idx = Reshape(idx, m, 1)
	at := func(offset int) *Node { return Reshape(Gather(flat, AddScalar(idx, offset)), py.Shape().Dimensions...) }
	f00, f01, f10, f11 := at(0), at(1), at(mx), at(mx+1)
	lower := Add(f00, Mul(wx, Sub(f01, f00)))
	upper := Add(f10, Mul(wx, Sub(f11, f10)))
	return Add(lower, Mul(wy, Sub(upper, lower)))
}
