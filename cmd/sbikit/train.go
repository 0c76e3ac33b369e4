package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/probinv/probinv/datasets"
	"github.com/probinv/probinv/sbikit"
	"github.com/probinv/probinv/sbikit/cnf"
	"github.com/probinv/probinv/sbikit/evaluate"
	"github.com/probinv/probinv/sbikit/flows"
	"github.com/probinv/probinv/sbikit/tasks"
)

// trainFlags are the flags that train and eval share: the estimator and the data it learns from.
type trainFlags struct {
	method, flow, task *string
	sims, maxEpochs    *int
	transforms, hidden *int
	seed               *uint64
}

func addTrainFlags(fs *flag.FlagSet) *trainFlags {
	return &trainFlags{
		method:     fs.String("method", "npe", fmt.Sprintf("estimator, one of %v", evaluate.Methods)),
		flow:       fs.String("flow", flows.KindNSF, fmt.Sprintf("npe's normalizing flow, one of %v", flows.Kinds)),
		task:       fs.String("task", "", "`task` to simulate the training set from (list them with sbikit tasks)"),
		sims:       fs.Int("sims", 10000, "number of training simulations"),
		seed:       fs.Uint64("seed", 1, "seed of the simulations, the initial weights and the batch order"),
		maxEpochs:  fs.Int("max-epochs", 0, "stop training after this many epochs (0: the default, 1000; early stopping usually ends it sooner)"),
		transforms: fs.Int("transforms", 0, "number of flow transforms (0: the default, 5)"),
		hidden:     fs.Int("hidden", 0, "hidden units per layer of the flow's networks (0: the default, 32 per 4 parameters for npe, 64 per 4 for fmpe and cnf)"),
	}
}

// estimator checks the flags' method and flow and returns the estimator they describe, training
// in dir (none for "") with progress on stderr.
func (f *trainFlags) estimator(dir string) (evaluate.Estimator, error) {
	e := evaluate.Estimator{
		Method:   *f.method,
		Flow:     flows.Config{Kind: *f.flow, Transforms: *f.transforms, Hidden: *f.hidden},
		Net:      cnf.Net{Hidden: *f.hidden},
		Training: sbikit.Training{Seed: *f.seed, MaxEpochs: *f.maxEpochs, Dir: dir, Progress: os.Stderr},
	}
	if *f.maxEpochs < 0 || *f.transforms < 0 || *f.hidden < 0 {
		return e, errors.New("--max-epochs, --transforms and --hidden must be positive (or 0 for the default)")
	}
	return e, e.Check()
}

func runTrain(args []string, out io.Writer) error {
	fs := newFlags("train", "")
	tf := addTrainFlags(fs)
	dir := fs.String("out", "", "model `dir`ectory: checkpoints go there, and an unfinished run there is resumed")
	dataPath := fs.String("data", "", "train on this .npz dataset `file` (from sbikit simulate) instead of simulating --sims pairs of --task")
	asJSON := fs.Bool("json", false, "print a JSON summary line")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *dir == "" || (*tf.task == "") == (*dataPath == "") {
		fs.Usage()
		return errors.New("train needs --out, and either --task (simulating --sims pairs) or --data")
	}
	if *dataPath != "" && isSet(fs, "sims") {
		return errors.New("--data replaces --task and --sims; pass one or the other")
	}
	est, err := tf.estimator(*dir)
	if err != nil {
		return err
	}
	// Refuse a finished model before simulating, with the fix in CLI terms (an unfinished run is
	// resumed by Train, which also refuses one with other settings or data).
	if m, err := sbikit.Load(*dir); err == nil {
		return fmt.Errorf("%s already holds a trained model (%s after %d epochs); sample it with `sbikit sample --model %s`, or pass another --out",
			*dir, m.Report().Stopped, m.Report().Epochs, *dir)
	}
	data, prior, err := trainingData(*tf.task, *tf.sims, *tf.seed, *dataPath)
	if err != nil {
		return err
	}
	model, err := est.Train(data.Task, prior, data.X, data.Y)
	if err != nil {
		return err
	}
	r := model.Report()
	if *asJSON {
		return printJSON(out, map[string]any{"task": data.Task, "method": model.Method(), "flow": est.FlowKind(),
			"sims": len(data.X), "epochs": r.Epochs, "best_validation_loss": r.BestValidationLoss,
			"train_seconds": r.TrainSeconds, "stopped": r.Stopped, "backend": r.Backend, "out": *dir})
	}
	fmt.Fprintf(out, "trained %s (%s flow) on %d simulations of %s: %d epochs (%s), best validation loss %.4f at epoch %d, %.1fs on %s; saved to %s\n",
		model.Method(), est.FlowKind(), len(data.X), data.Task, r.Epochs, r.Stopped, r.BestValidationLoss, r.BestEpoch,
		r.TrainSeconds, r.Backend, *dir)
	return nil
}

// trainingData loads the dataset at path, or simulates n pairs of the named task when path is
// "". The prior, which bounds the posterior's support, is nil for a dataset of a task this build
// does not know.
func trainingData(task string, n int, seed uint64, path string) (*datasets.Dataset, tasks.Prior, error) {
	if path != "" {
		d, err := datasets.Load(path)
		if err != nil {
			return nil, nil, err
		}
		t, err := tasks.Get(d.Task)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sbikit: %s holds task %q, which has no prior here; the posterior will not be truncated to a support\n", path, d.Task)
			return d, nil, nil
		}
		return d, t.Prior(), nil
	}
	t, err := tasks.Get(task)
	if err != nil {
		return nil, nil, err
	}
	d, err := datasets.Simulate(t, n, seed, os.Stderr)
	if err != nil {
		return nil, nil, err
	}
	return d, t.Prior(), nil
}

// isSet reports whether the flag was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
