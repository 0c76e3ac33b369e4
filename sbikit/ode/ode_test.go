package ode

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/internal/testbackend"
)

// The test problem has a tuple state shaped like a CNF's, with a known solution:
//
//	x [2, 2]: x′ = −a·x + ω·J x per row, J(x₁, x₂) = (−x₂, x₁)  (a decaying rotation)
//	ℓ [2]:    ℓ′ = |x|² per row                                 (coupled to x, like a log-density)
//	w []:     w′ = cos(t)·w                                     (time-dependent, a rank-0 node)
//
// so x(t) = e^{−as}(cos(ωs) x₀ + sin(ωs) J x₀), ℓ(t) = ℓ₀ + |x₀|²(1 − e^{−2as})/(2a) and
// w(t) = w₀ e^{sin t − sin t₀}, with s = t − t₀.
const decay, omega = 0.5, 2.0

var (
	x0 = []float64{1, 0, 0.5, -1}
	l0 = []float64{0, 0.3}
	w0 = 1.5
)

// field is the problem's right-hand side for scalar nodes a and ω.
func field(a, om *Node) Field {
	return func(t *Node, z []*Node) []*Node {
		x, w := z[0], z[2]
		jx := Concatenate([]*Node{Neg(Slice(x, AxisRange(), AxisRange(1, 2))), Slice(x, AxisRange(), AxisRange(0, 1))}, -1)
		dx := Add(Neg(times(a, x)), times(om, jx))
		return []*Node{dx, ReduceSum(Square(x), -1), Mul(Cos(t), w)}
	}
}

// constField is field with a and ω constants of the state's dtype.
func constField(g *Graph, dtype dtypes.DType) Field {
	return field(Scalar(g, dtype, decay), Scalar(g, dtype, omega))
}

// exact is the solution at t from (x0, l0, w0) at t0, flattened as x, ℓ, w.
func exact(t0, t float64) []float64 {
	s := t - t0
	e, c, sn := math.Exp(-decay*s), math.Cos(omega*s), math.Sin(omega*s)
	var out []float64
	for r := range 2 {
		a, b := x0[2*r], x0[2*r+1]
		out = append(out, e*(c*a-sn*b), e*(c*b+sn*a))
	}
	for r := range 2 {
		n2 := x0[2*r]*x0[2*r] + x0[2*r+1]*x0[2*r+1]
		out = append(out, l0[r]+n2*(1-math.Exp(-2*decay*s))/(2*decay))
	}
	return append(out, w0*math.Exp(math.Sin(t)-math.Sin(t0)))
}

func initial() []*tensors.Tensor {
	return []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(x0, 2, 2),
		tensors.FromFlatDataAndDimensions(l0, 2),
		tensors.FromScalar(w0),
	}
}

func flatten(ts []*tensors.Tensor) []float64 {
	var out []float64
	for _, x := range ts {
		out = append(out, tensors.MustCopyFlatData[float64](x)...)
	}
	return out
}

