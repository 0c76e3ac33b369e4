package tasks

import (
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func mustGet(t testing.TB, name string) Task {
	t.Helper()
	task, err := Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func TestRegistry(t *testing.T) {
	want := []string{"gaussian_linear", "gaussian_linear_uniform", "gaussian_mixture",
		"lotka_volterra", "sir", "slcp", "two_moons"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	dims := map[string][2]int{"two_moons": {2, 2}, "gaussian_linear": {10, 10}, "gaussian_linear_uniform": {10, 10},
		"gaussian_mixture": {2, 2}, "slcp": {5, 8}, "sir": {2, 10}, "lotka_volterra": {4, 20}}
	for _, name := range want {
		task := mustGet(t, name)
		if task.Name() != name || task.DimX() != dims[name][0] || task.DimY() != dims[name][1] {
			t.Errorf("%s: Name %q DimX %d DimY %d, want dims %v", name, task.Name(), task.DimX(), task.DimY(), dims[name])
		}
		_, isRef := task.(ReferencePosterior)
		if wantRef := name != "sir" && name != "lotka_volterra"; isRef != wantRef {
			t.Errorf("%s: implements ReferencePosterior = %v, want %v", name, isRef, wantRef)
		}
	}
	_, err := Get("two-moons")
	if err == nil || !strings.Contains(err.Error(), "two_moons") || !strings.Contains(err.Error(), "slcp") {
		t.Errorf("Get(unknown) error %v should list the valid names", err)
	}
}

// TestPriors checks support, LogProb and the first two moments of every prior.
func TestPriors(t *testing.T) {
	const n = 20_000
	type moments struct{ mean, std []float64 }
	logN := func(loc, scale float64) (mean, std float64) { // LogNormal moments
		mean = math.Exp(loc + scale*scale/2)
		return mean, mean * math.Sqrt(math.Expm1(scale*scale))
	}
	m1, s1 := logN(math.Log(0.4), 0.5)
	m2, s2 := logN(math.Log(0.125), 0.2)
	a, sa := logN(-0.125, 0.5)
	b, sb := logN(-3, 0.5)
	u1 := 1 / math.Sqrt(3) // std of U(−1, 1)
	want := map[string]moments{
		"two_moons":               {fill(2, 0), fill(2, u1)},
		"gaussian_linear":         {fill(10, 0), fill(10, math.Sqrt(0.1))},
		"gaussian_linear_uniform": {fill(10, 0), fill(10, u1)},
		"gaussian_mixture":        {fill(2, 0), fill(2, 10*u1)},
		"slcp":                    {fill(5, 0), fill(5, 3*u1)},
		"sir":                     {[]float64{m1, m2}, []float64{s1, s2}},
		"lotka_volterra":          {[]float64{a, b, a, b}, []float64{sa, sb, sa, sb}},
	}
	for _, name := range Names() {
		task := mustGet(t, name)
		prior := task.Prior()
		x := prior.Sample(n, 7)
		lo, hi := prior.Bounds()
		for i, row := range x {
			if len(row) != task.DimX() {
				t.Fatalf("%s: prior row %d has %d values", name, i, len(row))
			}
			for j, v := range row {
				if !(v >= lo[j] && v <= hi[j]) {
					t.Fatalf("%s: prior sample %v outside bounds", name, row)
				}
			}
			if lp := prior.LogProb(row); math.IsInf(lp, 0) || math.IsNaN(lp) {
				t.Fatalf("%s: LogProb(%v) = %v on a prior sample", name, row, lp)
			}
		}
		for j := range task.DimX() {
			mean, std := meanStd(column(x, j))
			w := want[name]
			// Tolerances: 5 standard errors of the mean; 5% on the std.
			if math.Abs(mean-w.mean[j]) > 5*w.std[j]/math.Sqrt(n) || math.Abs(std/w.std[j]-1) > 0.05 {
				t.Errorf("%s dim %d: mean %.4f std %.4f, want %.4f, %.4f", name, j, mean, std, w.mean[j], w.std[j])
			}
		}
		// Outside the support the density is zero.
		out := clone(x[0])
		out[0] = lo[0] - 1
		if math.IsInf(lo[0], -1) {
			out[0] = math.NaN()
		}
		if lp := prior.LogProb(out); !math.IsInf(lp, -1) {
			t.Errorf("%s: LogProb(%v) = %v, want -Inf", name, out, lp)
		}
	}
	// Exact values at one point.
	check := func(name string, x []float64, want float64) {
		if got := mustGet(t, name).Prior().LogProb(x); math.Abs(got-want) > 1e-12 {
			t.Errorf("%s: LogProb(%v) = %v, want %v", name, x, got, want)
		}
	}
	check("two_moons", []float64{0.3, -0.9}, -2*math.Log(2))
	check("slcp", []float64{0, 0, 0, 0, 2.9}, -5*math.Log(6))
	check("gaussian_linear", fill(10, 0.1), 10*(-0.5*0.1-0.5*math.Log(2*math.Pi*0.1)))
	// LogNormal(log 0.4, 0.5) at its median 0.4 and LogNormal(log 0.125, 0.2) at 0.125.
	check("sir", []float64{0.4, 0.125}, -math.Log(0.5*0.4)-math.Log(0.2*0.125)-math.Log(2*math.Pi))
}

// TestSimulateDeterminism: same seed, same output; another seed, other output; a prefix
// of a batch is simulated exactly as the whole batch's first rows; the number of goroutines
// does not matter.
func TestSimulateDeterminism(t *testing.T) {
	for _, name := range Names() {
		task := mustGet(t, name)
		x := task.Prior().Sample(64, 1)
		y1 := task.Simulate(x, 42)
		y2 := task.Simulate(x, 42)
		y3 := task.Simulate(x, 43)
		prefix := task.Simulate(x[:10], 42)
		prev := runtime.GOMAXPROCS(1)
		serial := task.Simulate(x, 42)
		runtime.GOMAXPROCS(prev)
		if len(y1) != 64 || len(y1[0]) != task.DimY() {
			t.Fatalf("%s: output shape [%d][%d]", name, len(y1), len(y1[0]))
		}
		differ := 0
		for i := range y1 {
			if !slices.Equal(y1[i], y2[i]) || !slices.Equal(y1[i], serial[i]) {
				t.Fatalf("%s: row %d not reproducible", name, i)
			}
			if i < 10 && !slices.Equal(y1[i], prefix[i]) {
				t.Fatalf("%s: row %d depends on the batch it is in", name, i)
			}
			if !slices.Equal(y1[i], y3[i]) {
				differ++
			}
		}
		if differ < 60 { // sir's binomial counts can coincide, rarely
			t.Errorf("%s: only %d of 64 rows change with the seed", name, differ)
		}
		// The prior's stream differs from the simulator's for the same seed.
		if slices.Equal(task.Prior().Sample(1, 42)[0], x[0]) {
			t.Errorf("%s: prior rows should depend on the seed", name)
		}
	}
}

func TestSimulateBadWidthPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "DimX") {
			t.Errorf("recovered %v, want a panic naming DimX", r)
		}
	}()
	slcp{}.Simulate([][]float64{{1, 2}}, 0)
}

