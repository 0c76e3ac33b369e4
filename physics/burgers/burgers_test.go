package burgers

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/physics/physicstest"
)

// coleHopf is the exact solution of Burgers' equation on [0, 2π) from u₀ = sin x, by the Cole–Hopf
// transform u = −2ν ∂ₓ log φ, where φ solves the heat equation φ_t = νφ_xx from
// φ₀ = exp(−∫₀ˣ u₀/(2ν)) = exp((cos x − 1)/(2ν)). φ₀'s Fourier cosine coefficients c_k come from the
// trapezoidal rule on M points (exact to rounding for this analytic periodic function; they fall
// faster than geometrically, and the series stops where they reach the rounding floor, whose noise
// the k in ∂ₓφ would amplify), and φ(x, t) = c₀ + 2 Σ_k c_k e^{−νk²t} cos kx. The series loses
// accuracy where φ ≪ c₀ (rounding of order 1e-16·c₀ against min φ₀ = e^{−1/ν}): u is good to ~1e-10
// for ν = 0.1 at t = 0 and better later, as the heat equation fills in the minimum of φ.
type coleHopf struct {
	nu float64
	c  []float64
}

func newColeHopf(nu float64) coleHopf {
	const m = 1024
	c := make([]float64, m/2)
	for k := range c {
		for j := range m {
			x := 2 * math.Pi * float64(j) / m
			c[k] += math.Exp((math.Cos(x)-1)/(2*nu)) * math.Cos(float64(k)*x) / m
		}
	}
	k := 1
	for k < len(c) && math.Abs(c[k]) > 1e-15*c[0] {
		k++
	}
	return coleHopf{nu: nu, c: c[:k]}
}

// phi is φ(x, t) and ∂ₓφ(x, t).
func (s coleHopf) phi(x, t float64) (phi, dphi float64) {
	phi = s.c[0]
	for k := 1; k < len(s.c); k++ {
		kk := float64(k)
		a := 2 * s.c[k] * math.Exp(-s.nu*kk*kk*t)
		phi += a * math.Cos(kk*x)
		dphi -= a * kk * math.Sin(kk*x)
	}
	return phi, dphi
}

// point is u(x, t) = −2ν φ_x/φ at the cell centres of g.
func (s coleHopf) point(g grid.Grid, t float64) []float64 {
	u := g.Coords(0)
	for i, x := range u {
		phi, dphi := s.phi(x, t)
		u[i] = -2 * s.nu * dphi / phi
	}
	return u
}

// average is the cell averages of u(·, t) over g's cells, exactly: the integral of u = −2ν ∂ₓ log φ
// over a cell is −2ν(log φ(x_{i+½}) − log φ(x_{i−½})).
func (s coleHopf) average(g grid.Grid, t float64) []float64 {
	dx := g.Dx(0)
	logPhi := make([]float64, g.N[0]+1)
	for i := range logPhi {
		phi, _ := s.phi(float64(i)*dx, t)
		logPhi[i] = math.Log(phi)
	}
	u := make([]float64, g.N[0])
	for i := range u {
		u[i] = -2 * s.nu * (logPhi[i+1] - logPhi[i]) / dx
	}
	return u
}

func TestColeHopfReference(t *testing.T) {
	g := grid.New1D(64, 2*math.Pi, grid.Periodic)
	for _, nu := range []float64{0.1, 0.2} {
		ref := newColeHopf(nu)
		avg, point := ref.average(g, 0), ref.point(g, 0)
		dx := g.Dx(0)
		for i, x := range g.Coords(0) {
			wantAvg := (math.Cos(x-dx/2) - math.Cos(x+dx/2)) / dx // the average of sin over the cell
			if math.Abs(avg[i]-wantAvg) > 1e-9 || math.Abs(point[i]-math.Sin(x)) > 1e-9 {
				t.Fatalf("ν = %g, cell %d: Cole–Hopf at t = 0 gives average %g and value %g, want %g and %g",
					nu, i, avg[i], point[i], wantAvg, math.Sin(x))
			}
		}
	}
}

