// Package evaluate scores an estimator the way sbibm does (Lueckmann et al. 2021): simulate a
// training set of a benchmark task, train once (amortized), then for each of the task's reference
// observations draw posterior samples and compare them with sbibm's reference posterior samples
// by the classifier two-sample test (C2ST: 0.5 is perfect, 1 is disjoint).
//
// `sbikit eval` and the npe_* benchmarks both call Run, so that the numbers a user sees on the
// command line and the ones the benchmarks track are computed by the same code.
package evaluate

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/probinv/probinv/datasets"
	"github.com/probinv/probinv/sbikit"
	"github.com/probinv/probinv/sbikit/cnf"
	"github.com/probinv/probinv/sbikit/diagnostics"
	"github.com/probinv/probinv/sbikit/diffusion"
	"github.com/probinv/probinv/sbikit/flows"
	"github.com/probinv/probinv/sbikit/tasks"
)

// Methods lists the estimators this build can train: npe (a normalizing flow by maximum
// likelihood), fmpe (a continuous flow by flow matching), cnf (a continuous flow by maximum
// likelihood through its ODE solver), npse (a score network by denoising score matching, sampled
// by annealed Langevin dynamics), and ddpm and ddim (a conditional diffusion model, sampled by DDPM's
// 1000 steps or DDIM's 50).
var Methods = []string{"npe", "fmpe", "cnf", "npse", "ddpm", "ddim"}

// Estimator is an estimator and its settings: what a model is trained from, besides the data.
// It is the one place that turns a method name into a trainer, for `sbikit train` and Run alike.
type Estimator struct {
	Method   string       // one of Methods; "" means "npe"
	Flow     flows.Config // npe's flow (zero fields take flows' defaults)
	Net      cnf.Net      // the network of fmpe's and cnf's vector field and npse's score (zero fields take cnf's defaults)
	Training sbikit.Training
}

// Check reports an unknown method or flow kind, so that callers can refuse bad settings before
// spending minutes on simulations.
func (e Estimator) Check() error {
	if e.Method != "" && !slices.Contains(Methods, e.Method) {
		return fmt.Errorf("unknown method %q; available: %s", e.Method, strings.Join(Methods, ", "))
	}
	if kind := e.Flow.Kind; kind != "" && !slices.Contains(flows.Kinds, kind) {
		return fmt.Errorf("unknown flow %q; available: %s", kind, strings.Join(flows.Kinds, ", "))
	}
	return nil
}

// Train fits the estimator to the pairs (x[i], y[i]) simulated from the named task. The prior
// (nil when unknown) bounds the posterior's support; the task name is recorded in the model.
func (e Estimator) Train(task string, prior tasks.Prior, x, y [][]float64) (*sbikit.Model, error) {
	if err := e.Check(); err != nil {
		return nil, err
	}
	switch e.Method {
	case "fmpe":
		return sbikit.FMPE{Net: e.Net, Training: e.Training, Prior: prior, Task: task}.Train(x, y)
	case "cnf":
		return sbikit.CNF{Net: e.Net, Training: e.Training, Prior: prior, Task: task}.Train(x, y)
	case "npse":
		return sbikit.NPSE{Net: e.Net, Training: e.Training, Prior: prior, Task: task}.Train(x, y)
	case "ddpm", "ddim":
		return sbikit.DiffusionPosterior{Net: e.Net, Sampling: diffusion.Sampling{Method: e.Method}, Training: e.Training,
			Prior: prior, Task: task}.Train(x, y)
	}
	return sbikit.NPE{Flow: e.Flow, Training: e.Training, Prior: prior, Task: task}.Train(x, y)
}

// FlowKind is the flow the estimator trains: npe's flow kind, defaults applied ("nsf" for the zero
// Config), "ode" for the continuous flows of fmpe and cnf, "score" for npse and "diffusion" for
// ddpm and ddim, which have none.
func (e Estimator) FlowKind() string {
	switch e.Method {
	case "fmpe", "cnf":
		return "ode"
	case "npse":
		return "score"
	case "ddpm", "ddim":
		return "diffusion"
	}
	return e.Flow.WithDefaults(1).Kind
}