// TestSimulateNaN: a NaN parameter gives a NaN row, which the datasets layer drops.
func TestSimulateNaN(t *testing.T) {
	for _, name := range Names() {
		task := mustGet(t, name)
		x := task.Prior().Sample(1, 1)
		x[0][0] = math.NaN()
		if y := task.Simulate(x, 1); !math.IsNaN(y[0][0]) && !math.IsNaN(y[0][len(y[0])-1]) {
			t.Errorf("%s: Simulate with a NaN parameter gave %v", name, y[0])
		}
	}
}

// TestGaussianLinearNoise: y − x ~ N(0, 0.1·I), with both priors.
func TestGaussianLinearNoise(t *testing.T) {
	for _, name := range []string{"gaussian_linear", "gaussian_linear_uniform"} {
		task := mustGet(t, name)
		x := task.Prior().Sample(10_000, 3)
		y := task.Simulate(x, 4)
		var d []float64
		for i := range y {
			for j := range y[i] {
				d = append(d, y[i][j]-x[i][j])
			}
		}
		mean, std := meanStd(d)
		if math.Abs(mean) > 5*math.Sqrt(0.1/1e5) || math.Abs(std*std/0.1-1) > 0.02 {
			t.Errorf("%s: y − x has mean %.5f variance %.5f, want 0, 0.1", name, mean, std*std)
		}
	}
}

