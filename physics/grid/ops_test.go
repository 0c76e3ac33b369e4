package grid_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/physics/physicstest"
)

// eval runs fn once on float64 fields of the given dimensions and returns its flat output.
func eval(t *testing.T, b backends.Backend, fn func(in []*Node) *Node, dims []int, fields ...[]float64) []float64 {
	t.Helper()
	in := make([]any, len(fields))
	for i, f := range fields {
		in[i] = tensors.FromFlatDataAndDimensions(f, dims...)
	}
	out, err := ExecOnce(b, fn, in...)
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float64](out)
}

// sample is f at the cell centres of g, flat in row-major [1, ny, nx] (or [1, n]) order.
func sample(g grid.Grid, f func(x []float64) float64) []float64 {
	out := make([]float64, 0, g.Cells())
	c := make([][]float64, g.Dim())
	for a := range c {
		c[a] = g.Coords(a)
	}
	if g.Dim() == 1 {
		for _, x := range c[0] {
			out = append(out, f([]float64{x}))
		}
		return out
	}
	for _, y := range c[0] {
		for _, x := range c[1] {
			out = append(out, f([]float64{y, x}))
		}
	}
	return out
}

func maxErr(got, want []float64) float64 {
	e := 0.0
	for i := range got {
		e = max(e, math.Abs(got[i]-want[i]))
	}
	return e
}

func TestRoll(t *testing.T) {
	b := testbackend.Get(t)
	const bs, ny, nx = 2, 3, 5
	u := make([]float64, bs*ny*nx)
	for i := range u {
		u[i] = float64(i)
	}
	for a, n := range []int{ny, nx} {
		for _, k := range []int{-6, -1, 0, 1, 2, 7} {
			got := eval(t, b, func(in []*Node) *Node { return grid.Roll(in[0], a, k) }, []int{bs, ny, nx}, u)
			// The Go reference: out[i] = u[(i − k) mod n] along the axis.
			for p := range bs {
				for y := range ny {
					for x := range nx {
						sy, sx := y, x
						if a == 0 {
							sy = ((y-k)%n + n) % n
						} else {
							sx = ((x-k)%n + n) % n
						}
						if w := u[(p*ny+sy)*nx+sx]; got[(p*ny+y)*nx+x] != w {
							t.Fatalf("Roll(axis %d, k %d)[%d,%d,%d] = %g, want %g", a, k, p, y, x, got[(p*ny+y)*nx+x], w)
						}
					}
				}
			}
			// Its gradient: ∂/∂u Σ w·Roll(u, k) = Roll(w, −k), Roll being a permutation.
			grad := eval(t, b, func(in []*Node) *Node {
				return Gradient(ReduceAllSum(Mul(in[1], grid.Roll(in[0], a, k))), in[0])[0]
			}, []int{bs, ny, nx}, u, u)
			want := eval(t, b, func(in []*Node) *Node { return grid.Roll(in[0], a, -k) }, []int{bs, ny, nx}, u)
			if e := maxErr(grad, want); e != 0 {
				t.Fatalf("gradient of Roll(axis %d, k %d) off by %g", a, k, e)
			}
		}
	}
}

// smooth1D are test functions on [0, l) that satisfy each boundary condition, with their first and
// second derivatives. The Dirichlet one is odd about both walls and the Neumann one even, so that the
// ghost cells are exact and the stencils keep their interior order up to the walls.
var smooth1D = []struct {
	bc        grid.Boundary
	l         float64
	f, df, d2 func(x float64) float64
}{
	{grid.Periodic, 2 * math.Pi,
		func(x float64) float64 { return math.Exp(math.Sin(x)) },
		func(x float64) float64 { return math.Cos(x) * math.Exp(math.Sin(x)) },
		func(x float64) float64 { c, s := math.Cos(x), math.Sin(x); return (c*c - s) * math.Exp(s) }},
	{grid.Dirichlet, 1,
		func(x float64) float64 { return math.Sin(math.Pi*x) + 0.3*math.Sin(2*math.Pi*x) },
		func(x float64) float64 { return math.Pi * (math.Cos(math.Pi*x) + 0.6*math.Cos(2*math.Pi*x)) },
		func(x float64) float64 {
			return -math.Pi * math.Pi * (math.Sin(math.Pi*x) + 1.2*math.Sin(2*math.Pi*x))
		}},
	{grid.Neumann, 2,
		func(x float64) float64 { return math.Cos(math.Pi*x/2) + 0.3*math.Cos(3*math.Pi*x/2) },
		func(x float64) float64 { return -math.Pi / 2 * (math.Sin(math.Pi*x/2) + 0.9*math.Sin(3*math.Pi*x/2)) },
		func(x float64) float64 {
			return -math.Pi * math.Pi / 4 * (math.Cos(math.Pi*x/2) + 2.7*math.Cos(3*math.Pi*x/2))
		}},
}

