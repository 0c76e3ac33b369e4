package sbikit

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/backend"
	"github.com/probinv/probinv/sbikit/cnf"
	"github.com/probinv/probinv/sbikit/diffusion"
	"github.com/probinv/probinv/sbikit/flows"
	"github.com/probinv/probinv/sbikit/nn"
	"github.com/probinv/probinv/sbikit/npy"
	"github.com/probinv/probinv/sbikit/score"
	"github.com/probinv/probinv/sbikit/tasks"
)

// NPE is neural posterior estimation (Papamakarios & Murray 2016; Greenberg et al. 2019): a
// conditional normalizing flow q(x|y) trained on simulated pairs (x, y), x ~ p(x), y ~ p(y|x), to
// minimize the lecture's objective
//
//	E_{p(x, y)}[−log q(x|y)],
//
// whose minimizer over all conditional densities is the posterior p(x|y) for every y at once
// (amortized inference): after training, conditioning on an observation costs one network pass.
//
//	model, err := sbikit.NPE{Prior: task.Prior()}.Train(x, y)
//	post, err := model.Posterior(yObs)
//	samples, err := post.Sample(10000, seed)
type NPE struct {
	Flow      flows.Config // the flow (default: a neural spline flow, flows.Config.WithDefaults)
	Embedding Embedding    // network applied to y before it conditions the flow (default: none)
	Training  Training
	// Prior, when set, gives the support the posterior is truncated to (rejection sampling; see
	// Posterior). It does not enter training: NPE learns the posterior of the prior that generated x.
	Prior tasks.Prior
	// Task names the simulator, for the record in model.json.
	Task string
}

// Embedding is a network that summarizes the observation y before it conditions the flow: an MLP
// with Layers hidden tanh layers of Hidden units and Out outputs. The zero value is the identity,
// right for low-dimensional observations; long or redundant ones (time series, images) train
// better through a learned summary.
type Embedding struct {
	Hidden int `json:"hidden,omitempty"`
	Layers int `json:"layers,omitempty"`
	Out    int `json:"out,omitempty"`
}

func (e Embedding) check() error {
	if e == (Embedding{}) {
		return nil
	}
	if e.Hidden < 1 || e.Layers < 0 || e.Out < 1 {
		return fmt.Errorf("sbikit: embedding %+v needs hidden and out ≥ 1 (or all zero for none)", e)
	}
	return nil
}

// apply embeds the standardized y [b, dimY].
func (e Embedding) apply(ctx *context.Context, y *Node) *Node {
	if e == (Embedding{}) {
		return y
	}
	return nn.MLP(ctx.In("embedding"), y, e.Hidden, e.Layers, e.Out)
}

// Support is a box that holds all of the prior's mass; ±Inf bounds are open.
type Support struct {
	Lo []float64 `json:"lo"`
	Hi []float64 `json:"hi"`
}

// supportJSON is Support as model.json holds it: JSON has no infinities, so an open bound is null.
type supportJSON struct {
	Lo []*float64 `json:"lo"`
	Hi []*float64 `json:"hi"`
}

// MarshalJSON writes infinite bounds as null.
func (s Support) MarshalJSON() ([]byte, error) {
	bounded := func(v []float64) []*float64 {
		out := make([]*float64, len(v))
		for i := range v {
			if !math.IsInf(v[i], 0) {
				out[i] = &v[i]
			}
		}
		return out
	}
	return json.Marshal(supportJSON{Lo: bounded(s.Lo), Hi: bounded(s.Hi)})
}

// UnmarshalJSON reads null bounds as −Inf (Lo) and +Inf (Hi).
func (s *Support) UnmarshalJSON(b []byte) error {
	var j supportJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	bounds := func(v []*float64, open float64) []float64 {
		out := make([]float64, len(v))
		for i, p := range v {
			out[i] = open
			if p != nil {
				out[i] = *p
			}
		}
		return out
	}
	s.Lo, s.Hi = bounds(j.Lo, math.Inf(-1)), bounds(j.Hi, math.Inf(1))
	return nil
}