// TestTwoMoonsGeometry recovers p = y − g(x) and checks its radius ~ N(0.1, 0.01²) and its
// angle ~ U(−π/2, π/2) around (0.25, 0).
func TestTwoMoonsGeometry(t *testing.T) {
	task := twoMoons{}
	x := task.Prior().Sample(20_000, 5)
	y := task.Simulate(x, 6)
	var r, a []float64
	for i := range y {
		p0 := y[i][0] + math.Abs(x[i][0]+x[i][1])/math.Sqrt2
		p1 := y[i][1] - (x[i][1]-x[i][0])/math.Sqrt2
		r = append(r, math.Hypot(p0-0.25, p1))
		a = append(a, math.Atan2(p1, p0-0.25))
	}
	mr, sr := meanStd(r)
	ma, sa := meanStd(a)
	if math.Abs(mr-0.1) > 5*0.01/math.Sqrt(2e4) || math.Abs(sr/0.01-1) > 0.03 {
		t.Errorf("radius mean %.5f std %.5f, want 0.1, 0.01", mr, sr)
	}
	if math.Abs(ma) > 0.05 || math.Abs(sa/(math.Pi/math.Sqrt(12))-1) > 0.03 || slices.Max(a) > math.Pi/2 || slices.Min(a) < -math.Pi/2 {
		t.Errorf("angle mean %.4f std %.4f range [%.4f, %.4f], want U(−π/2, π/2)", ma, sa, slices.Min(a), slices.Max(a))
	}
}

// TestGaussianMixtureNoise: y − x is ½N(0, 1) + ½N(0, 0.01): variance 0.505 and fourth
// moment 3·(½·1 + ½·10⁻⁴) per coordinate.
func TestGaussianMixtureNoise(t *testing.T) {
	task := gaussianMixture{}
	x := task.Prior().Sample(40_000, 8)
	y := task.Simulate(x, 9)
	var m2, m4, small float64
	n := 0.0
	for i := range y {
		d0, d1 := y[i][0]-x[i][0], y[i][1]-x[i][1]
		for _, d := range []float64{d0, d1} {
			m2 += d * d
			m4 += d * d * d * d
			n++
		}
		if math.Hypot(d0, d1) < 0.4 { // nearly only the narrow component: P = ½(1−e^{−8}) + ½(1−e^{−0.08})
			small++
		}
	}
	m2, m4, small = m2/n, m4/n, small/float64(len(y))
	wantSmall := 0.5*(1-math.Exp(-8)) + 0.5*(1-math.Exp(-0.08))
	if math.Abs(m2-0.505) > 0.015 || math.Abs(m4-1.50015) > 0.1 || math.Abs(small-wantSmall) > 0.01 {
		t.Errorf("E[d²] %.4f E[d⁴] %.4f P(|d|<0.4) %.4f, want 0.505, 1.500, %.4f", m2, m4, small, wantSmall)
	}
}