// Config is one evaluation run. Zero fields take the defaults noted.
type Config struct {
	Method    string       // one of Methods (default "npe")
	Flow      flows.Config // npe's flow (default: flows' defaults, a neural spline flow)
	Net       cnf.Net      // fmpe's and cnf's vector field (default: cnf's defaults)
	Task      string       // a task with sbibm reference posteriors, e.g. "two_moons"
	Sims      int          // training simulations (sbibm's budgets are 1e3, 1e4, 1e5)
	Seed      uint64       // seeds the simulations, the training and (with the observation) the sampling
	MaxEpochs int          // training epochs at most (default: sbikit.Training's)
	// Obs are the sbibm observations to score, each in 1..NumObservations (default: all ten).
	Obs []int
	// Reference is the directory of sbibm's reference files (default: tasks.SbibmDir).
	Reference string
	// Samples is the number of posterior samples per observation, compared against as many
	// reference samples (default 10,000, sbibm's).
	Samples int
	// Progress receives the simulation and training progress (nil: silent).
	Progress io.Writer
}

// NumObservations is how many reference observations sbibm provides per task.
const NumObservations = 10

// Observation is the score of one observation.
type Observation struct {
	Task          string  `json:"task"`
	Method        string  `json:"method"`
	Flow          string  `json:"flow"`
	Obs           int     `json:"obs"`
	C2ST          float64 `json:"c2st"`
	SampleSeconds float64 `json:"sample_seconds"` // drawing the samples, rejection included
	Acceptance    float64 `json:"acceptance"`     // share of draws inside the prior's support
}

// Summary is the outcome of a run: the C2ST averaged over the observations, and what it cost.
type Summary struct {
	Task              string  `json:"task"`
	Method            string  `json:"method"`
	Flow              string  `json:"flow"`
	Sims              int     `json:"sims"`
	Seed              uint64  `json:"seed"`
	Obs               []int   `json:"obs"`
	C2STMean          float64 `json:"c2st_mean"`
	TrainSeconds      float64 `json:"train_seconds"`
	Epochs            int     `json:"epochs"`
	Backend           string  `json:"backend"`
	SampleSecondsMean float64 `json:"sample_seconds_mean"`
}

// Run simulates cfg.Sims pairs of the task, trains the estimator once, and scores each observation
// in cfg.Obs, calling emit (if not nil) with each score as soon as it is known, so that a long run
// shows its results as it goes. The reference files are read before training, so that missing
// ones fail the run at once rather than after it.
func Run(cfg Config, emit func(Observation) error) (Summary, error) {
	task, err := tasks.Get(cfg.Task)
	if err != nil {
		return Summary{}, err
	}
	est := Estimator{Method: cfg.Method, Flow: cfg.Flow, Net: cfg.Net,
		Training: sbikit.Training{Seed: cfg.Seed, MaxEpochs: cfg.MaxEpochs, Progress: cfg.Progress}}
	if err := est.Check(); err != nil {
		return Summary{}, fmt.Errorf("evaluate: %w", err)
	}
	if cfg, err = cfg.withDefaults(); err != nil {
		return Summary{}, err
	}
	observations := make([][]float64, len(cfg.Obs))
	references := make([][][]float64, len(cfg.Obs))
	for i, k := range cfg.Obs {
		if observations[i], err = tasks.LoadObservation(cfg.Reference, cfg.Task, k); err != nil {
			return Summary{}, fmt.Errorf("evaluate: %w", err)
		}
		if references[i], err = tasks.LoadReferenceSamples(cfg.Reference, cfg.Task, k); err != nil {
			return Summary{}, fmt.Errorf("evaluate: %w", err)
		}
	}

	data, err := datasets.Simulate(task, cfg.Sims, cfg.Seed, cfg.Progress)
	if err != nil {
		return Summary{}, err
	}
	model, err := est.Train(task.Name(), task.Prior(), data.X, data.Y)
	if err != nil {
		return Summary{}, err
	}
	report := model.Report()
	sum := Summary{Task: task.Name(), Method: cfg.Method, Flow: est.FlowKind(), Sims: cfg.Sims, Seed: cfg.Seed,
		Obs: cfg.Obs, TrainSeconds: report.TrainSeconds, Epochs: report.Epochs, Backend: report.Backend}
	for i, k := range cfg.Obs {
		o, err := score(model, observations[i], references[i], cfg.Samples, SampleSeed(cfg.Seed, k))
		if err != nil {
			return Summary{}, fmt.Errorf("evaluate: %s observation %d: %w", task.Name(), k, err)
		}
		o.Task, o.Method, o.Flow, o.Obs = sum.Task, sum.Method, sum.Flow, k
		sum.C2STMean += o.C2ST / float64(len(cfg.Obs))
		sum.SampleSecondsMean += o.SampleSeconds / float64(len(cfg.Obs))
		if emit != nil {
			if err := emit(o); err != nil {
				return Summary{}, err
			}
		}
	}
	return sum, nil
}

