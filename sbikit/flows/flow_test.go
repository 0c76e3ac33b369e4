package flows

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/internal/testbackend"
)

// testConfig is a small flow of each kind: enough transforms that both halves of every coupling split
// and both autoregressive orders appear.
func testConfig(kind string) Config {
	return Config{Kind: kind, Transforms: 4, Hidden: 16, Layers: 2, Bins: 6, Bound: 3}
}

// randomFlow builds a flow over dim dimensions with a dc-dimensional context and replaces every
// parameter (the output layers start at zero, which would make each transform the identity) by
// N(0, scale²) draws, so that the tests see a nonlinear, conditional map.
func randomFlow(t *testing.T, kind string, dim, dc int, scale float64, seed uint64) (Flow, *context.Context) {
	t.Helper()
	f, err := New(testConfig(kind), dim)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New().Checked(false)
	if err := ctx.SetRNGStateFromSeed(int64(seed)); err != nil {
		t.Fatal(err)
	}
	// One evaluation creates the variables.
	runCtx(t, ctx, func(ctx *context.Context, x, c *Node) *Node { return f.LogProb(ctx, x, c) },
		make([]float64, dim), 1, dim, make([]float64, dc), 1, dc)
	rng := rand.New(rand.NewPCG(seed, 1))
	ctx.EnumerateVariables(func(v *context.Variable) {
		if !v.Trainable {
			return
		}
		vals := make([]float64, v.Shape().Size())
		for i := range vals {
			vals[i] = scale * rng.NormFloat64()
		}
		v.SetValue(tensors.FromFlatDataAndDimensions(vals, v.Shape().Dimensions...))
	})
	return f, ctx
}

// runCtx evaluates fn on x [n, d] and c [nc, dc] (float64) and returns its outputs as flat slices.
func runCtx(t *testing.T, ctx *context.Context, fn any, x []float64, n, d int, c []float64, nc, dc int) [][]float64 {
	t.Helper()
	exec, err := context.NewExecAny(testbackend.Get(t), ctx, fn)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, n, d), tensors.FromFlatDataAndDimensions(c, nc, dc))
	if err != nil {
		t.Fatal(err)
	}
	flat := make([][]float64, len(outs))
	for i, o := range outs {
		flat[i] = tensors.MustCopyFlatData[float64](o)
	}
	return flat
}

func normals(rng *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * rng.NormFloat64()
	}
	return v
}

// TestTransformsInvert checks, for every transform of every kind, that Inverse(Forward(x)) = x to 1e-5
// and that the two log-determinants cancel; and, for the whole flow, that Sample's log q(x) equals
// LogProb(x) at the sampled x, which exercises the inverse pass of all transforms together.
func TestTransformsInvert(t *testing.T) {
	const n, d, dc = 64, 3, 2
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			f, ctx := randomFlow(t, kind, d, dc, 0.3, 11)
			rng := rand.New(rand.NewPCG(12, 13))
			x, c := normals(rng, n*d, 2), normals(rng, n*dc, 1) // x reaches the spline tails
			for k, tr := range f.Transforms {
				out := runCtx(t, ctx, func(ctx *context.Context, x, c *Node) (*Node, *Node, *Node) {
					z, ldF := tr.Forward(scope(ctx, k), x, c)
					back, ldI := tr.Inverse(scope(ctx, k), z, c)
					return z, back, Add(ldF, ldI)
				}, x, n, d, c, n, dc)
				if maxAbsDiff(out[0], x) < 1e-3 {
					t.Errorf("transform %d is (nearly) the identity; the test would not see a wrong inverse", k)
				}
				if e := maxAbsDiff(out[1], x); e > 1e-5 {
					t.Errorf("transform %d: |Inverse(Forward(x)) − x| = %g > 1e-5", k, e)
				}
				if e := maxAbs(out[2]); e > 1e-5 {
					t.Errorf("transform %d: log-dets of Forward and Inverse do not cancel: %g", k, e)
				}
			}
			out := runCtx(t, ctx, func(ctx *context.Context, eps, c *Node) (*Node, *Node) {
				xs, lq := f.Sample(ctx, eps, c)
				return lq, f.LogProb(ctx, xs, c)
			}, x, n, d, c, n, dc)
			if e := maxAbsDiff(out[0], out[1]); e > 1e-6 {
				t.Errorf("Sample's log q differs from LogProb at its samples by %g", e)
			}
		})
	}
}