// run is Rollout of steps steps of s from the rows u0 (each a field), as float64 rows.
func run(t *testing.T, s Burgers, u0 [][]float64, dtype dtypes.DType, steps, every int) (final [][]float64, snapshots [][][]float64) {
	t.Helper()
	n := len(u0[0])
	flat := make([]float64, 0, len(u0)*n)
	for _, row := range u0 {
		flat = append(flat, row...)
	}
	var state *tensors.Tensor
	if dtype == dtypes.Float32 {
		f32 := make([]float32, len(flat))
		for i, v := range flat {
			f32[i] = float32(v)
		}
		state = tensors.FromFlatDataAndDimensions(f32, len(u0), n)
	} else {
		state = tensors.FromFlatDataAndDimensions(flat, len(u0), n)
	}
	out, snaps, err := physics.Rollout(testbackend.Get(t), s, []*tensors.Tensor{state}, steps, physics.Options{Every: every})
	if err != nil {
		t.Fatal(err)
	}
	rows := func(x *tensors.Tensor) [][]float64 {
		var v []float64
		if x.DType() == dtypes.Float32 {
			for _, f := range tensors.MustCopyFlatData[float32](x) {
				v = append(v, float64(f))
			}
		} else {
			v = tensors.MustCopyFlatData[float64](x)
		}
		r := make([][]float64, len(u0))
		for i := range r {
			r[i] = v[i*n : (i+1)*n]
		}
		return r
	}
	for _, snap := range snaps {
		snapshots = append(snapshots, rows(snap[0]))
	}
	return rows(out[0]), snapshots
}

// l1 is the mean absolute difference, the discrete L¹ norm over [0, L) divided by L.
func l1(a, b []float64) float64 {
	e := 0.0
	for i := range a {
		e += math.Abs(a[i] - b[i])
	}
	return e / float64(len(a))
}

// TestConvergence runs u₀ = sin x on [0, 2π) with ν = 0.1 to t = 1 (steep but smooth) at dt = 0.9·MaxDt
// and compares cell averages with the exact Cole–Hopf averages in the L¹ norm: the first-order
// scheme converges at order 1, MUSCL at order 2 (minmod clips the two smooth extrema of u to first
// order, but on O(dx) cells only, which costs O(dx²) in L¹).
func TestConvergence(t *testing.T) {
	const nu, tEnd = 0.1, 1.0
	ref := newColeHopf(nu)
	for _, c := range []struct {
		muscl bool
		order float64
	}{{false, 1}, {true, 2}} {
		var errs []float64
		sizes := []int{32, 64, 128, 256}
		for _, n := range sizes {
			g := grid.New1D(n, 2*math.Pi, grid.Periodic)
			s := Burgers{Domain: g, Nu: nu, UMax: 1, MUSCL: c.muscl}
			steps := int(math.Ceil(tEnd / (0.9 * s.MaxDt())))
			s.Dt = tEnd / float64(steps)
			u, _ := run(t, s, [][]float64{ref.average(g, 0)}, dtypes.Float64, steps, 0)
			errs = append(errs, l1(u[0], ref.average(g, tEnd)))
		}
		for i := 1; i < len(errs); i++ {
			t.Logf("MUSCL %v: n = %d, L¹ error %.3e, order %.2f", c.muscl, sizes[i], errs[i], math.Log2(errs[i-1]/errs[i]))
		}
		last := len(errs) - 1
		if order := math.Log2(errs[last-1] / errs[last]); math.Abs(order-c.order) > 0.3 {
			t.Errorf("MUSCL %v: observed order %.2f between n = %d and %d, want %g ± 0.3 (errors %.3e)",
				c.muscl, order, sizes[last-1], sizes[last], c.order, errs)
		}
	}
}

// totalVariation is Σ_i |u_{i+1} − u_i| around the periodic row.
func totalVariation(u []float64) float64 {
	tv := 0.0
	for i := range u {
		tv += math.Abs(u[(i+1)%len(u)] - u[i])
	}
	return tv
}

func mean(u []float64) float64 {
	m := 0.0
	for _, v := range u {
		m += v
	}
	return m / float64(len(u))
}

