package bench

import (
	"os"

	"github.com/probinv/probinv/sbikit/evaluate"
)

// The npe_*, fmpe_*, cnf_* and npse_* cases are sbibm's benchmark at 10,000 simulations (Lueckmann et al.
// 2021): the estimator with its default settings, trained once, scored by C2ST on all ten reference
// observations. They track accuracy and cost together, so that a change that speeds training up
// but hurts the posterior shows. Each takes minutes on a CPU (the 10-D gaussian_linear's C2ST alone
// about five per observation); progress goes to stderr.
func init() {
	for _, c := range []struct {
		method string
		tasks  []string
	}{
		{"npe", []string{"two_moons", "gaussian_linear", "slcp"}},
		{"fmpe", []string{"two_moons", "gaussian_linear"}},
		{"cnf", []string{"two_moons"}},
		{"npse", []string{"two_moons", "gaussian_linear"}},
	} {
		for _, task := range c.tasks {
			cfg := evaluate.Config{Method: c.method, Task: task, Sims: 10000, Seed: 1, Progress: os.Stderr}
			est := evaluate.Estimator{Method: cfg.Method}
			register(Case{
				Name: c.method + "_" + task,
				Params: map[string]any{"method": cfg.Method, "flow": est.FlowKind(), "task": task, "sims": cfg.Sims,
					"seed": cfg.Seed, "obs": "1-10"},
				Run: func() (map[string]float64, error) { return sbibm(cfg) },
			})
		}
	}
}

// sbibm runs one evaluation and returns its summary numbers.
func sbibm(cfg evaluate.Config) (map[string]float64, error) {
	s, err := evaluate.Run(cfg, nil)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"c2st_mean": s.C2STMean, "train_seconds": s.TrainSeconds, "epochs": float64(s.Epochs),
		"sample_seconds_mean": s.SampleSecondsMean}, nil
}
