// Package prior holds the priors of the physics experiments: Gaussian random fields with a power-law
// spectrum (the initial states of the heat-equation experiments of Holzschuh et al. 2023) and the
// PDE-residual physics prior of any simulator, as a training penalty and as an energy added to a score.
package prior

import (
	"fmt"
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/physics/spectral"
)

// GRF is a zero-mean Gaussian random field u ~ N(0, C) over a grid, diagonal in the eigenbasis of the
// grid's Laplacian with its boundary condition (physics/spectral: Fourier modes for a periodic grid,
// so the field is stationary; cosines for Neumann, sines for Dirichlet). Mode k, of wavenumber |k|
// (|k|² = K_y² + K_x² in 2-D), has the variance
//
//	λ_k = c · (K0² + |k|²)^(−α/2),  α = Exponent,
//
// with c such that the mean variance per cell, trace(C)/cells, is Scale². With K0 = 0 the spectrum
// is the pure power law |k|^−α and the mode |k| = 0 (the field's mean, on periodic and Neumann
// grids) gets no variance: Holzschuh et al. (2023) draw their initial states so, with α = 4 on a
// periodic 32×32 grid. Such fields have zero mean; LogProb and Score are then those of the density
// on the zero-mean fields (the mean is ignored). K0 > 0 flattens the spectrum below K0 instead and
// gives every mode a variance.
//
// A field is a row of Cells() values, row-major ([ny][nx] in 2-D), as the datasets store it. GRF is
// a tasks.Prior (Sample, LogProb, Bounds); Score is a score.Func.
type GRF struct {
	Grid     grid.Grid
	Exponent float64 // α ≥ 0: the power law |k|^−α (α = 4 in Holzschuh et al.)
	K0       float64 // ≥ 0: the wavenumber below which the spectrum flattens; 0 for the pure power law
	Scale    float64 // > 0: the field's standard deviation per cell (root mean over the cells)
}

// Check reports settings that do not make a field.
func (p GRF) Check() error {
	_, err := p.spectrum()
	return err
}

// spectrum is a GRF's eigenbasis, one spectral basis per grid axis, with the variance λ of each mode
// (row-major over the axes' modes).
type spectrum struct {
	dims     []int
	bases    []spectral.Basis
	variance []float64
}

func (p GRF) spectrum() (spectrum, error) {
	if err := p.Grid.Check(); err != nil {
		return spectrum{}, fmt.Errorf("prior: %w", err)
	}
	if !(p.Exponent >= 0) || math.IsInf(p.Exponent, 0) {
		return spectrum{}, fmt.Errorf("prior: the exponent is α ≥ 0 of the power law |k|^−α (e.g. 4, not −4), got %g", p.Exponent)
	}
	if !(p.K0 >= 0) || math.IsInf(p.K0, 0) {
		return spectrum{}, fmt.Errorf("prior: K0 must be finite and ≥ 0 (0 for the pure power law), got %g", p.K0)
	}
	if !(p.Scale > 0) || math.IsInf(p.Scale, 0) {
		return spectrum{}, fmt.Errorf("prior: the scale is the field's standard deviation, finite and > 0, got %g", p.Scale)
	}
	s := spectrum{dims: p.Grid.N}
	for a, n := range p.Grid.N {
		b, err := spectral.New(n, p.Grid.L[a], p.Grid.BC)
		if err != nil {
			return spectrum{}, fmt.Errorf("prior: %w", err)
		}
		s.bases = append(s.bases, b)
	}
	k2 := spectral.SquaredWavenumbers(s.bases...)
	s.variance = make([]float64, len(k2))
	total := 0.0
	for i, v := range k2 {
		if v+p.K0*p.K0 > 0 {
			s.variance[i] = math.Pow(p.K0*p.K0+v, -p.Exponent/2)
			total += s.variance[i]
		}
	}
	c := p.Scale * p.Scale * float64(len(k2)) / total
	for i := range s.variance {
		s.variance[i] *= c
	}
	return s, nil
}

// must is the spectrum of settings the caller has checked; bad ones are a programmer's mistake.
func (p GRF) must() spectrum {
	s, err := p.spectrum()
	if err != nil {
		panic(err)
	}
	return s
}

// transform applies Q (synthesis: field from coefficients) or Qᵀ (analysis: coefficients from a field)
// along every axis of the row-major v.
func (s spectrum) transform(v []float64, analyze bool) []float64 {
	ms := make([][][]float64, len(s.bases))
	for a, b := range s.bases {
		ms[a] = b.Inverse()
		if analyze {
			ms[a] = b.Forward()
		}
	}
	return spectral.Transform(v, ms...)
}

