package flows

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/internal/testbackend"
)

const (
	testBound = 3.0
	testBins  = 8
)

// splineParams holds a test case as flat float64 data: x [n, d] and the three parameter tensors.
type splineParams struct {
	n, d, k    int
	x          []float64
	uw, uh, ud []float64
}

// randomParams draws parameters far enough from uniform that the bins differ by an order of magnitude
// and the derivatives span roughly [0.05, 5], and x spanning the interval and both tails.
func randomParams(seed uint64, n, d, k int) splineParams {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	p := splineParams{n: n, d: d, k: k}
	normal := func(m int, scale float64) []float64 {
		v := make([]float64, m)
		for i := range v {
			v[i] = scale * rng.NormFloat64()
		}
		return v
	}
	p.uw, p.uh, p.ud = normal(n*d*k, 1.5), normal(n*d*k, 1.5), normal(n*d*(k-1), 1.5)
	p.x = make([]float64, n*d)
	for i := range p.x {
		p.x[i] = (rng.Float64()*2 - 1) * 1.5 * testBound
	}
	// The knots' ends and the tails' edges exactly.
	if len(p.x) >= 4 {
		p.x[0], p.x[1], p.x[2], p.x[3] = -testBound, testBound, 0, -1.5*testBound
	}
	return p
}

func (p splineParams) tensors64(x []float64) []*tensors.Tensor {
	return []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(x, p.n, p.d),
		tensors.FromFlatDataAndDimensions(p.uw, p.n, p.d, p.k),
		tensors.FromFlatDataAndDimensions(p.uh, p.n, p.d, p.k),
		tensors.FromFlatDataAndDimensions(p.ud, p.n, p.d, p.k-1),
	}
}

func to32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func (p splineParams) tensors32(x []float64) []*tensors.Tensor {
	return []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(to32(x), p.n, p.d),
		tensors.FromFlatDataAndDimensions(to32(p.uw), p.n, p.d, p.k),
		tensors.FromFlatDataAndDimensions(to32(p.uh), p.n, p.d, p.k),
		tensors.FromFlatDataAndDimensions(to32(p.ud), p.n, p.d, p.k-1),
	}
}

func flat(t *testing.T, v *tensors.Tensor) []float64 {
	t.Helper()
	switch v.DType().String() {
	case "Float32":
		f := tensors.MustCopyFlatData[float32](v)
		out := make([]float64, len(f))
		for i, x := range f {
			out[i] = float64(x)
		}
		return out
	default:
		return tensors.MustCopyFlatData[float64](v)
	}
}

func run(t *testing.T, exec *Exec, in []*tensors.Tensor) [][]float64 {
	t.Helper()
	args := make([]any, len(in))
	for i, v := range in {
		args[i] = v
	}
	outs := exec.MustExec(args...)
	res := make([][]float64, len(outs))
	for i, o := range outs {
		res[i] = flat(t, o)
	}
	return res
}

// roundTripExec maps x forward and the result back: x, y, log|dy/dx|, x', log|dx/dy| at y.
func roundTripExec(t *testing.T) *Exec {
	return MustNewExec(testbackend.Get(t), func(x, uw, uh, ud *Node) []*Node {
		y, ld := RationalQuadraticSpline(x, uw, uh, ud, testBound, false)
		xr, ldInv := RationalQuadraticSpline(y, uw, uh, ud, testBound, true)
		return []*Node{y, ld, xr, ldInv}
	})
}

func forwardExec(t *testing.T, inverse bool) *Exec {
	return MustNewExec(testbackend.Get(t), func(x, uw, uh, ud *Node) (*Node, *Node) {
		return RationalQuadraticSpline(x, uw, uh, ud, testBound, inverse)
	})
}

func checkFinite(t *testing.T, name string, v []float64) {
	t.Helper()
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			t.Fatalf("%s[%d] = %g", name, i, x)
		}
	}
}

