package bench

import (
	"math/rand/v2"
	"time"

	"github.com/probinv/probinv/sbikit/diagnostics"
	"github.com/probinv/probinv/sbikit/tasks"
)

func init() {
	register(Case{
		Name:   "c2st_10k_2d",
		Params: map[string]any{"n_per_set": 10000, "dim": 2, "folds": 5},
		Run:    c2st10k2D,
	})
	for _, name := range tasks.Names() {
		register(Case{
			Name:   "simulate_" + name,
			Params: map[string]any{"task": name, "n": 10000},
			Run:    func() (map[string]float64, error) { return simulate(name, 10000) },
		})
	}
}

// c2st10k2D times sbibm's C2ST on 10,000 vs 10,000 samples of two 2-D Gaussians a little apart.
func c2st10k2D() (map[string]float64, error) {
	rng := rand.New(rand.NewPCG(11, 12))
	sample := func(shift float64) [][]float64 {
		rows := make([][]float64, 10000)
		for i := range rows {
			rows[i] = []float64{rng.NormFloat64() + shift, rng.NormFloat64()}
		}
		return rows
	}
	a, b := sample(0), sample(0.3)
	start := time.Now()
	accuracy, err := diagnostics.C2ST(a, b)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"seconds": time.Since(start).Seconds(), "c2st": accuracy}, nil
}

// simulate measures a task's simulator throughput (prior draws included).
func simulate(name string, n int) (map[string]float64, error) {
	task, err := tasks.Get(name)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	task.Simulate(task.Prior().Sample(n, 1), 2)
	seconds := time.Since(start).Seconds()
	return map[string]float64{"seconds": seconds, "simulations_per_second": float64(n) / seconds}, nil
}
