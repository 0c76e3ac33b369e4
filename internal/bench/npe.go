package bench

import (
	"os"

	"github.com/probinv/probinv/sbikit/evaluate"
	"github.com/probinv/probinv/sbikit/flows"
)

// The npe_* cases are sbibm's benchmark at 10,000 simulations (Lueckmann et al. 2021): NPE with
// the default flow, trained once, scored by C2ST on all ten reference observations. They track
// accuracy and cost together, so that a change that speeds training up but hurts the posterior
// shows. Each takes minutes on a CPU; progress goes to stderr.
func init() {
	for _, task := range []string{"two_moons", "gaussian_linear", "slcp"} {
		cfg := evaluate.Config{Method: "npe", Flow: flows.Config{Kind: flows.KindNSF}, Task: task, Sims: 10000, Seed: 1,
			Progress: os.Stderr}
		register(Case{
			Name: "npe_" + task,
			Params: map[string]any{"method": cfg.Method, "flow": cfg.Flow.Kind, "task": task, "sims": cfg.Sims,
				"seed": cfg.Seed, "obs": "1-10"},
			Run: func() (map[string]float64, error) { return npe(cfg) },
		})
	}
}

// npe runs one evaluation and returns its summary numbers.
func npe(cfg evaluate.Config) (map[string]float64, error) {
	s, err := evaluate.Run(cfg, nil)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"c2st_mean": s.C2STMean, "train_seconds": s.TrainSeconds, "epochs": float64(s.Epochs),
		"sample_seconds_mean": s.SampleSecondsMean}, nil
}
