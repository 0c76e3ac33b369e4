package sbikit

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/probinv/probinv/sbikit/tasks"
)

// Posterior is an estimate of the posterior p(x|y_o) of one observation y_o. Every estimator of
// this package returns one, so code that samples or scores a posterior works with all of them.
type Posterior interface {
	// Sample draws n parameter vectors (rows). The same seed gives the same samples. Samples lie in
	// the prior's support: draws outside it are rejected and replaced (see Acceptance).
	Sample(n int, seed uint64) ([][]float64, error)
	// LogProb is log p(x|y_o) for each row of x: −Inf outside the prior's support, and inside it the
	// estimator's density renormalized by the mass it puts inside the support.
	LogProb(x [][]float64) ([]float64, error)
	// Acceptance is the fraction of the estimator's draws that fall inside the prior's support,
	// estimated from all draws made so far (at least 10,000). Well below 1, the estimate leaks
	// mass outside the prior ("leakage"): it needs more simulations or training.
	Acceptance() (float64, error)
}

// acceptanceDraws is the number of draws Acceptance and LogProb use at least for their estimate.
const acceptanceDraws = 10000

// minAcceptance: when fewer draws than this fraction land in the support, after at least
// leakageDraws draws, sampling gives up with an error instead of running for ever.
const (
	minAcceptance = 1e-3
	leakageDraws  = 100000
)

// flowPosterior is the Posterior of a trained model for one observation.
type flowPosterior struct {
	model           *Model
	yObs            []float64
	y               []float32 // y_o standardized
	drawn, accepted int
}

// Posterior conditions the model on the observation yObs.
func (m *Model) Posterior(yObs []float64) (Posterior, error) {
	if len(yObs) != m.meta.DimY {
		return nil, fmt.Errorf("sbikit: the observation has %d values, the model was trained on %d", len(yObs), m.meta.DimY)
	}
	if !tasks.Finite(yObs) {
		return nil, fmt.Errorf("sbikit: the observation has NaN or Inf values")
	}
	return &flowPosterior{model: m, yObs: yObs, y: m.meta.Y.forward([][]float64{yObs})}, nil
}

// Sample implements Posterior: base draws from a PCG stream of the seed are pushed through the flow
// in chunks sized by the acceptance so far, until n samples lie in the support.
func (p *flowPosterior) Sample(n int, seed uint64) ([][]float64, error) {
	if n < 0 {
		return nil, fmt.Errorf("sbikit: cannot draw %d samples", n)
	}
	rng := rand.New(rand.NewPCG(seed, 0x73616d706c65))
	out := make([][]float64, 0, n)
	for len(out) < n {
		rate := 1.0
		if p.drawn > 0 {
			rate = max(float64(p.accepted)/float64(p.drawn), minAcceptance)
		}
		chunk := chunkSize(int(float64(n-len(out))/rate*1.05) + 1)
		rows, err := p.draw(rng, chunk)
		if err != nil {
			return nil, err
		}
		out = append(out, rows[:min(len(rows), n-len(out))]...)
		if p.drawn >= leakageDraws && float64(p.accepted) < minAcceptance*float64(p.drawn) {
			return nil, fmt.Errorf("sbikit: only %d of %d posterior draws fall inside the prior's support: the estimate has leaked "+
				"out of the prior; train on more simulations, or check that the observation is one the simulator can produce",
				p.accepted, p.drawn)
		}
	}
	return out, nil
}

// chunkSize rounds a number of draws up to a multiple of 256 within [256, 131072], so that
// sampling compiles few graph shapes and never holds too much in memory, and wastes little work on
// samplers that cost hundreds of network passes per draw (npse's Langevin chains).
func chunkSize(n int) int {
	const unit, most = 256, 1 << 17
	return min(most, max(unit, (n+unit-1)/unit*unit))
}

// draw pushes m base draws through the flow and returns those inside the support, in the original
// coordinates, counting draws and acceptances.
func (p *flowPosterior) draw(rng *rand.Rand, m int) ([][]float64, error) {
	d := p.model.meta.DimX
	xs, err := p.model.sample(rng, m, p.y)
	if err != nil {
		return nil, err
	}
	st := p.model.meta.X
	var rows [][]float64
	for i := range m {
		row := make([]float64, d)
		for j := range d {
			row[j] = st.Mean[j] + st.Std[j]*float64(xs[i*d+j])
		}
		if p.model.inSupport(row) {
			rows = append(rows, row)
		}
	}
	p.drawn += m
	p.accepted += len(rows)
	return rows, nil
}

// inSupport reports whether x is finite and inside the prior's support box.
func (m *Model) inSupport(x []float64) bool {
	if !tasks.Finite(x) {
		return false
	}
	if s := m.meta.Support; s != nil {
		for j, v := range x {
			if v < s.Lo[j] || v > s.Hi[j] {
				return false
			}
		}
	}
	return true
}

// Acceptance implements Posterior.
func (p *flowPosterior) Acceptance() (float64, error) {
	if p.model.meta.Support == nil {
		return 1, nil
	}
	if p.drawn < acceptanceDraws {
		rng := rand.New(rand.NewPCG(uint64(p.drawn), 0x6c65616b))
		if _, err := p.draw(rng, chunkSize(acceptanceDraws-p.drawn)); err != nil {
			return 0, err
		}
	}
	return float64(p.accepted) / float64(p.drawn), nil
}

// LogProb implements Posterior: log q(x̃|ỹ_o) − Σ log σ_x − log(acceptance) inside the support.
func (p *flowPosterior) LogProb(x [][]float64) ([]float64, error) {
	d := p.model.meta.DimX
	for i, row := range x {
		if len(row) != d {
			return nil, fmt.Errorf("sbikit: row %d has %d parameters, the model has %d", i, len(row), d)
		}
	}
	if p.model.logProb == nil {
		return nil, fmt.Errorf("sbikit: %s models have no log-density (they learn the score ∇log p, not p); "+
			"train npe or fmpe when you need log q", p.model.meta.Method)
	}
	if len(x) == 0 {
		return nil, nil
	}
	acc, err := p.Acceptance()
	if err != nil {
		return nil, err
	}
	lq, err := p.model.logProb(p.model.meta.X.forward(x), len(x), p.y)
	if err != nil {
		return nil, err
	}
	offset := p.model.meta.X.logScale() + math.Log(acc)
	out := make([]float64, len(x))
	for i, row := range x {
		out[i] = math.Inf(-1)
		if p.model.inSupport(row) {
			out[i] = float64(lq[i]) - offset
		}
	}
	return out, nil
}