// meta is model.json: everything but the weights that is needed to rebuild a trained model, and
// the record of its training. Each method fills its own settings and leaves the others out.
type meta struct {
	Format      int                 `json:"format"`
	Method      string              `json:"method"`
	Task        string              `json:"task,omitempty"`
	DimX        int                 `json:"dim_x"`
	DimY        int                 `json:"dim_y"`
	X           Standardizer        `json:"x_standardizer"`
	Y           Standardizer        `json:"y_standardizer"`
	Support     *Support            `json:"support,omitempty"`
	Flow        *flows.Config       `json:"flow,omitempty"`               // npe
	Net         *cnf.Net            `json:"net,omitempty"`                // fmpe, cnf: the vector field
	Matching    *cnf.Matching       `json:"matching,omitempty"`           // fmpe
	Likelihood  *Likelihood         `json:"max_likelihood,omitempty"`     // cnf
	Sampling    *ODE                `json:"sampling,omitempty"`           // fmpe, cnf
	Density     *ODE                `json:"density,omitempty"`            // fmpe, cnf
	Noise       *score.Noise        `json:"noise,omitempty"`              // npse
	Langevin    *score.Langevin     `json:"langevin,omitempty"`           // npse
	Schedule    *diffusion.Schedule `json:"schedule,omitempty"`           // diffusion
	Dropout     float64             `json:"condition_dropout,omitempty"`  // diffusion
	Times       string              `json:"times,omitempty"`              // diffusion
	Diffusion   *diffusion.Sampling `json:"diffusion_sampling,omitempty"` // diffusion
	Embedding   Embedding           `json:"embedding"`
	Simulations int                 `json:"simulations"`
	Data        string              `json:"data_fingerprint"`
	Training    Training            `json:"training_settings"`
	Report      Report              `json:"training"`
}

// settings is what must match for a checkpoint to be resumed: everything the method trains with.
func (m meta) settings() string {
	b, err := json.Marshal([]any{m.Method, m.Flow, m.Net, m.Matching, m.Likelihood, m.Noise, m.Schedule, m.Dropout, m.Times, m.Embedding, m.Training.persisted(), m.Data})
	if err != nil {
		panic(err) // plain structs always marshal
	}
	return string(b)
}

// formatVersion is the model.json format this code writes and reads.
const formatVersion = 1

// The methods, as model.json names them.
const (
	methodNPE  = "npe"
	methodFMPE = "fmpe"
	methodCNF  = "cnf"
	methodNPSE = "npse"
	// methodDiffusion is DiffusionPosterior's; `sbikit eval` names it by its sampler, ddpm or ddim.
	methodDiffusion = "diffusion"
)

// Train fits the flow to the pairs (x[i], y[i]) and returns the trained model. With Training.Dir set
// it checkpoints there while it trains, and a directory that holds an unfinished run with the same
// settings and data is resumed rather than restarted; a finished one is an error, so that nothing is
// overwritten by accident.
func (e NPE) Train(x, y [][]float64) (*Model, error) {
	dimX, _, err := checkPairs(x, y)
	if err != nil {
		return nil, err
	}
	flowCfg := e.Flow.WithDefaults(dimX)
	if _, err := flows.New(flowCfg, dimX); err != nil {
		return nil, err
	}
	return train(meta{Method: methodNPE, Flow: &flowCfg}, e.Embedding, e.Training, e.Prior, e.Task, x, y)
}

// buildNPE sets the model's loss and posterior functions to those of its flow.
func (m *Model) buildNPE() error {
	flow, err := flows.New(*m.meta.Flow, m.meta.DimX)
	if err != nil {
		return err
	}
	emb := m.meta.Embedding
	// The NPE objective −mean log q(x̃|ỹ) is in standardized coordinates, which differs from the loss
	// in the original ones by the constant Σ log σ_x.
	m.loss = func(ctx *context.Context, x, y *Node) *Node {
		return Neg(ReduceAllMean(flow.LogProb(ctx, x, emb.apply(ctx, y))))
	}
	// NewExec only records the functions; their graphs are built at the first call, after training
	// or loading has put the parameters in ctx.
	sample, err := context.NewExec(m.backend, m.ctx, func(ctx *context.Context, eps, y *Node) *Node {
		ctx = ctx.In(modelScope)
		x, _ := flow.Sample(ctx, eps, emb.apply(ctx, y))
		return x
	})
	if err != nil {
		return err
	}
	logProb, err := context.NewExec(m.backend, m.ctx, func(ctx *context.Context, x, y *Node) *Node {
		ctx = ctx.In(modelScope)
		return flow.LogProb(ctx, x, emb.apply(ctx, y))
	})
	if err != nil {
		return err
	}
	push := m.execFunc(sample)
	m.sample = func(rng *rand.Rand, n int, y []float32) ([]float32, error) {
		return push(normals(rng, n*m.meta.DimX), n, y)
	}
	m.logProb = m.execFunc(logProb)
	return nil
}

