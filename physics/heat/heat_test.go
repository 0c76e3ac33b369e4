package heat

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/physics/physicstest"
)

// mode is amp·Π_a cos(k_a·x_a + phase_a), which ∂u/∂t = ν∆u multiplies by exp(−ν·|k|²·t). A phase of
// −π/2 makes the factor a sine.
type mode struct {
	amp      float64
	k, phase []float64 // per grid axis
}

const sine = -math.Pi / 2

// solution is the exact solution Σ modes at time t on the cell centres of g, as a [1, …] field.
func solution(g grid.Grid, nu, t float64, modes []mode) *tensors.Tensor {
	c := make([][]float64, g.Dim())
	for a := range c {
		c[a] = g.Coords(a)
	}
	u := make([]float64, g.Cells())
	for i := range u {
		// The cell's coordinates in row-major order (y, x).
		x := make([]float64, g.Dim())
		r := i
		for a := g.Dim() - 1; a >= 0; a-- {
			x[a] = c[a][r%g.N[a]]
			r /= g.N[a]
		}
		for _, m := range modes {
			v, k2 := m.amp, 0.0
			for a := range x {
				v *= math.Cos(m.k[a]*x[a] + m.phase[a])
				k2 += m.k[a] * m.k[a]
			}
			u[i] += v * math.Exp(-nu*k2*t)
		}
	}
	return tensors.FromFlatDataAndDimensions(u, append([]int{1}, g.N...)...)
}

// cases are sums of modes satisfying each boundary: sines for Dirichlet, cosines (and a constant)
// for Neumann, both for periodic; in 1-D and in 2-D with ny ≠ nx and Ly ≠ Lx. grid(n) is the grid
// at refinement n; t is the final time.
var cases = []struct {
	name  string
	grid  func(n int) grid.Grid
	t     float64
	modes []mode
}{
	{"1-D periodic", func(n int) grid.Grid { return grid.New1D(n, 2*math.Pi, grid.Periodic) }, 0.5,
		[]mode{{1, []float64{1}, []float64{sine}}, {0.5, []float64{3}, []float64{0}}}},
	{"1-D dirichlet", func(n int) grid.Grid { return grid.New1D(n, 1, grid.Dirichlet) }, 0.02,
		[]mode{{1, []float64{math.Pi}, []float64{sine}}, {0.5, []float64{3 * math.Pi}, []float64{sine}}}},
	{"1-D neumann", func(n int) grid.Grid { return grid.New1D(n, 1, grid.Neumann) }, 0.02,
		[]mode{{0.3, []float64{0}, []float64{0}}, {1, []float64{math.Pi}, []float64{0}}, {0.5, []float64{2 * math.Pi}, []float64{0}}}},
	{"2-D periodic", func(n int) grid.Grid { return grid.New2D(n, 2*n, 2*math.Pi, 4*math.Pi, grid.Periodic) }, 0.5,
		[]mode{{1, []float64{1, 0.5}, []float64{sine, 0}}, {0.5, []float64{2, 1.5}, []float64{0, sine}}}},
	{"2-D dirichlet", func(n int) grid.Grid { return grid.New2D(n, 2*n, 1, 2, grid.Dirichlet) }, 0.02,
		[]mode{{1, []float64{math.Pi, math.Pi / 2}, []float64{sine, sine}}, {0.5, []float64{2 * math.Pi, 3 * math.Pi / 2}, []float64{sine, sine}}}},
	{"2-D neumann", func(n int) grid.Grid { return grid.New2D(n, 2*n, 1, 2, grid.Neumann) }, 0.02,
		[]mode{{0.3, []float64{0, 0}, []float64{0, 0}}, {1, []float64{math.Pi, math.Pi / 2}, []float64{0, 0}}, {0.5, []float64{0, math.Pi}, []float64{0, 0}}}},
}

func maxErr(t *testing.T, got, want *tensors.Tensor) float64 {
	t.Helper()
	g, w := tensors.MustCopyFlatData[float64](got), tensors.MustCopyFlatData[float64](want)
	e := 0.0
	for i := range g {
		e = max(e, math.Abs(g[i]-w[i]))
	}
	return e
}

