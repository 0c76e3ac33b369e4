// Package ode solves ordinary differential equations dz/dt = f(t, z) whose right-hand side is a
// GoMLX graph, as continuous normalizing flows need: sampling integrates the flow's velocity field,
// and the density adds the integral of its divergence.
//
// Two ways to run a solver, for two needs:
//
//   - Integrate unrolls n fixed steps into the caller's graph. The result is an ordinary graph
//     node, so training can backpropagate through the solver.
//   - Solver compiles one step and calls it from a Go loop. That is what adaptive step-size control
//     needs (each step size is chosen from the last step's error estimate, at run time, and the
//     pure-Go backend has no While or If to do that inside a graph), and it keeps the graph small
//     however many steps a solve takes.
//
// Both use explicit Runge–Kutta methods given by their Butcher tableaux (Method).
package ode

import (
	"fmt"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
)

// Field is the right-hand side dz/dt = f(t, z) of an ODE whose state is a tuple of nodes (for a CNF:
// the samples [b, d] and their log-density change [b]). t is a scalar node of the state's dtype. It
// returns one derivative per state node, of the same shape.
type Field func(t *Node, z []*Node) []*Node

// Method is an explicit Runge–Kutta method given by its Butcher tableau: with stages
//
//	k_i = f(t + C_i h, z + h Σ_{j<i} A_ij k_j),
//
// a step is z + h Σ B_i k_i, and, for an embedded pair, h Σ E_i k_i estimates its local error.
type Method struct {
	Name  string
	Order int         // order of the solution weights B
	A     [][]float64 // stage coefficients (lower triangular, row i has i entries)
	B     []float64   // solution weights
	C     []float64   // stage times
	// E is B minus the weights of an embedded method of order Order−1 (nil: no error estimate); the
	// error estimate is h Σ E_i k_i, which shrinks as h^Order.
	E []float64
}

// The methods the package provides.
var (
	// Euler is the forward Euler method, order 1.
	Euler = Method{Name: "euler", Order: 1, A: [][]float64{{}}, B: []float64{1}, C: []float64{0}}
	// Midpoint is the explicit midpoint method, order 2.
	Midpoint = Method{Name: "midpoint", Order: 2, A: [][]float64{{}, {0.5}}, B: []float64{0, 1}, C: []float64{0, 0.5}}
	// RK4 is the classical Runge–Kutta method, order 4.
	RK4 = Method{
		Name: "rk4", Order: 4,
		A: [][]float64{{}, {0.5}, {0, 0.5}, {0, 0, 1}},
		B: []float64{1. / 6, 1. / 3, 1. / 3, 1. / 6},
		C: []float64{0, 0.5, 0.5, 1},
	}
	// DormandPrince is the Dormand–Prince 5(4) pair (Hairer, Nørsett & Wanner, "Solving Ordinary
	// Differential Equations I", §II.5): order 5, with an embedded order-4 solution for the error
	// estimate. Its 7th stage is evaluated at the new solution; it only serves the error estimate
	// here (B_7 = 0), and is not reused as the next step's first stage (FSAL), which would need the
	// stage carried between compiled steps.
	DormandPrince = Method{
		Name: "dopri5", Order: 5,
		A: [][]float64{
			{},
			{1. / 5},
			{3. / 40, 9. / 40},
			{44. / 45, -56. / 15, 32. / 9},
			{19372. / 6561, -25360. / 2187, 64448. / 6561, -212. / 729},
			{9017. / 3168, -355. / 33, 46732. / 5247, 49. / 176, -5103. / 18656},
			{35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84},
		},
		B: []float64{35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84, 0},
		C: []float64{0, 1. / 5, 3. / 10, 4. / 5, 8. / 9, 1, 1},
		E: []float64{71. / 57600, 0, -71. / 16695, 71. / 1920, -17253. / 339200, 22. / 525, -1. / 40},
	}
)

// Methods lists the provided methods, for help texts and MethodByName.
var Methods = []Method{Euler, Midpoint, RK4, DormandPrince}

// MethodByName returns the provided method called name ("euler", "midpoint", "rk4", "dopri5").
func MethodByName(name string) (Method, error) {
	names := make([]string, len(Methods))
	for i, m := range Methods {
		if m.Name == name {
			return m, nil
		}
		names[i] = m.Name
	}
	return Method{}, fmt.Errorf("ode: unknown method %q, want one of %s", name, strings.Join(names, ", "))
}

