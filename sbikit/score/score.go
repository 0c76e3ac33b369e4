// Package score is the lecture's third part: learn the score ∇ₓ log p(x) with a network s_θ instead
// of the density, and sample from it with Langevin dynamics.
//
// Denoising score matching (Vincent 2011). For data perturbed with Gaussian noise, x̃ = x + σz,
// the score of the perturbed density p_σ = p ∗ N(0, σ²I) is the minimizer over s of
//
//	E_{x∼p, x̃∼N(x, σ²I)} ‖s(x̃) + (x̃ − x)/σ²‖²,
//
// a regression onto a target that only needs the noise, never p itself (DSM).
//
// Noise conditional score networks (Song & Ermon 2019). One network s_θ(x, σ) learns the scores of
// geometric noise scales σ₁ < … < σ_L at once, trained with each scale's loss weighted by σ² so that
// all scales weigh alike (Loss). Large scales fill the low-density regions between modes, where the
// score of p itself is unknown and Langevin dynamics does not mix; annealed Langevin dynamics (Sampler)
// starts there and follows the scales down to σ₁, where p_σ₁ ≈ p.
//
// Conditioned on an observation's embedding c, the same network is s_θ(x, σ, c) ≈ ∇ₓ log p_σ(x|y),
// neural posterior score estimation (NPSE, sbikit.NPSE).
package score

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/cnf"
)

// Noise is the range of noise scales [σ_min, σ_max], in the units of the (standardized) data.
// Training draws σ log-uniformly from it, the continuum of geometric scales σ₁ < … < σ_L between its
// ends, so that annealed Langevin dynamics may visit any number of them (Langevin.Levels) without
// retraining. σ_min = σ_max = 0 is the data itself: plain Langevin dynamics with the score of p.
type Noise struct {
	SigmaMin float64 `json:"sigma_min"`
	SigmaMax float64 `json:"sigma_max"`
}

// Scales are L geometric scales σ₁ = σ_min < … < σ_L = σ_max, σᵢ = σ_min (σ_max/σ_min)^{(i−1)/(L−1)};
// one level is σ_min alone.
func (n Noise) Scales(levels int) []float64 {
	s := make([]float64, max(levels, 1))
	for i := range s {
		s[i] = n.SigmaMin
		if i > 0 {
			s[i] = n.SigmaMin * math.Pow(n.SigmaMax/n.SigmaMin, float64(i)/float64(levels-1))
		}
	}
	return s
}

// Check reports a range that is not one.
func (n Noise) Check() error {
	if !(n.SigmaMin >= 0 && n.SigmaMax >= n.SigmaMin) || math.IsInf(n.SigmaMax, 0) || n.SigmaMin == 0 && n.SigmaMax > 0 {
		return fmt.Errorf("score: noise scales need 0 < σ_min ≤ σ_max (finite), or both 0, got %+v", n)
	}
	return nil
}

// Sample draws b scales log-uniformly from [σ_min, σ_max] with ctx's random state.
func (n Noise) Sample(ctx *context.Context, g *Graph, dtype dtypes.DType, b int) *Node {
	u := ctx.RandomUniform(g, shapes.Make(dtype, b))
	return MulScalar(Exp(MulScalar(u, math.Log(n.SigmaMax/n.SigmaMin))), n.SigmaMin)
}

// DefaultSigmaMin is NoiseFor's σ_min, in the units of standardized data: small enough that p_σ_min
// is p for data of unit scale and posteriors a hundredth of the prior wide (two_moons' crescent is
// 0.017 wide in standardized units).
const DefaultSigmaMin = 0.01

// NoiseFor chooses the range for the n rows of data x (flat, [n, d]): σ_max the largest distance
// between two rows (Song & Ermon 2020, technique 1: from σ_max every point can reach every other, so
// Langevin dynamics started there is not stuck at one mode) and σ_min DefaultSigmaMin. At most 2,000
// rows, evenly spaced, are compared.
func NoiseFor(x []float32, d int) Noise {
	n := len(x) / d
	stride := max(1, n/2000)
	far := 0.0
	for i := 0; i < n; i += stride {
		for j := i + stride; j < n; j += stride {
			s := 0.0
			for k := range d {
				v := float64(x[i*d+k] - x[j*d+k])
				s += v * v
			}
			far = max(far, s)
		}
	}
	return Noise{SigmaMin: DefaultSigmaMin, SigmaMax: max(math.Sqrt(far), 2*DefaultSigmaMin)}
}

