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
	task, err := tasks.Get("two_moons")
	if err != nil {
		t.Fatal(err)
	}
	data, err := datasets.Simulate(task, 2000, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range flows.Kinds {
		t.Run(kind, func(t *testing.T) {
			model, err := sbikit.NPE{Flow: flows.Config{Kind: kind}, Training: sbikit.Training{Seed: 1}, Prior: task.Prior()}.Train(data.X, data.Y)
			if err != nil {
				t.Fatal(err)
			}
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
				t.Logf("%s, observation %d: C2ST %.3f after %d epochs (%.1fs)", kind, k, c, model.Report().Epochs, model.Report().TrainSeconds)
				if c > 0.75 {
					t.Errorf("%s, observation %d: C2ST %.3f > 0.75", kind, k, c)
				}
			}
		})
	}
}