// TestRoundTrip checks inverse(forward(x)) = x, inside the interval and in the tails, in float64 and
// float32, and that the tails are the identity with log-det 0.
//
// The inverse cannot be more accurate than the conditioning allows: y carries a rounding error of about
// eps·|y|, which the inverse divides by dy/dx. The random parameters here produce slopes down to ~1e-5,
// where float32 (eps ≈ 1.2e-7) loses up to ~1e-3 in x whatever the formula. So every element must meet
// tol + 4·eps·B/(dy/dx), and the elements with dy/dx ≥ 0.01 (where that allowance is below 1e-4 even in
// float32) must meet tol outright.
func TestRoundTrip(t *testing.T) {
	p := randomParams(1, 64, 3, testBins)
	exec := roundTripExec(t)
	for _, c := range []struct {
		name     string
		in       []*tensors.Tensor
		tol, eps float64
	}{
		{"float64", p.tensors64(p.x), 1e-5, 0x1p-52},
		{"float32", p.tensors32(p.x), 1e-4, 0x1p-23},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := run(t, exec, c.in)
			y, ld, xr := out[0], out[1], out[2]
			for _, v := range out {
				checkFinite(t, "output", v)
			}
			worst, worstConditioned := 0.0, 0.0
			for i, x := range p.x {
				err, slope := math.Abs(xr[i]-x), math.Exp(ld[i])
				worst = math.Max(worst, err)
				if slope >= 0.01 {
					worstConditioned = math.Max(worstConditioned, err)
				}
				if allowed := c.tol + 4*c.eps*testBound/slope; err > allowed {
					t.Errorf("x=%g (dy/dx=%.2g): inverse(forward(x)) = %g, error %.2g > %.2g", x, slope, xr[i], err, allowed)
				}
				in := x // The tails must return the input bit for bit, as the dtype stores it.
				if c.name == "float32" {
					in = float64(float32(x))
				}
				if math.Abs(x) > testBound && (y[i] != in || xr[i] != in || ld[i] != 0) {
					t.Errorf("tail x=%g: y=%g x'=%g log-det=%g, want identity", x, y[i], xr[i], ld[i])
				}
			}
			if worstConditioned > c.tol {
				t.Errorf("max |inverse(forward(x)) − x| where dy/dx ≥ 0.01 is %.2g > %g", worstConditioned, c.tol)
			}
			t.Logf("max round-trip error %.2g (%.2g where dy/dx ≥ 0.01)", worst, worstConditioned)
		})
	}
}

// TestLogDetInverse checks that the forward log-det at x is minus the inverse log-det at y = f(x).
func TestLogDetInverse(t *testing.T) {
	p := randomParams(2, 64, 3, testBins)
	out := run(t, roundTripExec(t), p.tensors64(p.x))
	ld, ldInv := out[1], out[3]
	for i := range ld {
		if math.Abs(ld[i]+ldInv[i]) > 1e-9*(1+math.Abs(ld[i])) {
			t.Errorf("x=%g: forward log-det %g, inverse log-det at y %g", p.x[i], ld[i], ldInv[i])
		}
	}
}

// TestLogDetFiniteDifference checks log|dy/dx| against central differences of y, in both directions.
func TestLogDetFiniteDifference(t *testing.T) {
	const h = 1e-6
	p := randomParams(3, 64, 3, testBins)
	for _, inverse := range []bool{false, true} {
		exec := forwardExec(t, inverse)
		plus, minus := make([]float64, len(p.x)), make([]float64, len(p.x))
		for i, x := range p.x {
			plus[i], minus[i] = x+h, x-h
		}
		ld := run(t, exec, p.tensors64(p.x))[1]
		yp := run(t, exec, p.tensors64(plus))[0]
		ym := run(t, exec, p.tensors64(minus))[0]
		worst := 0.0
		for i := range p.x {
			if math.Abs(math.Abs(p.x[i])-testBound) < 2*h {
				// ±B are knots where the second derivative jumps (to 0 in the tails), so a central
				// difference there is off by O(h·jump); the one-sided slopes are checked by the monotone test.
				continue
			}
			fd := (yp[i] - ym[i]) / (2 * h)
			rel := math.Abs(math.Exp(ld[i])-fd) / fd
			worst = math.Max(worst, rel)
			if !(rel <= 1e-5) {
				t.Errorf("inverse=%v x=%g: exp(log-det)=%g, finite difference %g (relative error %g)",
					inverse, p.x[i], math.Exp(ld[i]), fd, rel)
			}
		}
		t.Logf("inverse=%v: max relative error %.2g", inverse, worst)
	}
}