// TestConvergence1D: central Derivative and Laplacian converge at order 2, upwind advection at order 1,
// central advection at order 2, for each boundary.
func TestConvergence1D(t *testing.T) {
	b := testbackend.Get(t)
	for _, c := range smooth1D {
		var eD, eL, eUp, eC []float64
		v := func(x float64) float64 { return math.Cos(2 * math.Pi * x / c.l) } // changes sign
		for _, n := range []int{32, 64, 128} {
			g := grid.New1D(n, c.l, c.bc)
			u := sample(g, func(x []float64) float64 { return c.f(x[0]) })
			vs := sample(g, func(x []float64) float64 { return v(x[0]) })
			dims := []int{1, n}
			d := eval(t, b, func(in []*Node) *Node { return g.Derivative(in[0], 0) }, dims, u)
			lap := eval(t, b, func(in []*Node) *Node { return g.Laplacian(in[0]) }, dims, u)
			up := eval(t, b, func(in []*Node) *Node { return g.AdvectUpwind(in[0], in[1:]) }, dims, u, vs)
			cen := eval(t, b, func(in []*Node) *Node { return g.AdvectCentral(in[0], in[1:]) }, dims, u, vs)
			eD = append(eD, maxErr(d, sample(g, func(x []float64) float64 { return c.df(x[0]) })))
			eL = append(eL, maxErr(lap, sample(g, func(x []float64) float64 { return c.d2(x[0]) })))
			adv := sample(g, func(x []float64) float64 { return v(x[0]) * c.df(x[0]) })
			eUp, eC = append(eUp, maxErr(up, adv)), append(eC, maxErr(cen, adv))
		}
		for _, o := range []struct {
			name string
			errs []float64
			want float64
		}{{"Derivative", eD, 2}, {"Laplacian", eL, 2}, {"AdvectUpwind", eUp, 1}, {"AdvectCentral", eC, 2}} {
			p := physicstest.Order(o.errs)
			t.Logf("%s %s: errors %.3g, order %.2f", c.bc, o.name, o.errs, p)
			if math.Abs(p-o.want) > 0.3 {
				t.Errorf("%s %s: order %.2f, want %g ± 0.3", c.bc, o.name, p, o.want)
			}
		}
	}
}

