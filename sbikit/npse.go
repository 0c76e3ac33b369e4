package sbikit

import (
	"fmt"
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/cnf"
	"github.com/probinv/probinv/sbikit/score"
	"github.com/probinv/probinv/sbikit/tasks"
)

// NPSE is neural posterior score estimation (Sharrock et al. 2024; Geffner et al. 2023): a noise
// conditional score network s_θ(x, σ, y) ≈ ∇ₓ log p_σ(x|y) trained by multi-scale denoising score
// matching on the simulated pairs (score.Model.Loss with the observation's embedding as context),
// and sampled for an observation by annealed Langevin dynamics (score.Sampler). It learns the score,
// not the density: its posterior samples, but LogProb returns an error.
//
//	model, err := sbikit.NPSE{Prior: task.Prior()}.Train(x, y)
//	post, err := model.Posterior(yObs)
type NPSE struct {
	Net cnf.Net // the score network f_θ (default: cnf.Net.WithDefaults)
	// Noise is the range of noise scales [σ_min, σ_max] in standardized units (default: score.NoiseFor
	// the standardized x: σ_max their largest distance, σ_min = 0.01).
	Noise    score.Noise
	Langevin score.Langevin // the sampler (default: score.Langevin.WithDefaults(Noise))

	Embedding Embedding
	Training  Training
	Prior     tasks.Prior
	Task      string
}

// Train fits the score network to the pairs (x[i], y[i]); checkpoints and resuming work as for NPE.
func (e NPSE) Train(x, y [][]float64) (*Model, error) {
	dimX, _, err := checkPairs(x, y)
	if err != nil {
		return nil, err
	}
	net, noise := e.Net.WithDefaults(dimX), e.Noise
	if noise == (score.Noise{}) {
		all := make([]int, len(x))
		for i := range all {
			all[i] = i
		}
		noise = score.NoiseFor(fitStandardizer(x, all, dimX).forward(x), dimX)
	}
	langevin := e.Langevin.WithDefaults(noise)
	m := meta{Method: methodNPSE, Net: &net, Noise: &noise, Langevin: &langevin}
	return train(m, e.Embedding, e.Training.forRegression(), e.Prior, e.Task, x, y)
}

// validationDraws is how many noise draws the validation loss of a denoising loss averages per pair.
// With one, the loss of a validation set of 1,000 pairs varies by about 0.05 between draws, more
// than the improvements early stopping must see late in training, and training stopped on noise:
// the score of TestDSMLearnsMixtureScore had relative error 0.13 where, with 16 draws, it has 0.065.
const validationDraws = 16

// repeated is loss averaged over k copies of the batch, each with its own random draws.
func repeated(loss lossFn, k int) lossFn {
	return func(ctx *context.Context, x, y *Node) *Node {
		xs, ys := make([]*Node, k), make([]*Node, k)
		for i := range k {
			xs[i], ys[i] = x, y
		}
		return loss(ctx, Concatenate(xs, 0), Concatenate(ys, 0))
	}
}

// buildNPSE sets the loss and the sampler of an npse model, after checking its settings (for Train,
// Load and SetLangevin alike).
func (m *Model) buildNPSE() error {
	net, noise, langevin := *m.meta.Net, *m.meta.Noise, *m.meta.Langevin
	for _, err := range []error{net.Check(), noise.Check(), langevin.Check()} {
		if err != nil {
			return err
		}
	}
	if noise.SigmaMin == 0 {
		return fmt.Errorf("a score network needs σ_min > 0, got %+v", noise)
	}
	sm := score.Model{Net: net, Noise: noise}
	emb := m.meta.Embedding
	m.loss = func(ctx *context.Context, x, y *Node) *Node {
		return sm.Loss(ctx, x, emb.apply(ctx, y))
	}
	m.validation = repeated(m.loss, validationDraws)
	sampler, err := score.NewSampler(m.backend, m.ctx, func(ctx *context.Context, x, sigma *Node, extra []*Node) *Node {
		ctx = ctx.In(modelScope)
		return sm.Score(ctx, x, sigma, emb.apply(ctx, extra[0]))
	}, noise, langevin)
	if err != nil {
		return err
	}
	// The chains start from p_σ_L ≈ N(0, (1 + σ_L²) I): the standardized x have mean 0 and variance 1,
	// and at σ_L ≫ 1 the noise is all that is left of them.
	d, spread := m.meta.DimX, math.Sqrt(1+noise.SigmaMax*noise.SigmaMax)
	m.sample = func(rng *rand.Rand, n int, y []float32) ([]float32, error) {
		x0 := normals(rng, n*d)
		for i := range x0 {
			x0[i] *= float32(spread)
		}
		out, _, err := sampler.Sample(tensors.FromFlatDataAndDimensions(x0, n, d),
			[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, 1, len(y))}, rng)
		if err != nil {
			return nil, err
		}
		return tensors.CopyFlatData[float32](out)
	}
	m.logProb = nil
	return nil
}

// SetLangevin changes how an npse model samples (steps per scale, step size, denoising) without
// retraining. Save records the choice.
func (m *Model) SetLangevin(l score.Langevin) error {
	if m.meta.Langevin == nil {
		return fmt.Errorf("sbikit: a %s model does not sample by Langevin dynamics", m.meta.Method)
	}
	return reconfigure(m.meta.Langevin, l.WithDefaults(*m.meta.Noise), m.buildNPSE)
}

// Noise is the range of noise scales of an npse model, in standardized units (zero for other methods).
func (m *Model) Noise() score.Noise {
	if m.meta.Noise == nil {
		return score.Noise{}
	}
	return *m.meta.Noise
}

// Langevin is how an npse model samples (zero for other methods); SetLangevin changes it.
func (m *Model) Langevin() score.Langevin {
	if m.meta.Langevin == nil {
		return score.Langevin{}
	}
	return *m.meta.Langevin
}
