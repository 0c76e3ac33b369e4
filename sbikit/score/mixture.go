package score

import (
	"fmt"
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Mixture is a mixture of isotropic Gaussians, Σₖ wₖ N(μₖ, sₖ² I): the lecture's example of a density
// whose perturbed scores are known in closed form. Perturbing it with N(0, σ²I) widens every
// component, p_σ = Σₖ wₖ N(μₖ, (sₖ² + σ²) I), so
//
//	∇ₓ log p_σ(x) = Σₖ rₖ(x) (μₖ − x)/(sₖ² + σ²),
//
// with rₖ(x) the posterior probability of component k at x. Tests check learned scores and samplers
// against it; notebooks draw it.
type Mixture struct {
	Weights []float64   // wₖ, summing to 1
	Means   [][]float64 // μₖ, all of one dimension
	Stds    []float64   // sₖ
}

// Check reports a mixture that is not a density.
func (m Mixture) Check() error {
	k := len(m.Weights)
	if k == 0 || len(m.Means) != k || len(m.Stds) != k {
		return fmt.Errorf("score: a mixture needs as many weights, means and stds (got %d, %d, %d), at least one",
			k, len(m.Means), len(m.Stds))
	}
	sum := 0.0
	for i, w := range m.Weights {
		if !(w >= 0) || !(m.Stds[i] > 0) || len(m.Means[i]) != len(m.Means[0]) || len(m.Means[0]) == 0 {
			return fmt.Errorf("score: component %d has weight %g, std %g and a %d-dimensional mean", i, w, m.Stds[i], len(m.Means[i]))
		}
		sum += w
	}
	if math.Abs(sum-1) > 1e-9 {
		return fmt.Errorf("score: the mixture's weights sum to %g, not 1", sum)
	}
	return nil
}

// Dim is the dimension of x.
func (m Mixture) Dim() int { return len(m.Means[0]) }

// Sample draws n points of p_σ (σ = 0 for the mixture itself).
func (m Mixture) Sample(n int, sigma float64, rng *rand.Rand) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		u, k := rng.Float64(), 0
		for k < len(m.Weights)-1 && u >= m.Weights[k] {
			u -= m.Weights[k]
			k++
		}
		sd := math.Sqrt(m.Stds[k]*m.Stds[k] + sigma*sigma)
		out[i] = make([]float64, m.Dim())
		for j := range out[i] {
			out[i][j] = m.Means[k][j] + sd*rng.NormFloat64()
		}
	}
	return out
}

// LogProb is log p_σ(x).
func (m Mixture) LogProb(x []float64, sigma float64) float64 {
	d := float64(len(x))
	terms := make([]float64, len(m.Weights))
	top := math.Inf(-1)
	for k, w := range m.Weights {
		v := m.Stds[k]*m.Stds[k] + sigma*sigma
		sq := 0.0
		for j, xj := range x {
			sq += (xj - m.Means[k][j]) * (xj - m.Means[k][j])
		}
		terms[k] = math.Log(w) - 0.5*sq/v - 0.5*d*math.Log(2*math.Pi*v)
		top = max(top, terms[k])
	}
	sum := 0.0
	for _, t := range terms {
		sum += math.Exp(t - top)
	}
	return top + math.Log(sum)
}

// Score is ∇ₓ log p_σ(x) for x [b, d] and σ a scalar or [b]; it is a Func (the extra inputs are ignored).
func (m Mixture) Score(_ *context.Context, x, sigma *Node, _ []*Node) *Node {
	g, dtype := x.Graph(), x.DType()
	b, d, k := x.Shape().Dim(0), x.Shape().Dim(1), len(m.Weights)
	means := make([]float64, 0, k*d)
	variances, logW := make([]float64, k), make([]float64, k)
	for i := range k {
		means = append(means, m.Means[i]...)
		variances[i], logW[i] = m.Stds[i]*m.Stds[i], math.Log(m.Weights[i])
	}
	sigma2 := Reshape(Square(ConvertDType(sigma, dtype)), -1, 1)                      // [b or 1, 1]
	v := Add(Reshape(ConstAsDType(g, dtype, variances), 1, k), sigma2)                // [b or 1, k]
	diff := Sub(Reshape(ConstAsDType(g, dtype, means), 1, k, d), Reshape(x, b, 1, d)) // μₖ − x [b, k, d]
	logits := Sub(Reshape(ConstAsDType(g, dtype, logW), 1, k),                        // log wₖ N(x; μₖ, vₖ I)
		Add(Div(MulScalar(ReduceSum(Square(diff), -1), 0.5), v), MulScalar(Log(v), 0.5*float64(d))))
	r := Softmax(logits, -1) // rₖ(x) [b, k]
	return ReduceSum(Mul(diff, Reshape(Div(r, v), b, k, 1)), 1)
}
