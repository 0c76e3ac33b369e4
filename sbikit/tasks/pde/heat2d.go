package pde

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/probinv/probinv/physics"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/physics/heat"
	"github.com/probinv/probinv/physics/prior"
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
// modes: an exact reference for the estimators.
type Heat2D struct {
	Field prior.GRF // the prior of u₀
	Nu, T float64   // the diffusivity ν and the time of the observation
	Sigma float64   // the standard deviation of the observation noise
}

var _ Task = Heat2D{}

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
