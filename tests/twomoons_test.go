package tests

import (
	"testing"

	"github.com/probinv/probinv/datasets"
	"github.com/probinv/probinv/sbikit"
	"github.com/probinv/probinv/sbikit/diagnostics"
	"github.com/probinv/probinv/sbikit/flows"
	"github.com/probinv/probinv/sbikit/tasks"
)

// TestNPETwoMoonsSmallBudget is the accuracy check that fits in `make test`: NPE with each flow kind
// on two_moons at 2,000 simulations, C2ST against sbibm's reference posterior on two observations.
// The bound is loose (sbibm's NPE reaches about 0.7 at 1,000 simulations), but a broken flow (a
// wrong log-determinant or inverse) lands near 1. The full targets are in the npe_* benchmarks.
func TestNPETwoMoonsSmallBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four flows")
	}
	dir := sbibmDir(t)
	task, data := twoMoons(t, 2000)
	for _, kind := range flows.Kinds {
		t.Run(kind, func(t *testing.T) {
			model, err := sbikit.NPE{Flow: flows.Config{Kind: kind}, Training: sbikit.Training{Seed: 1}, Prior: task.Prior()}.Train(data.X, data.Y)
			if err != nil {
				t.Fatal(err)
			}
			checkTwoMoons(t, model, dir, kind, 0.75)
		})
	}
}

// TestContinuousFlowsTwoMoonsSmallBudget is the same check for the continuous flows: FMPE, and
// CNF trained by maximum likelihood through its solver (a few epochs only: each step
// backpropagates through four RK4 steps and the exact trace).
func TestContinuousFlowsTwoMoonsSmallBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two continuous flows")
	}
	dir := sbibmDir(t)
	task, data := twoMoons(t, 2000)
	t.Run("fmpe", func(t *testing.T) {
		model, err := sbikit.FMPE{Training: sbikit.Training{Seed: 1}, Prior: task.Prior()}.Train(data.X, data.Y)
		if err != nil {
			t.Fatal(err)
		}
		checkTwoMoons(t, model, dir, "fmpe", 0.8)
	})
	t.Run("cnf", func(t *testing.T) {
		model, err := sbikit.CNF{Training: sbikit.Training{Seed: 1, MaxEpochs: 15}, Prior: task.Prior()}.Train(data.X, data.Y)
		if err != nil {
			t.Fatal(err)
		}
		checkTwoMoons(t, model, dir, "cnf", 0.85)
	})
}

// TestNPSETwoMoonsSmallBudget is the same check for the score estimator, sampled by annealed
// Langevin dynamics.
func TestNPSETwoMoonsSmallBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a score network")
	}
	dir := sbibmDir(t)
	task, data := twoMoons(t, 2000)
	model, err := sbikit.NPSE{Training: sbikit.Training{Seed: 1}, Prior: task.Prior()}.Train(data.X, data.Y)
	if err != nil {
		t.Fatal(err)
	}
	checkTwoMoons(t, model, dir, "npse", 0.8)
}

// twoMoons simulates n pairs of two_moons with seed 1.
func twoMoons(t *testing.T, n int) (tasks.Task, *datasets.Dataset) {
	t.Helper()
	task, err := tasks.Get("two_moons")
	if err != nil {
		t.Fatal(err)
	}
	data, err := datasets.Simulate(task, n, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	return task, data
}

// checkTwoMoons compares the model's posterior with sbibm's reference for observations 1 and 2 by
// C2ST at 2,000 samples, failing above bound.
func checkTwoMoons(t *testing.T, model *sbikit.Model, dir, name string, bound float64) {
	t.Helper()
	for _, k := range []int{1, 2} {
		y, err := tasks.LoadObservation(dir, "two_moons", k)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := tasks.LoadReferenceSamples(dir, "two_moons", k)
		if err != nil {
			t.Fatal(err)
		}
		post, err := model.Posterior(y)
		if err != nil {
			t.Fatal(err)
		}
		samples, err := post.Sample(2000, uint64(k))
		if err != nil {
			t.Fatal(err)
		}
		c, err := diagnostics.C2ST(ref[:2000], samples, diagnostics.WithSeed(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s, observation %d: C2ST %.3f after %d epochs (%.1fs)", name, k, c, model.Report().Epochs, model.Report().TrainSeconds)
		if c > bound {
			t.Errorf("%s, observation %d: C2ST %.3f > %g", name, k, c, bound)
		}
	}
}