// train is the part of every estimator's Train after its own settings are in m: it standardizes the
// pairs, builds the model, resumes from Training.Dir if that holds an unfinished run, and fits.
func train(m meta, emb Embedding, t Training, prior tasks.Prior, task string, x, y [][]float64) (*Model, error) {
	dimX, dimY, err := checkPairs(x, y)
	if err != nil {
		return nil, err
	}
	cfg := t.withDefaults(len(x))
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if err := emb.check(); err != nil {
		return nil, err
	}
	trainRows, validRows := split(len(x), cfg.ValidationFraction, cfg.Seed)
	m.Format, m.Task, m.DimX, m.DimY = formatVersion, task, dimX, dimY
	m.X, m.Y = fitStandardizer(x, trainRows, dimX), fitStandardizer(y, trainRows, dimY)
	m.Embedding, m.Simulations, m.Data, m.Training = emb, len(x), fingerprint(x, y), cfg
	m.Report = Report{Backend: backend.Name()}
	if prior != nil {
		if m.Support, err = priorSupport(prior, dimX); err != nil {
			return nil, err
		}
	}
	model, err := newModel(m)
	if err != nil {
		return nil, err
	}
	var best map[string]*npy.Array
	if cfg.Dir != "" {
		if best, err = model.resume(cfg.Dir); err != nil {
			return nil, err
		}
	}
	if err := model.ctx.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
		return nil, err
	}
	data := pairs{
		x: m.X.forward(x), y: m.Y.forward(y),
		dimX: dimX, dimY: dimY, train: trainRows, valid: validRows,
	}
	save := func(best map[string]*npy.Array) error {
		if cfg.Dir == "" {
			return nil
		}
		return saveCheckpoint(cfg.Dir, model.meta, model.ctx, best)
	}
	validation := model.validation
	if validation == nil {
		validation = model.loss
	}
	err = fit(model.backend, model.ctx, model.loss, validation, data, cfg, &model.meta.Report, best, save)
	if err != nil {
		return nil, err
	}
	return model, nil
}

// resume loads an unfinished run from dir into the model, returning its best parameters; it returns
// nil for a directory without a checkpoint, and an error for one that holds a finished run or a
// run with other settings or data.
func (m *Model) resume(dir string) (map[string]*npy.Array, error) {
	ok, err := hasCheckpoint(dir)
	if err != nil || !ok {
		return nil, err
	}
	var old meta
	if err := readJSON(filepath.Join(dir, modelFile), &old); err != nil {
		return nil, err
	}
	if old.Report.Stopped != "" {
		return nil, fmt.Errorf("sbikit: %s already holds a trained model (%s after %d epochs); load it with sbikit.Load, or train into a new directory",
			dir, old.Report.Stopped, old.Report.Epochs)
	}
	if old.settings() != m.meta.settings() {
		return nil, fmt.Errorf("sbikit: %s holds an unfinished run with other settings or data; "+
			"rerun with the same ones to resume it, or train into a new directory", dir)
	}
	state, err := loadArrays(dir, stateFile)
	if err != nil {
		return nil, err
	}
	best, err := loadArrays(dir, paramsFile)
	if err != nil {
		return nil, err
	}
	if err := restore(m.ctx, state); err != nil {
		return nil, fmt.Errorf("sbikit: %s: %w; the checkpoint does not fit this model: train into a new directory", dir, err)
	}
	m.meta.Report = old.Report
	return best, nil
}

// priorSupport reads the prior's bounds, checking their length.
func priorSupport(p tasks.Prior, dimX int) (*Support, error) {
	lo, hi := p.Bounds()
	if len(lo) != dimX || len(hi) != dimX {
		return nil, fmt.Errorf("sbikit: the prior has %d-dimensional bounds but x has %d columns", len(lo), dimX)
	}
	return &Support{Lo: lo, Hi: hi}, nil
}
