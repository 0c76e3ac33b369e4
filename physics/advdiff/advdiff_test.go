package advdiff

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/physics/physicstest"
)

// sample is f(y, x) (or f(x) in 1-D, y = 0) at the cell centres of g, flat in row-major order.
func sample(g grid.Grid, f func(y, x float64) float64) []float64 {
	if g.Dim() == 1 {
		out := make([]float64, 0, g.Cells())
		for _, x := range g.Coords(0) {
			out = append(out, f(0, x))
		}
		return out
	}
	out := make([]float64, 0, g.Cells())
	for _, y := range g.Coords(0) {
		for _, x := range g.Coords(1) {
			out = append(out, f(y, x))
		}
	}
	return out
}

// field is c as a [1, N…] tensor of the given dtype.
func field(g grid.Grid, c []float64, dtype dtypes.DType) *tensors.Tensor {
	dims := append([]int{1}, g.N...)
	if dtype == dtypes.Float32 {
		c32 := make([]float32, len(c))
		for i, x := range c {
			c32[i] = float32(x)
		}
		return tensors.FromFlatDataAndDimensions(c32, dims...)
	}
	return tensors.FromFlatDataAndDimensions(append([]float64(nil), c...), dims...)
}

// run is c0 after steps steps of sim (physics.Rollout), in float64.
func run(t *testing.T, sim physics.Simulator, c0 *tensors.Tensor, steps int) []float64 {
	t.Helper()
	final, _, err := physics.Rollout(testbackend.Get(t), sim, []*tensors.Tensor{c0}, steps, physics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if final[0].DType() == dtypes.Float32 {
		c := tensors.MustCopyFlatData[float32](final[0])
		out := make([]float64, len(c))
		for i, x := range c {
			out[i] = float64(x)
		}
		return out
	}
	return tensors.MustCopyFlatData[float64](final[0])
}

func rms(got, want []float64) float64 {
	s := 0.0
	for i := range got {
		s += (got[i] - want[i]) * (got[i] - want[i])
	}
	return math.Sqrt(s / float64(len(got)))
}

// convergence runs a periodic problem to time T on grids of ns cells per axis (refined by 2) with
// dt ∝ dx — dt = ½·MaxDt of the finest grid, scaled by its dx — and returns the RMS errors against
// exact(t, y, x).
func convergence(t *testing.T, dim int, ns []int, scheme Scheme, v []float64, kappa, T float64, exact func(t, y, x float64) float64) []float64 {
	t.Helper()
	grids := make([]grid.Grid, len(ns))
	for i, n := range ns {
		if dim == 1 {
			grids[i] = grid.New1D(n, 1, grid.Periodic)
		} else {
			grids[i] = grid.New2D(n, n, 1, 1, grid.Periodic)
		}
	}
	finest := grids[len(grids)-1]
	maxDt := AdvDiff{Domain: finest, V: Uniform(finest, v...), Kappa: kappa, Scheme: scheme}.MaxDt()
	var errs []float64
	for i, g := range grids {
		dt := 0.5 * maxDt * float64(ns[len(ns)-1]/ns[i])
		steps := int(math.Ceil(T / dt))
		sim := AdvDiff{Domain: g, V: Uniform(g, v...), Kappa: kappa, Dt: T / float64(steps), Scheme: scheme}
		c0 := sample(g, func(y, x float64) float64 { return exact(0, y, x) })
		got := run(t, sim, field(g, c0, dtypes.Float64), steps)
		errs = append(errs, rms(got, sample(g, func(y, x float64) float64 { return exact(T, y, x) })))
	}
	return errs
}

// TestTranslation: with a uniform v and κ = 0 a smooth periodic profile translates exactly,
// c(t, x) = c₀(x − v·t); the error against it falls as dx^p, p the scheme's order.
func TestTranslation(t *testing.T) {
	bump := func(x float64) float64 { return math.Exp(math.Cos(2 * math.Pi * x)) }
	for _, tc := range []struct {
		name   string
		dim    int
		scheme Scheme
		ns     []int
		want   float64
	}{
		{"upwind 2-D", 2, Upwind, []int{32, 64, 128}, 1},
		{"central 2-D", 2, Central, []int{16, 32, 64}, 2},
		{"upwind 1-D", 1, Upwind, []int{64, 128, 256, 512}, 1},
		{"central 1-D", 1, Central, []int{32, 64, 128, 256}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := []float64{0.6, 1}[2-tc.dim:] // (v_y, v_x), or v_x in 1-D
			exact := func(t, y, x float64) float64 {
				if tc.dim == 1 {
					return bump(x - v[0]*t)
				}
				return bump(x-v[1]*t) * bump(y-v[0]*t)
			}
			errs := convergence(t, tc.dim, tc.ns, tc.scheme, v, 0, 0.37, exact)
			p := physicstest.Order(errs)
			t.Logf("%s: RMS errors %.3g on n = %v: order %.2f", tc.name, errs, tc.ns, p)
			if math.Abs(p-tc.want) > 0.3 {
				t.Errorf("%s: order %.2f, want %g ± 0.3 (errors %.3g)", tc.name, p, tc.want, errs)
			}
		})
	}
}