// Func is a score ∇ₓ log p_σ(x) of the density perturbed at scale σ, for x [b, d] and σ a scalar or
// [b]; extra are the caller's inputs (an observation). Learned, analytic (Mixture.Score) or a
// learned score plus a physics term, any Func drives a Sampler.
type Func func(ctx *context.Context, x, sigma *Node, extra []*Node) *Node

// Model is a noise conditional score network s_θ(x, σ, c) = f_θ(x, τ(σ), c)/σ over the scales of
// Noise: the network f_θ is the continuous flows' field network (cnf.Net), with time replaced by the
// position of σ on the log scale, τ = log(σ/σ_min)/log(σ_max/σ_min) ∈ [0, 1]. Dividing by σ is Song & Ermon's (2020) technique 3:
// the score of p_σ grows like 1/σ, so f_θ outputs numbers of order one at every scale (it predicts
// the noise: f_θ ≈ −z).
type Model struct {
	Net   cnf.Net
	Noise Noise
}

// Score is s_θ(x, σ, c) for x [b, d], σ a scalar or [b], and the context c [b or 1, dc] (nil for an
// unconditional score), in the scope of ctx.
func (m Model) Score(ctx *context.Context, x, sigma, c *Node) *Node {
	return Div(m.Net.Velocity(ctx, x, m.position(sigma), c), Reshape(ConvertDType(sigma, x.DType()), -1, 1))
}

// position is τ(σ).
func (m Model) position(sigma *Node) *Node {
	if m.Noise.SigmaMax == m.Noise.SigmaMin {
		return ZerosLike(sigma)
	}
	return DivScalar(Log(DivScalar(sigma, m.Noise.SigmaMin)), math.Log(m.Noise.SigmaMax/m.Noise.SigmaMin))
}

// Func is the model as a Func, conditioned on the embedding c (nil: unconditional); it ignores the
// sampler's extra inputs, which the caller uses to compute c.
func (m Model) Func(c *Node) Func {
	return func(ctx *context.Context, x, sigma *Node, _ []*Node) *Node { return m.Score(ctx, x, sigma, c) }
}

// DSM is the denoising score matching loss of one noise scale, per row:
//
//	ℓ(s; x, x̃, σ) = ‖s + (x̃ − x)/σ²‖²,
//
// for the score s = s(x̃) [b, d] at the perturbed x̃ = x + σz, σ a scalar or [b]. Its expectation is
// minimized by the score of p_σ (Vincent 2011).
func DSM(s, x, xTilde, sigma *Node) *Node {
	sigma2 := Reshape(Square(ConvertDType(sigma, x.DType())), -1, 1)
	return ReduceSum(Square(Add(s, Div(Sub(xTilde, x), sigma2))), -1)
}

// Loss is the multi-scale denoising score matching loss of a batch x [b, d] with contexts c [b, dc]
// (nil: unconditional), Song & Ermon's (2019) eq. 6 with the scales drawn log-uniformly: each row
// draws σ (Noise.Sample) and z ~ N(0, I) from ctx's random state, and the loss is the batch mean of
// λ(σ) ℓ(s_θ; x, x + σz, σ) with λ(σ) = σ², which makes every scale's term of order one: it is
// ‖f_θ(x + σz, τ(σ), c) + z‖².
func (m Model) Loss(ctx *context.Context, x, c *Node) *Node {
	g, dtype := x.Graph(), x.DType()
	b := x.Shape().Dim(0)
	sigma := m.Noise.Sample(ctx, g, dtype, b)
	z := ctx.RandomNormal(g, x.Shape())
	xTilde := Add(x, Mul(Reshape(sigma, b, 1), z))
	return ReduceAllMean(Mul(Square(sigma), DSM(m.Score(ctx, xTilde, sigma, c), x, xTilde, sigma)))
}