func maxAbsDiff(a, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// slope is the least-squares slope of log(err) against log(h): the observed order of convergence.
func slope(hs, errs []float64) float64 {
	var mx, my float64
	for i := range hs {
		mx += math.Log(hs[i]) / float64(len(hs))
		my += math.Log(errs[i]) / float64(len(hs))
	}
	var sxy, sxx float64
	for i := range hs {
		dx := math.Log(hs[i]) - mx
		sxy += dx * (math.Log(errs[i]) - my)
		sxx += dx * dx
	}
	return sxy / sxx
}

// integrateAll runs Integrate with each of the step counts in one graph and returns the final states.
func integrateAll(t *testing.T, m Method, t0, t1 float64, ns []int) [][]float64 {
	t.Helper()
	exec, err := context.NewExec(testbackend.Get(t), context.New(), func(ctx *context.Context, z0 []*Node) []*Node {
		var outs []*Node
		for _, n := range ns {
			outs = append(outs, Integrate(m, constField(z0[0].Graph(), dtypes.Float64), z0, t0, t1, n)...)
		}
		return outs
	})
	if err != nil {
		t.Fatal(err)
	}
	args := []any{}
	for _, x := range initial() {
		args = append(args, x)
	}
	outs, err := exec.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	res := make([][]float64, len(ns))
	for i := range ns {
		res[i] = flatten(outs[3*i : 3*i+3])
	}
	return res
}

// TestIntegrateOrder checks the order of convergence of each method, unrolled in the graph, forward
// and backward in time; the step counts keep the errors in the asymptotic range (RK4 backward from 4
// steps still shows order 3.6) and well above float64 rounding.
func TestIntegrateOrder(t *testing.T) {
	cases := []struct {
		m   Method
		ns  []int
		tol float64
	}{
		{Euler, []int{16, 32, 64, 128}, 0.3},
		{Midpoint, []int{8, 16, 32, 64}, 0.3},
		{RK4, []int{8, 16, 32, 64}, 0.3},
		// Dormand–Prince has a small leading error constant, so higher-order terms still show at these
		// steps: the observed order is 5.4 forward and 4.7 backward, nearing 5 as h shrinks further.
		{DormandPrince, []int{16, 32, 64, 128}, 0.5},
	}
	for _, c := range cases {
		for _, span := range [][2]float64{{0, 2}, {2, 0.5}} {
			t0, t1 := span[0], span[1]
			want := exact(t0, t1)
			var hs, errs []float64
			for i, z := range integrateAll(t, c.m, t0, t1, c.ns) {
				hs = append(hs, math.Abs(t1-t0)/float64(c.ns[i]))
				errs = append(errs, maxAbsDiff(z, want))
			}
			p := slope(hs, errs)
			t.Logf("%-8s t %g→%g: errors %.2e, order %.2f", c.m.Name, t0, t1, errs, p)
			if math.Abs(p-float64(c.m.Order)) > c.tol {
				t.Errorf("%s from %g to %g: observed order %.2f, want %d ± %g", c.m.Name, t0, t1, p, c.m.Order, c.tol)
			}
		}
	}
}

// TestIntegrateGradient backpropagates through the unrolled solver: for z′ = cos(t)·z every step is
// linear in z, so ∂z(T)/∂z₀ = z(T)/z₀ exactly.
func TestIntegrateGradient(t *testing.T) {
	exec, err := context.NewExec(testbackend.Get(t), context.New(), func(ctx *context.Context, z0 *Node) []*Node {
		f := func(t *Node, z []*Node) []*Node { return []*Node{Mul(Reshape(Cos(t), 1), z[0])} }
		zT := Integrate(RK4, f, []*Node{z0}, 0, 1.5, 8)[0]
		return []*Node{zT, Gradient(ReduceAllSum(zT), z0)[0]}
	})
	if err != nil {
		t.Fatal(err)
	}
	z0 := []float64{0.5, -2, 3}
	outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(z0, 3))
	if err != nil {
		t.Fatal(err)
	}
	zT, grad := tensors.MustCopyFlatData[float64](outs[0]), tensors.MustCopyFlatData[float64](outs[1])
	for i := range z0 {
		if want := zT[i] / z0[i]; math.Abs(grad[i]-want) > 1e-12 {
			t.Errorf("gradient %d: %g, want %g", i, grad[i], want)
		}
	}
	if want := math.Exp(math.Sin(1.5)); math.Abs(grad[0]-want) > 1e-4 {
		t.Errorf("gradient %g, want about exp(sin 1.5) = %g", grad[0], want)
	}
}

// system is the test problem as a Solver sees it: the decay rate a is a variable of the context and
// ω the extra input.
func system(ctx *context.Context, extra []*Node) Field {
	a := ctx.VariableWithValue("decay", decay).ValueGraph(extra[0].Graph())
	return field(a, extra[0])
}