// TestMonotoneOntoInterval checks that with fixed parameters a sorted grid of x (through both tails)
// maps to a strictly increasing y, that [−B, B] maps into [−B, B], and that ±B are fixed points.
func TestMonotoneOntoInterval(t *testing.T) {
	const n, d = 601, 3
	one := randomParams(4, 1, d, testBins)
	p := splineParams{n: n, d: d, k: testBins}
	for range n { // The same spline for every row.
		p.uw = append(p.uw, one.uw...)
		p.uh = append(p.uh, one.uh...)
		p.ud = append(p.ud, one.ud...)
	}
	p.x = make([]float64, n*d)
	grid := make([]float64, n)
	for i := range n {
		grid[i] = -1.5*testBound + 3*testBound*float64(i)/float64(n-1)
	}
	// grid[100] = −B and grid[500] = B exactly.
	if !sort.Float64sAreSorted(grid) {
		t.Fatal("grid not sorted")
	}
	for i := range n {
		for j := range d {
			p.x[i*d+j] = grid[i]
		}
	}
	y := run(t, forwardExec(t, false), p.tensors64(p.x))[0]
	for j := range d {
		for i := 1; i < n; i++ {
			if !(y[i*d+j] > y[(i-1)*d+j]) {
				t.Errorf("dim %d: y(%g)=%g not above y(%g)=%g", j, grid[i], y[i*d+j], grid[i-1], y[(i-1)*d+j])
			}
		}
		for i := range n {
			if math.Abs(grid[i]) <= testBound && math.Abs(y[i*d+j]) > testBound {
				t.Errorf("dim %d: y(%g)=%g outside [−B, B]", j, grid[i], y[i*d+j])
			}
		}
		if lo, hi := y[100*d+j], y[500*d+j]; math.Abs(lo+testBound) > 1e-12 || math.Abs(hi-testBound) > 1e-12 {
			t.Errorf("dim %d: y(−B)=%g, y(B)=%g, want ∓%g", j, lo, hi, testBound)
		}
	}
}

