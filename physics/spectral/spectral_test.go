package spectral

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/physics/grid"
)

var boundaries = []grid.Boundary{grid.Periodic, grid.Neumann, grid.Dirichlet}

// stencil is the n×n matrix of (u[i+1] − 2u[i] + u[i−1])/dx² with the boundary's ghost cells.
func stencil(n int, l float64, bc grid.Boundary) [][]float64 {
	dx := l / float64(n)
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n)
	}
	// add adds the weight w of neighbour j of cell i, mapping ghosts to cells by the boundary.
	add := func(i, j int, w float64) {
		if j >= 0 && j < n {
			a[i][j] += w
			return
		}
		edge := i // the ghost beyond the wall next to cell i mirrors i
		switch bc {
		case grid.Periodic:
			a[i][(j+n)%n] += w
		case grid.Neumann:
			a[i][edge] += w
		case grid.Dirichlet:
			a[i][edge] -= w
		}
	}
	for i := range n {
		a[i][i] -= 2 / (dx * dx)
		add(i, i-1, 1/(dx*dx))
		add(i, i+1, 1/(dx*dx))
	}
	return a
}

func TestNewErrors(t *testing.T) {
	for _, c := range []struct {
		n  int
		l  float64
		bc grid.Boundary
	}{{1, 1, grid.Periodic}, {MaxN + 1, 1, grid.Periodic}, {8, 0, grid.Neumann}, {8, math.Inf(1), grid.Neumann}, {8, math.NaN(), grid.Neumann}, {8, 1, "reflective"}} {
		if _, err := New(c.n, c.l, c.bc); err == nil {
			t.Errorf("New(%d, %g, %q): no error", c.n, c.l, c.bc)
		}
	}
}

// TestBasis checks that Q is orthonormal, that Qᵀ A Q = diag(Stencil) for the stencil matrix A with
// the boundary's ghosts, and that each mode is cos/sin(K·x) up to a constant factor (so d²/dx² of
// it is −K² times it).
func TestBasis(t *testing.T) {
	for _, bc := range boundaries {
		for _, n := range []int{2, 7, 16} {
			l := 2.5
			b, err := New(n, l, bc)
			if err != nil {
				t.Fatal(err)
			}
			a := stencil(n, l, bc)
			scale := 4 / math.Pow(l/float64(n), 2)
			var orth, diag float64
			for j := range n {
				for k := range n {
					var qq, qaq float64
					for i := range n {
						qq += b.Q[i][j] * b.Q[i][k]
						for m := range n {
							qaq += b.Q[i][j] * a[i][m] * b.Q[m][k]
						}
					}
					if j == k {
						qq--
						qaq -= b.Stencil[k]
					}
					orth = math.Max(orth, math.Abs(qq))
					diag = math.Max(diag, math.Abs(qaq)/scale)
				}
			}
			if orth > 1e-12 || diag > 1e-12 {
				t.Errorf("%s n=%d: |QᵀQ − I| = %.2g, |QᵀAQ − diag(Stencil)|/(4/dx²) = %.2g", bc, n, orth, diag)
			}
			for k := 1; k < n; k++ {
				if b.K[k] < b.K[k-1] {
					t.Errorf("%s n=%d: K not increasing at %d: %v", bc, n, k, b.K)
				}
			}
		}
	}
}

