package cnf

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/sbikit/ode"
)

// run evaluates fn on float64 inputs (flat data with their dimensions) and returns its outputs flat.
func run(t *testing.T, ctx *context.Context, fn any, inputs ...*tensors.Tensor) [][]float64 {
	t.Helper()
	exec, err := context.NewExecAny(testbackend.Get(t), ctx, fn)
	if err != nil {
		t.Fatal(err)
	}
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	outs, err := exec.Exec(args...)
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

// randomNet builds a field network over d dimensions with a dc-dimensional context, evaluated once
// to create its variables, which are then replaced by N(0, scale²) draws (the output layer starts at
// zero, which would make the field vanish).
func randomNet(t *testing.T, d, dc int, scale float64, seed uint64) (Net, *context.Context) {
	t.Helper()
	net := Net{Hidden: 16, Layers: 2, Frequencies: 2}
	ctx := context.New().Checked(false)
	run(t, ctx, func(ctx *context.Context, z, c *Node) *Node {
		return net.Velocity(ctx, z, Scalar(z.Graph(), z.DType(), 0.3), c)
	}, tensors.FromFlatDataAndDimensions(make([]float64, d), 1, d), tensors.FromFlatDataAndDimensions(make([]float64, dc), 1, dc))
	rng := rand.New(rand.NewPCG(seed, 1))
	ctx.EnumerateVariables(func(v *context.Variable) {
		if v.Trainable {
			vals := normals(rng, v.Shape().Size(), scale)
			if err := v.SetValue(tensors.FromFlatDataAndDimensions(vals, v.Shape().Dimensions...)); err != nil {
				t.Fatal(err)
			}
		}
	})
	return net, ctx
}

// TestDivergenceAgainstJacobian compares the exact divergence and ‖J‖²_F, and Hutchinson's εᵀJε and
// ‖εᵀJ‖² for given probes, with the same quantities from a central-difference Jacobian of the
// network, per row, at per-row times and contexts.
func TestDivergenceAgainstJacobian(t *testing.T) {
	const n, d, dc, h = 6, 3, 2, 1e-6
	net, ctx := randomNet(t, d, dc, 0.5, 3)
	rng := rand.New(rand.NewPCG(4, 5))
	z, c, tm, eps := normals(rng, n*d, 1), normals(rng, n*dc, 1), make([]float64, n), normals(rng, n*d, 1)
	for i := range tm {
		tm[i] = rng.Float64()
	}
	// Rows 0..n−1 are z; block 1+2j holds z + h e_j, block 2+2j holds z − h e_j.
	blocks := 1 + 2*d
	var zz, cc, tt []float64
	for b := range blocks {
		for r := range n {
			row := append([]float64(nil), z[r*d:(r+1)*d]...)
			if b > 0 {
				row[(b-1)/2] += h * float64(1-2*((b-1)%2))
			}
			zz, cc, tt = append(zz, row...), append(cc, c[r*dc:(r+1)*dc]...), append(tt, tm[r])
		}
	}
	out := run(t, ctx, func(ctx *context.Context, z, tm, c, eps *Node) (*Node, *Node, *Node, *Node, *Node) {
		v := net.Velocity(ctx, z, tm, c)
		zr := Slice(z, AxisRange(0, n))
		vr := net.Velocity(ctx, zr, Slice(tm, AxisRange(0, n)), Slice(c, AxisRange(0, n)))
		trace, frob := Divergence(vr, zr, nil)
		quad, uu := Divergence(vr, zr, eps)
		return v, trace, quad, frob, uu
	}, tensors.FromFlatDataAndDimensions(zz, blocks*n, d), tensors.FromFlatDataAndDimensions(tt, blocks*n),
		tensors.FromFlatDataAndDimensions(cc, blocks*n, dc), tensors.FromFlatDataAndDimensions(eps, n, d))
	v := out[0]
	for r := range n {
		// jac[i][j] = ∂v_i/∂z_j.
		var jac [d][d]float64
		for j := range d {
			plus, minus := (1+2*j)*n+r, (2+2*j)*n+r
			for i := range d {
				jac[i][j] = (v[plus*d+i] - v[minus*d+i]) / (2 * h)
			}
		}
		trace, quad, frob, uu := 0.0, 0.0, 0.0, 0.0
		for i := range d {
			trace += jac[i][i]
			u := 0.0 // (εᵀJ)_i
			for j := range d {
				quad += eps[r*d+i] * jac[i][j] * eps[r*d+j]
				frob += jac[i][j] * jac[i][j]
				u += eps[r*d+j] * jac[j][i]
			}
			uu += u * u
		}
		if math.Abs(trace) < 1e-2 {
			t.Fatalf("row %d: trace %g is too small for the test to see an error", r, trace)
		}
		if e := math.Abs(out[1][r] - trace); e > 1e-6*(1+math.Abs(trace)) {
			t.Errorf("row %d: exact divergence %g, finite differences %g", r, out[1][r], trace)
		}
		if e := math.Abs(out[2][r] - quad); e > 1e-6*(1+math.Abs(quad)) {
			t.Errorf("row %d: Hutchinson εᵀJε %g, finite differences %g", r, out[2][r], quad)
		}
		if e := math.Abs(out[3][r] - frob); e > 1e-6*(1+frob) {
			t.Errorf("row %d: ‖J‖²_F %g, finite differences %g", r, out[3][r], frob)
		}
		if e := math.Abs(out[4][r] - uu); e > 1e-6*(1+uu) {
			t.Errorf("row %d: Hutchinson ‖εᵀJ‖² %g, finite differences %g", r, out[4][r], uu)
		}
	}
}

// linearField is v(z, t, c) = A z, whose flow is z(t) = e^{tA} z(0): x = e^A z₀ has the density
// N(x; 0, e^A e^{Aᵀ}), log q(x) = log N(e^{−A} x; 0, I) − Tr A.
type linearField struct{ a [][]float64 }

func (f linearField) Velocity(_ *context.Context, z, _, _ *Node) *Node {
	d := len(f.a)
	var at []float64 // Aᵀ, so that z Aᵀ is A z row by row
	for j := range d {
		for i := range d {
			at = append(at, f.a[i][j])
		}
	}
	return Dot(z, Reshape(ConstAsDType(z.Graph(), z.DType(), at), d, d))
}

// expm is e^M by its Taylor series (fine for the small matrices here).
func expm(m [][]float64) [][]float64 {
	d := len(m)
	out, term := identity(d), identity(d)
	for k := 1; k < 40; k++ {
		next := make([][]float64, d)
		for i := range d {
			next[i] = make([]float64, d)
			for j := range d {
				for l := range d {
					next[i][j] += term[i][l] * m[l][j] / float64(k)
				}
				out[i][j] += next[i][j]
			}
		}
		term = next
	}
	return out
}

func identity(d int) [][]float64 {
	m := make([][]float64, d)
	for i := range m {
		m[i] = make([]float64, d)
		m[i][i] = 1
	}
	return m
}

// TestLinearFieldLogProb checks LogProb against the closed form of a linear field, with the exact
// trace (to the solver's accuracy) and with Hutchinson's estimator, whose mean over many probes must
// agree within its standard error; its kinetic energy against quadrature; and Sample against e^A z₀.
func TestLinearFieldLogProb(t *testing.T) {
	a := [][]float64{{-0.4, 0.9}, {-0.3, 0.5}}
	const d, n = 2, 5
	flow := Flow{Dim: d, Net: linearField{a}}
	negA := [][]float64{{-a[0][0], -a[0][1]}, {-a[1][0], -a[1][1]}}
	expA, expNegA := expm(a), expm(negA)
	rng := rand.New(rand.NewPCG(6, 7))
	x := normals(rng, n*d, 1)
	want := make([]float64, n)
	for r := range n {
		sq := 0.0
		for i := range d {
			z0 := 0.0
			for j := range d {
				z0 += expNegA[i][j] * x[r*d+j]
			}
			sq += z0 * z0
		}
		want[r] = -0.5*sq - math.Log(2*math.Pi) - (a[0][0] + a[1][1])
	}
	ctx := context.New().Checked(false)
	out := run(t, ctx, func(ctx *context.Context, x *Node) (*Node, *Node, *Node, *Node) {
		lq, reg := flow.LogProb(ctx, x, nil, nil, ode.RK4, 32)
		return lq, flow.Sample(ctx, x, nil, ode.RK4, 32), reg.Kinetic, reg.Jacobian
	}, tensors.FromFlatDataAndDimensions(x, n, d))
	for r := range n {
		if e := math.Abs(out[0][r] - want[r]); e > 1e-7 {
			t.Errorf("row %d: exact-trace log q %g, closed form %g", r, out[0][r], want[r])
		}
		for i := range d {
			pushed := expA[i][0]*x[r*d] + expA[i][1]*x[r*d+1]
			if e := math.Abs(out[1][r*d+i] - pushed); e > 1e-7 {
				t.Errorf("row %d: sample %g, e^A z₀ %g", r, out[1][r*d+i], pushed)
			}
		}
	}

	// The kinetic energy ∫₀¹ ‖A z(t)‖² dt along the path z(t) = e^{(t−1)A} x, by the midpoint rule.
	for r := range n {
		const k = 2000
		energy := 0.0
		for i := range k {
			tm := (float64(i) + 0.5) / k
			e := expm([][]float64{{(tm - 1) * a[0][0], (tm - 1) * a[0][1]}, {(tm - 1) * a[1][0], (tm - 1) * a[1][1]}})
			z := []float64{e[0][0]*x[r*d] + e[0][1]*x[r*d+1], e[1][0]*x[r*d] + e[1][1]*x[r*d+1]}
			v0, v1 := a[0][0]*z[0]+a[0][1]*z[1], a[1][0]*z[0]+a[1][1]*z[1]
			energy += (v0*v0 + v1*v1) / k
		}
		if e := math.Abs(out[2][r] - energy); e > 1e-6*(1+energy) {
			t.Errorf("row %d: kinetic energy %g, quadrature %g", r, out[2][r], energy)
		}
		// The Jacobian of A z is A everywhere: ∫₀¹ ‖A‖²_F dt = ‖A‖²_F.
		if frob := a[0][0]*a[0][0] + a[0][1]*a[0][1] + a[1][0]*a[1][0] + a[1][1]*a[1][1]; math.Abs(out[3][r]-frob) > 1e-9 {
			t.Errorf("row %d: Jacobian regularizer %g, want ‖A‖²_F = %g", r, out[3][r], frob)
		}
	}

	// Hutchinson: one x repeated with independent probes of each kind.
	const reps = 4000
	xs := make([]float64, 0, reps*d)
	for range reps {
		xs = append(xs, x[:d]...)
	}
	for _, trace := range []string{TraceRademacher, TraceGaussian} {
		ctx := context.New().Checked(false)
		if err := ctx.SetRNGStateFromSeed(8); err != nil {
			t.Fatal(err)
		}
		lq := run(t, ctx, func(ctx *context.Context, x *Node) *Node {
			lq, _ := flow.LogProb(ctx, x, nil, Probes(ctx, x, trace), ode.RK4, 8)
			return lq
		}, tensors.FromFlatDataAndDimensions(xs, reps, d))[0]
		mean, sq := 0.0, 0.0
		for _, v := range lq {
			mean += v / reps
		}
		for _, v := range lq {
			sq += (v - mean) * (v - mean) / (reps - 1)
		}
		se := math.Sqrt(sq / reps)
		if sq == 0 || math.Abs(mean-want[0]) > 4*se+1e-6 {
			t.Errorf("%s: mean log q %g ± %g (sd %g), closed form %g", trace, mean, se, math.Sqrt(sq), want[0])
		}
	}
}

// TestDensityIntegratesToOne integrates exp(log q) of a random conditional network field over a
// grid: the instantaneous change of variables must give a normalized density, and one that is not
// the base density.
func TestDensityIntegratesToOne(t *testing.T) {
	const d, dc, side, lim = 2, 1, 120, 6.0
	net, ctx := randomNet(t, d, dc, 0.4, 9)
	flow := Flow{Dim: d, Net: net}
	h := 2 * lim / side
	grid := make([]float64, 0, side*side*d)
	for i := range side {
		for j := range side {
			grid = append(grid, -lim+(float64(i)+0.5)*h, -lim+(float64(j)+0.5)*h)
		}
	}
	lq := run(t, ctx, func(ctx *context.Context, x, c *Node) *Node {
		lq, _ := flow.LogProb(ctx, x, c, nil, ode.RK4, 12)
		return lq
	}, tensors.FromFlatDataAndDimensions(grid, side*side, d), tensors.FromFlatDataAndDimensions([]float64{0.7}, 1, dc))[0]
	mass, far := 0.0, 0.0
	for k, v := range lq {
		mass += math.Exp(v) * h * h
		x, y := grid[2*k], grid[2*k+1]
		far = math.Max(far, math.Abs(v-(-0.5*(x*x+y*y)-math.Log(2*math.Pi))))
	}
	if math.Abs(mass-1) > 0.01 {
		t.Errorf("∫q = %g, want 1 ± 0.01", mass)
	}
	if far < 0.2 {
		t.Errorf("q is within %g nats of the base density everywhere: the field does too little for the test", far)
	}
}

// TestMatchingTarget checks the flow-matching path and target against the closed-form optimal
// field of Gaussian data x₁ ~ N(μ, s²) (1-D): v*(x, t) = μ + (t s² − (1−σ) a_t)/(a_t² + t² s²)·(x − tμ),
// a_t = 1 − (1−σ)t, the regression of u_t on x_t. Regression optimality means that perturbing v* by
// a function δ of (x_t, t) raises the loss by E δ² exactly (the cross term vanishes), which a wrong
// path or target would break; with common random draws the check is sharp. Here δ = p·x_t, and
// E x_t² = E_t[t²(μ² + s²) + a_t²].
func TestMatchingTarget(t *testing.T) {
	const n, mu, s, p = 200000, 1.5, 0.7, 0.2
	for _, timeDist := range TimeDistributions {
		m := Matching{Time: timeDist}.WithDefaults()
		sigma := m.SigmaMin
		field := func(perturb float64) fieldFunc {
			return func(z, tm *Node) *Node {
				tt := Reshape(tm, -1, 1)
				at := OneMinus(MulScalar(tt, 1-sigma))
				gain := Div(Sub(MulScalar(tt, s*s), MulScalar(at, 1-sigma)), Add(Square(at), MulScalar(Square(tt), s*s)))
				v := AddScalar(Mul(gain, Sub(z, MulScalar(tt, mu))), mu)
				return Add(v, MulScalar(z, perturb))
			}
		}
		rng := rand.New(rand.NewPCG(11, 12))
		x1 := normals(rng, n, s)
		for i := range x1 {
			x1[i] += mu
		}
		losses := make([]float64, 2)
		for k, perturb := range []float64{0, p} {
			ctx := context.New().Checked(false)
			if err := ctx.SetRNGStateFromSeed(10); err != nil {
				t.Fatal(err)
			}
			losses[k] = run(t, ctx, func(ctx *context.Context, x1 *Node) *Node {
				return m.Loss(ctx, Flow{Dim: 1, Net: field(perturb)}, x1, nil)
			}, tensors.FromFlatDataAndDimensions(x1, n, 1))[0][0]
		}
		want := p * p * expectTime(m, func(t float64) float64 {
			at := 1 - (1-sigma)*t
			return t*t*(mu*mu+s*s) + at*at
		})
		if got := losses[1] - losses[0]; math.Abs(got-want) > 0.03*want {
			t.Errorf("%s: loss(v* + δ) − loss(v*) = %g, want E δ² = %g: v* is not the regression of the target", timeDist, got, want)
		}
	}
}

// expectTime is E f(t) under m's time distribution, by quadrature.
func expectTime(m Matching, f func(t float64) float64) float64 {
	const k = 20000
	sum := 0.0
	for i := range k {
		switch m.Time {
		case TimeUniform, TimePower:
			t := (float64(i) + 0.5) / k
			density := 1.0
			if m.Time == TimePower {
				density = m.Uniform + (1-m.Uniform)*(1+m.Power)*math.Pow(t, m.Power)
			}
			sum += f(t) * density / k
		case TimeLogitNormal:
			z := -10 + 20*(float64(i)+0.5)/k
			sum += f(1/(1+math.Exp(-z))) * math.Exp(-z*z/2) / math.Sqrt(2*math.Pi) * 20 / k
		}
	}
	return sum
}

// fieldFunc is a VectorField given by a graph function of (z, t), for tests.
type fieldFunc func(z, t *Node) *Node

func (f fieldFunc) Velocity(_ *context.Context, z, t, _ *Node) *Node { return f(z, t) }

// TestTimeDistributions checks the means of the time distributions: uniform 1/2, power law
// p(t) ∝ t^k gives (k+1)/(k+2) (mixed with a uniform share u: u/2 + (1−u)(k+1)/(k+2)),
// logit-normal 1/2 by symmetry.
func TestTimeDistributions(t *testing.T) {
	const n = 100000
	for _, c := range []struct {
		m    Matching
		mean float64
	}{
		{Matching{Time: TimeUniform}, 0.5},
		{Matching{Time: TimePower}, 6.0 / 7},
		{Matching{}, 0.25 + 0.5*6/7}, // the default mixture
		{Matching{Time: TimePower, Power: 1}, 2.0 / 3},
		{Matching{Time: TimePower, Power: 1, Uniform: 0.3}, 0.15 + 0.7*2/3},
		{Matching{Time: TimeLogitNormal}, 0.5},
	} {
		ctx := context.New().Checked(false)
		if err := ctx.SetRNGStateFromSeed(13); err != nil {
			t.Fatal(err)
		}
		out := run(t, ctx, func(ctx *context.Context, x *Node) (*Node, *Node) {
			tm := c.m.WithDefaults().SampleTime(ctx, x.Graph(), x.DType(), n)
			return ReduceAllMean(tm), Add(ReduceAllMin(tm), OneMinus(ReduceAllMax(tm)))
		}, tensors.FromScalar(0.0))
		if math.Abs(out[0][0]-c.mean) > 0.005 {
			t.Errorf("%+v: mean time %g, want %g", c.m, out[0][0], c.mean)
		}
		if out[1][0] <= 0 {
			t.Errorf("%+v: times leave (0, 1)", c.m)
		}
	}
}
