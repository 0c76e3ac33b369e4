package pde

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/physics/heat"
	"github.com/probinv/probinv/physics/prior"
	"github.com/probinv/probinv/physics/spectral"
	"github.com/probinv/probinv/sbikit/tasks"
)

// Heat2D is "heat2d": recover the initial temperature u₀ from a noisy picture of it after diffusion,
// ∂u/∂t = ν∆u, as in the heat experiment of Holzschuh et al. (2023). x = u₀ on the periodic unit
// square, row-major [ny][nx], drawn from the Gaussian random field Field; y = u(T) + N(0, Noise²)
// per cell, with u(T) = exp(νT∆)u₀ computed by the exact step (physics/heat, one step of dt = T).
//
// Diffusion multiplies the Fourier mode of integer wavenumber m by exp(−4π²|m|²νT). With the
// defaults (νT = 0.002, Noise 0.05) the modes up to |m| ≈ 5 stay above the noise, and the finer
// ones, which the prior's |k|^−4 spectrum makes small, are lost: a posterior that pins the large
// scales and leaves the small ones to the prior. Prior and noise are Gaussian and the step is linear
// and diagonal in the prior's Fourier modes, so the posterior is Gaussian and independent across
// modes: an exact reference for the estimators (SamplePosterior, PosteriorMean).
type Heat2D struct {
	Field prior.GRF // the prior of u₀
	Nu, T float64   // the diffusivity ν and the time of the observation
	Sigma float64   // the standard deviation of the observation noise
}

var (
	_ Task                     = Heat2D{}
	_ tasks.ReferencePosterior = Heat2D{}
)

// NewHeat2D is the registered heat2d: 32 × 32 cells, u₀ with the spectrum |k|^−4 (no mean mode) and
// unit variance per cell, ν = 0.01, T = 0.2, noise 0.05.
func NewHeat2D() Heat2D {
	return Heat2D{
		Field: prior.GRF{Grid: grid.New2D(32, 32, 1, 1, grid.Periodic), Exponent: 4, Scale: 1},
		Nu:    0.01, T: 0.2, Sigma: 0.05,
	}
}

func (Heat2D) Name() string         { return "heat2d" }
func (t Heat2D) DimX() int          { return t.Field.Grid.Cells() }
func (t Heat2D) DimY() int          { return t.Field.Grid.Cells() }
func (t Heat2D) Prior() tasks.Prior { return t.Field }
func (t Heat2D) Noise() float64     { return t.Sigma }
func (Heat2D) Steps() int           { return 1 }

// Simulator is the exact heat step of dt = T.
func (t Heat2D) Simulator() physics.Simulator {
	return heat.Heat{Domain: t.Field.Grid, Nu: t.Nu, Dt: t.T, Scheme: heat.Exact}
}

// Initial is the field u₀ = x, reshaped to [b, ny, nx].
func (t Heat2D) Initial(x *Node) []*Node {
	return []*Node{Reshape(x, append([]int{-1}, t.Field.Grid.N...)...)}
}

// Observe is u, flattened to rows.
func (t Heat2D) Observe(state []*Node) *Node {
	return Reshape(state[0], -1, t.DimY())
}

// Simulate draws y ~ p(y|x) for each row of x (see the type).
func (t Heat2D) Simulate(x [][]float64, seed uint64) [][]float64 { return simulate(t, x, seed) }

// modes is heat2d's exact posterior in the prior's eigenbasis Q (Field.Bases): the axes' analysis
// and synthesis matrices, and per mode k the gain g_k, with posterior mean g_k·ŷ_k, and the posterior
// standard deviation s_k.
type modes struct {
	forward, inverse [][][]float64
	gain, sd         []float64
}

// posterior is the Gaussian posterior of u₀ mode by mode. In Q the model is diagonal: the exact step
// multiplies mode k by a_k = exp(−ν|k|²T), the prior gives it the variance λ_k (Field.Variances), and
// white noise of σ per cell is white noise of σ per coefficient ŷ = Qᵀy (Q is orthonormal). So
//
//	precision 1/s_k² = 1/λ_k + a_k²/σ²,  mean = (a_k/σ²)·ŷ_k·s_k²,
//
// computed as s_k² = λ_kσ²/(a_k²λ_k + σ²) and g_k = a_kλ_k/(a_k²λ_k + σ²), which stay defined for the
// mean mode that the pure power law leaves without variance (λ = 0: the posterior pins it at 0).
func (t Heat2D) posterior() (modes, error) {
	if err := t.Field.Check(); err != nil {
		return modes{}, err
	}
	if err := t.Simulator().Check(); err != nil {
		return modes{}, err
	}
	if !(t.Sigma > 0) || math.IsInf(t.Sigma, 0) {
		return modes{}, fmt.Errorf("pde: heat2d's exact posterior needs noise Sigma > 0 and finite, got %g", t.Sigma)
	}
	bases, lambda := t.Field.Bases(), t.Field.Variances()
	m := modes{gain: make([]float64, len(lambda)), sd: make([]float64, len(lambda))}
	for _, b := range bases {
		m.forward, m.inverse = append(m.forward, b.Forward()), append(m.inverse, b.Inverse())
	}
	s2 := t.Sigma * t.Sigma
	for k, k2 := range spectral.SquaredWavenumbers(bases...) {
		a := math.Exp(-t.Nu * k2 * t.T)
		m.gain[k] = a * lambda[k] / (a*a*lambda[k] + s2)
		m.sd[k] = math.Sqrt(lambda[k] * s2 / (a*a*lambda[k] + s2))
	}
	return m, nil
}

// PosteriorMean is the mean of the exact posterior p(u₀|yObs) (see SamplePosterior): the field
// Q·(g_k·ŷ_k), the Wiener filter of the observation.
func (t Heat2D) PosteriorMean(yObs []float64) ([]float64, error) {
	if err := tasks.CheckObservation(t, yObs, 0); err != nil {
		return nil, err
	}
	m, err := t.posterior()
	if err != nil {
		return nil, err
	}
	c := spectral.Transform(yObs, m.forward...)
	for k := range c {
		c[k] *= m.gain[k]
	}
	return spectral.Transform(c, m.inverse...), nil
}

// SamplePosterior draws n fields from the exact posterior p(u₀|yObs), Gaussian and independent
// across the prior's modes (see posterior): u₀ = Q(g_k·ŷ_k + s_k·z_k), z ~ N(0, I), with row i drawn
// from tasks.PosteriorStream(seed, i). It is exact for the model in float64; Simulate's float32
// rollout differs from it by rounding, far below the noise.
func (t Heat2D) SamplePosterior(yObs []float64, n int, seed uint64) ([][]float64, error) {
	if err := tasks.CheckObservation(t, yObs, n); err != nil {
		return nil, err
	}
	m, err := t.posterior()
	if err != nil {
		return nil, err
	}
	yHat := spectral.Transform(yObs, m.forward...)
	rows := make([][]float64, n)
	for i := range rows {
		rng := tasks.PosteriorStream(seed, i)
		c := make([]float64, len(yHat))
		for k, v := range yHat {
			c[k] = m.gain[k]*v + m.sd[k]*rng.NormFloat64()
		}
		rows[i] = spectral.Transform(c, m.inverse...)
	}
	return rows, nil
}
