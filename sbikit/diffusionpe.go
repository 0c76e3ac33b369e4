package sbikit

import (
	"fmt"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/cnf"
	"github.com/probinv/probinv/sbikit/diffusion"
	"github.com/probinv/probinv/sbikit/ode"
	"github.com/probinv/probinv/sbikit/tasks"
)

// DiffusionPosterior is posterior estimation with a conditional denoising diffusion model: a noise
// predictor ε_θ(x_t, t, y) trained by Algorithm 1 of Ho et al. (2020) on the simulated pairs, with
// the observation's embedding as the condition, and sampled for an observation by DDPM (Algorithm 2)
// or DDIM (see diffusion.Sampling). Its LogProb is the log-likelihood of the probability-flow ODE
// (diffusion.Flow) solved by adaptive Dormand–Prince steps with the exact trace, as FMPE's (Density).
//
//	model, err := sbikit.DiffusionPosterior{Prior: task.Prior()}.Train(x, y)
//	post, err := model.Posterior(yObs)
type DiffusionPosterior struct {
	Net      cnf.Net            // the noise predictor (default: cnf.Net.WithDefaults)
	Schedule diffusion.Schedule // default: linear β from 1e-4 to 0.02, T = 1000
	// Dropout is the probability of dropping the condition in a training step (default 0); above 0,
	// Sampling.Guidance can apply classifier-free guidance.
	Dropout float64
	// Times is how training draws the step t (default diffusion.TimesLog, see there; TimesUniform is
	// Algorithm 1 as printed).
	Times    string
	Sampling diffusion.Sampling // default: DDPM with σ_t² = β_t
	Density  ODE                // how LogProb solves the probability-flow ODE (default DefaultDensity)

	Embedding Embedding
	Training  Training
	Prior     tasks.Prior
	Task      string
}

// Train fits the noise predictor to the pairs (x[i], y[i]); checkpoints and resuming work as for NPE.
func (e DiffusionPosterior) Train(x, y [][]float64) (*Model, error) {
	dimX, _, err := checkPairs(x, y)
	if err != nil {
		return nil, err
	}
	net, schedule, sampling := e.Net.WithDefaults(dimX), e.Schedule.WithDefaults(), e.Sampling.WithDefaults()
	density := e.Density.withDefaults(DefaultDensity)
	times := e.Times
	if times == "" {
		times = diffusion.TimesLog
	}
	m := meta{Method: methodDiffusion, Net: &net, Schedule: &schedule, Dropout: e.Dropout, Times: times, Diffusion: &sampling, Density: &density}
	return train(m, e.Embedding, e.Training.forRegression(), e.Prior, e.Task, x, y)
}

// buildDiffusion sets the loss and the sampler of a diffusion model, after checking its settings (for
// Train, Load and SetDiffusionSampling alike).
func (m *Model) buildDiffusion() error {
	schedule, sampling := *m.meta.Schedule, *m.meta.Diffusion
	if err := schedule.Check(); err != nil {
		return err
	}
	tb := schedule.Tables()
	dm := diffusion.Model{Net: *m.meta.Net, Tables: tb, Dropout: m.meta.Dropout, Times: m.meta.Times}
	if err := dm.Check(); err != nil {
		return err
	}
	if err := sampling.Check(tb.T); err != nil {
		return err
	}
	if sampling.Guidance > 0 && dm.Dropout == 0 {
		return fmt.Errorf("classifier-free guidance (weight %g) needs a model trained with condition dropout > 0", sampling.Guidance)
	}
	emb := m.meta.Embedding
	m.loss = func(ctx *context.Context, x, y *Node) *Node {
		return dm.Loss(ctx, x, emb.apply(ctx, y))
	}
	m.validation = repeated(m.loss, validationDraws)
	eps := func(ctx *context.Context, x, t *Node, extra []*Node) *Node {
		ctx = ctx.In(modelScope)
		return dm.Guided(ctx, x, t, emb.apply(ctx, extra[0]), sampling.Guidance)
	}
	sampler, err := diffusion.NewSampler(m.backend, m.ctx, eps, tb, sampling)
	if err != nil {
		return err
	}
	opts, err := m.meta.Density.options()
	if err != nil {
		return err
	}
	flow := diffusion.Flow{Tables: tb, Eps: eps}
	cf := cnf.Flow{Dim: m.meta.DimX, Net: flow}
	densitySolver, err := ode.NewSolver(m.backend, m.ctx, func(ctx *context.Context, extra []*Node) ode.Field {
		return cf.DensityField(ctx, extra[0], nil)
	}, opts)
	if err != nil {
		return err
	}
	d := m.meta.DimX
	m.sample = func(rng *rand.Rand, n int, y []float32) ([]float32, error) {
		out, _, err := sampler.Sample(tensors.FromFlatDataAndDimensions(normals(rng, n*d), n, d),
			[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, 1, len(y))}, rng)
		if err != nil {
			return nil, err
		}
		return tensors.CopyFlatData[float32](out)
	}
	m.logProb = odeDensity(densitySolver, d, flow.End())
	return nil
}

// SetDiffusionSampling changes how a diffusion model samples (DDPM or DDIM, steps, η, variance,
// guidance) without retraining. Save records the choice.
func (m *Model) SetDiffusionSampling(s diffusion.Sampling) error {
	if m.meta.Diffusion == nil {
		return fmt.Errorf("sbikit: a %s model is not a diffusion model", m.meta.Method)
	}
	return reconfigure(m.meta.Diffusion, s.WithDefaults(), m.buildDiffusion)
}
