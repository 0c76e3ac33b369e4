package physics_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/burgers"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/physics/physicstest"
)

// toy is u ← q·u + dt·(∆u − u³), a damped Allen–Cahn-like step on a 1-D grid: enough of a simulator
// to drive Rollout and the gradient check.
type toy struct {
	g     grid.Grid
	q, dt float64
	err   error // what Check returns
	cut   bool  // add 0.01·u to the step with its gradient stopped: a wrong gradient
}

func (s toy) Grid() grid.Grid { return s.g }
func (s toy) Check() error    { return s.err }
func (s toy) Step(state []*Node) []*Node {
	u := state[0]
	next := MulScalar(u, s.q)
	if s.dt != 0 {
		next = Add(next, MulScalar(Sub(s.g.Laplacian(u), Mul(u, Square(u))), s.dt))
	}
	if s.cut {
		next = Add(next, StopGradient(MulScalar(u, 0.01)))
	}
	return []*Node{next}
}
func (s toy) Residual(prev, next []*Node) *Node {
	return ReduceMean(Square(Sub(next[0], s.Step(prev)[0])), 1)
}

func TestRollout(t *testing.T) {
	b := testbackend.Get(t)
	// With dt = 0 the step is u ← q·u: after k steps q^k·u₀.
	sim := toy{g: grid.New1D(4, 1, grid.Periodic), q: 0.5}
	u0 := tensors.FromValue([][]float64{{1, 2, 3, 4}})
	var buf bytes.Buffer
	final, snaps, err := physics.Rollout(b, sim, []*tensors.Tensor{u0}, 10, physics.Options{Every: 3, Progress: &buf})
	if err != nil {
		t.Fatal(err)
	}
	want := func(k int) []float64 {
		q := math.Pow(0.5, float64(k))
		return []float64{q, 2 * q, 3 * q, 4 * q}
	}
	same := func(name string, x *tensors.Tensor, w []float64) {
		got := tensors.MustCopyFlatData[float64](x)
		for i := range w {
			if math.Abs(got[i]-w[i]) > 1e-15 {
				t.Fatalf("%s = %v, want %v", name, got, w)
			}
		}
	}
	same("final", final[0], want(10))
	if len(snaps) != 3 {
		t.Fatalf("%d snapshots of 10 steps every 3, want 3", len(snaps))
	}
	for i, s := range snaps {
		same("snapshot", s[0], want(3*(i+1)))
	}
	if !strings.Contains(buf.String(), "rollout") {
		t.Errorf("no progress bar printed: %q", buf.String())
	}
	// Zero steps give the initial state back.
	if final, _, err := physics.Rollout(b, sim, []*tensors.Tensor{u0}, 0, physics.Options{}); err != nil || final[0] != u0 {
		t.Errorf("zero steps: %v, %v", final, err)
	}
}

func TestRolloutErrors(t *testing.T) {
	b := testbackend.Get(t)
	u0 := []*tensors.Tensor{tensors.FromValue([][]float64{{1, 2, 3, 4}})}
	g := grid.New1D(4, 1, grid.Periodic)

	// Check's error comes back as is, before any step.
	unstable := &physics.StabilityError{Dt: 1, MaxDt: 0.25, Rule: "toy ≤ 1/4"}
	_, _, err := physics.Rollout(b, toy{g: g, q: 1, err: unstable}, u0, 5, physics.Options{})
	var se *physics.StabilityError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "dt ≤ 0.25") {
		t.Errorf("Check's error: got %v", err)
	}
	// u ← 1e100·u overflows to +Inf at step 4 (4·1e300 > MaxFloat64).
	_, _, err = physics.Rollout(b, toy{g: g, q: 1e100}, u0, 10, physics.Options{})
	if err == nil || !strings.Contains(err.Error(), "after step 4 of 10") {
		t.Errorf("overflowing state: got %v, want an error naming step 4", err)
	}
	if _, _, err = physics.Rollout(b, toy{g: g, q: 1}, u0, 3, physics.Options{Every: -1}); err == nil {
		t.Error("Every < 0 accepted")
	}
}