// TestParameterGradients checks the gradient of a loss mixing y and log-det with respect to every
// parameter tensor (and x) against central differences at a few entries, in both directions, and that
// inputs in the tails give finite, zero parameter gradients.
func TestParameterGradients(t *testing.T) {
	const h = 1e-6
	p := randomParams(5, 16, 2, testBins)
	rng := rand.New(rand.NewPCG(6, 0))
	weights := make([]float64, 2*p.n*p.d)
	for i := range weights {
		weights[i] = rng.NormFloat64()
	}
	wt := tensors.FromFlatDataAndDimensions(weights, 2, p.n, p.d)
	for _, inverse := range []bool{false, true} {
		loss := func(x, uw, uh, ud, w *Node) *Node {
			y, ld := RationalQuadraticSpline(x, uw, uh, ud, testBound, inverse)
			return ReduceAllSum(Add(Mul(y, Reshape(SliceAxis(w, 0, AxisElem(0)), y.Shape().Dimensions...)), Mul(ld, Reshape(SliceAxis(w, 0, AxisElem(1)), y.Shape().Dimensions...))))
		}
		lossExec := MustNewExec(testbackend.Get(t), func(x, uw, uh, ud, w *Node) *Node {
			return loss(x, uw, uh, ud, w)
		})
		gradExec := MustNewExec(testbackend.Get(t), func(x, uw, uh, ud, w *Node) []*Node {
			return Gradient(loss(x, uw, uh, ud, w), x, uw, uh, ud)
		})
		eval := func(q splineParams) float64 {
			return run(t, lossExec, append(q.tensors64(q.x), wt))[0][0]
		}
		grads := run(t, gradExec, append(p.tensors64(p.x), wt))
		for _, g := range grads {
			checkFinite(t, "gradient", g)
		}
		// The same graph in float32 (a training run's dtype) must give finite gradients too.
		for _, g := range run(t, gradExec, append(p.tensors32(p.x), tensors.FromFlatDataAndDimensions(to32(weights), 2, p.n, p.d))) {
			checkFinite(t, "float32 gradient", g)
		}
		// Tail elements: no parameter gradient, and dL/dx is the weight of y.
		for e, x := range p.x {
			if math.Abs(x) <= testBound {
				continue
			}
			if g := grads[0][e]; math.Abs(g-weights[e]) > 1e-12 {
				t.Errorf("inverse=%v tail x=%g: dL/dx=%g, want %g", inverse, x, g, weights[e])
			}
			for a, g := range grads[1:] {
				kk := p.k
				if a == 2 {
					kk = p.k - 1
				}
				for j := range kk {
					if g[e*kk+j] != 0 {
						t.Errorf("inverse=%v tail x=%g: parameter %d gradient %g, want 0", inverse, x, a, g[e*kk+j])
					}
				}
			}
		}
		// Finite differences at a few entries of every tensor, chosen among in-range elements.
		var inRange []int
		for e, x := range p.x {
			if math.Abs(x) < testBound {
				inRange = append(inRange, e)
			}
		}
		worst := 0.0
		for a := range 4 {
			for trial := range 4 {
				e := inRange[(7*trial+3*a)%len(inRange)]
				q := p
				var data *[]float64
				idx := e
				switch a {
				case 0:
					data = &q.x
				case 1:
					data, idx = &q.uw, e*p.k+trial%p.k
				case 2:
					data, idx = &q.uh, e*p.k+(trial+3)%p.k
				case 3:
					data, idx = &q.ud, e*(p.k-1)+trial%(p.k-1)
				}
				orig := *data
				shift := func(delta float64) float64 {
					v := append([]float64(nil), orig...)
					v[idx] += delta
					*data = v
					return eval(q)
				}
				fd := (shift(h) - shift(-h)) / (2 * h)
				got := grads[a][idx]
				worst = math.Max(worst, math.Abs(got-fd)/math.Max(1, math.Abs(fd)))
				if math.Abs(got-fd) > 1e-5*math.Max(1, math.Abs(fd)) {
					t.Errorf("inverse=%v tensor %d entry %d: gradient %g, finite difference %g", inverse, a, idx, got, fd)
				}
			}
		}
		t.Logf("inverse=%v: max gradient error %.2g (relative, floor 1)", inverse, worst)
	}
}

// TestSingleBinIsIdentity checks the degenerate K=1 spline: one bin with unit boundary derivatives is
// the straight line y = x, whatever the (empty) derivative parameters.
func TestSingleBinIsIdentity(t *testing.T) {
	p := randomParams(7, 8, 2, 1)
	out := run(t, forwardExec(t, false), p.tensors64(p.x))
	for i, x := range p.x {
		if math.Abs(out[0][i]-x) > 1e-12 || math.Abs(out[1][i]) > 1e-12 {
			t.Errorf("x=%g: y=%g log-det=%g, want y=x, 0", x, out[0][i], out[1][i])
		}
	}
}

// TestGradientAtBounds checks dy/dx through the graph's gradient at exactly ±B, where the spline meets
// the tails: it must be the boundary derivative 1 in both directions (a clamp of the input would split
// or drop it there).
func TestGradientAtBounds(t *testing.T) {
	p := randomParams(8, 2, 2, testBins)
	p.x = []float64{-testBound, testBound, testBound, -testBound}
	for _, inverse := range []bool{false, true} {
		exec := MustNewExec(testbackend.Get(t), func(x, uw, uh, ud *Node) *Node {
			y, _ := RationalQuadraticSpline(x, uw, uh, ud, testBound, inverse)
			return Gradient(ReduceAllSum(y), x)[0]
		})
		for i, g := range run(t, exec, p.tensors64(p.x))[0] {
			if math.Abs(g-1) > 1e-9 {
				t.Errorf("inverse=%v x=%g: dy/dx=%g, want 1", inverse, p.x[i], g)
			}
		}
	}
}
