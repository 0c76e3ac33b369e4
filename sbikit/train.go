package sbikit

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/probinv/probinv/sbikit/npy"
	"github.com/probinv/probinv/sbikit/progress"
)

// Training configures the loop that trains every estimator of this package: Adam on shuffled
// minibatches of the standardized training pairs, a held-out validation set, early stopping on the
// validation loss, a learning rate halved whenever the validation loss plateaus (and the best weights
// restored if it has drifted up), and checkpoints that a later run resumes from. Zero fields take the defaults.
type Training struct {
	// BatchSize is the number of pairs per step. The default is a sixteenth of the training set,
	// between 64 and 512: at least 16 steps per epoch on small sets, and on large ones batches big
	// enough that the pure-Go backend's matrix products run near their best rate per pair.
	BatchSize          int     `json:"batch_size"`
	LearningRate       float64 `json:"learning_rate"`       // Adam's initial step size (default 4e-3; halved on plateaus)
	ValidationFraction float64 `json:"validation_fraction"` // share held out (default 0.1)
	Patience           int     `json:"patience"`            // epochs without a better validation loss before stopping (default 10)
	// DecayPatience is the number of epochs without a better validation loss after which the
	// learning rate halves (default 3): large steps early, fine ones once the loss plateaus.
	DecayPatience int    `json:"decay_patience"`
	MaxEpochs     int    `json:"max_epochs"` // hard limit (default 1000)
	Seed          uint64 `json:"seed"`       // initial weights, the validation split and the batch order

	// Dir, when set, is the model directory: checkpoints are written there during training (at most
	// every CheckpointEvery, and at the end), and a run started on a directory that holds an unfinished
	// run with the same settings and data continues it.
	Dir             string        `json:"-"`
	CheckpointEvery time.Duration `json:"-"` // default 10 s
	// Progress receives a line per epoch on a terminal (every five seconds elsewhere) with the losses.
	Progress io.Writer `json:"-"`
}

// withDefaults fills the unset fields for a data set of n pairs.
func (t Training) withDefaults(n int) Training {
	if t.ValidationFraction == 0 {
		t.ValidationFraction = 0.1
	}
	if t.BatchSize == 0 {
		t.BatchSize = min(512, max(64, int(float64(n)*(1-t.ValidationFraction))/16))
	}
	if t.LearningRate == 0 {
		t.LearningRate = 4e-3
	}
	if t.Patience == 0 {
		t.Patience = 10
	}
	if t.DecayPatience == 0 {
		t.DecayPatience = 3
	}
	if t.MaxEpochs == 0 {
		t.MaxEpochs = 1000
	}
	if t.CheckpointEvery == 0 {
		t.CheckpointEvery = 10 * time.Second
	}
	return t
}

// forRegression is t with the defaults of a regression onto a noisy target (flow matching, denoising
// score matching). Its validation value keeps improving slowly, in small steps that NPE's patience
// (3 epochs before halving the learning rate, 10 before stopping) mistakes for a plateau: on
// two_moons these stopped FMPE after 51 epochs at C2ST 0.72; 10 and 30 gave 0.64. And it needs many
// steps more than large batches: on two_moons (10,000 simulations) NPSE reached a validation loss of
// 0.800 and C2ST 0.797 with NPE's batches of 512, and 0.664 and 0.513 (observations 1–2) with 128.
func (t Training) forRegression() Training {
	if t.DecayPatience == 0 {
		t.DecayPatience = 10
	}
	if t.Patience == 0 {
		t.Patience = 30
	}
	if t.BatchSize == 0 {
		t.BatchSize = 128
	}
	return t
}

// persisted is t without the fields model.json does not store, for comparing settings.
func (t Training) persisted() Training {
	t.Dir, t.CheckpointEvery, t.Progress = "", 0, nil
	return t
}

func (t Training) check() error {
	if t.BatchSize < 1 || !(t.LearningRate > 0) || !(t.ValidationFraction > 0 && t.ValidationFraction < 1) ||
		t.Patience < 1 || t.DecayPatience < 1 || t.MaxEpochs < 1 {
		return fmt.Errorf("sbikit: bad training settings %+v: need batch size, patience, max epochs ≥ 1, "+
			"learning rate > 0 and a validation fraction in (0, 1)", t)
	}
	return nil
}