// Bases are the field's eigenbasis, one spectral basis per grid axis (spectral.New of the grid's
// axes); mode (k_0, k_1, …) is the product of mode k_a of axis a. It panics on settings that fail
// Check.
func (p GRF) Bases() []spectral.Basis { return p.must().bases }

// Variances are the variances λ_k of the field's coefficients in Bases, row-major over the modes
// (the last axis varies fastest, as in the field): C = Q diag(λ) Qᵀ with Q the product of the axes'
// bases. With K0 = 0 the mode |k| = 0 has λ = 0. It panics on settings that fail Check.
func (p GRF) Variances() []float64 { return p.must().variance }

// grfSalt separates the GRF's random streams from a simulator's given the same seed (as the
// benchmark tasks' priors do).
const grfSalt = 0x94d049bb133111eb

// Sample draws n fields, u = Q diag(√λ) z with z ~ N(0, I); row i uses the stream PCG(seed ⊕ salt, i),
// so a row does not depend on n. It panics on settings that fail Check.
func (p GRF) Sample(n int, seed uint64) [][]float64 {
	s := p.must()
	rows := make([][]float64, n)
	for i := range rows {
		rng := rand.New(rand.NewPCG(seed^grfSalt, uint64(i)))
		c := make([]float64, len(s.variance))
		for k, v := range s.variance {
			c[k] = math.Sqrt(v) * rng.NormFloat64()
		}
		rows[i] = s.transform(c, false)
	}
	return rows
}

// LogProb is log N(u; 0, C) = Σ_k −½ c_k²/λ_k − ½ log(2πλ_k) over the coefficients c = Qᵀu of the
// field u (Cells() values); modes without variance are left out. It panics on a field of the wrong
// length or settings that fail Check.
func (p GRF) LogProb(u []float64) float64 {
	return p.logProb(u, 0)
}

// logProb is log p_σ(u) of the field perturbed with N(0, σ²I): N(0, C + σ²I), whose coefficients have
// the variances λ_k + σ².
func (p GRF) logProb(u []float64, sigma float64) float64 {
	s := p.must()
	if len(u) != len(s.variance) {
		panic(fmt.Sprintf("prior: a field of %d values on a grid of %d cells", len(u), len(s.variance)))
	}
	lp := 0.0
	for k, c := range s.transform(u, true) {
		if v := s.variance[k] + sigma*sigma; v > 0 {
			lp -= 0.5 * (c*c/v + math.Log(2*math.Pi*v))
		}
	}
	return lp
}

// Bounds are ±Inf: a Gaussian field has no bounds.
func (p GRF) Bounds() (lo, hi []float64) {
	lo, hi = make([]float64, p.Grid.Cells()), make([]float64, p.Grid.Cells())
	for i := range lo {
		lo[i], hi[i] = math.Inf(-1), math.Inf(1)
	}
	return lo, hi
}

// Score is the exact score of the field perturbed at scale σ, p_σ = N(0, C + σ²I):
//
//	∇ᵤ log p_σ(u) = −(C + σ²I)⁻¹ u = −Q diag(1/(λ_k + σ²)) Qᵀ u,
//
// for u [b, cells] (rows of fields) and σ a scalar or [b]; σ = 0 is the prior's own score −C⁻¹u
// (with the modes of no variance sent to zero). It is a score.Func (the extra inputs are ignored):
// the annealed Langevin sampler draws the prior with it, and a learned or physics score adds to it.
// It panics on settings that fail Check.
func (p GRF) Score(_ *context.Context, u, sigma *Node, _ []*Node) *Node {
	s := p.must()
	g, dtype := u.Graph(), u.DType()
	field := append([]int{u.Shape().Dim(0)}, s.dims...)
	ones := make([]int, len(field))
	for i := range ones {
		ones[i] = 1
	}
	c := Reshape(u, field...)
	for a, b := range s.bases {
		c = spectral.Apply(c, b.Forward(), a)
	}
	v := Add(grid.Constant(g, dtype, s.variance, append([]int{1}, s.dims...)...),
		Reshape(Square(ConvertDType(sigma, dtype)), append([]int{-1}, ones[1:]...)...)) // λ_k + σ²
	positive := GreaterThan(v, ZerosLike(v))
	c = Mul(c, Where(positive, Neg(Inverse(Where(positive, v, OnesLike(v)))), ZerosLike(v)))
	for a, b := range s.bases {
		c = spectral.Apply(c, b.Inverse(), a)
	}
	return Reshape(c, u.Shape().Dimensions...)
}