// TestShock runs u₀ = ½ + sin x (and its mirror image, a second batch row) with ν = 10⁻³, at the
// largest stable dt, to t = 3: a shock forms at t = 1 and travels at speed ½. Checked at every step:
// the total variation does not grow (no oscillations), the values stay within [min u₀, max u₀] (the
// maximum principle), and the mean stays ½ (conservation); in float64 to rounding, in float32 to 1e-6.
// At the end the shock is a few cells wide, and the mirrored row is the mirror image.
func TestShock(t *testing.T) {
	const nu, tEnd, n = 1e-3, 3.0, 256
	g := grid.New1D(n, 2*math.Pi, grid.Periodic)
	u0 := [][]float64{make([]float64, n), make([]float64, n)}
	for i, x := range g.Coords(0) {
		u0[0][i] = 0.5 + math.Sin(x)
		u0[1][n-1-i] = -u0[0][i]
	}
	for _, muscl := range []bool{false, true} {
		for _, dtype := range []dtypes.DType{dtypes.Float64, dtypes.Float32} {
			tol := 1e-12
			if dtype == dtypes.Float32 {
				tol = 1e-6
			}
			s := Burgers{Domain: g, Nu: nu, UMax: 1.5, MUSCL: muscl}
			s.Dt = s.MaxDt()
			steps := int(math.Ceil(tEnd / s.Dt))
			_, snaps := run(t, s, u0, dtype, steps, 1)
			for r, row := range u0 {
				prev, lo, hi, m := totalVariation(row), -1.5, 1.5, mean(row)
				if r == 0 {
					lo, hi = -0.5, 1.5
				} else {
					lo, hi = -1.5, 0.5
				}
				for k, snap := range snaps {
					u := snap[r]
					tv := totalVariation(u)
					switch {
					case tv > prev*(1+tol):
						t.Fatalf("MUSCL %v, %s, row %d: total variation grew from %.15g to %.15g at step %d", muscl, dtype, r, prev, tv, k+1)
					case slices.Min(u) < lo-tol || slices.Max(u) > hi+tol:
						t.Fatalf("MUSCL %v, %s, row %d: values [%g, %g] leave [%g, %g] at step %d", muscl, dtype, r, slices.Min(u), slices.Max(u), lo, hi, k+1)
					case math.Abs(mean(u)-m) > tol:
						t.Fatalf("MUSCL %v, %s, row %d: mean moved from %g to %g at step %d", muscl, dtype, r, m, mean(u), k+1)
					}
					prev = tv
				}
				// The shock is sharp: the cells across it (3 with MUSCL, 5 first order) carry at least 90% of
				// the inviscid jump.
				width := map[bool]int{false: 5, true: 3}[muscl]
				if d, want := drop(snaps[len(snaps)-1][r], width), shockJump(tEnd); d < 0.9*want {
					t.Errorf("MUSCL %v, %s, row %d: the shock is smeared: the largest drop over %d cells is %.3f, the inviscid jump %.3f",
						muscl, dtype, r, width, d, want)
				}
			}
			// The scheme is symmetric under x → −x, u → −u: row 1 mirrors row 0.
			final := snaps[len(snaps)-1]
			for i := range n {
				if d := math.Abs(final[1][n-1-i] + final[0][i]); d > 100*tol {
					t.Fatalf("MUSCL %v, %s: row 1 is not row 0's mirror image at cell %d (%g)", muscl, dtype, i, d)
				}
			}
		}
	}
}

// drop is the largest fall u_i − u_{i+w} over w cells of the periodic row u: a shock's jump when w
// spans its width.
func drop(u []float64, w int) float64 {
	d := 0.0
	for i := range u {
		d = max(d, u[i]-u[(i+w)%len(u)])
	}
	return d
}

// shockJump is the jump at time t > 1 across the inviscid shock of u₀ = c + sin x (any c): the
// characteristics x = ξ + t·sin ξ (in the frame moving at c) from ±ξ meet the shock at x = π, so
// the states are ±sin ξ with ξ + t·sin ξ = π, ξ ∈ (0, π/2).
func shockJump(t float64) float64 {
	lo, hi := 0.0, math.Pi/2
	for range 60 {
		if mid := (lo + hi) / 2; mid+t*math.Sin(mid) < math.Pi {
			lo = mid
		} else {
			hi = mid
		}
	}
	return 2 * math.Sin(lo)
}