// Report is how a training run went; it is saved in the model directory's model.json.
type Report struct {
	Epochs             int      `json:"epochs"`
	BestEpoch          int      `json:"best_epoch"`
	BestValidationLoss float64  `json:"best_validation_loss"`
	TrainSeconds       float64  `json:"train_seconds"`
	Steps              int      `json:"steps"`
	LearningRate       float64  `json:"learning_rate"` // the current one, after the halvings
	LastDecay          int      `json:"last_decay"`    // epoch of the last halving
	Stopped            string   `json:"stopped"`       // "early stopping", "max epochs", or "" while running
	Backend            string   `json:"backend"`
	History            []Losses `json:"history"`
}

// Losses are the mean training and validation losses of one epoch.
type Losses struct {
	Train      float64 `json:"train"`
	Validation float64 `json:"validation"`
}

// lossFn builds the mean loss of a batch of standardized pairs x [b, dimX], y [b, dimY] in ctx.
type lossFn func(ctx *context.Context, x, y *Node) *Node

// pairs is a standardized training set: flat float32 rows, and which rows train and validate.
type pairs struct {
	x, y         []float32
	dimX, dimY   int
	train, valid []int
}

// split shuffles the n row indices with the seed and holds out a fraction (at least one row) for
// validation.
func split(n int, fraction float64, seed uint64) (train, valid []int) {
	perm := rand.New(rand.NewPCG(seed, 0x76616c6964)).Perm(n)
	nValid := max(1, int(math.Round(fraction*float64(n))))
	return perm[nValid:], perm[:nValid]
}

// batch copies rows idx of the flat [n, dim] data into a tensor.
func batch(data []float32, dim int, idx []int) *tensors.Tensor {
	out := make([]float32, len(idx)*dim)
	for k, i := range idx {
		copy(out[k*dim:(k+1)*dim], data[i*dim:(i+1)*dim])
	}
	return tensors.FromFlatDataAndDimensions(out, len(idx), dim)
}