// TestConvergence2D: the Laplacian, Gradient, Divergence and both advections on ny ≠ nx grids with
// unequal lengths, on products of the 1-D test functions.
func TestConvergence2D(t *testing.T) {
	b := testbackend.Get(t)
	for _, c := range smooth1D {
		ly, lx := c.l, 1.5*c.l
		if c.bc != grid.Periodic { // keep the boundary's modes: the x function is the y function on the other length
			lx = c.l
		}
		fy, dfy, d2y := c.f, c.df, c.d2
		fx := func(x float64) float64 { return c.f(x * ly / lx) }
		dfx := func(x float64) float64 { return c.df(x*ly/lx) * ly / lx }
		d2x := func(x float64) float64 { return c.d2(x*ly/lx) * ly * ly / (lx * lx) }
		vy := func(p []float64) float64 { return math.Sin(2*math.Pi*p[1]/lx) + 0.2 }
		vx := func(p []float64) float64 { return math.Cos(2 * math.Pi * p[0] / ly) }
		var eL, eDiv, eUp, eC []float64
		for _, n := range []int{16, 32, 64} {
			g := grid.New2D(n, n+n/2, ly, lx, c.bc)
			dims := []int{1, g.N[0], g.N[1]}
			u := sample(g, func(p []float64) float64 { return fy(p[0]) * fx(p[1]) })
			uy := sample(g, func(p []float64) float64 { return dfy(p[0]) * fx(p[1]) })
			ux := sample(g, func(p []float64) float64 { return fy(p[0]) * dfx(p[1]) })
			lapW := sample(g, func(p []float64) float64 { return d2y(p[0])*fx(p[1]) + fy(p[0])*d2x(p[1]) })
			vys, vxs := sample(g, vy), sample(g, vx)
			adv := make([]float64, len(u))
			for i := range adv {
				adv[i] = vys[i]*uy[i] + vxs[i]*ux[i]
			}
			lap := eval(t, b, func(in []*Node) *Node { return g.Laplacian(in[0]) }, dims, u)
			// ∇·∇u = ∆u, but through the wide stencil (u[i+2] − 2u[i] + u[i−2])/(2dx)², also order 2 on
			// a periodic grid (elsewhere ∇u has the other parity at the walls than the ghosts assume).
			if c.bc == grid.Periodic {
				div := eval(t, b, func(in []*Node) *Node { return g.Divergence(g.Gradient(in[0])) }, dims, u)
				eDiv = append(eDiv, maxErr(div, lapW))
			}
			up := eval(t, b, func(in []*Node) *Node { return g.AdvectUpwind(in[0], in[1:]) }, dims, u, vys, vxs)
			cen := eval(t, b, func(in []*Node) *Node { return g.AdvectCentral(in[0], in[1:]) }, dims, u, vys, vxs)
			eL = append(eL, maxErr(lap, lapW))
			eUp, eC = append(eUp, maxErr(up, adv)), append(eC, maxErr(cen, adv))
		}
		checks := []struct {
			name string
			errs []float64
			want float64
		}{{"Laplacian", eL, 2}, {"AdvectUpwind", eUp, 1}, {"AdvectCentral", eC, 2}}
		if c.bc == grid.Periodic {
			checks = append(checks, checks[0])
			checks[len(checks)-1].name, checks[len(checks)-1].errs = "Divergence∘Gradient", eDiv
		}
		for _, o := range checks {
			p := physicstest.Order(o.errs)
			t.Logf("2-D %s %s: errors %.3g, order %.2f", c.bc, o.name, o.errs, p)
			if math.Abs(p-o.want) > 0.3 {
				t.Errorf("2-D %s %s: order %.2f, want %g ± 0.3", c.bc, o.name, p, o.want)
			}
		}
	}
}

// TestDivergence2D is the central divergence of v = (sin y cos x, cos y sin x) on the periodic grid,
// against the exact 2·cos y cos x, at order 2.
func TestDivergence2D(t *testing.T) {
	b := testbackend.Get(t)
	var errs []float64
	for _, n := range []int{16, 32, 64} {
		g := grid.New2D(n, 2*n, 2*math.Pi, 2*math.Pi, grid.Periodic)
		vy := sample(g, func(p []float64) float64 { return math.Sin(p[0]) * math.Cos(p[1]) })
		vx := sample(g, func(p []float64) float64 { return math.Cos(p[0]) * math.Sin(2*p[1]) })
		want := sample(g, func(p []float64) float64 { return math.Cos(p[0])*math.Cos(p[1]) + 2*math.Cos(p[0])*math.Cos(2*p[1]) })
		got := eval(t, b, func(in []*Node) *Node { return g.Divergence(in) }, []int{1, n, 2 * n}, vy, vx)
		errs = append(errs, maxErr(got, want))
	}
	if p := physicstest.Order(errs); math.Abs(p-2) > 0.3 {
		t.Errorf("Divergence: errors %.3g, order %.2f, want 2 ± 0.3", errs, p)
	}
}