// TestExplicitConvergence: forward Euler with dt ∝ dx² (diffusion number 1/4 of the 1/2 limit)
// against the exact decay of the modes, second order in dx.
func TestExplicitConvergence(t *testing.T) {
	b := testbackend.Get(t)
	const nu = 1.0
	for _, c := range cases {
		var errs []float64
		for _, n := range []int{16, 32, 64} {
			g := c.grid(n)
			h := Heat{Domain: g, Nu: nu}
			steps := int(math.Ceil(c.t / (0.5 * h.MaxDt())))
			h.Dt = c.t / float64(steps)
			final, _, err := physics.Rollout(b, h, []*tensors.Tensor{solution(g, nu, 0, c.modes)}, steps, physics.Options{})
			if err != nil {
				t.Fatal(err)
			}
			errs = append(errs, maxErr(t, final[0], solution(g, nu, c.t, c.modes)))
		}
		p := physicstest.Order(errs)
		t.Logf("%s explicit: max errors %.3g at n = 16, 32, 64: order %.2f", c.name, errs, p)
		if math.Abs(p-2) > 0.3 {
			t.Errorf("%s explicit: order %.2f, want 2 ± 0.3 (errors %.3g)", c.name, p, errs)
		}
	}
}

// TestExact: the exact step reproduces exp(−ν|k|²t) to 1e-10, in ten steps and in one big step (far
// beyond the explicit limit), for every boundary.
func TestExact(t *testing.T) {
	b := testbackend.Get(t)
	const nu = 0.7
	for _, c := range cases {
		g := c.grid(24)
		for _, steps := range []int{1, 10} {
			h := Heat{Domain: g, Nu: nu, Dt: c.t / float64(steps), Scheme: Exact}
			final, _, err := physics.Rollout(b, h, []*tensors.Tensor{solution(g, nu, 0, c.modes)}, steps, physics.Options{})
			if err != nil {
				t.Fatal(err)
			}
			e := maxErr(t, final[0], solution(g, nu, c.t, c.modes))
			t.Logf("%s exact, %d steps (dt = %.0f× the explicit limit): max error %.2g", c.name, steps, h.Dt/h.MaxDt(), e)
			if e > 1e-10 {
				t.Errorf("%s exact, %d steps: max error %.3g, want ≤ 1e-10", c.name, steps, e)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	g := grid.New2D(16, 32, 1, 2, grid.Periodic) // dx = 1/16 on both axes
	h := Heat{Domain: g, Nu: 0.1}
	maxDt := 1 / (2 * 0.1 * (256 + 256.0))
	if math.Abs(h.MaxDt()-maxDt) > 1e-15*maxDt {
		t.Fatalf("MaxDt = %g, want %g", h.MaxDt(), maxDt)
	}
	h.Dt = maxDt
	if err := h.Check(); err != nil {
		t.Errorf("dt at the limit: %v", err)
	}
	h.Dt = 1.01 * maxDt
	var se *physics.StabilityError
	if err := h.Check(); !errors.As(err, &se) || se.MaxDt != h.MaxDt() || !strings.Contains(err.Error(), fmt.Sprintf("dt ≤ %g", maxDt)) {
		t.Errorf("dt beyond the limit: got %v", err)
	}
	h.Scheme = Exact
	if err := h.Check(); err != nil {
		t.Errorf("the exact scheme is stable for every dt: %v", err)
	}
	for name, bad := range map[string]Heat{
		"negative ν":   {Domain: g, Nu: -1, Dt: 1e-4},
		"zero dt":      {Domain: g, Nu: 1},
		"scheme":       {Domain: g, Nu: 1, Dt: 1e-4, Scheme: "implicit"},
		"grid":         {Domain: grid.New1D(2, 1, grid.Periodic), Nu: 1, Dt: 1e-4},
		"exact, big n": {Domain: grid.New1D(1000, 1, grid.Periodic), Nu: 1, Dt: 1e-4, Scheme: Exact},
	} {
		if err := bad.Check(); err == nil || errors.As(err, &se) {
			t.Errorf("%s: got %v, want a settings error", name, err)
		}
	}
}

// TestStabilityLimit: MaxDt is the true limit. The highest periodic mode (−1)ⁱ is multiplied by
// 1 − 4ν·dt/dx² per step: −1 at MaxDt, so it grows by 1.05¹⁰⁰ ≈ 130 in 100 steps just beyond
// (dt = 1.025·MaxDt) and decays just below.
func TestStabilityLimit(t *testing.T) {
	b := testbackend.Get(t)
	g := grid.New1D(16, 1, grid.Periodic)
	u0 := make([]float64, 16)
	for i := range u0 {
		u0[i] = float64(1 - 2*(i%2))
	}
	for _, f := range []float64{0.975, 1.025} {
		h := Heat{Domain: g, Nu: 0.3}
		h.Dt = f * h.MaxDt()
		out, err := ExecOnce(b, func(u *Node) *Node { return physics.Unroll(h, []*Node{u}, 100)[0] },
			tensors.FromFlatDataAndDimensions(u0, 1, 16))
		if err != nil {
			t.Fatal(err)
		}
		amp := math.Abs(tensors.MustCopyFlatData[float64](out)[0])
		want := math.Pow(math.Abs(1-4*f*0.5), 100)
		if math.Abs(amp-want) > 1e-9*want || (f < 1) != (amp < 1) {
			t.Errorf("dt = %g·MaxDt: highest mode's amplitude %g after 100 steps, want %g", f, amp, want)
		}
	}
}

// TestResidual: each scheme's residual is zero for its own step and (ε/dt)² per row for its step
// plus ε; for the exact solution sampled one dt apart, the exact scheme's residual is zero to
// rounding even far beyond the explicit limit, while the explicit one is forward Euler's local error.
func TestResidual(t *testing.T) {
	b := testbackend.Get(t)
	rng := rand.New(rand.NewPCG(5, 6))
	g := grid.New2D(6, 8, 1, 1.5, grid.Neumann)
	u := make([]float64, 2*g.Cells())
	for i := range u {
		u[i] = rng.NormFloat64()
	}
	eps := []float64{0, 1e-3}
	for _, scheme := range []Scheme{Explicit, Exact} {
		h := Heat{Domain: g, Nu: 0.2, Scheme: scheme}
		h.Dt = 0.5 * h.MaxDt()
		out, err := ExecOnce(b, func(u, e *Node) *Node {
			next := h.Step([]*Node{u})[0]
			return h.Residual([]*Node{u}, []*Node{Add(next, Reshape(e, 2, 1, 1))})
		}, tensors.FromFlatDataAndDimensions(u, 2, 6, 8), eps)
		if err != nil {
			t.Fatal(err)
		}
		r := tensors.MustCopyFlatData[float64](out)
		if want := eps[1] * eps[1] / (h.Dt * h.Dt); len(r) != 2 || r[0] > 1e-20 || math.Abs(r[1]-want) > 1e-6*want {
			t.Errorf("%s: residuals %g, want [0, %g]", scheme, r, want)
		}
	}

	const nu = 0.7
	c := cases[3] // 2-D periodic
	g = c.grid(16)
	explicit := Heat{Domain: g, Nu: nu}
	for _, f := range []float64{0.5, 10} {
		dt := f * explicit.MaxDt()
		prev, next := solution(g, nu, 0, c.modes), solution(g, nu, dt, c.modes)
		for _, scheme := range []Scheme{Explicit, Exact} {
			h := Heat{Domain: g, Nu: nu, Dt: dt, Scheme: scheme}
			out, err := ExecOnce(b, func(prev, next *Node) *Node {
				return h.Residual([]*Node{prev}, []*Node{next})
			}, prev, next)
			if err != nil {
				t.Fatal(err)
			}
			r := math.Sqrt(tensors.MustCopyFlatData[float64](out)[0])
			t.Logf("dt = %g·MaxDt: RMS %s residual of the exact solution %.2g", f, scheme, r)
			if scheme == Exact && r > 1e-10 {
				t.Errorf("dt = %g·MaxDt: the exact scheme's residual of the exact solution is %.3g, want 0", f, r)
			}
			if scheme == Explicit && r < 1e-3 {
				t.Errorf("dt = %g·MaxDt: the explicit scheme's residual of the exact solution is %.3g, want its local error", f, r)
			}
		}
	}
}

// TestGradients: the gradient of a loss after 20 steps against finite differences, for both schemes,
// in 1-D and 2-D, for every boundary.
func TestGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, g := range []grid.Grid{
		grid.New1D(8, 1, grid.Periodic), grid.New1D(8, 1, grid.Dirichlet), grid.New1D(8, 1, grid.Neumann),
		grid.New2D(5, 6, 1, 1.2, grid.Periodic), grid.New2D(5, 6, 1, 1.2, grid.Dirichlet), grid.New2D(6, 5, 1.2, 1, grid.Neumann),
	} {
		u := make([]float64, 2*g.Cells())
		for i := range u {
			u[i] = rng.NormFloat64()
		}
		state := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(u, append([]int{2}, g.N...)...)}
		for _, s := range []Scheme{Explicit, Exact} {
			h := Heat{Domain: g, Nu: 0.05, Scheme: s}
			h.Dt = 0.4 * h.MaxDt()
			physicstest.CheckGradient(t, h, state, 20)
		}
	}
}
