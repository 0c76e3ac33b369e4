package tasks

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
)

// mcmcOptions tune sampleMCMC; zero fields take the defaults of withDefaults.
type mcmcOptions struct {
	chains     int // independent chains
	candidates int // draws per chain for its importance-resampled starting point
	rounds     int // adaptation rounds of the shared proposals
	roundSteps int // steps per chain and adaptation round
	thin       int // steps between kept states once adapted

	// gibbs, if set, is one more move per step that leaves the target invariant, typically
	// a draw of some coordinates from their exact conditional. It changes x in place.
	gibbs func(rng *rand.Rand, x []float64)
}

func (o mcmcOptions) withDefaults() mcmcOptions {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.chains, 100)
	def(&o.candidates, 2000)
	def(&o.rounds, 6)
	def(&o.roundSteps, 200)
	def(&o.thin, 20)
	return o
}

// sampleMCMC draws n samples from the density ∝ exp(logp) with many Metropolis–Hastings
// chains. Each step is up to three moves, each leaving the target invariant:
//
//  1. a random-walk move x′ = x + λ·L·ε, ε ~ N(0, I), accepted with min(1, p(x′)/p(x))
//     (Metropolis et al. 1953), which explores locally;
//  2. an independence move x′ ~ q, q a multivariate Student t (ν = 4) fitted to the target
//     with a doubled covariance, accepted with min(1, p(x′)q(x) / (p(x)q(x′))) (Hastings
//     1970), which jumps anywhere in the bulk. It matters where the target's scale changes
//     from place to place (slcp's funnels): a random walk sized for the bulk crawls once it
//     strays into a wide tail, and its chain over-weights that tail; the independence move
//     brings it back in a few steps. Where the target is bounded on a bounded support, as
//     for a posterior under a box prior, p/q is bounded and the independence chain alone is
//     uniformly ergodic (Mengersen & Tweedie 1996);
//  3. opt.gibbs, if set.
//
// The run has three phases:
//   - Start: each chain draws opt.candidates points x from initial, which returns their
//     log-density log q(x) up to a constant, and picks one with probability ∝ p(x)/q(x)
//     (sampling–importance–resampling: a rough posterior draw), so the chains start spread
//     over the bulk.
//   - Adaptation: opt.rounds rounds of opt.roundSteps steps; after each, the mean and
//     covariance C of the round's second half, pooled over chains, refit L (C = L·Lᵀ) and q,
//     and λ (from 2.38/√dim, Roberts, Gelman & Gilks 1997) is nudged to keep the random
//     walk's acceptance rate in [0.15, 0.45]. All these states are discarded.
//   - Sampling: with the kernels now fixed, each chain keeps every opt.thin-th state. Row i of
//     the result is sample i / chains of chain i % chains.
//
// Chain c uses the stream (seed, posteriorSalt, c), so results do not depend on scheduling.
func sampleMCMC(logp func([]float64) float64, initial func(*rand.Rand, []float64) float64,
	dim, n int, seed uint64, opt mcmcOptions) ([][]float64, error) {
	if n == 0 {
		return [][]float64{}, nil
	}
	opt = opt.withDefaults()
	chains := make([]*chain, opt.chains)
	var noStart atomic.Bool
	parallelRows(opt.chains, func(c int) {
		ch := newChain(logp, dim, stream(seed, posteriorSalt, c))
		chains[c] = ch
		if !ch.start(initial, opt.candidates) {
			noStart.Store(true)
		}
	})
	if noStart.Load() {
		return nil, errors.New("no starting point with positive posterior density among the prior draws; " +
			"check that the observation comes from this task")
	}

	starts := make([][]float64, len(chains))
	for c, ch := range chains {
		starts[c] = ch.x
	}
	fit := newFit(starts)
	var indep *studentT // none until the chains have run once
	lambda := 2.38 / math.Sqrt(float64(dim))
	for range opt.rounds {
		parallelRows(len(chains), func(c int) {
			ch := chains[c]
			ch.accepted = 0
			ch.trace = ch.trace[:0]
			for s := range opt.roundSteps {
				ch.step(fit.chol, lambda, indep, opt.gibbs)
				if s >= opt.roundSteps/2 {
					ch.trace = append(ch.trace, clone(ch.x))
				}
			}
		})
		var pooled [][]float64
		accepted := 0
		for _, ch := range chains {
			pooled = append(pooled, ch.trace...)
			accepted += ch.accepted
		}
		fit = newFit(pooled)
		indep = fit.studentT()
		switch rate := float64(accepted) / float64(len(chains)*opt.roundSteps); {
		case rate < 0.15:
			lambda *= 0.7
		case rate > 0.45:
			lambda *= 1.4
		}
	}

	perChain := (n + len(chains) - 1) / len(chains)
	parallelRows(len(chains), func(c int) {
		ch := chains[c]
		ch.trace = ch.trace[:0]
		for range perChain {
			for range opt.thin {
				ch.step(fit.chol, lambda, indep, opt.gibbs)
			}
			ch.trace = append(ch.trace, clone(ch.x))
		}
	})
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = chains[i%len(chains)].trace[i/len(chains)]
	}
	return rows, nil
}