// fit trains the variables of ctx under modelScope to minimize loss, continuing from report (empty
// for a fresh run) and from best (the parameters of the best epoch so far, nil for a fresh run),
// judging epochs by the validation loss on the held-out pairs. It
// calls save with the best parameters every cfg.CheckpointEvery and at the end (report is updated
// in place before, so the caller's model description is current), and
// leaves the best parameters in ctx. A diverged loss (NaN or Inf) stops training with an error after
// the best parameters are restored and saved.
func fit(b backends.Backend, ctx *context.Context, loss, validation lossFn, data pairs, cfg Training, report *Report,
	best map[string]*npy.Array, save func(best map[string]*npy.Array) error) error {
	opt := optimizers.Adam().LearningRate(cfg.LearningRate).Done()
	step, err := context.NewExec(b, ctx, func(ctx *context.Context, x, y *Node) *Node {
		l := loss(ctx.In(modelScope), x, y)
		opt.UpdateGraph(ctx, x.Graph(), l)
		return l
	})
	if err != nil {
		return err
	}
	eval, err := context.NewExec(b, ctx, func(ctx *context.Context, x, y *Node) *Node {
		return validation(ctx.In(modelScope), x, y)
	})
	if err != nil {
		return err
	}
	validX, validY := batch(data.x, data.dimX, data.valid), batch(data.y, data.dimY, data.valid)
	bar := progress.New(cfg.Progress, 0, "training epoch")
	bar.Add(report.Epochs)
	start, lastSave := time.Now(), time.Now()
	spent := report.TrainSeconds
	order := append([]int(nil), data.train...)
	if report.LearningRate == 0 {
		report.LearningRate = cfg.LearningRate
	}
	var failure error
	for report.Stopped == "" {
		epoch := report.Epochs
		if err := optimizers.LearningRateVar(ctx, dtypes.Float32, 0).SetValue(tensors.FromScalar(float32(report.LearningRate))); err != nil {
			return err
		}
		// Each epoch's order and random draws (of losses that draw: flow matching's times and noise,
		// Hutchinson's probes) depend only on (seed, epoch), so that a resumed run sees the same
		// batches. Epoch 0 keeps the state the caller seeded, which also drew the initial weights.
		if epoch > 0 {
			if err := ctx.SetRNGStateFromSeed(mixSeed(cfg.Seed, uint64(epoch))); err != nil {
				return err
			}
		}
		copy(order, data.train)
		rand.New(rand.NewPCG(cfg.Seed, uint64(epoch))).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		sum := 0.0
		for lo := 0; lo < len(order); lo += cfg.BatchSize {
			idx := order[lo:min(lo+cfg.BatchSize, len(order))]
			out, err := step.Exec(batch(data.x, data.dimX, idx), batch(data.y, data.dimY, idx))
			if err != nil {
				return err
			}
			sum += float64(tensors.ToScalar[float32](out[0])) * float64(len(idx))
			report.Steps++
		}
		// The same random draws for every validation pass, so that the validation losses of a
		// loss that draws differ by the model, not by the draws.
		if err := ctx.SetRNGStateFromSeed(mixSeed(cfg.Seed, validationStream)); err != nil {
			return err
		}
		out, err := eval.Exec(validX, validY)
		if err != nil {
			return err
		}
		losses := Losses{Train: sum / float64(len(order)), Validation: float64(tensors.ToScalar[float32](out[0]))}
		report.History = append(report.History, losses)
		report.Epochs++
		if math.IsNaN(losses.Train) || math.IsInf(losses.Train, 0) || math.IsNaN(losses.Validation) {
			failure = fmt.Errorf("sbikit: training diverged at epoch %d (loss %g); the best epoch's model is kept: "+
				"lower the learning rate (now %g) or the batch size", report.Epochs, losses.Train, cfg.LearningRate)
			report.Stopped = "diverged"
			break
		}
		if best == nil || losses.Validation < report.BestValidationLoss {
			report.BestValidationLoss, report.BestEpoch = losses.Validation, report.Epochs
			if best, err = snapshot(ctx, modelScope); err != nil {
				return err
			}
		}
		if report.Epochs-max(report.BestEpoch, report.LastDecay) >= cfg.DecayPatience {
			// Halve the step. A run that has drifted well above its best loss (large steps on an
			// affine flow can) also goes back to the best weights, to restart from there; one that
			// merely stalls keeps its weights, which are as good and further along.
			report.LearningRate /= 2
			report.LastDecay = report.Epochs
			if losses.Validation > report.BestValidationLoss+driftTolerance {
				if err := restore(ctx, best); err != nil {
					return err
				}
			}
		}
		switch {
		case report.Epochs-report.BestEpoch >= cfg.Patience:
			report.Stopped = "early stopping"
		case report.Epochs >= cfg.MaxEpochs:
			report.Stopped = "max epochs"
		}
		report.TrainSeconds = spent + time.Since(start).Seconds()
		bar.SetStatus(fmt.Sprintf("loss %.4f, validation %.4f (best %.4f at epoch %d)",
			losses.Train, losses.Validation, report.BestValidationLoss, report.BestEpoch))
		bar.Add(1)
		if report.Stopped == "" && time.Since(lastSave) >= cfg.CheckpointEvery {
			if err := save(best); err != nil {
				return err
			}
			lastSave = time.Now()
			if afterCheckpoint != nil {
				afterCheckpoint(report.Epochs)
			}
		}
	}
	bar.Done()
	if err := restore(ctx, best); err != nil {
		return err
	}
	report.TrainSeconds = spent + time.Since(start).Seconds()
	if err := save(best); err != nil {
		return err
	}
	return failure
}

// validationStream is the stream of the validation draws in mixSeed, apart from every epoch's.
const validationStream = 1 << 62

// mixSeed derives the seed of a random stream from the training seed.
func mixSeed(seed, stream uint64) int64 {
	return int64(rand.New(rand.NewPCG(seed, stream)).Uint64() >> 1)
}

// driftTolerance is how far (in loss units, nats for the flows' −log q) the validation loss may lie
// above its best when the learning rate halves before the best weights are restored.
const driftTolerance = 0.1

// afterCheckpoint, when set (by tests only), is called after each checkpoint written during
// training, with the number of epochs done: it lets a test copy a directory as a killed run would
// have left it.
var afterCheckpoint func(epochs int)

// saveCheckpoint writes a model directory: model.json (meta), params.npz (best) and state.npz (all of
// ctx: the latest parameters and the optimizer's state). state.npz goes first and model.json last, so
// that model.json never describes files that are not there yet.
func saveCheckpoint(dir string, meta any, ctx *context.Context, best map[string]*npy.Array) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sbikit: cannot create the model directory: %w", err)
	}
	state, err := snapshot(ctx, "")
	if err != nil {
		return err
	}
	if err := npy.SaveNPZ(filepath.Join(dir, stateFile), state); err != nil {
		return err
	}
	if err := npy.SaveNPZ(filepath.Join(dir, paramsFile), best); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, modelFile), meta)
}

// hasCheckpoint reports whether dir holds a model.json; other errors than its absence are returned.
func hasCheckpoint(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, modelFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