// score samples the posterior of one observation and compares the samples with the first n
// reference samples: equal sizes keep the C2ST's chance level at 0.5, as in sbibm.
func score(model *sbikit.Model, yObs []float64, reference [][]float64, n int, seed uint64) (Observation, error) {
	post, err := model.Posterior(yObs)
	if err != nil {
		return Observation{}, err
	}
	start := time.Now()
	samples, err := post.Sample(n, seed)
	if err != nil {
		return Observation{}, err
	}
	seconds := time.Since(start).Seconds()
	acceptance, err := post.Acceptance()
	if err != nil {
		return Observation{}, err
	}
	c2st, err := diagnostics.C2ST(reference[:min(n, len(reference))], samples)
	if err != nil {
		return Observation{}, err
	}
	return Observation{C2ST: c2st, SampleSeconds: seconds, Acceptance: acceptance}, nil
}

// SampleSeed is the sampling seed of observation k in a run with the given seed: the first number
// of the PCG stream (seed, k), so that observations get independent draws and a rerun the same.
func SampleSeed(seed uint64, k int) uint64 {
	return rand.New(rand.NewPCG(seed, uint64(k))).Uint64()
}

func (c Config) withDefaults() (Config, error) {
	if c.Method == "" {
		c.Method = "npe"
	}
	if c.Sims < 1 {
		return c, fmt.Errorf("evaluate: %d simulations; pass a positive number (sbibm uses 1000, 10000, 100000)", c.Sims)
	}
	if c.Samples == 0 {
		c.Samples = 10000
	}
	if c.Samples < 1 {
		return c, fmt.Errorf("evaluate: %d samples per observation; pass a positive number (sbibm uses 10000)", c.Samples)
	}
	if len(c.Obs) == 0 {
		for k := 1; k <= NumObservations; k++ {
			c.Obs = append(c.Obs, k)
		}
	}
	for _, k := range c.Obs {
		if k < 1 || k > NumObservations {
			return c, fmt.Errorf("evaluate: observation %d does not exist; sbibm's are numbered 1 to %d", k, NumObservations)
		}
	}
	var err error
	c.Reference, err = ReferenceDir(c.Reference)
	return c, err
}

// ReferenceDir returns dir, or when it is "" the directory of sbibm's reference files that
// tasks.SbibmDir finds, with an error that says how to point to them.
func ReferenceDir(dir string) (string, error) {
	if dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return "", fmt.Errorf("evaluate: no sbibm reference data: %w; pass the directory that holds <task>/num_observation_<k>/", err)
		}
		return dir, nil
	}
	dir, err := tasks.SbibmDir()
	if err != nil {
		return "", fmt.Errorf("evaluate: no sbibm reference data (%w); pass --reference DIR (Config.Reference) or set PROBINV_SBIBM", err)
	}
	return dir, nil
}

// ParseObs reads a list of observation numbers: "1-10", "1,3,5", "2", or a mix ("1-3,7"). Each
// must lie in 1..NumObservations, and none may repeat.
func ParseObs(s string) ([]int, error) {
	bad := func(why string) error {
		return fmt.Errorf("bad observation list %q: %s; write e.g. 1-10, 1,3,5 or 2 (sbibm's observations are 1 to %d)",
			s, why, NumObservations)
	}
	var obs []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		if !isRange {
			hi = lo
		}
		a, errA := strconv.Atoi(strings.TrimSpace(lo))
		b, errB := strconv.Atoi(strings.TrimSpace(hi))
		switch {
		case errA != nil || errB != nil:
			return nil, bad(fmt.Sprintf("%q is not a number or a range", part))
		case a > b:
			return nil, bad(fmt.Sprintf("the range %q runs backwards", part))
		case a < 1 || b > NumObservations:
			return nil, bad(fmt.Sprintf("%q is out of range", part))
		}
		for k := a; k <= b; k++ {
			if slices.Contains(obs, k) {
				return nil, bad(fmt.Sprintf("observation %d is listed twice", k))
			}
			obs = append(obs, k)
		}
	}
	return obs, nil
}
