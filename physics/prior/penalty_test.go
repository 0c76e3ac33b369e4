package prior

import (
	"errors"
	"math"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/probinv/probinv/internal/linalg"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/grid"
)

// heat is explicit 1-D heat, u ← u + ν dt ∆u, the smallest simulator to test the penalty with; its
// residual is mean_i ((next − prev)/dt − ν∆prev)².
type heat struct {
	g      grid.Grid
	nu, dt float64
}

func (h heat) Grid() grid.Grid { return h.g }

func (h heat) Step(s []*Node) []*Node {
	return []*Node{Add(s[0], MulScalar(h.g.Laplacian(s[0]), h.nu*h.dt))}
}

func (h heat) Residual(prev, next []*Node) *Node {
	r := Sub(DivScalar(Sub(next[0], prev[0]), h.dt), MulScalar(h.g.Laplacian(prev[0]), h.nu))
	return ReduceMean(Square(r), 1)
}

func (h heat) Check() error {
	dx := h.g.Dx(0)
	if maxDt := dx * dx / (2 * h.nu); h.dt > maxDt {
		return &physics.StabilityError{Dt: h.dt, MaxDt: maxDt, Rule: "ν·dt/dx² ≤ 1/2"}
	}
	return nil
}

var testHeat = heat{g: grid.New1D(16, 1, grid.Periodic), nu: 0.01, dt: 0.05}

func TestPenaltyCheck(t *testing.T) {
	if err := (Penalty{Sim: testHeat, Lambda: 1}).Check(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Penalty{{Lambda: 1}, {Sim: testHeat, Lambda: -1}, {Sim: testHeat, Lambda: math.NaN()}} {
		if err := p.Check(); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
	unstable := testHeat
	unstable.dt = 1
	var se *physics.StabilityError
	if err := (Penalty{Sim: unstable, Lambda: 1}).Check(); !errors.As(err, &se) {
		t.Errorf("unstable simulator: %v, want a *physics.StabilityError", err)
	}
}

// TestEnergy checks Loss against the residual it averages, and the gradient of Σ_b E(x_b) against
// central differences, in both directions, with the known state shared by the batch.
func TestEnergy(t *testing.T) {
	backend := testbackend.Get(t)
	p := Penalty{Sim: testHeat, Lambda: 2.5}
	field := GRF{Grid: testHeat.g, Exponent: 2, Scale: 1}
	x, known := field.Sample(3, 1), field.Sample(1, 2)
	loss := MustExecOnce(backend, func(x, known *Node) *Node { return p.Loss([]*Node{x}, []*Node{known}) }, x, known).Value().(float64)
	for _, dir := range []Direction{Backward, Forward} {
		outs := MustExecOnceN(backend, func(x, known *Node) []*Node {
			e := p.Energy(x, []*Node{known}, dir)
			return []*Node{e, Gradient(ReduceAllSum(e), x)[0]}
		}, x, known)
		e, grad := outs[0].Value().([]float64), outs[1].Value().([][]float64)
		if dir == Backward {
			if want := p.Lambda * (e[0] + e[1] + e[2]) / 3; math.Abs(loss-want) > 1e-12*want {
				t.Errorf("Loss = %g, want λ·mean r = %g", loss, want)
			}
		}
		energy := MustNewExec(backend, func(x, known *Node) *Node { return p.Energy(x, []*Node{known}, dir) })
		const h = 1e-6
		worst, size := 0.0, 0.0
		for b := range x {
			for j := range x[b] {
				plus, minus := slices.Clone(x[b]), slices.Clone(x[b])
				plus[j] += h
				minus[j] -= h
				ep := energy.MustExec([][]float64{plus}, known)[0].Value().([]float64)[0]
				em := energy.MustExec([][]float64{minus}, known)[0].Value().([]float64)[0]
				want := (ep - em) / (2 * h)
				worst, size = max(worst, math.Abs(grad[b][j]-want)), max(size, math.Abs(want))
			}
		}
		t.Logf("direction %d: |∇E − finite differences| = %.2g of %.3g", dir, worst, size)
		if worst > 1e-6*size {
			t.Errorf("direction %d: ∇E off by %.2g (max %.3g)", dir, worst, size)
		}
	}
}

// TestGuideFixedPoint: the guided score s(x) − λ∇E(x), with s the exact score of a GRF prior, is
// affine in x for the heat equation, so its fixed point x* (the mode of p(x)·exp(−λE)) solves a
// linear system. As λ grows, x* must move to the residual's zero: the state the known one came from
// (Backward) or the one it goes to (Forward).
func TestGuideFixedPoint(t *testing.T) {
	backend := testbackend.Get(t)
	field := GRF{Grid: testHeat.g, Exponent: 2, K0: 2 * math.Pi, Scale: 1}
	u := field.Sample(1, 5)
	next := MustExecOnce(backend, func(u *Node) *Node { return testHeat.Step([]*Node{u})[0] }, u).Value().([][]float64)
	n := len(u[0])
	// Rows 0, e₁, …, eₙ: the guided score there gives g(0) and the Jacobian's columns g(eᵢ) − g(0).
	basis := make([][]float64, n+1)
	for i := range basis {
		basis[i] = make([]float64, n)
		if i > 0 {
			basis[i][i-1] = 1
		}
	}
	for _, dir := range []Direction{Backward, Forward} {
		known, target := next, u // the residual's zero
		if dir == Forward {
			known, target = u, next
		}
		var residuals, errs []float64
		for _, lambda := range []float64{0, 1, 100, 1e4} {
			p := Penalty{Sim: testHeat, Lambda: lambda}
			guide := p.Guide(field.Score, dir, 1)
			g := MustExecOnce(backend, func(x, known *Node) *Node {
				return guide(nil, x, ScalarZero(x.Graph(), x.DType()), []*Node{known})
			}, basis, known).Value().([][]float64)
			jac := make([][]float64, n)
			for i := range jac {
				jac[i] = make([]float64, n)
				for j := range n {
					jac[i][j] = g[j+1][i] - g[0][i]
				}
			}
			star := linalg.Solve(jac, g[0])
			for i := range star {
				star[i] = -star[i]
			}
			r := MustExecOnce(backend, func(x, known *Node) *Node { return p.Energy(x, []*Node{known}, dir) },
				[][]float64{star}, known).Value().([]float64)[0]
			dist, norm := 0.0, 0.0
			for i := range star {
				dist, norm = dist+(star[i]-target[0][i])*(star[i]-target[0][i]), norm+target[0][i]*target[0][i]
			}
			residuals, errs = append(residuals, r), append(errs, math.Sqrt(dist/norm))
		}
		t.Logf("direction %d, λ = 0, 1, 100, 1e4: residual at the fixed point %.3g, relative distance to the zero %.3g", dir, residuals, errs)
		for i := 1; i < len(residuals); i++ {
			if !(residuals[i] < residuals[i-1] && errs[i] < errs[i-1]) {
				t.Errorf("direction %d: the fixed point does not approach the residual's zero as λ grows: %v, %v", dir, residuals, errs)
			}
		}
		if last := len(errs) - 1; residuals[last] > 1e-4*residuals[0] || errs[last] > 1e-2 {
			t.Errorf("direction %d: at λ = 1e4 the residual is %.3g (λ = 0: %.3g), the distance %.3g", dir, residuals[last], residuals[0], errs[last])
		}
	}
}