// TestDirichlet checks the walls: the solution from u₀ = sin x is odd about 0 and π, so on [0, π)
// with u = 0 on the walls it is the periodic solution on [0, 2π) restricted, and the schemes, whose
// ghost cells (and ghost slopes) are the mirror images, must agree to rounding. ν = 0.01 puts a
// shock on the wall at π.
func TestDirichlet(t *testing.T) {
	const n, nu, steps = 128, 0.01, 150
	periodic := grid.New1D(n, 2*math.Pi, grid.Periodic)
	walls := grid.New1D(n/2, math.Pi, grid.Dirichlet)
	u0 := newColeHopf(0.1).average(periodic, 0) // the cell averages of sin x
	for _, muscl := range []bool{false, true} {
		s := Burgers{Domain: periodic, Nu: nu, UMax: 1, MUSCL: muscl}
		s.Dt = s.MaxDt()
		want, _ := run(t, s, [][]float64{u0}, dtypes.Float64, steps, 0)
		s.Domain = walls
		got, _ := run(t, s, [][]float64{u0[:n/2]}, dtypes.Float64, steps, 0)
		for i := range got[0] {
			if d := math.Abs(got[0][i] - want[0][i]); d > 1e-12 {
				t.Fatalf("MUSCL %v: cell %d is %g with Dirichlet walls, %g periodic", muscl, i, got[0][i], want[0][i])
			}
		}
	}
}

// TestNeumann checks the transmissive walls: a bump riding on u = 1 leaves [0, 1) through the right
// wall without reflection, and the scheme stays TVD on the way.
func TestNeumann(t *testing.T) {
	const n, nu, tEnd = 128, 1e-3, 2.0
	g := grid.New1D(n, 1, grid.Neumann)
	u0 := make([]float64, n)
	for i, x := range g.Coords(0) {
		u0[i] = 1 + 0.5*math.Exp(-100*(x-0.5)*(x-0.5))
	}
	for _, muscl := range []bool{false, true} {
		s := Burgers{Domain: g, Nu: nu, UMax: 1.5, MUSCL: muscl}
		steps := int(math.Ceil(tEnd / s.MaxDt()))
		s.Dt = tEnd / float64(steps)
		_, snaps := run(t, s, [][]float64{u0}, dtypes.Float64, steps, 1)
		tv := func(u []float64) float64 { return totalVariation(u) - math.Abs(u[0]-u[n-1]) } // no wrap
		prev := tv(u0)
		for k, snap := range snaps {
			if v := tv(snap[0]); v > prev*(1+1e-12) {
				t.Fatalf("MUSCL %v: total variation grew from %.15g to %.15g at step %d", muscl, prev, v, k+1)
			} else {
				prev = v
			}
		}
		if last := snaps[len(snaps)-1][0]; slices.Max(last) > 1+1e-3 || slices.Min(last) < 1-1e-3 {
			t.Errorf("MUSCL %v: at t = %g the bump has not left: u within [%g, %g]", muscl, tEnd, slices.Min(last), slices.Max(last))
		}
	}
}