// bounded is toy with a state check: |u₀| ≤ 1.
type bounded struct {
	toy
	checked *int // how many times CheckState ran
}

func (s bounded) CheckState(state []*tensors.Tensor) error {
	*s.checked++
	m := 0.0
	for _, x := range tensors.MustCopyFlatData[float64](state[0]) {
		m = max(m, math.Abs(x))
	}
	if m > 1 {
		return &physics.StabilityError{Dt: 1, MaxDt: 1 / m, Rule: "toy: max|u₀|·dt ≤ 1"}
	}
	return nil
}

// TestStateChecker: Rollout runs a StateChecker's CheckState on the initial state, once, and
// returns its error before any step; burgers.Burgers is one, whose UMax below max|u₀| is refused.
func TestStateChecker(t *testing.T) {
	b := testbackend.Get(t)
	g := grid.New1D(4, 1, grid.Periodic)
	var checked int
	sim := bounded{toy{g: g, q: 0.5}, &checked}
	if _, _, err := physics.Rollout(b, sim, []*tensors.Tensor{tensors.FromValue([][]float64{{0.1, 0.2, 0.3, 0.4}})}, 3, physics.Options{}); err != nil || checked != 1 {
		t.Errorf("a state within the bound: error %v, CheckState ran %d times; want no error, once", err, checked)
	}
	_, _, err := physics.Rollout(b, sim, []*tensors.Tensor{tensors.FromValue([][]float64{{1, 2, 3, 4}})}, 3, physics.Options{})
	var se *physics.StabilityError
	if !errors.As(err, &se) || se.MaxDt != 0.25 {
		t.Errorf("a state beyond the bound: got %v, want CheckState's *physics.StabilityError", err)
	}

	s := burgers.Burgers{Domain: grid.New1D(16, 1, grid.Periodic), Nu: 0.01, UMax: 1}
	s.Dt = s.MaxDt()
	u0 := make([]float64, 16)
	for i, x := range s.Domain.Coords(0) {
		u0[i] = 2 * math.Sin(2*math.Pi*x) // max|u₀| ≈ 2 > UMax
	}
	_, _, err = physics.Rollout(b, s, []*tensors.Tensor{tensors.FromFlatDataAndDimensions(u0, 1, 16)}, 3, physics.Options{})
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "max|u₀|") {
		t.Errorf("Burgers with UMax below max|u₀|: got %v, want a *physics.StabilityError naming max|u₀|", err)
	}
}

func TestCheckGradient(t *testing.T) {
	u0 := tensors.FromValue([][]float64{{0.1, 0.9, -0.4, 0.3, 0.5, -0.8}, {1, 0, 0.2, -0.5, 0.7, 0.1}})
	for _, bc := range []grid.Boundary{grid.Periodic, grid.Dirichlet, grid.Neumann} {
		sim := toy{g: grid.New1D(6, 1, bc), q: 0.99, dt: 0.005}
		physicstest.CheckGradient(t, sim, []*tensors.Tensor{u0}, 20)
	}
}

// recorder is a testing.TB that records Errorf instead of failing.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }

// TestCheckGradientFails: a step whose gradient misses a term (0.01·u with its gradient stopped)
// fails the check.
func TestCheckGradientFails(t *testing.T) {
	u0 := tensors.FromValue([][]float64{{0.1, 0.9, -0.4, 0.3, 0.5, -0.8}})
	r := &recorder{TB: t}
	physicstest.CheckGradient(r, toy{g: grid.New1D(6, 1, grid.Periodic), q: 0.98, dt: 0.005, cut: true}, []*tensors.Tensor{u0}, 20)
	if !r.failed {
		t.Error("a gradient missing 1% of the step passed the check")
	}
}