// chain is the state of one Markov chain.
type chain struct {
	logp     func([]float64) float64
	rng      *rand.Rand
	x, prop  []float64
	z        []float64 // scratch for standard normal draws
	lp       float64   // logp(x)
	accepted int       // random-walk moves accepted this round
	trace    [][]float64
}

func newChain(logp func([]float64) float64, dim int, rng *rand.Rand) *chain {
	return &chain{logp: logp, rng: rng, x: make([]float64, dim), prop: make([]float64, dim), z: make([]float64, dim)}
}

// start sets x by sampling–importance–resampling among draws of initial; false if every
// draw has zero density.
func (ch *chain) start(initial func(*rand.Rand, []float64) float64, candidates int) bool {
	cands := make([][]float64, candidates)
	w := make([]float64, candidates)
	top := math.Inf(-1)
	for k := range cands {
		cands[k] = make([]float64, len(ch.x))
		logq := initial(ch.rng, cands[k])
		w[k] = ch.logp(cands[k]) - logq
		if math.IsNaN(w[k]) {
			w[k] = math.Inf(-1)
		}
		top = math.Max(top, w[k])
	}
	if math.IsInf(top, -1) || math.IsNaN(top) {
		return false
	}
	total := 0.0
	for k := range w {
		w[k] = math.Exp(w[k] - top)
		total += w[k]
	}
	u := ch.rng.Float64() * total
	pick := slices.Index(w, 1) // the best candidate, should rounding leave u ≥ total
	for k := range w {
		if u < w[k] {
			pick = k
			break
		}
		u -= w[k]
	}
	copy(ch.x, cands[pick])
	ch.lp = ch.logp(ch.x)
	return true
}

// step makes a random-walk move with proposal covariance λ²·L·Lᵀ, then, if q is not nil,
// an independence move with proposal q, then, if gibbs is not nil, the gibbs move.
func (ch *chain) step(chol [][]float64, lambda float64, q *studentT, gibbs func(*rand.Rand, []float64)) {
	if gibbs != nil {
		gibbs(ch.rng, ch.x)
		ch.lp = ch.logp(ch.x)
	}
	for j := range ch.z {
		ch.z[j] = ch.rng.NormFloat64()
	}
	for j := range ch.prop {
		s := 0.0
		for l := 0; l <= j; l++ {
			s += chol[j][l] * ch.z[l]
		}
		ch.prop[j] = ch.x[j] + lambda*s
	}
	if ch.accept(ch.logp(ch.prop), 0) {
		ch.accepted++
	}
	if q == nil {
		return
	}
	q.sample(ch.rng, ch.z, ch.prop)
	ch.accept(ch.logp(ch.prop), q.logDensity(ch.x, ch.z)-q.logDensity(ch.prop, ch.z))
}

// accept moves to prop with probability min(1, p(prop)/p(x) · exp(correction)), where
// lpProp = log p(prop) and correction is the log ratio of proposal densities, q(x)/q(prop).
func (ch *chain) accept(lpProp, correction float64) bool {
	if !(math.Log(ch.rng.Float64()) < lpProp-ch.lp+correction) { // NaN rejects
		return false
	}
	ch.x, ch.prop = ch.prop, ch.x
	ch.lp = lpProp
	return true
}

