package smoke

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/physics/physicstest"
)

// field is a [b, ny, nx] float64 field with values f(b, j, i).
func field(b, ny, nx int, f func(r, j, i int) float64) [][][]float64 {
	u := make([][][]float64, b)
	for r := range u {
		u[r] = make([][]float64, ny)
		for j := range u[r] {
			u[r][j] = make([]float64, nx)
			for i := range u[r][j] {
				u[r][j][i] = f(r, j, i)
			}
		}
	}
	return u
}

// randomVelocity is a seeded random MAC velocity, zero on the wall faces.
func randomVelocity(g grid.Grid, b int, seed uint64) (vx, vy [][][]float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	ny, nx := g.N[0], g.N[1]
	vx = field(b, ny, nx, func(_, _, i int) float64 {
		if i == 0 {
			return 0
		}
		return rng.NormFloat64()
	})
	vy = field(b, ny, nx, func(_, j, _ int) float64 {
		if j == 0 {
			return 0
		}
		return rng.NormFloat64()
	})
	return vx, vy
}

func values(t *tensors.Tensor) []float64 { return tensors.MustCopyFlatData[float64](t) }

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

func maxDiff(a, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// TestProjection: on a random velocity, the projected field's MAC divergence is zero to rounding;
// the projection is idempotent and symmetric (an orthogonal projector: D = −Gᵀ), sends a pure
// gradient G p to zero and leaves a discretely divergence-free field (the curl of a stream function
// that vanishes on the walls) unchanged.
func TestProjection(t *testing.T) {
	backend := testbackend.Get(t)
	g := grid.New2D(24, 32, 0.75, 1, grid.Neumann) // dx = dy; a non-square box
	proj, err := NewProjection(g)
	if err != nil {
		t.Fatal(err)
	}
	ny, nx := g.N[0], g.N[1]
	dy, dx := g.Dx(0), g.Dx(1)
	vx, vy := randomVelocity(g, 2, 7)
	wx, wy := randomVelocity(g, 2, 8)
	rng := rand.New(rand.NewPCG(9, 1))
	p := field(2, ny, nx, func(int, int, int) float64 { return rng.NormFloat64() })
	// ψ on the cell corners (j·dy, i·dx), zero on the walls; vx = ∂ψ/∂y, vy = −∂ψ/∂x.
	psi := func(j, i int) float64 {
		y, x := float64(j)*dy, float64(i)*dx
		return math.Sin(math.Pi*y/g.L[0]) * math.Sin(2*math.Pi*x/g.L[1]) * (1 + x*y)
	}
	sx := field(1, ny, nx, func(_, j, i int) float64 { return (psi(j+1, i) - psi(j, i)) / dy })
	sy := field(1, ny, nx, func(_, j, i int) float64 { return -(psi(j, i+1) - psi(j, i)) / dx })

	out := MustExecOnceN(backend, func(in []*Node) []*Node {
		vx, vy, wx, wy, p, sx, sy := in[0], in[1], in[2], in[3], in[4], in[5], in[6]
		px, py := proj.Apply(vx, vy)
		ppx, ppy := proj.Apply(px, py)
		qx, qy := proj.Apply(wx, wy)
		gx, gy := gradient(g, p)
		hx, hy := proj.Apply(gx, gy)
		tx, ty := proj.Apply(sx, sy)
		// ⟨P v, w⟩ and ⟨v, P w⟩
		dot := func(ax, ay, bx, by *Node) *Node { return Add(ReduceAllSum(Mul(ax, bx)), ReduceAllSum(Mul(ay, by))) }
		return []*Node{Divergence(g, vx, vy), Divergence(g, px, py), px, py, ppx, ppy, hx, hy, gx, gy, tx, ty,
			dot(px, py, wx, wy), dot(vx, vy, qx, qy), Divergence(g, sx, sy)}
	}, vx, vy, wx, wy, p, sx, sy)

	before, after := maxAbs(values(out[0])), maxAbs(values(out[1]))
	t.Logf("max |∇·v| before %.3g, after %.3g (relative %.2g)", before, after, after/before)
	if after > 1e-4*before {
		t.Errorf("divergence after the projection %.3g, want ≤ 1e-4 × %.3g", after, before)
	}
	if e := math.Max(maxDiff(values(out[4]), values(out[2])), maxDiff(values(out[5]), values(out[3]))); e > 1e-12*maxAbs(values(out[2])) {
		t.Errorf("P(P v) − P v = %.3g, want 0", e)
	}
	if e := math.Max(maxAbs(values(out[6])), maxAbs(values(out[7]))); e > 1e-12*maxAbs(values(out[8])) {
		t.Errorf("P(G p) = %.3g, want 0 (|G p| = %.3g)", e, maxAbs(values(out[8])))
	}
	if e := maxAbs(values(out[14])); e > 1e-9 {
		t.Fatalf("the stream-function field has divergence %.3g: the test's field is wrong", e)
	}
	if e := math.Max(maxDiff(values(out[10]), flat(sx)), maxDiff(values(out[11]), flat(sy))); e > 1e-12*maxAbs(flat(sx)) {
		t.Errorf("P v − v = %.3g for a divergence-free v, want 0", e)
	}
	a, b := values(out[12])[0], values(out[13])[0]
	if math.Abs(a-b) > 1e-10*math.Abs(a) {
		t.Errorf("⟨P v, w⟩ = %.12g, ⟨v, P w⟩ = %.12g: not symmetric", a, b)
	}
}

func flat(u [][][]float64) []float64 {
	var f []float64
	for _, r := range u {
		for _, row := range r {
			f = append(f, row...)
		}
	}
	return f
}

// plume is the initial state of Plume(n) at rest with the source at (y, x), as float64 tensors.
func plume(t *testing.T, backend backends.Backend, s Smoke, b int, y, x float64) []*tensors.Tensor {
	t.Helper()
	ny, nx := s.Box.N[0], s.Box.N[1]
	zero := func() *tensors.Tensor {
		return tensors.FromValue(field(b, ny, nx, func(int, int, int) float64 { return 0 }))
	}
	centers := make([][]float64, b)
	for r := range centers {
		centers[r] = []float64{y, x + 0.05*float64(r)}
	}
	src := MustExecOnce(backend, s.PlumeSource, centers)
	return []*tensors.Tensor{zero(), zero(), zero(), src}
}

// stepper compiles fn once and calls it on each state.
func stepper(backend backends.Backend, fn func(state []*Node) []*Node) func(state []*tensors.Tensor) []*tensors.Tensor {
	exec := MustNewExec(backend, fn)
	return func(state []*tensors.Tensor) []*tensors.Tensor {
		args := make([]any, len(state))
		for i, s := range state {
			args[i] = s
		}
		return exec.MustExec(args...)
	}
}

// centroid is the density-weighted mean height Σ y·d / Σ d of batch row 0, and the total Σ d·dx·dy.
func centroid(g grid.Grid, d *tensors.Tensor) (y, mass float64) {
	v := values(d)
	ys := g.Coords(0)
	ny, nx := g.N[0], g.N[1]
	for j := range ny {
		for i := range nx {
			y += ys[j] * v[j*nx+i]
			mass += v[j*nx+i]
		}
	}
	return y / mass, mass * g.Dx(0) * g.Dx(1)
}

// TestPlumeRises: Plume's setup (source on for t < 0.2) on 32 × 32: the smoke rises (its centroid
// climbs steadily above the source), the velocity stays divergence-free after every step, and the
// speed stays below MaxSpeed.
func TestPlumeRises(t *testing.T) {
	backend := testbackend.Get(t)
	s := Plume(32)
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	step := stepper(backend, func(state []*Node) []*Node {
		next := s.Step(state)
		return append(next, Divergence(s.Box, next[VX], next[VY]))
	})
	state := plume(t, backend, s, 2, 0.1, 0.45)
	h := s.Box.Dx(0)
	lastY := 0.0
	for n := 1; n <= 60; n++ {
		if n == 21 {
			state[S] = tensors.FromValue(field(2, 32, 32, func(int, int, int) float64 { return 0 }))
		}
		out := step(state)
		state = out[:NumFields]
		div := maxAbs(values(out[NumFields]))
		speed := math.Max(maxAbs(values(state[VX])), maxAbs(values(state[VY])))
		if div*h > 1e-4*speed {
			t.Fatalf("step %d: max|∇·v|·h = %.3g against max|v| = %.3g, want ≤ 1e-4 relative", n, div*h, speed)
		}
		if speed > s.MaxSpeed {
			t.Fatalf("step %d: max|v| = %.3g above MaxSpeed = %g", n, speed, s.MaxSpeed)
		}
		y, mass := centroid(s.Box, state[D])
		if n%10 == 0 {
			t.Logf("t = %.2f: centroid y = %.4f, mass %.4f, max|v| = %.3f, max|∇·v|·h/max|v| = %.2g", float64(n)*s.Dt, y, mass, speed, div*h/speed)
			if y <= lastY {
				t.Errorf("t = %.2f: centroid %.4f, not above %.4f ten steps before", float64(n)*s.Dt, y, lastY)
			}
			lastY = y
		}
	}
	if lastY < 0.5 {
		t.Errorf("the plume's centroid reached y = %.3f at t = 0.6, want above 0.5 (the source is at 0.1)", lastY)
	}
}

func TestInflow(t *testing.T) {
	backend := testbackend.Get(t)
	g := grid.New2D(64, 64, 1, 1, grid.Neumann)
	src := MustExecOnce(backend, func(c *Node) *Node { return Inflow(g, c, 0.1, 3) }, [][]float64{{0.3, 0.55}})
	_, mass := centroid(g, src)
	want := 3 * math.Pi * 0.1 * 0.1
	if math.Abs(mass-want) > 0.02*want {
		t.Errorf("∫ inflow = %.4f, want rate·πr² = %.4f within 2%%", mass, want)
	}
	y, _ := centroid(g, src)
	if math.Abs(y-0.3) > 1e-3 {
		t.Errorf("inflow centred at y = %.4f, want 0.3", y)
	}
}

// TestDensity: with no source and no buoyancy, a density at rest stays exactly put and a source adds
// exactly dt·s per step. With buoyancy and no source, semi-Lagrangian advection (a convex
// combination of neighbours) keeps a rising blob within its initial bounds; its mass, which it does
// not conserve, drifts by less than 10% by t = 0.4, and by less on a finer grid (a spatial error).
func TestDensity(t *testing.T) {
	backend := testbackend.Get(t)
	s := Plume(24)
	ny, nx := s.Box.N[0], s.Box.N[1]
	zero := func(n int) *tensors.Tensor {
		return tensors.FromValue(field(1, n, n, func(int, int, int) float64 { return 0 }))
	}
	blob := func(g grid.Grid) *tensors.Tensor {
		ys, xs := g.Coords(0), g.Coords(1)
		return tensors.FromValue(field(1, g.N[0], g.N[1], func(_, j, i int) float64 {
			return math.Exp(-(math.Pow(ys[j]-0.3, 2) + math.Pow(xs[i]-0.5, 2)) / 0.01)
		}))
	}
	src := tensors.FromValue(field(1, ny, nx, func(_, j, i int) float64 { return float64((j*nx + i) % 5) }))

	still := s
	still.Buoyancy = 0
	step := stepper(backend, still.Step)
	d0 := blob(s.Box)
	state := []*tensors.Tensor{zero(ny), zero(ny), d0, src}
	for range 5 {
		state = step(state)
	}
	wantD := values(d0)
	for k, v := range values(src) {
		wantD[k] += 5 * s.Dt * v
	}
	if e := maxDiff(values(state[D]), wantD); e > 1e-12 {
		t.Errorf("at rest without buoyancy: d − (d₀ + 5·dt·s) = %.3g, want 0", e)
	}
	if e := math.Max(maxAbs(values(state[VX])), maxAbs(values(state[VY]))); e != 0 {
		t.Errorf("at rest without buoyancy the velocity became %.3g", e)
	}

	var drift []float64
	for _, n := range []int{24, 48} {
		s := Plume(n)
		d0 := blob(s.Box)
		state := []*tensors.Tensor{zero(n), zero(n), d0, zero(n)}
		step := stepper(backend, s.Step)
		for range 40 {
			state = step(state)
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range values(state[D]) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		_, mass0 := centroid(s.Box, d0)
		_, mass := centroid(s.Box, state[D])
		drift = append(drift, (mass-mass0)/mass0)
		t.Logf("%d×%d, t = 0.4: density in [%.3g, %.4f], mass %.5f → %.5f (%+.2f%%)", n, n, lo, hi, mass0, mass, 100*drift[len(drift)-1])
		if lo < 0 || hi > maxAbs(values(d0))+1e-12 {
			t.Errorf("%d×%d: density in [%.3g, %.4f], outside its initial bounds [0, %.4f]", n, n, lo, hi, maxAbs(values(d0)))
		}
	}
	if math.Abs(drift[0]) > 0.1 || math.Abs(drift[1]) > 0.7*math.Abs(drift[0]) {
		t.Errorf("mass drift %+.2f%% (24²), %+.2f%% (48²): want under 10%% and shrinking with h", 100*drift[0], 100*drift[1])
	}
}

// TestResidual: zero for the simulator's own step, and for a perturbation δ of next the mean square
// of δ/dt over the 3·ny·nx values of vx, vy and d.
func TestResidual(t *testing.T) {
	backend := testbackend.Get(t)
	s := Plume(16)
	state := plume(t, backend, s, 2, 0.2, 0.4)
	for range 5 {
		state = stepper(backend, s.Step)(state)
	}
	out := MustExecOnceN(backend, func(prev []*Node) []*Node {
		next := s.Step(prev)
		bumped := append([]*Node{}, next...)
		bumped[D] = AddScalar(next[D], 0.01)
		return []*Node{s.Residual(prev, next), s.Residual(prev, bumped)}
	}, state[0], state[1], state[2], state[3])
	if r := maxAbs(values(out[0])); r > 1e-20 {
		t.Errorf("residual of the step itself = %.3g, want 0", r)
	}
	want := 0.01 * 0.01 / 3 / (s.Dt * s.Dt)
	for _, r := range values(out[1]) {
		if math.Abs(r-want) > 1e-9*want {
			t.Errorf("residual of d + 0.01 = %.6g, want %.6g", r, want)
		}
	}
}

func TestCheck(t *testing.T) {
	s := Plume(64)
	if err := s.Check(); err != nil {
		t.Fatalf("Plume(64): %v", err)
	}
	fast := s
	fast.Dt = 0.05
	var se *physics.StabilityError
	if err := fast.Check(); !errors.As(err, &se) || math.Abs(se.MaxDt-CFL/64/6) > 1e-15 {
		t.Errorf("dt = 0.05 on 64 cells with MaxSpeed 6: got %v, want a StabilityError with MaxDt = 5/(64·6)", err)
	} else {
		t.Log(err)
	}
	for _, bad := range []Smoke{
		{Box: grid.New2D(8, 8, 1, 1, grid.Periodic), Dt: 0.01, Buoyancy: 1, MaxSpeed: 1},
		{Box: grid.New1D(8, 1, grid.Neumann), Dt: 0.01, Buoyancy: 1, MaxSpeed: 1},
		{Box: grid.New2D(8, 8, 1, 1, grid.Neumann), Dt: 0, Buoyancy: 1, MaxSpeed: 1},
		{Box: grid.New2D(8, 8, 1, 1, grid.Neumann), Dt: 0.01, Buoyancy: math.NaN(), MaxSpeed: 1},
		{Box: grid.New2D(8, 8, 1, 1, grid.Neumann), Dt: 0.01, Buoyancy: 1},
	} {
		err := bad.Check()
		if err == nil || errors.As(err, &se) {
			t.Errorf("%+v: got %v, want a settings error", bad, err)
		}
	}

	backend := testbackend.Get(t)
	state := plume(t, backend, s, 1, 0.1, 0.5)
	if err := s.CheckState(state); err != nil {
		t.Errorf("a state at rest: %v", err)
	}
	state[VY] = tensors.FromValue(field(1, 64, 64, func(_, j, _ int) float64 { return float64(j) }))
	if err := s.CheckState(state); !errors.As(err, &se) || math.Abs(se.MaxDt-CFL/64/63) > 1e-15 {
		t.Errorf("a state with max|v| = 63 at dt = 0.01 on 64 cells: got %v, want a StabilityError with MaxDt = 5/(64·63)", err)
	}
}

// TestGradient: the gradient of a loss of 20 unrolled steps with respect to the whole state, on
// 8 × 8 cells with a random flow (CFL ≈ 0.5) and smoke, against finite differences.
func TestGradient(t *testing.T) {
	s := Plume(8)
	rng := rand.New(rand.NewPCG(3, 4))
	vx, vy := randomVelocity(s.Box, 2, 11)
	for _, v := range [][][][]float64{vx, vy} {
		for _, r := range v {
			for _, row := range r {
				for i := range row {
					row[i] *= 2
				}
			}
		}
	}
	d := field(2, 8, 8, func(int, int, int) float64 { return rng.Float64() })
	src := field(2, 8, 8, func(int, int, int) float64 { return 10 * rng.Float64() })
	physicstest.CheckGradient(t, s, []*tensors.Tensor{tensors.FromValue(vx), tensors.FromValue(vy), tensors.FromValue(d), tensors.FromValue(src)}, 20)
}

// TestInflowGradient: the derivative of the smoke after 10 steps with respect to the inflow's
// position, through Inflow, against central finite differences.
func TestInflowGradient(t *testing.T) {
	backend := testbackend.Get(t)
	s := Plume(12)
	rng := rand.New(rand.NewPCG(5, 6))
	w := field(1, 12, 12, func(int, int, int) float64 { return rng.NormFloat64() })
	loss := func(c, w *Node) *Node {
		zero := ZerosLike(w)
		final := physics.Unroll(s, []*Node{zero, zero, zero, Inflow(s.Box, c, 0.15, 100)}, 10)
		return ReduceAllSum(Mul(w, Square(final[D])))
	}
	c := []float64{0.3, 0.45}
	grad := values(MustExecOnce(backend, func(c, w *Node) *Node { return Gradient(loss(c, w), c)[0] }, [][]float64{c}, w))
	lossExec := MustNewExec(backend, loss)
	for a := range c {
		const eps = 1e-6
		at := func(h float64) float64 {
			cc := append([]float64{}, c...)
			cc[a] += h
			return tensors.ToScalar[float64](lossExec.MustExec([][]float64{cc}, w)[0])
		}
		fd := (at(eps) - at(-eps)) / (2 * eps)
		t.Logf("∂L/∂c[%d]: gradient %.8g, finite differences %.8g", a, grad[a], fd)
		if math.Abs(grad[a]-fd) > 1e-3*math.Abs(fd) {
			t.Errorf("∂L/∂c[%d]: gradient %.8g, finite differences %.8g", a, grad[a], fd)
		}
	}
}

// BenchmarkStep is the time per step of Plume(n) in float32, from a plume in motion, at batch 1 and
// 16: `go test -tags noxla -run '^$' -bench Step ./physics/smoke/`. (Measured on 2 shared cores:
// 128² takes 25 ms per step at batch 1 and 0.21 s at batch 16; 256², spectral.MaxN, 0.16 s and 2 s.)
func BenchmarkStep(b *testing.B) {
	const steps = 10
	backend := testbackend.Get(b)
	for _, n := range []int{32, 64} {
		for _, batch := range []int{1, 16} {
			b.Run(fmt.Sprintf("n=%d/batch=%d", n, batch), func(b *testing.B) {
				s := Plume(n)
				centers := make([][]float32, batch)
				for r := range centers {
					centers[r] = []float32{0.1, 0.3 + 0.4*float32(r)/float32(batch)}
				}
				zero := tensors.FromFlatDataAndDimensions(make([]float32, batch*n*n), batch, n, n)
				src := MustExecOnce(backend, s.PlumeSource, centers)
				state, _, err := physics.Rollout(backend, s, []*tensors.Tensor{zero, zero, zero, src}, steps, physics.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					if state, _, err = physics.Rollout(backend, s, state, steps, physics.Options{}); err != nil {
						b.Fatal(err)
					}
				}
				perStep := b.Elapsed().Seconds() / float64(steps*b.N)
				b.ReportMetric(1e3*perStep, "ms/step")
				b.ReportMetric(float64(batch*n*n)/perStep, "cells/s")
			})
		}
	}
}