// TestFourierMode: with diffusion too, a Fourier mode translates and decays,
// c(t, x) = exp(−κ|k|²t)·sin(k·(x − v·t)).
func TestFourierMode(t *testing.T) {
	const kappa = 0.005
	v := []float64{0.6, 1}
	ky, kx := 2*math.Pi, 2*math.Pi
	exact := func(t, y, x float64) float64 {
		return math.Exp(-kappa*(kx*kx+ky*ky)*t) * math.Sin(kx*(x-v[1]*t)+ky*(y-v[0]*t))
	}
	for _, tc := range []struct {
		scheme Scheme
		ns     []int
		want   float64
	}{
		{Upwind, []int{32, 64, 128}, 1},
		{Central, []int{16, 32, 64}, 2},
	} {
		errs := convergence(t, 2, tc.ns, tc.scheme, v, kappa, 0.4, exact)
		p := physicstest.Order(errs)
		t.Logf("%s with κ = %g: RMS errors %.3g on n = %v: order %.2f", tc.scheme, kappa, errs, tc.ns, p)
		if math.Abs(p-tc.want) > 0.3 {
			t.Errorf("%s with diffusion: order %.2f, want %g ± 0.3 (errors %.3g)", tc.scheme, p, tc.want, errs)
		}
	}
}

// TestOperator: one Euler increment dt·L(c) is the grid operators' −v·∇c + κ∆c for a uniform v on
// a periodic grid (grid.AdvectUpwind or AdvectCentral, grid.Laplacian), and the diffusion alone is
// κ·grid.Laplacian with each boundary's ghost cells.
func TestOperator(t *testing.T) {
	b := testbackend.Get(t)
	const kappa, dt = 0.02, 1e-3
	rng := rand.New(rand.NewPCG(1, 2))
	c0 := make([]float64, 2*6*8)
	for i := range c0 {
		c0[i] = rng.NormFloat64()
	}
	for _, tc := range []struct {
		bc     grid.Boundary
		v      []float64
		scheme Scheme
	}{
		{grid.Periodic, []float64{0.7, -1.3}, Upwind},
		{grid.Periodic, []float64{0.7, -1.3}, Central},
		{grid.Dirichlet, []float64{0, 0}, Central},
		{grid.Neumann, []float64{0, 0}, Upwind},
	} {
		g := grid.New2D(6, 8, 1.5, 1, tc.bc)
		sim := AdvDiff{Domain: g, V: Uniform(g, tc.v...), Kappa: kappa, Dt: dt, Scheme: tc.scheme}
		if err := sim.Check(); err != nil {
			t.Fatal(err)
		}
		c := tensors.FromFlatDataAndDimensions(c0, 2, 6, 8)
		diff, err := ExecOnce(b, func(c *Node) *Node {
			lo, hi := sim.coefficients(c.Graph(), c.DType())
			got := DivScalar(sim.increment(c, lo, hi), dt)
			v := []*Node{Scalar(c.Graph(), c.DType(), tc.v[0]), Scalar(c.Graph(), c.DType(), tc.v[1])}
			adv := g.AdvectCentral(c, v)
			if tc.scheme == Upwind {
				adv = g.AdvectUpwind(c, v)
			}
			return Sub(got, Sub(MulScalar(g.Laplacian(c), kappa), adv))
		}, c)
		if err != nil {
			t.Fatal(err)
		}
		if e := rms(tensors.MustCopyFlatData[float64](diff), make([]float64, len(c0))); e > 1e-12 {
			t.Errorf("%s %s v = %v: L(c) differs from the grid operators by %g RMS", tc.bc, tc.scheme, tc.v, e)
		}
	}
}