func newSolver(t *testing.T, opts Options) *Solver {
	t.Helper()
	s, err := NewSolver(testbackend.Get(t), context.New().Checked(false), system, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var extra = []*tensors.Tensor{tensors.FromScalar(omega)}

// TestSolverFixed checks the compiled step in a Go loop: the orders of convergence, forward and
// backward, and agreement with the unrolled Integrate.
func TestSolverFixed(t *testing.T) {
	ns := []int{8, 16, 32, 64}
	for _, m := range []Method{Midpoint, RK4} {
		s := newSolver(t, Options{Method: m, Steps: 1})
		for _, span := range [][2]float64{{0, 2}, {2, 0.5}} {
			t0, t1 := span[0], span[1]
			unrolled := integrateAll(t, m, t0, t1, ns)
			want := exact(t0, t1)
			var hs, errs []float64
			for i, n := range ns {
				s.opts.Steps = n // one compiled step serves any number of steps
				z, stats, err := s.Solve(initial(), extra, t0, t1)
				if err != nil {
					t.Fatal(err)
				}
				if stats.Steps != n || stats.Rejected != 0 || stats.Evaluations != n*m.Stages() {
					t.Errorf("%s, %d steps: stats %+v", m.Name, n, stats)
				}
				got := flatten(z)
				if d := maxAbsDiff(got, unrolled[i]); d > 1e-12 {
					t.Errorf("%s, %d steps from %g to %g: Solver and Integrate differ by %g", m.Name, n, t0, t1, d)
				}
				hs = append(hs, math.Abs(t1-t0)/float64(n))
				errs = append(errs, maxAbsDiff(got, want))
			}
			p := slope(hs, errs)
			t.Logf("%-8s Solver t %g→%g: errors %.2e, order %.2f", m.Name, t0, t1, errs, p)
			if math.Abs(p-float64(m.Order)) > 0.3 {
				t.Errorf("%s Solver from %g to %g: observed order %.2f, want %d ± 0.3", m.Name, t0, t1, p, m.Order)
			}
		}
	}
}

// relErr is the largest error relative to each element's size (at least 0.01).
func relErr(got, want []float64) float64 {
	m := 0.0
	for i := range got {
		m = max(m, math.Abs(got[i]-want[i])/max(math.Abs(want[i]), 0.01))
	}
	return m
}

// TestSolverAdaptive checks that Dormand–Prince with step-size control meets its tolerance, forward
// and backward, that tighter tolerances cost more steps and give smaller errors, and the stats.
func TestSolverAdaptive(t *testing.T) {
	for _, span := range [][2]float64{{0, 2}, {2, 0.5}} {
		t0, t1 := span[0], span[1]
		want := exact(t0, t1)
		lastErr, lastSteps := math.Inf(1), 0
		for _, rtol := range []float64{1e-4, 1e-6, 1e-8} {
			s := newSolver(t, Options{RTol: rtol, ATol: rtol * 1e-2})
			z, stats, err := s.Solve(initial(), extra, t0, t1)
			if err != nil {
				t.Fatal(err)
			}
			e := relErr(flatten(z), want)
			t.Logf("dopri5 t %g→%g rtol %g: relative error %.2e (%.2f·rtol), stats %+v", t0, t1, rtol, e, e/rtol, stats)
			if e > 5*rtol { // the global error accumulates local errors held below rtol: 2–3·rtol here
				t.Errorf("rtol %g from %g to %g: relative error %g exceeds 5·rtol", rtol, t0, t1, e)
			}
			if !(e < lastErr) || stats.Steps <= lastSteps {
				t.Errorf("rtol %g: error %g and %d steps, after %g and %d with a looser tolerance", rtol, e, stats.Steps, lastErr, lastSteps)
			}
			if stats.Evaluations != 2+7*(stats.Steps+stats.Rejected) {
				t.Errorf("rtol %g: %d evaluations for %+v", rtol, stats.Evaluations, stats)
			}
			lastErr, lastSteps = e, stats.Steps
		}
	}
}

// TestSolverStiff solves z′ = −λ(z − cos t), z(0) = 0, with λ = 500: after the fast transient dies
// out, stability, not accuracy, limits the step of an explicit method (|h| ≲ 3.3/λ for
// Dormand–Prince), and the controller keeps running into that limit, so steps are rejected.
func TestSolverStiff(t *testing.T) {
	const lambda = 500.0
	sys := func(ctx *context.Context, extra []*Node) Field {
		return func(t *Node, z []*Node) []*Node {
			return []*Node{MulScalar(Sub(z[0], Reshape(Cos(t), 1)), -lambda)}
		}
	}
	s, err := NewSolver(testbackend.Get(t), context.New(), sys, Options{RTol: 1e-3, ATol: 1e-5})
	if err != nil {
		t.Fatal(err)
	}
	z, stats, err := s.Solve([]*tensors.Tensor{tensors.FromFlatDataAndDimensions([]float64{0}, 1)}, nil, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float64](z[0])[0]
	a := lambda * lambda / (1 + lambda*lambda) // z = a(cos t + sin t/λ − e^{−λt})
	want := a * (math.Cos(2) + math.Sin(2)/lambda - math.Exp(-2*lambda))
	t.Logf("stiff: z(2) = %.10f, error %.2e, stats %+v", got, math.Abs(got-want), stats)
	if stats.Rejected == 0 || stats.Evaluations != 2+7*(stats.Steps+stats.Rejected) {
		t.Errorf("stats %+v: want rejected steps, and 7 evaluations per attempt plus 2", stats)
	}
	if math.Abs(got-want) > 5e-3*math.Abs(want) { // 5·rtol, as in TestSolverAdaptive; 0.8·rtol here
		t.Errorf("z(2) = %g, want %g", got, want)
	}
}

// TestSolverFloat32 runs the adaptive solver on a float32 state: the times and steps follow the state's
// dtype.
func TestSolverFloat32(t *testing.T) {
	sys := func(ctx *context.Context, extra []*Node) Field {
		return func(t *Node, z []*Node) []*Node { return []*Node{Mul(Reshape(Cos(t), 1, 1), z[0])} }
	}
	s, err := NewSolver(testbackend.Get(t), context.New(), sys, Options{RTol: 1e-4, ATol: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	z, _, err := s.Solve([]*tensors.Tensor{tensors.FromFlatDataAndDimensions([]float32{1, -2}, 2, 1)}, nil, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float32](z[0])
	for i, z0 := range []float64{1, -2} {
		if want := z0 * math.Exp(math.Sin(0)-math.Sin(3)); math.Abs(float64(got[i])-want) > 1e-3*math.Abs(want) {
			t.Errorf("z[%d] = %g, want %g", i, got[i], want)
		}
	}
}

func TestSolverErrors(t *testing.T) {
	nanState := func() []*tensors.Tensor {
		z := initial()
		z[2] = tensors.FromScalar(math.NaN())
		return z
	}
	for _, opts := range []Options{{Method: RK4, Steps: 4}, {}} {
		s := newSolver(t, opts)
		if _, _, err := s.Solve(nanState(), extra, 0, 1); err == nil || !strings.Contains(err.Error(), "not finite") {
			t.Errorf("%+v: NaN state gave error %v", opts.Steps, err)
		} else {
			t.Logf("NaN state, %d steps: %v", opts.Steps, err)
		}
	}

	s := newSolver(t, Options{RTol: 1e-10, ATol: 1e-12, MaxSteps: 5})
	_, stats, err := s.Solve(initial(), extra, 0, 2)
	if err == nil || !strings.Contains(err.Error(), "MaxSteps") || stats.Steps+stats.Rejected != 5 {
		t.Errorf("MaxSteps: error %v, stats %+v", err, stats)
	} else {
		t.Logf("MaxSteps: %v", err)
	}
	if _, _, err := s.Solve(initial()[:2], extra, 0, 2); err == nil {
		t.Error("a call with fewer state tensors than the first succeeded")
	}

	bad := Method{Name: "bad", Order: 1, A: [][]float64{{1}}, B: []float64{1}, C: []float64{0}}
	for _, opts := range []Options{
		{Steps: -1},
		{Method: Euler},
		{Method: RK4, Steps: 0},
		{RTol: -1},
		{ATol: math.NaN()},
		{MaxSteps: -3},
		{FirstStep: -0.1},
		{Method: bad, Steps: 2},
	} {
		if _, err := NewSolver(testbackend.Get(t), context.New(), system, opts); err == nil {
			t.Errorf("options %+v accepted", opts)
		}
	}
}

func TestMethods(t *testing.T) {
	for _, m := range Methods {
		if got, err := MethodByName(m.Name); err != nil || got.Name != m.Name {
			t.Errorf("MethodByName(%q) = %v, %v", m.Name, got.Name, err)
		}
		if err := m.check(); err != nil {
			t.Error(err)
		}
		sum := func(v []float64) float64 {
			s := 0.0
			for _, x := range v {
				s += x
			}
			return s
		}
		if math.Abs(sum(m.B)-1) > 1e-15 {
			t.Errorf("%s: B sums to %g", m.Name, sum(m.B))
		}
		for i, row := range m.A {
			if math.Abs(sum(row)-m.C[i]) > 1e-15 {
				t.Errorf("%s: row %d of A sums to %g, C is %g", m.Name, i, sum(row), m.C[i])
			}
		}
		if m.E != nil && math.Abs(sum(m.E)) > 1e-15 {
			t.Errorf("%s: E sums to %g, want 0 (both weight vectors sum to 1)", m.Name, sum(m.E))
		}
	}
	if _, err := MethodByName("rk45"); err == nil || !strings.Contains(err.Error(), "dopri5") {
		t.Errorf("unknown method: error %v", err)
	}
}
