package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/probinv/probinv/sbikit/evaluate"
)

func runEval(args []string, out io.Writer) error {
	fs := newFlags("eval", "")
	tf := addTrainFlags(fs)
	obsList := fs.String("obs", "1-10", "sbibm observations to score (`list`): a range (1-10), a list (1,3,5) or one (2)")
	reference := fs.String("reference", "", "`dir`ectory of sbibm's reference files (default: $PROBINV_SBIBM or shared/data/sbibm)")
	samples := fs.Int("samples", 10000, "posterior samples per observation, scored against as many reference samples")
	asJSON := fs.Bool("json", false, "print a JSON line per observation, then a summary line")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *tf.task == "" {
		fs.Usage()
		return errors.New("eval needs --task")
	}
	est, err := tf.estimator("")
	if err != nil {
		return err
	}
	obs, err := evaluate.ParseObs(*obsList)
	if err != nil {
		return fmt.Errorf("--obs: %w", err)
	}
	cfg := evaluate.Config{Method: est.Method, Flow: est.Flow, Net: est.Net, Task: *tf.task, Sims: *tf.sims, Seed: *tf.seed,
		MaxEpochs: *tf.maxEpochs, Obs: obs, Reference: *reference, Samples: *samples, Progress: os.Stderr}
	emit := func(o evaluate.Observation) error { return printJSON(out, o) }
	if !*asJSON {
		header := true // printed with the first row, so that an early error shows alone
		emit = func(o evaluate.Observation) error {
			if header {
				fmt.Fprintf(out, "%-16s %-6s %-7s %4s %7s %11s %9s\n", "task", "method", "flow", "obs", "c2st", "acceptance", "sample_s")
				header = false
			}
			_, err := fmt.Fprintf(out, "%-16s %-6s %-7s %4d %7.4f %11.4f %9.3f\n",
				o.Task, o.Method, o.Flow, o.Obs, o.C2ST, o.Acceptance, o.SampleSeconds)
			return err
		}
	}
	sum, err := evaluate.Run(cfg, emit)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, sum)
	}
	fmt.Fprintf(out, "mean c2st %.4f over observations %v (0.5: matches the reference posterior, 1: disjoint); "+
		"trained on %d simulations (seed %d) for %d epochs in %.1fs on %s, %.3fs to sample an observation\n",
		sum.C2STMean, sum.Obs, sum.Sims, sum.Seed, sum.Epochs, sum.TrainSeconds, sum.Backend, sum.SampleSecondsMean)
	return nil
}
