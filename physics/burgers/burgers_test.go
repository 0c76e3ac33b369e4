package burgers

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/grid"
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
