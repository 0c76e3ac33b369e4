package diffusion

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/internal/chain"
)

// Bound is the variational bound of the lecture on −log p_θ(x₀), per sample, in nats:
//
//	L = L_T + Σ_{t=2}^T L_{t−1} + L₀,
//	L_T = KL(q(x_T | x₀) ‖ N(0, I)),
//	L_{t−1} = KL(q(x_{t−1} | x_t, x₀) ‖ p_θ(x_{t−1} | x_t)),  p_θ(x_{t−1} | x_t) = N(μ_θ(x_t, t), σ_t² I),
//	L₀ = −log N(x₀; μ_θ(x₁, 1), σ₁² I),
//
// with μ_θ(x_t, t) = (x_t − β_t/√(1 − ᾱ_t) ε_θ)/√α_t, σ_t² as variance ("beta" or "posterior"; σ₁² = β₁
// either way, since β̃₁ = 0) and one draw x_t ~ q(x_t | x₀) per term: an unbiased estimate of the
// bound that costs T network evaluations. For continuous data L₀ is a density, so the bound is on
// −log p_θ(x₀) as a density too (divide by d ln 2 for bits per dimension).
func Bound(b backends.Backend, ctx *context.Context, eps Func, tb Tables, variance string, x0 *tensors.Tensor,
	extra []*tensors.Tensor, rng *rand.Rand) ([]float64, error) {
	if variance != VarianceBeta && variance != VariancePosterior {
		return nil, fmt.Errorf("diffusion: unknown variance %q, want %q or %q", variance, VarianceBeta, VariancePosterior)
	}
	if x0.Rank() != 2 {
		return nil, fmt.Errorf("diffusion: x₀ must be a matrix [n, d], got %s", x0.Shape())
	}
	n, d := x0.Shape().Dim(0), x0.Shape().Dim(1)
	dtype := x0.DType()
	// in: x₀, ε, t, √ᾱ_t, √(1 − ᾱ_t), MeanX0, MeanXt, 1/√α_t, β_t/(√α_t √(1 − ᾱ_t)), 1/(2σ²), extra…
	// out: ‖μ̃_t(x_t, x₀) − μ_θ(x_t, t)‖²/(2σ²) per row, with x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε.
	exec, err := context.NewExec(b, ctx, func(ctx *context.Context, in []*Node) *Node {
		x0, e, t := in[0], in[1], in[2]
		xt := Add(Mul(in[3], x0), Mul(in[4], e))
		target := Add(Mul(in[5], x0), Mul(in[6], xt))
		mu := Sub(Mul(in[7], xt), Mul(in[8], eps(ctx, xt, t, in[10:])))
		return Mul(ReduceSum(Square(Sub(target, mu)), -1), in[9])
	})
	if err != nil {
		return nil, err
	}
	sq, err := chain.Float64s(x0)
	if err != nil {
		return nil, err
	}
	total := make([]float64, n)
	// L_T: KL(N(√ᾱ_T x₀, (1 − ᾱ_T) I) ‖ N(0, I)).
	abT := tb.AlphaBar[tb.T]
	for i := range n {
		norm := 0.0
		for _, v := range sq[i*d : (i+1)*d] {
			norm += v * v
		}
		total[i] = 0.5 * (abT*norm + float64(d)*(1-abT-1-math.Log(1-abT)))
	}
	for t := 1; t <= tb.T; t++ {
		sigma2 := tb.Beta[t]
		if variance == VariancePosterior && t > 1 {
			sigma2 = tb.PosteriorVar[t]
		}
		a := math.Sqrt(tb.Alpha[t])
		args := []any{x0, chain.Normals(rng, dtype, n, d)}
		for _, v := range []float64{float64(t), math.Sqrt(tb.AlphaBar[t]), math.Sqrt(1 - tb.AlphaBar[t]), tb.MeanX0[t], tb.MeanXt[t],
			1 / a, tb.Beta[t] / (a * math.Sqrt(1-tb.AlphaBar[t])), 1 / (2 * sigma2)} {
			args = append(args, chain.Scalar(dtype, v))
		}
		for _, e := range extra {
			args = append(args, e)
		}
		out, err := exec.Exec(args...)
		if err != nil {
			return nil, fmt.Errorf("diffusion: %w", err)
		}
		term, err := chain.Float64s(out[0])
		if err != nil {
			return nil, err
		}
		// The Gaussians' variance part: KL's d/2 (β̃/σ² − 1 + ln(σ²/β̃)), or the density's d/2 ln(2πσ₁²).
		constant := 0.5 * float64(d) * math.Log(2*math.Pi*sigma2)
		if t > 1 {
			r := tb.PosteriorVar[t] / sigma2
			constant = 0.5 * float64(d) * (r - 1 - math.Log(r))
		}
		for i := range n {
			total[i] += term[i] + constant
		}
	}
	return total, nil
}
