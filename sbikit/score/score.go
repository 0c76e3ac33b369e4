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

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/cnf"
)

// Noise is a geometric sequence of noise scales σ₁ = SigmaMin < … < σ_L = SigmaMax, in the units of the
// (standardized) data.
type Noise struct {
	SigmaMin float64 `json:"sigma_min"`
	SigmaMax float64 `json:"sigma_max"`
	Levels   int     `json:"levels"` // L
}

// Scales are σ₁ < … < σ_L, σᵢ = σ_min (σ_max/σ_min)^{(i−1)/(L−1)}.
func (n Noise) Scales() []float64 {
	if n.Levels == 1 {
		return []float64{n.SigmaMax}
	}
	s := make([]float64, n.Levels)
	for i := range s {
		s[i] = n.SigmaMin * math.Pow(n.SigmaMax/n.SigmaMin, float64(i)/float64(n.Levels-1))
	}
	return s
}

// Check reports scales that are not a geometric sequence.
func (n Noise) Check() error {
	if !(n.SigmaMin > 0) || !(n.SigmaMax >= n.SigmaMin) || math.IsInf(n.SigmaMax, 0) || n.Levels < 1 ||
		n.Levels > 1 && n.SigmaMax == n.SigmaMin {
		return fmt.Errorf("score: noise scales need 0 < σ_min < σ_max (finite) and levels ≥ 1, got %+v", n)
	}
	return nil
}

// The defaults of NoiseFor, in the units of standardized data.
const (
	// DefaultSigmaMin is σ₁: small enough that p_σ₁ is p for data of unit scale and posteriors a
	// hundredth of the prior wide (two_moons' crescent is 0.017 wide in standardized units).
	DefaultSigmaMin = 0.01
	// DefaultRatio is σᵢ₊₁/σᵢ. Song & Ermon (2020, technique 2) choose it so that a draw of p_σᵢ₊₁
	// lies in the high-density shell of p_σᵢ; that rule is for high dimensions and allows any
	// ratio in two. TODO measured.
	DefaultRatio = 1.5
)

// NoiseFor chooses the scales for the n rows of data x (flat, [n, d]): σ_L the largest distance
// between two rows (Song & Ermon 2020, technique 1: from σ_L every point can reach every other, so
// Langevin dynamics started there is not stuck at one mode), σ₁ DefaultSigmaMin and a ratio of
// about DefaultRatio between levels. At most 2,000 rows, evenly spaced, are compared.
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
	noise := Noise{SigmaMin: DefaultSigmaMin, SigmaMax: max(math.Sqrt(far), 2*DefaultSigmaMin)}
	noise.Levels = 1 + int(math.Ceil(math.Log(noise.SigmaMax/noise.SigmaMin)/math.Log(DefaultRatio)))
	return noise
}

// Func is a score ∇ₓ log p_σ(x) of the density perturbed at scale σ, for x [b, d] and σ a scalar or
// [b]; extra are the caller's inputs (an observation). Learned, analytic (Mixture.Score) or a
// learned score plus a physics term, any Func drives a Sampler.
type Func func(ctx *context.Context, x, sigma *Node, extra []*Node) *Node

// Model is a noise conditional score network s_θ(x, σ, c) = f_θ(x, τ(σ), c)/σ: the network f_θ is the
// continuous flows' field network (cnf.Net), with time replaced by the position of σ on the log
// scale, τ = log(σ/σ₁)/log(σ_L/σ₁) ∈ [0, 1]. Dividing by σ is Song & Ermon's (2020) technique 3:
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
	if m.Noise.Levels == 1 || m.Noise.SigmaMax == m.Noise.SigmaMin {
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
// (nil: unconditional), Song & Ermon's (2019) eq. 6: each row draws a scale σᵢ uniformly from the L
// scales and noise z ~ N(0, I) from ctx's random state, and the loss is the batch mean of
// λ(σᵢ) ℓ(s_θ; x, x + σᵢz, σᵢ) with λ(σ) = σ², which makes every scale's term of order one.
func (m Model) Loss(ctx *context.Context, x, c *Node) *Node {
	g, dtype := x.Graph(), x.DType()
	b := x.Shape().Dim(0)
	// σᵢ = σ₁ γ^i for a uniform level i ∈ {0, …, L−1}, γ the ratio of consecutive scales.
	sigma := Scalar(g, dtype, m.Noise.SigmaMax)
	if L := m.Noise.Levels; L > 1 {
		level := MinScalar(Floor(MulScalar(ctx.RandomUniform(g, shapes.Make(dtype, b)), float64(L))), float64(L-1))
		sigma = MulScalar(Exp(MulScalar(level, math.Log(m.Noise.SigmaMax/m.Noise.SigmaMin)/float64(L-1))), m.Noise.SigmaMin)
	} else {
		sigma = BroadcastToDims(sigma, b)
	}
	z := ctx.RandomNormal(g, x.Shape())
	xTilde := Add(x, Mul(Reshape(sigma, b, 1), z))
	return ReduceAllMean(Mul(Square(sigma), DSM(m.Score(ctx, xTilde, sigma, c), x, xTilde, sigma)))
}