// TestCheck checks the stability rule and the errors for bad settings.
func TestCheck(t *testing.T) {
	g := grid.New1D(100, 1, grid.Periodic) // dx = 0.01
	for _, c := range []struct {
		muscl bool
		maxDt float64 // 1/(UMax/(c·dx) + 2ν/dx²) with UMax = 2, ν = 0.01
	}{{false, 1 / (200 + 200.0)}, {true, 1 / (400 + 200.0)}} {
		s := Burgers{Domain: g, Nu: 0.01, UMax: 2, MUSCL: c.muscl}
		if got := s.MaxDt(); math.Abs(got-c.maxDt) > 1e-15 {
			t.Errorf("MUSCL %v: MaxDt = %g, want %g", c.muscl, got, c.maxDt)
		}
		s.Dt = c.maxDt
		if err := s.Check(); err != nil {
			t.Errorf("MUSCL %v: dt = MaxDt: %v", c.muscl, err)
		}
		s.Dt = 1.01 * c.maxDt
		var stab *physics.StabilityError
		if err := s.Check(); !errors.As(err, &stab) || math.Abs(stab.MaxDt-c.maxDt) > 1e-15 || stab.Dt != s.Dt {
			t.Errorf("MUSCL %v: dt = 1.01·MaxDt gives %v, want a StabilityError with MaxDt %g", c.muscl, err, c.maxDt)
		} else {
			t.Log(err)
		}
	}
	good := Burgers{Domain: g, Nu: 0.01, UMax: 1, Dt: 1e-4}
	for name, c := range map[string]struct {
		edit func(*Burgers)
		want string
	}{
		"2-D grid":      {func(s *Burgers) { s.Domain = grid.New2D(8, 8, 1, 1, grid.Periodic) }, "1-D"},
		"bad grid":      {func(s *Burgers) { s.Domain = grid.New1D(2, 1, grid.Periodic) }, "at least 3 cells"},
		"negative ν":    {func(s *Burgers) { s.Nu = -1 }, "Nu"},
		"no bound":      {func(s *Burgers) { s.UMax = 0 }, "Bound(u0)"},
		"zero dt":       {func(s *Burgers) { s.Dt = 0 }, "largest stable"},
		"infinite dt":   {func(s *Burgers) { s.Dt = math.Inf(1) }, "Dt"},
		"NaN viscosity": {func(s *Burgers) { s.Nu = math.NaN() }, "Nu"},
	} {
		s := good
		c.edit(&s)
		if err := s.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Check gives %v, want an error naming %q", name, err, c.want)
		}
	}
	if err := good.Check(); err != nil {
		t.Errorf("good settings: %v", err)
	}
}

// TestBound checks UMax's helper, and a wrong bound (UMax 1 for |u| up to 4: four times the stable
// dt): CheckState names the stable dt, and Rollout refuses to start with it.
func TestBound(t *testing.T) {
	const n = 64
	g := grid.New1D(n, 2*math.Pi, grid.Periodic)
	u0 := make([]float64, n)
	for i, x := range g.Coords(0) {
		u0[i] = 4 * math.Sin(x)
	}
	u032 := make([]float32, n)
	for i, v := range u0 {
		u032[i] = float32(v)
	}
	for _, x := range []*tensors.Tensor{tensors.FromFlatDataAndDimensions(u0, 1, n), tensors.FromFlatDataAndDimensions(u032, 1, n)} {
		if m, err := Bound(x); err != nil || math.Abs(m-slices.Max(u0)) > 1e-6 {
			t.Errorf("Bound of a %s field = %g, %v; want %g", x.DType(), m, err, slices.Max(u0))
		}
	}
	if _, err := Bound(tensors.FromValue([][]int32{{1, 2, 3}})); err == nil {
		t.Error("Bound of an int32 field: no error")
	}
	if _, err := Bound(tensors.FromValue([][]float64{{1, math.NaN()}})); err == nil {
		t.Error("Bound of a field with a NaN: no error")
	}

	s := Burgers{Domain: g, Nu: 0, UMax: 1}
	s.Dt = s.MaxDt()
	state := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(u0, 1, n)}
	var stab *physics.StabilityError
	if err := s.CheckState(state); !errors.As(err, &stab) || math.Abs(stab.MaxDt-s.Dt/slices.Max(u0)) > 1e-12 {
		t.Errorf("CheckState with UMax 1 for max|u₀| = %g gives %v, want a StabilityError with MaxDt %g", slices.Max(u0), err, s.Dt/slices.Max(u0))
	} else {
		t.Log(err)
	}
	if err := s.CheckState([]*tensors.Tensor{tensors.FromFlatDataAndDimensions(u0, 2, n/2)}); err == nil {
		t.Error("CheckState of a field of the wrong shape: no error")
	}
	// Rollout runs CheckState on the initial state (Burgers is a physics.StateChecker), so a UMax
	// four times too small is refused before the rollout can blow up.
	_, _, err := physics.Rollout(testbackend.Get(t), s, state, 1000, physics.Options{})
	if !errors.As(err, &stab) || !strings.Contains(err.Error(), "set UMax = Bound(u0)") {
		t.Errorf("a rollout with UMax four times too small gives %v, want CheckState's StabilityError", err)
	}
}