// TestSecondDerivative applies Operator(k → −k²) to a smooth band-limited field of each boundary
// and compares with its exact second derivative at the cell centres.
func TestSecondDerivative(t *testing.T) {
	const n, l = 32, 3.0
	x := make([]float64, n)
	for i := range x {
		x[i] = (float64(i) + 0.5) * l / n
	}
	// Each field is a sum of modes the basis holds exactly; w are their wavenumbers.
	fields := map[grid.Boundary]func(x float64) (u, uxx float64){
		grid.Periodic: func(x float64) (float64, float64) {
			w1, w2 := 2*math.Pi/l, 2*math.Pi*5/l
			return 0.3 + math.Cos(w1*x) + 0.5*math.Sin(w2*x), -w1*w1*math.Cos(w1*x) - 0.5*w2*w2*math.Sin(w2*x)
		},
		grid.Neumann: func(x float64) (float64, float64) {
			w1, w2 := math.Pi*2/l, math.Pi*7/l
			return 1 + math.Cos(w1*x) - 2*math.Cos(w2*x), -w1*w1*math.Cos(w1*x) + 2*w2*w2*math.Cos(w2*x)
		},
		grid.Dirichlet: func(x float64) (float64, float64) {
			w1, w2 := math.Pi/l, math.Pi*4/l
			return math.Sin(w1*x) + 0.25*math.Sin(w2*x), -w1*w1*math.Sin(w1*x) - 0.25*w2*w2*math.Sin(w2*x)
		},
	}
	for _, bc := range boundaries {
		b, _ := New(n, l, bc)
		d2 := b.Operator(func(k float64) float64 { return -k * k })
		var worst, size float64
		for i := range n {
			got := 0.0
			for j := range n {
				u, _ := fields[bc](x[j])
				got += d2[i][j] * u
			}
			_, want := fields[bc](x[i])
			worst = math.Max(worst, math.Abs(got-want))
			size = math.Max(size, math.Abs(want))
		}
		if worst > 1e-10*size {
			t.Errorf("%s: spectral u'' off by %.2g (max |u''| = %.3g)", bc, worst, size)
		}
	}
}

// TestStencilOperator: StencilOperator(λ → λ) is the stencil matrix itself.
func TestStencilOperator(t *testing.T) {
	for _, bc := range boundaries {
		b, _ := New(9, 1, bc)
		got, want := b.StencilOperator(func(lam float64) float64 { return lam }), stencil(9, 1, bc)
		for i := range got {
			for j := range got[i] {
				if math.Abs(got[i][j]-want[i][j]) > 1e-12*81*4 {
					t.Fatalf("%s: [%d][%d] = %g, want %g", bc, i, j, got[i][j], want[i][j])
				}
			}
		}
	}
}

func randomMatrix(r *rand.Rand, n int) [][]float64 {
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
		for j := range m[i] {
			m[i][j] = r.NormFloat64()
		}
	}
	return m
}