// TestSLCPCovariance simulates many times from one x and compares the mean and covariance of
// the four points (taken as consecutive pairs) with m and S(x). A wrong ordering of y would
// mix the two coordinates and fail.
func TestSLCPCovariance(t *testing.T) {
	x := []float64{0.7, -1.2, 1.3, -0.8, 0.9} // s₁ = 1.69, s₂ = 0.64, ρ = tanh 0.9
	xs := make([][]float64, 20_000)
	for i := range xs {
		xs[i] = x
	}
	y := slcp{}.Simulate(xs, 11)
	var pts [][]float64
	for _, row := range y {
		for k := range 4 {
			pts = append(pts, []float64{row[2*k], row[2*k+1]})
		}
	}
	mean, cov := meanCovariance(pts)
	a, b, c := slcpCov(x)
	want := [][]float64{{a, c}, {c, b}}
	for j := range 2 {
		if se := math.Sqrt(want[j][j] / float64(len(pts))); math.Abs(mean[j]-x[j]) > 5*se {
			t.Errorf("mean[%d] = %.4f, want %.4f", j, mean[j], x[j])
		}
		for l := range 2 {
			if math.Abs(cov[j][l]-want[j][l]) > 0.02*math.Sqrt(want[j][j]*want[l][l]) {
				t.Errorf("cov[%d][%d] = %.4f, want %.4f", j, l, cov[j][l], want[j][l])
			}
		}
	}
}

// TestSIRReadings: y_k ~ Binomial(1000, I(t_k)/N): counts in [0, 1000] whose mean and
// variance over repeated simulations match 1000·p and 1000·p(1−p).
func TestSIRReadings(t *testing.T) {
	x := []float64{0.4, 0.125}
	p := make([]float64, sirOutputs)
	if err := sirInfected(sirSolver, x[0], x[1], p); err != nil {
		t.Fatal(err)
	}
	xs := make([][]float64, 4000)
	for i := range xs {
		xs[i] = x
	}
	y := sir{}.Simulate(xs, 12)
	for k := range sirOutputs {
		c := column(y, k)
		for _, v := range c {
			if v != math.Trunc(v) || v < 0 || v > 1000 {
				t.Fatalf("reading %v is not a count in [0, 1000]", v)
			}
		}
		mean, std := meanStd(c)
		wantMean, wantVar := 1000*p[k], 1000*p[k]*(1-p[k])
		if math.Abs(mean-wantMean) > 5*math.Sqrt(wantVar/4000)+1e-9 ||
			(wantVar > 1 && math.Abs(std*std/wantVar-1) > 0.1) {
			t.Errorf("day %d: mean %.3f var %.3f, want %.3f, %.3f", k*sirDays, mean, std*std, wantMean, wantVar)
		}
	}
	if math.Abs(p[0]/1e-6-1) > 1e-14 {
		t.Errorf("I(0)/N = %v, want 1e-6", p[0])
	}
}

// TestLotkaVolterraNoise: log y − log clamp(u) ~ N(0, 0.1²) around the ODE solution, prey first.
func TestLotkaVolterraNoise(t *testing.T) {
	x := []float64{0.8, 0.05, 0.9, 0.05}
	logU, logV := make([]float64, lvOutputs), make([]float64, lvOutputs)
	if err := lvLogPopulations(lvSolver, x, logU, logV); err != nil {
		t.Fatal(err)
	}
	if math.Abs(logU[0]-math.Log(30)) > 1e-15 || logV[0] != 0 {
		t.Errorf("initial state (%v, %v), want (30, 1)", math.Exp(logU[0]), math.Exp(logV[0]))
	}
	xs := make([][]float64, 4000)
	for i := range xs {
		xs[i] = x
	}
	y := lotkaVolterra{}.Simulate(xs, 13)
	truth := append(clone(logU), logV...)
	for k, l := range truth {
		c := column(y, k)
		for i := range c {
			c[i] = math.Log(c[i]) - math.Min(math.Max(l, math.Log(1e-10)), math.Log(1e4))
		}
		mean, std := meanStd(c)
		if math.Abs(mean) > 5*0.1/math.Sqrt(4000) || math.Abs(std/0.1-1) > 0.05 {
			t.Errorf("output %d: log-noise mean %.4f std %.4f, want 0, 0.1", k, mean, std)
		}
	}
}