// TestMass: the conservative fluxes keep the mass Σc·dx·dy of a blob in the cellular flow, over
// many steps, on a periodic grid and in a closed (Neumann) box; upwind keeps c ≥ 0.
func TestMass(t *testing.T) {
	const steps = 400
	for _, tc := range []struct {
		bc     grid.Boundary
		scheme Scheme
		kappa  float64
		dtype  dtypes.DType
		tol    float64
	}{
		{grid.Periodic, Upwind, 0, dtypes.Float64, 1e-12},
		{grid.Periodic, Central, 0, dtypes.Float64, 1e-12},
		{grid.Periodic, Central, 1e-3, dtypes.Float32, 1e-5},
		{grid.Neumann, Upwind, 1e-3, dtypes.Float64, 1e-12},
		{grid.Neumann, Central, 1e-3, dtypes.Float32, 1e-5},
	} {
		g := grid.New2D(32, 32, 1, 1, tc.bc)
		v, err := Cellular(g, 1)
		if err != nil {
			t.Fatal(err)
		}
		sim := AdvDiff{Domain: g, V: v, Kappa: tc.kappa, Scheme: tc.scheme}
		sim.Dt = sim.MaxDt()
		c0 := sample(g, func(y, x float64) float64 {
			return math.Exp(-((x-0.3)*(x-0.3) + (y-0.4)*(y-0.4)) / 0.02)
		})
		c := run(t, sim, field(g, c0, tc.dtype), steps)
		mass := func(c []float64) float64 {
			m := 0.0
			for _, x := range c {
				m += x * g.Dx(0) * g.Dx(1)
			}
			return m
		}
		rel := math.Abs(mass(c)-mass(c0)) / mass(c0)
		lowest := math.Inf(1)
		for _, x := range c {
			lowest = min(lowest, x)
		}
		t.Logf("%s %s κ = %g %s: relative mass change %.2g after %d steps (dt = %.3g), min c = %.3g",
			tc.bc, tc.scheme, tc.kappa, tc.dtype, rel, steps, sim.Dt, lowest)
		if rel > tc.tol {
			t.Errorf("%s %s %s: relative mass change %.3g after %d steps, want ≤ %g", tc.bc, tc.scheme, tc.dtype, rel, steps, tc.tol)
		}
		if tc.scheme == Upwind && lowest < 0 {
			t.Errorf("%s upwind: c went negative (%g): the scheme should be monotone at MaxDt", tc.bc, lowest)
		}
	}
}

// TestStability: a dt beyond MaxDt is refused with a *physics.StabilityError naming MaxDt, which is
// the scheme's limit in closed form for a uniform v; at MaxDt noise does not grow, and 10% beyond
// it (forced past the check) it does.
func TestStability(t *testing.T) {
	b := testbackend.Get(t)
	g := grid.New2D(16, 32, 1, 2, grid.Periodic)
	v := Uniform(g, 0.5, -1) // |v_y|/dy + |v_x|/dx = 0.5·16 + 1·16 = 24
	const kappa = 1e-3       // κ·Σ1/dx² = 1e-3·(256 + 256) = 0.512
	schemes := []Scheme{Upwind, Central}
	want := []float64{1 / (24 + 2*0.512), 1 / (24/math.Sqrt(3) + 4*0.512/2.5)}
	rng := rand.New(rand.NewPCG(7, 7))
	noise := make([]float64, g.Cells())
	for i := range noise {
		noise[i] = rng.NormFloat64()
	}
	norm := func(c []float64) float64 { return rms(c, make([]float64, len(c))) }
	for i, scheme := range schemes {
		maxDt := want[i]
		sim := AdvDiff{Domain: g, V: v, Kappa: kappa, Scheme: scheme}
		got := sim.MaxDt()
		if math.Abs(got-maxDt) > 1e-12*maxDt {
			t.Fatalf("%s: MaxDt = %g; want %g", scheme, got, maxDt)
		}
		sim.Dt = 1.01 * maxDt
		err := sim.Check()
		var se *physics.StabilityError
		if !errors.As(err, &se) || se.MaxDt != got || !strings.Contains(err.Error(), "use dt ≤") {
			t.Fatalf("%s at 1.01·MaxDt: error %v, want a *physics.StabilityError with MaxDt %g", scheme, err, maxDt)
		}
		t.Logf("%s: %v", scheme, err)

		// The guard is tight for advection alone and for diffusion alone: noise does not grow over
		// 200 steps at MaxDt, and does 10% beyond it.
		for _, flow := range []struct {
			v     [][]float64
			kappa float64
		}{{v, 0}, {Uniform(g, 0, 0), kappa}} {
			sim := AdvDiff{Domain: g, V: flow.v, Kappa: flow.kappa, Scheme: scheme}
			sim.Dt = sim.MaxDt()
			stable := norm(run(t, sim, field(g, noise, dtypes.Float64), 200)) / norm(noise)
			// Past the guard Rollout refuses: step the simulator with an Exec.
			sim.Dt *= 1.1
			exec, err := NewExec(b, func(c *Node) *Node { return sim.Step([]*Node{c})[0] })
			if err != nil {
				t.Fatal(err)
			}
			c := field(g, noise, dtypes.Float64)
			for range 200 {
				c = exec.MustExec1(c)
			}
			unstable := norm(tensors.MustCopyFlatData[float64](c)) / norm(noise)
			t.Logf("%s, κ = %g: RMS growth over 200 steps %.3g at MaxDt, %.3g at 1.1·MaxDt", scheme, flow.kappa, stable, unstable)
			if stable > 1+1e-9 || unstable < 2 {
				t.Errorf("%s, κ = %g: RMS growth %.3g at MaxDt (want ≤ 1), %.3g at 1.1·MaxDt (want > 2)", scheme, flow.kappa, stable, unstable)
			}
		}
	}
}