// TestLogDetAgainstJacobian compares each flow's log q with the change of variables computed from a
// central-difference Jacobian of the whole map x → z: log q = log N(z) + log|det ∂z/∂x|.
func TestLogDetAgainstJacobian(t *testing.T) {
	const n, d, dc, h = 8, 3, 2, 1e-5
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			f, ctx := randomFlow(t, kind, d, dc, 0.3, 21)
			rng := rand.New(rand.NewPCG(22, 23))
			x0, c0 := normals(rng, n*d, 1.5), normals(rng, n*dc, 1)
			// Row block 0 is x; block 1+2j is x + h e_j, block 2+2j is x − h e_j.
			blocks := 1 + 2*d
			x, c := make([]float64, 0, blocks*n*d), make([]float64, 0, blocks*n*dc)
			for b := range blocks {
				for r := range n {
					row := append([]float64(nil), x0[r*d:(r+1)*d]...)
					if b > 0 {
						row[(b-1)/2] += h * float64(1-2*((b-1)%2))
					}
					x = append(x, row...)
					c = append(c, c0[r*dc:(r+1)*dc]...)
				}
			}
			out := runCtx(t, ctx, func(ctx *context.Context, x, c *Node) (*Node, *Node) {
				z := x
				for k, tr := range f.Transforms {
					z, _ = tr.Forward(scope(ctx, k), z, c)
				}
				return z, f.LogProb(ctx, x, c)
			}, x, blocks*n, d, c, blocks*n, dc)
			z, lq := out[0], out[1]
			for r := range n {
				jac := make([][]float64, d)
				for i := range d {
					jac[i] = make([]float64, d)
					for j := range d {
						plus, minus := ((1+2*j)*n+r)*d+i, ((2+2*j)*n+r)*d+i
						jac[i][j] = (z[plus] - z[minus]) / (2 * h)
					}
				}
				logNormal := 0.0
				for i := range d {
					logNormal += -0.5*z[r*d+i]*z[r*d+i] - 0.5*math.Log(2*math.Pi)
				}
				want := logNormal + math.Log(math.Abs(det(jac)))
				if math.Abs(lq[r]-want) > 1e-4 {
					t.Errorf("row %d: log q = %.8f, from the numerical Jacobian %.8f", r, lq[r], want)
				}
			}
		})
	}
}

// TestDensityIntegratesToOne integrates q(x|c) of a 2-D flow of each kind over a grid by the midpoint
// rule and checks that the mass is 1 within 1%, for two contexts. The grid covers the box of 4,000 of
// the flow's own samples, widened by half its size on each side, so that it holds all but a negligible
// part of the mass whatever the random flow looks like. The test also checks that q is not the base
// density, which would integrate to 1 whatever the log-determinants were.
func TestDensityIntegratesToOne(t *testing.T) {
	const d, dc, cells, draws = 2, 2, 300, 4000
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			f, ctx := randomFlow(t, kind, d, dc, 0.25, 31)
			for _, c := range [][]float64{{0.5, -1}, {-1.5, 0.7}} {
				eps := normals(rand.New(rand.NewPCG(32, 33)), draws*d, 1)
				samples := runCtx(t, ctx, func(ctx *context.Context, eps, c *Node) *Node {
					x, _ := f.Sample(ctx, eps, c)
					return x
				}, eps, draws, d, c, 1, dc)[0]
				lo, hi := []float64{math.Inf(1), math.Inf(1)}, []float64{math.Inf(-1), math.Inf(-1)}
				for i, v := range samples {
					lo[i%d], hi[i%d] = math.Min(lo[i%d], v), math.Max(hi[i%d], v)
				}
				step := make([]float64, d)
				for j := range d {
					w := hi[j] - lo[j]
					lo[j] -= w / 2
					step[j] = 2 * w / cells
				}
				x := make([]float64, 0, cells*cells*d)
				for i := range cells {
					for j := range cells {
						x = append(x, lo[0]+(float64(i)+0.5)*step[0], lo[1]+(float64(j)+0.5)*step[1])
					}
				}
				out := runCtx(t, ctx, func(ctx *context.Context, x, c *Node) *Node { return f.LogProb(ctx, x, c) },
					x, cells*cells, d, c, 1, dc)
				mass, maxDiff := 0.0, 0.0
				for r, lq := range out[0] {
					mass += math.Exp(lq) * step[0] * step[1]
					base := -0.5*(x[2*r]*x[2*r]+x[2*r+1]*x[2*r+1]) - math.Log(2*math.Pi)
					if math.Exp(base) > 1e-3 {
						maxDiff = math.Max(maxDiff, math.Abs(lq-base))
					}
				}
				t.Logf("context %v: ∫q = %.5f over [%.2f, %.2f]×[%.2f, %.2f]", c, mass, lo[0], lo[0]+cells*step[0], lo[1], lo[1]+cells*step[1])
				if math.Abs(mass-1) > 0.01 {
					t.Errorf("context %v: ∫q = %.4f, want 1 ± 1%%", c, mass)
				}
				if maxDiff < 0.2 {
					t.Errorf("context %v: q is within %.3f nats of the base density; the test needs a nontrivial flow", c, maxDiff)
				}
			}
		})
	}
}

func maxAbsDiff(a, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

func maxAbs(a []float64) float64 { return maxAbsDiff(a, make([]float64, len(a))) }

// det is the determinant of a small square matrix by Gaussian elimination with partial pivoting.
func det(a [][]float64) float64 {
	n := len(a)
	m := make([][]float64, n)
	for i := range a {
		m[i] = append([]float64(nil), a[i]...)
	}
	d := 1.0
	for col := range n {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[p][col]) {
				p = r
			}
		}
		if m[p][col] == 0 {
			return 0
		}
		if p != col {
			m[p], m[col] = m[col], m[p]
			d = -d
		}
		d *= m[col][col]
		for r := col + 1; r < n; r++ {
			f := m[r][col] / m[col][col]
			for k := col; k < n; k++ {
				m[r][k] -= f * m[col][k]
			}
		}
	}
	return d
}