// TestFaces: the face states and FaceDifference of a conservative flux F = u²/2 (central), whose
// cell sums telescope to the wall fluxes: zero for periodic grids.
func TestFaces(t *testing.T) {
	b := testbackend.Get(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 7
	u := make([]float64, 2*n)
	for i := range u {
		u[i] = rng.NormFloat64()
	}
	for _, bc := range []grid.Boundary{grid.Periodic, grid.Dirichlet, grid.Neumann} {
		g := grid.New1D(n, 1, bc)
		out := eval(t, b, func(in []*Node) *Node {
			l, r := g.Faces(in[0], 0)
			f := MulScalar(Add(Square(l), Square(r)), 0.25)
			return ReduceSum(g.FaceDifference(f, 0), 1)
		}, []int{2, n}, u)
		for p := range 2 {
			row := u[p*n : (p+1)*n]
			ghost := map[grid.Boundary][2]float64{
				grid.Periodic:  {row[n-1], row[0]},
				grid.Dirichlet: {-row[0], -row[n-1]},
				grid.Neumann:   {row[0], row[n-1]},
			}[bc]
			// Σ_i (F_{i+½} − F_{i−½})/dx = (F_n − F_0)/dx.
			f0 := (ghost[0]*ghost[0] + row[0]*row[0]) / 4
			fn := (row[n-1]*row[n-1] + ghost[1]*ghost[1]) / 4
			if want := (fn - f0) * n; math.Abs(out[p]-want) > 1e-12 {
				t.Errorf("%s: Σ FaceDifference = %g, want %g", bc, out[p], want)
			}
		}
	}
}

// TestGradients: the gradient of a loss through every operator, with respect to the field and the
// velocity, against central finite differences, for each boundary in 1-D and 2-D.
func TestGradients(t *testing.T) {
	b := testbackend.Get(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, g := range []grid.Grid{grid.New1D(6, 1, grid.Periodic), grid.New2D(4, 5, 1, 2, grid.Periodic), grid.New2D(4, 5, 1, 2, grid.Dirichlet), grid.New2D(5, 4, 2, 1, grid.Neumann)} {
		dims := append([]int{2}, g.N...)
		size := 2 * g.Cells()
		nIn := 1 + g.Dim()
		in := make([][]float64, nIn)
		w := make([]float64, size)
		for i := range in {
			in[i] = make([]float64, size)
			for j := range in[i] {
				in[i][j] = rng.NormFloat64()
			}
		}
		for j := range w {
			w[j] = rng.NormFloat64()
		}
		loss := func(in []*Node) *Node {
			u, v, wt := in[0], in[1:nIn], in[nIn]
			out := Add(g.Laplacian(u), g.AdvectUpwind(Square(u), v))
			out = Add(out, g.AdvectCentral(Sin(u), v))
			out = Add(out, Mul(g.Divergence(v), g.Gradient(u)[g.Dim()-1]))
			out = Add(out, grid.Roll(u, g.Dim()-1, 2))
			return ReduceAllSum(Mul(wt, Square(out)))
		}
		args := make([]any, 0, nIn+1)
		for _, f := range in {
			args = append(args, tensors.FromFlatDataAndDimensions(f, dims...))
		}
		args = append(args, tensors.FromFlatDataAndDimensions(w, dims...))
		grads := MustNewExec(b, func(in []*Node) []*Node { return Gradient(loss(in), in[:nIn]...) }).MustExec(args...)
		lossExec := MustNewExec(b, loss)
		const eps = 1e-6
		for i := range nIn {
			got := tensors.MustCopyFlatData[float64](grads[i])
			for j := range size {
				at := func(h float64) float64 {
					x := append([]float64(nil), in[i]...)
					x[j] += h
					a := append([]any(nil), args...)
					a[i] = tensors.FromFlatDataAndDimensions(x, dims...)
					return tensors.MustCopyFlatData[float64](lossExec.MustExec(a...)[0])[0]
				}
				fd := (at(eps) - at(-eps)) / (2 * eps)
				if math.Abs(got[j]-fd) > 1e-5*(1+math.Abs(fd)) {
					t.Errorf("grid %v %s: ∂loss/∂input%d[%d] = %g, finite differences %g", g.N, g.BC, i, j, got[j], fd)
				}
			}
		}
	}
}