// TestGradient checks the gradient of a loss of 20 steps (shared check of physicstest) for both
// schemes at low viscosity, where the limiter and the flux's max(|uᴸ|, |uᴿ|) switch branches.
func TestGradient(t *testing.T) {
	const n = 48
	g := grid.New1D(n, 2*math.Pi, grid.Periodic)
	u0 := make([]float64, 2*n)
	for i, x := range g.Coords(0) {
		u0[i] = math.Sin(x) + 0.3*math.Cos(3*x)
		u0[n+i] = 0.5 - 0.8*math.Sin(2*x+1)
	}
	for _, muscl := range []bool{false, true} {
		s := Burgers{Domain: g, Nu: 0.01, UMax: 1.3, MUSCL: muscl}
		s.Dt = 0.9 * s.MaxDt()
		physicstest.CheckGradient(t, s, []*tensors.Tensor{tensors.FromFlatDataAndDimensions(u0, 2, n)}, 20)
	}
}

// TestResidual checks the physics prior: the exact (Cole–Hopf) solution sampled at two times dt apart
// has a residual ≪ that of a state that does not move (whose residual is the mean square of u_t), one
// per batch row.
func TestResidual(t *testing.T) {
	const n, nu, t0, dt = 256, 0.1, 0.5, 1e-4
	g := grid.New1D(n, 2*math.Pi, grid.Periodic)
	ref := newColeHopf(nu)
	prev, next := ref.point(g, t0), ref.point(g, t0+dt)
	s := Burgers{Domain: g, Nu: nu, UMax: 1, Dt: dt}
	exec, err := NewExec(testbackend.Get(t), func(prev, next *Node) *Node {
		return s.Residual([]*Node{prev}, []*Node{next})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	pair := func(a, b []float64) []float64 {
		out := exec.MustExec(tensors.FromFlatDataAndDimensions(append(a, a...), 2, n), tensors.FromFlatDataAndDimensions(append(b, a...), 2, n))
		return tensors.MustCopyFlatData[float64](out[0])
	}
	r := pair(prev, next) // row 0: the exact pair; row 1: standing still
	t.Logf("residual of the exact pair %.3e, of standing still %.3e", r[0], r[1])
	if !(r[0] < 1e-5*r[1]) || r[1] < 0.01 {
		t.Errorf("residuals: exact pair %g, standing still %g; want the first below 1e-5 of the second", r[0], r[1])
	}
}

// BenchmarkStep measures cell updates per second (one update = one cell advanced by one full SSP-RK2
// step) of a float32 rollout with batch 64, through Rollout: go test -run - -bench Step ./physics/burgers/
func BenchmarkStep(b *testing.B) {
	const batch, steps = 64, 100
	for _, muscl := range []bool{false, true} {
		for _, n := range []int{256, 1024} {
			name := map[bool]string{false: "rusanov", true: "muscl"}[muscl]
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				g := grid.New1D(n, 2*math.Pi, grid.Periodic)
				u0 := make([]float32, batch*n)
				for r := range batch {
					for i, x := range g.Coords(0) {
						u0[r*n+i] = float32(math.Sin(x + float64(r)))
					}
				}
				s := Burgers{Domain: g, Nu: 0.01, UMax: 1, MUSCL: muscl}
				s.Dt = s.MaxDt()
				state := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(u0, batch, n)}
				backend := testbackend.Get(b)
				if _, _, err := physics.Rollout(backend, s, state, 1, physics.Options{}); err != nil { // warm-up
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					if _, _, err := physics.Rollout(backend, s, state, steps, physics.Options{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch*n*steps*b.N)/b.Elapsed().Seconds(), "cells/s")
			})
		}
	}
}
