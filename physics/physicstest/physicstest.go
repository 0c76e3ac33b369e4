// Package physicstest holds the checks every simulator's tests share: the gradient of a loss of an
// unrolled rollout against finite differences, and the observed order of convergence.
package physicstest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/physics"
)

// RTol is the relative tolerance of CheckGradient.
const RTol = 1e-3

// CheckGradient checks the reverse-mode gradient of a scalar loss of physics.Unroll(sim, state,
// steps) with respect to the initial state against central finite differences, and fails t beyond
// RTol. The loss is L = Σ_f ⟨w_f, u_f²⟩ over the final fields u_f with fixed random weights w_f
// (quadratic, so that a wrong Jacobian cannot hide behind a linear loss).
//
// The state must be float64 (finite differences need the precision); keep it small (tens to a few
// hundred cells), since each directional derivative costs two evaluations of the unrolled steps. It
// compares the directional derivative ⟨∇L, d⟩ with (L(x+εd) − L(x−εd))/2ε along three random
// directions d over the whole state and along eight random single cells, each within
// RTol·max(|fd|, 0.01·‖∇L‖₂·‖d‖₂) (the floor keeps cells with a near-zero gradient from failing on
// rounding).
func CheckGradient(t testing.TB, sim physics.Simulator, state []*tensors.Tensor, steps int) {
	t.Helper()
	b := testbackend.Get(t)
	if err := sim.Check(); err != nil {
		t.Fatal(err)
	}
	n := len(state)
	rng := rand.New(rand.NewPCG(20, uint64(steps)))
	x := make([][]float64, n) // the state, flat per field
	args := make([]any, 2*n)  // state then weights
	dims := make([][]int, n)
	size := 0
	for f, s := range state {
		if s.DType() != dtypes.Float64 {
			t.Fatalf("physicstest: field %d is %s; finite differences need float64", f, s.DType())
		}
		dims[f] = s.Shape().Dimensions
		x[f] = tensors.MustCopyFlatData[float64](s)
		w := make([]float64, len(x[f]))
		for i := range w {
			w[i] = rng.NormFloat64()
		}
		args[f], args[n+f] = s, tensors.FromFlatDataAndDimensions(w, dims[f]...)
		size += len(x[f])
	}
	loss := func(in []*Node) *Node {
		next := physics.Unroll(sim, in[:n], steps)
		var l *Node
		for f, u := range next {
			lf := ReduceAllSum(Mul(in[n+f], Square(u)))
			if l == nil {
				l = lf
			} else {
				l = Add(l, lf)
			}
		}
		return l
	}
	gradExec, err := NewExec(b, func(in []*Node) []*Node { return Gradient(loss(in), in[:n]...) })
	if err != nil {
		t.Fatal(err)
	}
	defer gradExec.Finalize()
	lossExec, err := NewExec(b, loss)
	if err != nil {
		t.Fatal(err)
	}
	defer lossExec.Finalize()
	out, err := gradExec.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	grad := make([][]float64, n)
	norm, scale := 0.0, 0.0 // ‖∇L‖₂ and ‖x‖∞
	for f := range grad {
		grad[f] = tensors.MustCopyFlatData[float64](out[f])
		for i, g := range grad[f] {
			norm += g * g
			scale = max(scale, math.Abs(x[f][i]))
		}
	}
	norm = math.Sqrt(norm)
	eps := 1e-5 * max(scale, 1)

	// lossAt is L(x + h·d).
	lossAt := func(d [][]float64, h float64) float64 {
		a := append([]any(nil), args...)
		for f := range d {
			xf := make([]float64, len(x[f]))
			for i := range xf {
				xf[i] = x[f][i] + h*d[f][i]
			}
			a[f] = tensors.FromFlatDataAndDimensions(xf, dims[f]...)
		}
		l, err := lossExec.Exec(a...)
		if err != nil {
			t.Fatal(err)
		}
		return tensors.ToScalar[float64](l[0])
	}
	check := func(name string, d [][]float64) {
		t.Helper()
		got, dn := 0.0, 0.0
		for f := range d {
			for i, v := range d[f] {
				got += grad[f][i] * v
				dn += v * v
			}
		}
		fd := (lossAt(d, eps) - lossAt(d, -eps)) / (2 * eps)
		if tol := RTol * max(math.Abs(fd), 0.01*norm*math.Sqrt(dn)); math.Abs(got-fd) > tol {
			t.Errorf("physicstest: %T after %d steps, along %s: gradient gives %.10g, finite differences %.10g (tolerance %.3g)",
				sim, steps, name, got, fd, tol)
		}
	}
	for range 3 {
		d := make([][]float64, n)
		for f := range d {
			d[f] = make([]float64, len(x[f]))
			for i := range d[f] {
				d[f][i] = rng.NormFloat64()
			}
		}
		check("a random direction", d)
	}
	for range min(8, size) {
		j := rng.IntN(size)
		d := make([][]float64, n)
		name := ""
		for f := range d {
			d[f] = make([]float64, len(x[f]))
			if j >= 0 && j < len(x[f]) {
				d[f][j] = 1
				name = fmt.Sprintf("field %d, flat cell %d", f, j)
			}
			j -= len(x[f])
		}
		check(name, d)
	}
}

// Order is the observed order of convergence of errors errs[i] on grids refined by 2 (dx_i = dx_0/2ⁱ):
// the least-squares slope of log e_i against log dx_i, x_i = −i·log 2, y_i = log e_i. For two
// errors it is log₂(e₀/e₁).
func Order(errs []float64) float64 {
	n := float64(len(errs))
	var sx, sy, sxx, sxy float64
	for i, e := range errs {
		x, y := -float64(i)*math.Ln2, math.Log(e)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}
