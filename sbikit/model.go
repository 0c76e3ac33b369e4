package sbikit

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/backend"
	"github.com/probinv/probinv/sbikit/flows"
)

// Model is a trained amortized posterior estimator: Posterior conditions it on one observation.
// Save writes it to a model directory and Load reads it back, bit for bit.
type Model struct {
	meta    meta
	flow    flows.Flow
	backend backends.Backend
	ctx     *context.Context

	sample, logProb *context.Exec // posterior functions; each compiles at its first call
}

func newModel(m meta, flow flows.Flow) (*Model, error) {
	b, err := backend.Get()
	if err != nil {
		return nil, err
	}
	model := &Model{meta: m, flow: flow, backend: b, ctx: context.New().Checked(false)}
	// NewExec only records the functions; their graphs are built at the first call, after training
	// or loading has put the parameters in ctx.
	model.sample, err = context.NewExec(b, model.ctx, func(ctx *context.Context, eps, y *Node) *Node {
		ctx = ctx.In(modelScope)
		x, _ := flow.Sample(ctx, eps, m.Embedding.apply(ctx, y))
		return x
	})
	if err != nil {
		return nil, err
	}
	model.logProb, err = context.NewExec(b, model.ctx, func(ctx *context.Context, x, y *Node) *Node {
		ctx = ctx.In(modelScope)
		return flow.LogProb(ctx, x, m.Embedding.apply(ctx, y))
	})
	if err != nil {
		return nil, err
	}
	return model, nil
}

// loss is the NPE objective on a batch: −mean log q(x̃|ỹ) in standardized coordinates (which differs
// from the loss in the original ones by the constant Σ log σ_x).
func (m *Model) loss(ctx *context.Context, x, y *Node) *Node {
	return Neg(ReduceAllMean(m.flow.LogProb(ctx, x, m.meta.Embedding.apply(ctx, y))))
}

// Report is the record of the model's training.
func (m *Model) Report() Report { return m.meta.Report }

// Method is the estimator that trained the model ("npe").
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
	if m.Method != "npe" {
		return nil, fmt.Errorf("sbikit: %s holds a %q model, which this build cannot load", dir, m.Method)
	}
	if m.Report.Stopped == "" {
		return nil, fmt.Errorf("sbikit: %s holds an unfinished training run (%d epochs); resume it by training again with the same settings and data", dir, m.Report.Epochs)
	}
	if len(m.X.Mean) != m.DimX || len(m.X.Std) != m.DimX || len(m.Y.Mean) != m.DimY || len(m.Y.Std) != m.DimY ||
		(m.Support != nil && (len(m.Support.Lo) != m.DimX || len(m.Support.Hi) != m.DimX)) {
		return nil, fmt.Errorf("sbikit: %s/%s is inconsistent (standardizer or support lengths differ from the dimensions); the file is corrupt", dir, modelFile)
	}
	flow, err := flows.New(m.Flow, m.DimX)
	if err != nil {
		return nil, fmt.Errorf("sbikit: %s: %w", dir, err)
	}
	model, err := newModel(m, flow)
	if err != nil {
		return nil, err
	}
	params, err := loadArrays(dir, paramsFile)
	if err != nil {
		return nil, fmt.Errorf("sbikit: %w", err)
	}
	if err := restore(model.ctx, params); err != nil {
		return nil, fmt.Errorf("sbikit: %s: %w; the checkpoint does not match its model.json", dir, err)
	}
	// Build the network once so that a missing parameter shows now, not at the first sample.
	if _, err := model.flowLogProb(make([]float32, m.DimX), 1, make([]float32, m.DimY)); err != nil {
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