// TestSettings: bad settings are errors that name the fix.
func TestSettings(t *testing.T) {
	g := grid.New2D(8, 8, 1, 1, grid.Periodic)
	for _, tc := range []struct {
		name   string
		v      [][]float64
		kappa  float64
		dt     float64
		scheme Scheme
		want   string
	}{
		{"one component", Uniform(g, 1), 0, 0.01, Upwind, "one component per grid axis"},
		{"short component", [][]float64{make([]float64, 64), make([]float64, 63)}, 0, 0.01, Upwind, "one per cell"},
		{"NaN velocity", Uniform(g, math.NaN(), 0), 0, 0.01, Upwind, "not finite"},
		{"negative κ", Uniform(g, 1, 0), -1, 0.01, Upwind, "diffusivity"},
		{"zero dt", Uniform(g, 1, 0), 0, 0, Upwind, "time step"},
		{"NaN dt", Uniform(g, 1, 0), 0, math.NaN(), Upwind, "time step"},
		{"scheme", Uniform(g, 1, 0), 0, 0.01, "weno", "Scheme must be"},
	} {
		if err := (AdvDiff{Domain: g, V: tc.v, Kappa: tc.kappa, Dt: tc.dt, Scheme: tc.scheme}).Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := Cellular(grid.New1D(8, 1, grid.Periodic), 1); err == nil {
		t.Error("Cellular on a 1-D grid: no error")
	}
	if dt := (AdvDiff{Domain: g, V: Uniform(g, 0, 0), Scheme: Central}).MaxDt(); !math.IsInf(dt, 1) {
		t.Errorf("MaxDt without flow or diffusion = %g; want +Inf", dt)
	}
	v := Uniform(g, 0.5, 1)
	if zero, upwind := (AdvDiff{Domain: g, V: v, Kappa: 0.01}).MaxDt(), (AdvDiff{Domain: g, V: v, Kappa: 0.01, Scheme: Upwind}).MaxDt(); zero != upwind {
		t.Errorf("MaxDt of the zero Scheme = %g, of Upwind %g: the zero Scheme is Upwind", zero, upwind)
	}
	if dt := (AdvDiff{Domain: g, V: Uniform(g, 1)}).MaxDt(); !math.IsNaN(dt) {
		t.Errorf("MaxDt of a velocity with one component on a 2-D grid = %g; want NaN", dt)
	}
}

// TestResidual: an upwind step solves the discrete equation, so its residual vanishes; a central
// (RK3) step leaves Euler's O(dt) residual, which halves with dt.
func TestResidual(t *testing.T) {
	b := testbackend.Get(t)
	g := grid.New2D(16, 16, 1, 1, grid.Periodic)
	v, _ := Cellular(g, 1)
	c0 := field(g, sample(g, func(y, x float64) float64 { return math.Sin(2*math.Pi*x) * math.Cos(4*math.Pi*y) }), dtypes.Float64)
	residual := func(scheme Scheme, dt float64) float64 {
		sim := AdvDiff{Domain: g, V: v, Kappa: 0.01, Dt: dt, Scheme: scheme}
		if err := sim.Check(); err != nil {
			t.Fatal(err)
		}
		r, err := ExecOnce(b, func(c *Node) *Node {
			return sim.Residual([]*Node{c}, sim.Step([]*Node{c}))
		}, c0)
		if err != nil {
			t.Fatal(err)
		}
		return math.Sqrt(tensors.MustCopyFlatData[float64](r)[0])
	}
	if r := residual(Upwind, 0.01); r > 1e-10 {
		t.Errorf("upwind step: RMS residual %g, want 0", r)
	}
	r1, r2 := residual(Central, 0.01), residual(Central, 0.005)
	t.Logf("central step: RMS residual %.3g at dt = 0.01, %.3g at 0.005", r1, r2)
	if ratio := r1 / r2; math.Abs(ratio-2) > 0.2 {
		t.Errorf("central step: residual ratio %.3g on halving dt, want 2 (O(dt))", ratio)
	}
}

// TestGradient: the gradient of a loss after 20 steps against finite differences.
func TestGradient(t *testing.T) {
	for _, tc := range []struct {
		g      grid.Grid
		scheme Scheme
	}{
		{grid.New2D(6, 8, 1, 1, grid.Periodic), Upwind},
		{grid.New2D(6, 8, 1, 1, grid.Dirichlet), Central},
		{grid.New1D(12, 1, grid.Periodic), Central},
	} {
		v := Uniform(tc.g, 0.7)
		if tc.g.Dim() == 2 {
			v, _ = Cellular(tc.g, 1)
		}
		sim := AdvDiff{Domain: tc.g, V: v, Kappa: 0.01, Scheme: tc.scheme}
		sim.Dt = 0.8 * sim.MaxDt()
		rng := rand.New(rand.NewPCG(3, 5))
		c0 := make([]float64, 2*tc.g.Cells())
		for i := range c0 {
			c0[i] = rng.Float64()
		}
		physicstest.CheckGradient(t, sim, []*tensors.Tensor{tensors.FromFlatDataAndDimensions(c0, append([]int{2}, tc.g.N...)...)}, 20)
	}
}

// TestRK3Region: the triangle of MaxDt's central rule, vertices ±i√3 and −2.5, lies in the stability
// region |R(z)| ≤ 1 of SSP-RK3, R(z) = 1 + z + z²/2 + z³/6. |R| is subharmonic, so checking the
// triangle's edges suffices.
func TestRK3Region(t *testing.T) {
	r := func(z complex128) float64 {
		return math.Hypot(real(1+z+z*z/2+z*z*z/6), imag(1+z+z*z/2+z*z*z/6))
	}
	worst := 0.0
	for i := range 10001 {
		s := float64(i) / 10000
		worst = max(worst, r(complex(-rk3Real*s, rk3Imag*(1-s))), r(complex(0, rk3Imag*(2*s-1))))
	}
	if worst > 1+1e-12 {
		t.Errorf("max |R(z)| on the triangle's edges = %.15g, want ≤ 1", worst)
	}
}

// BenchmarkStep measures cell-updates per second of one compiled step at batch 16.
func BenchmarkStep(b *testing.B) {
	be := testbackend.Get(b)
	for _, scheme := range []Scheme{Upwind, Central} {
		for _, n := range []int{64, 128} {
			for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
				b.Run(fmt.Sprintf("%s/%dx%d/%s", scheme, n, n, dtype), func(b *testing.B) {
					const batch = 16
					g := grid.New2D(n, n, 1, 1, grid.Periodic)
					v, _ := Cellular(g, 1)
					sim := AdvDiff{Domain: g, V: v, Kappa: 1e-3, Scheme: scheme}
					sim.Dt = sim.MaxDt()
					exec, err := NewExec(be, func(c *Node) *Node { return sim.Step([]*Node{c})[0] })
					if err != nil {
						b.Fatal(err)
					}
					c := tensors.FromShape(shapes.Make(dtype, batch, n, n))
					c = exec.MustExec1(c) // compile
					b.ResetTimer()
					for range b.N {
						c = exec.MustExec1(c)
					}
					b.ReportMetric(float64(batch*n*n)*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
				})
			}
		}
	}
}
