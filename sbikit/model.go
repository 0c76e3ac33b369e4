package sbikit

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/backend"
)

// Model is a trained amortized posterior estimator: Posterior conditions it on one observation.
// Save writes it to a model directory and Load reads it back, bit for bit.
type Model struct {
	meta    meta
	backend backends.Backend
	ctx     *context.Context

	// loss is the training objective on a batch of standardized pairs, in the scope of the parameters;
	// validation is the loss that early stopping watches (nil: loss).
	loss, validation lossFn
	// sample draws n standardized samples [n, dimX] with the randomness of rng, and logProb gives
	// log q(x̃|ỹ) for n standardized rows x (nil for a method without a density); both take one
	// standardized observation y [1, dimY].
	sample  func(rng *rand.Rand, n int, y []float32) ([]float32, error)
	logProb func(x []float32, n int, y []float32) ([]float32, error)
}

// newModel builds the model m describes, with its parameters not yet created (training creates
// them, Load restores them).
func newModel(m meta) (*Model, error) {
	b, err := backend.Get()
	if err != nil {
		return nil, err
	}
	model := &Model{meta: m, backend: b, ctx: context.New().Checked(false)}
	switch {
	case m.Method == methodNPE && m.Flow != nil:
		err = model.buildNPE()
	case (m.Method == methodFMPE && m.Matching != nil || m.Method == methodCNF && m.Likelihood != nil) &&
		m.Net != nil && m.Sampling != nil && m.Density != nil:
		err = model.buildContinuous()
	case m.Method == methodNPSE && m.Net != nil && m.Noise != nil && m.Langevin != nil:
		err = model.buildNPSE()
	case m.Method == methodDiffusion && m.Net != nil && m.Schedule != nil && m.Diffusion != nil && m.Density != nil:
		err = model.buildDiffusion()
	default:
		err = fmt.Errorf("a %q model without its settings, which this build cannot rebuild", m.Method)
	}
	if err != nil {
		return nil, fmt.Errorf("sbikit: %w", err)
	}
	return model, nil
}

// normals are n standard normal draws from rng, the base draws of every sampler.
func normals(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// execFunc wraps a compiled function of (v [n, dimX], y [1, dimY]) as one of Model's posterior
// functions.
func (m *Model) execFunc(exec *context.Exec) func(v []float32, n int, y []float32) ([]float32, error) {
	return func(v []float32, n int, y []float32) ([]float32, error) {
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(v, n, m.meta.DimX), tensors.FromFlatDataAndDimensions(y, 1, len(y)))
		if err != nil {
			return nil, err
		}
		return tensors.CopyFlatData[float32](out[0])
	}
}

// Report is the record of the model's training.
func (m *Model) Report() Report { return m.meta.Report }

// Method is the estimator that trained the model ("npe", "fmpe", "cnf", "npse" or "diffusion").
func (m *Model) Method() string { return m.meta.Method }

// Task is the task name recorded at training ("" if none was given).
func (m *Model) Task() string { return m.meta.Task }

// Dims are the dimensions of the parameters x and the observations y.
func (m *Model) Dims() (dimX, dimY int) { return m.meta.DimX, m.meta.DimY }

// Save writes the model to dir (model.json and params.npz), creating it if needed.
func (m *Model) Save(dir string) error {
	params, err := snapshot(m.ctx, modelScope)
	if err != nil {
		return err
	}
	return saveCheckpoint(dir, m.meta, m.ctx, params)
}

// Load reads a model directory written by training with Training.Dir set, by Model.Save, or by
// `sbikit train`.
func Load(dir string) (*Model, error) {
	var m meta
	if err := readJSON(filepath.Join(dir, modelFile), &m); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("sbikit: %s has no %s: not a model directory (train one with `sbikit train --out %s`)", dir, modelFile, dir)
		}
		return nil, fmt.Errorf("sbikit: %w", err)
	}
	if m.Format != formatVersion {
		return nil, fmt.Errorf("sbikit: %s has model format %d, this build reads %d: retrain, or use the probinv version that wrote it", dir, m.Format, formatVersion)
	}
	if m.Report.Stopped == "" {
		return nil, fmt.Errorf("sbikit: %s holds an unfinished training run (%d epochs); resume it by training again with the same settings and data", dir, m.Report.Epochs)
	}
	if len(m.X.Mean) != m.DimX || len(m.X.Std) != m.DimX || len(m.Y.Mean) != m.DimY || len(m.Y.Std) != m.DimY ||
		(m.Support != nil && (len(m.Support.Lo) != m.DimX || len(m.Support.Hi) != m.DimX)) {
		return nil, fmt.Errorf("sbikit: %s/%s is inconsistent (standardizer or support lengths differ from the dimensions); the file is corrupt", dir, modelFile)
	}
	model, err := newModel(m)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, dir)
	}
	params, err := loadArrays(dir, paramsFile)
	if err != nil {
		return nil, fmt.Errorf("sbikit: %w", err)
	}
	if err := restore(model.ctx, params); err != nil {
		return nil, fmt.Errorf("sbikit: %s: %w; the checkpoint does not match its model.json", dir, err)
	}
	// Build the network once so that a missing parameter shows now, not at the first sample.
	if _, err := model.sample(rand.New(rand.NewPCG(0, 0)), 1, make([]float32, m.DimY)); err != nil {
		return nil, fmt.Errorf("sbikit: %s: %w", dir, err)
	}
	if n := countModelVariables(model.ctx); n != len(params) {
		return nil, fmt.Errorf("sbikit: %s/%s has %d arrays but the model has %d parameters; the checkpoint is corrupt", dir, paramsFile, len(params), n)
	}
	return model, nil
}

func countModelVariables(ctx *context.Context) int {
	n := 0
	ctx.EnumerateVariables(func(v *context.Variable) {
		if v.Trainable {
			n++
		}
	})
	return n
}