// Stages is the number of field evaluations of one step.
func (m Method) Stages() int { return len(m.B) }

// check reports a tableau whose sizes do not fit together.
func (m Method) check() error {
	s := len(m.B)
	if s == 0 || len(m.C) != s || len(m.A) != s || m.Order < 1 || (m.E != nil && len(m.E) != s) {
		return fmt.Errorf("ode: method %q: need order ≥ 1 and B, C, A (and E if set) of one length ≥ 1, got order %d and %d, %d, %d, %d",
			m.Name, m.Order, len(m.B), len(m.C), len(m.A), len(m.E))
	}
	for i, row := range m.A {
		if len(row) != i {
			return fmt.Errorf("ode: method %q: row %d of A has %d entries, want %d", m.Name, i, len(row), i)
		}
	}
	return nil
}

// Step advances z from t by h with method m (t and h scalar nodes): the next state, and for a method
// with E the local error estimate per state element (nil otherwise). It panics on a malformed
// method or a field that returns the wrong number of derivatives (programmer errors).
func Step(m Method, f Field, t, h *Node, z []*Node) (next, errEst []*Node) {
	if err := m.check(); err != nil {
		panic(err)
	}
	k := make([][]*Node, len(m.B))
	for i := range k {
		ti, zi := t, z
		if m.C[i] != 0 {
			ti = Add(t, MulScalar(h, m.C[i]))
		}
		if i > 0 {
			zi = combine(z, h, m.A[i], k[:i])
		}
		k[i] = f(ti, zi)
		if len(k[i]) != len(z) {
			panic(fmt.Sprintf("ode.Step: the field returned %d derivatives for a state of %d nodes", len(k[i]), len(z)))
		}
	}
	next = combine(z, h, m.B, k)
	if m.E != nil {
		errEst = combine(nil, h, m.E, k)
	}
	return next, errEst
}

// combine is z + h Σ_i w_i k_i per state node (h Σ_i w_i k_i for a nil z), skipping the zero weights
// that tableaux are full of. A node with all weights zero stays z.
func combine(z []*Node, h *Node, w []float64, k [][]*Node) []*Node {
	n := len(k[0])
	out := make([]*Node, n)
	for j := range n {
		var sum *Node
		for i, wi := range w[:len(k)] {
			if wi == 0 {
				continue
			}
			term := MulScalar(k[i][j], wi)
			if sum == nil {
				sum = term
			} else {
				sum = Add(sum, term)
			}
		}
		switch {
		case sum == nil && z == nil:
			out[j] = ZerosLike(k[0][j])
		case sum == nil:
			out[j] = z[j]
		case z == nil:
			out[j] = times(h, sum)
		default:
			out[j] = Add(z[j], times(h, sum))
		}
	}
	return out
}

// times is h·x for a scalar h. Binary ops need operands of one rank (size-1 dimensions broadcast),
// so h is reshaped to x's rank; it is also converted to x's dtype, should a state mix dtypes.
func times(h, x *Node) *Node {
	if h.DType() != x.DType() {
		h = ConvertDType(h, x.DType())
	}
	ones := make([]int, x.Rank())
	for i := range ones {
		ones[i] = 1
	}
	return Mul(Reshape(h, ones...), x)
}

// Integrate solves from t0 to t1 (t1 < t0 allowed: backwards) in n equal steps unrolled in the graph,
// so that it can be differentiated (backpropagation through the solver). The times are constants of
// the state's dtype, each computed as t0 + i·h so that rounding does not drift over many steps. A
// method's error estimate is not computed. Panics if n < 1 (programmer error).
func Integrate(m Method, f Field, z0 []*Node, t0, t1 float64, n int) []*Node {
	if n < 1 {
		panic(fmt.Sprintf("ode.Integrate: need at least one step, got n = %d", n))
	}
	if len(z0) == 0 {
		panic("ode.Integrate: empty state")
	}
	m.E = nil // m is a copy: the error estimate would only add unused nodes
	g, dtype := z0[0].Graph(), z0[0].DType()
	dt := (t1 - t0) / float64(n)
	h := Scalar(g, dtype, dt)
	z := z0
	for i := range n {
		z, _ = Step(m, f, Scalar(g, dtype, t0+float64(i)*dt), h, z)
	}
	return z
}