// TestApply compares Apply with a Go matrix product along each axis of 1-D and 2-D fields, and its
// gradient ∂/∂u Σ w·(M u) with Mᵀ w.
func TestApply(t *testing.T) {
	backend := testbackend.Get(t)
	r := rand.New(rand.NewPCG(1, 2))
	const bs, ny, nx = 2, 3, 5
	my, mx := randomMatrix(r, ny), randomMatrix(r, nx)
	field := func() [][][]float64 {
		f := make([][][]float64, bs)
		for b := range f {
			f[b] = make([][]float64, ny)
			for y := range f[b] {
				f[b][y] = make([]float64, nx)
				for x := range f[b][y] {
					f[b][y][x] = r.NormFloat64()
				}
			}
		}
		return f
	}
	u, w := field(), field()
	// want[b][y][x] along axis a, and the gradient Mᵀw along axis a.
	product := func(f [][][]float64, m [][]float64, a int, transpose bool) [][][]float64 {
		out := make([][][]float64, bs)
		for b := range bs {
			out[b] = make([][]float64, ny)
			for y := range ny {
				out[b][y] = make([]float64, nx)
				for x := range nx {
					for j := range len(m) {
						i, mij := y, 0.0
						if a == 1 {
							i = x
						}
						if transpose {
							mij = m[j][i]
						} else {
							mij = m[i][j]
						}
						if a == 0 {
							out[b][y][x] += mij * f[b][j][x]
						} else {
							out[b][y][x] += mij * f[b][y][j]
						}
					}
				}
			}
		}
		return out
	}
	for a, m := range [][][]float64{my, mx} {
		outs := MustExecOnceN(backend, func(u, w *Node) []*Node {
			v := Apply(u, m, a)
			return []*Node{v, Gradient(ReduceAllSum(Mul(v, w)), u)[0]}
		}, u, w)
		got, grad := outs[0].Value().([][][]float64), outs[1].Value().([][][]float64)
		want, wantGrad := product(u, m, a, false), product(w, m, a, true)
		for b := range bs {
			for y := range ny {
				for x := range nx {
					if math.Abs(got[b][y][x]-want[b][y][x]) > 1e-12 || math.Abs(grad[b][y][x]-wantGrad[b][y][x]) > 1e-12 {
						t.Fatalf("2-D axis %d at [%d][%d][%d]: %g, %g; want %g, %g", a, b, y, x, got[b][y][x], grad[b][y][x], want[b][y][x], wantGrad[b][y][x])
					}
				}
			}
		}
	}
	// 1-D: the rows u[b][0] of length nx, in float32 (Apply keeps the field's dtype).
	u1 := [][]float32{make([]float32, nx), make([]float32, nx)}
	for b := range u1 {
		for x := range nx {
			u1[b][x] = float32(u[b][0][x])
		}
	}
	got := MustExecOnce(backend, func(u *Node) *Node { return Apply(u, mx, 0) }, u1).Value().([][]float32)
	want := product(u, mx, 1, false)
	for b := range u1 {
		for x := range nx {
			if math.Abs(float64(got[b][x])-want[b][0][x]) > 1e-5 {
				t.Fatalf("1-D at [%d][%d]: %g, want %g", b, x, got[b][x], want[b][0][x])
			}
		}
	}
}

// TestForwardInverse checks that Forward is Qᵀ and undoes Inverse (Q), on the host (Transform) and
// in a graph (Apply), for each boundary on a 2-D field, and the row-major order of SquaredWavenumbers.
func TestForwardInverse(t *testing.T) {
	backend := testbackend.Get(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, bc := range boundaries {
		by, err := New(6, 2, bc)
		if err != nil {
			t.Fatal(err)
		}
		bx, err := New(5, 1, bc)
		if err != nil {
			t.Fatal(err)
		}
		k2 := SquaredWavenumbers(by, bx)
		for k := range by.N {
			for l := range bx.N {
				if want := by.K[k]*by.K[k] + bx.K[l]*bx.K[l]; k2[k*bx.N+l] != want {
					t.Fatalf("%s: |k|² of mode (%d, %d) = %g, want %g", bc, k, l, k2[k*bx.N+l], want)
				}
			}
		}
		f := bx.Forward()
		for i := range bx.N {
			for k := range bx.N {
				if f[k][i] != bx.Q[i][k] {
					t.Fatalf("%s: Forward()[%d][%d] = %g, want Q[%d][%d] = %g", bc, k, i, f[k][i], i, k, bx.Q[i][k])
				}
			}
		}
		u := make([]float64, by.N*bx.N)
		for i := range u {
			u[i] = r.NormFloat64()
		}
		c := Transform(u, by.Forward(), bx.Forward())
		back := Transform(c, by.Inverse(), bx.Inverse())
		graph := MustExecOnce(backend, func(u *Node) *Node {
			v := Reshape(u, 1, by.N, bx.N)
			return Reshape(Apply(Apply(v, by.Forward(), 0), bx.Forward(), 1), -1)
		}, u).Value().([]float64)
		for i := range u {
			if math.Abs(back[i]-u[i]) > 1e-12 || math.Abs(graph[i]-c[i]) > 1e-12 {
				t.Fatalf("%s at %d: Inverse(Forward(u)) = %g (want u = %g); Apply gives %g, Transform %g",
					bc, i, back[i], u[i], graph[i], c[i])
			}
		}
	}
}