// fit is the mean and the Cholesky factor of the covariance of a set of points.
type fit struct {
	mean []float64
	chol [][]float64
}

func newFit(rows [][]float64) fit {
	mean, cov := meanCovariance(rows)
	return fit{mean: mean, chol: choleskyJittered(cov)}
}

// studentT returns the proposal q = t_ν(mean, 2·C), ν = 4.
func (f fit) studentT() *studentT {
	t := &studentT{nu: 4, mean: f.mean, chol: make([][]float64, len(f.chol))}
	for j, row := range f.chol {
		t.chol[j] = make([]float64, len(row))
		for l, v := range row {
			t.chol[j][l] = math.Sqrt2 * v
		}
	}
	return t
}

// studentT is a multivariate Student t with ν degrees of freedom, location mean and scale
// matrix L·Lᵀ: x = mean + L·ε·√(ν/χ²_ν).
type studentT struct {
	nu   float64
	mean []float64
	chol [][]float64
}

// sample writes a draw into x, using z as scratch. For ν = 4, χ²₄ = −2·log(u₁u₂).
func (t *studentT) sample(rng *rand.Rand, z, x []float64) {
	for j := range z {
		z[j] = rng.NormFloat64()
	}
	chi2 := -2 * math.Log((1-rng.Float64())*(1-rng.Float64()))
	scale := math.Sqrt(t.nu / chi2)
	for j := range x {
		s := 0.0
		for l := 0; l <= j; l++ {
			s += t.chol[j][l] * z[l]
		}
		x[j] = t.mean[j] + scale*s
	}
}

// logDensity is log q(x) up to a constant: −(ν+d)/2 · log(1 + |L⁻¹(x − mean)|²/ν).
// z is scratch.
func (t *studentT) logDensity(x, z []float64) float64 {
	r2 := 0.0
	for j := range x { // forward substitution L·z = x − mean
		s := x[j] - t.mean[j]
		for l := range j {
			s -= t.chol[j][l] * z[l]
		}
		z[j] = s / t.chol[j][j]
		r2 += z[j] * z[j]
	}
	return -0.5 * (t.nu + float64(len(x))) * math.Log1p(r2/t.nu)
}

// meanCovariance is the sample mean and covariance matrix of the rows.
func meanCovariance(rows [][]float64) ([]float64, [][]float64) {
	dim := len(rows[0])
	mean := make([]float64, dim)
	for _, r := range rows {
		for j, v := range r {
			mean[j] += v / float64(len(rows))
		}
	}
	cov := make([][]float64, dim)
	for j := range cov {
		cov[j] = make([]float64, dim)
	}
	for _, r := range rows {
		for j := range dim {
			for l := 0; l <= j; l++ {
				cov[j][l] += (r[j] - mean[j]) * (r[l] - mean[l])
			}
		}
	}
	for j := range dim {
		for l := 0; l <= j; l++ {
			cov[j][l] /= float64(max(len(rows)-1, 1))
			cov[l][j] = cov[j][l]
		}
	}
	return mean, cov
}

// choleskyJittered is the lower Cholesky factor of cov + δ·I, with δ a tiny fraction of the
// mean variance (or 10⁻⁶ for a zero matrix), so that collapsed chains still get a proposal.
func choleskyJittered(cov [][]float64) [][]float64 {
	dim := len(cov)
	tr := 0.0
	for j := range dim {
		tr += cov[j][j]
	}
	delta := 1e-6 * tr / float64(dim)
	if !(delta > 0) {
		delta = 1e-6
	}
	l := make([][]float64, dim)
	for j := range l {
		l[j] = make([]float64, dim)
	}
	for j := range dim {
		for k := 0; k <= j; k++ {
			s := cov[j][k]
			if j == k {
				s += delta
			}
			for m := range k {
				s -= l[j][m] * l[k][m]
			}
			if j == k {
				l[j][j] = math.Sqrt(math.Max(s, delta))
			} else {
				l[j][k] = s / l[k][k]
			}
		}
	}
	return l
}
