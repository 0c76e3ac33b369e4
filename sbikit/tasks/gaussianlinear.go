package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// gaussianLinear is sbibm's "gaussian_linear": x ~ N(0, 0.1·I₁₀), y ~ N(x, 0.1·I₁₀).
// With uniform set it is "gaussian_linear_uniform": x ~ U(−1,1)¹⁰, same likelihood.
// (0.1 is a variance: sbibm passes it as the covariance 0.1·I.)
type gaussianLinear struct{ uniform bool }

const (
	glDim      = 10
	glPriorVar = 0.1
	glNoiseVar = 0.1
)

func (t gaussianLinear) Name() string {
	if t.uniform {
		return "gaussian_linear_uniform"
	}
	return "gaussian_linear"
}
func (gaussianLinear) DimX() int { return glDim }
func (gaussianLinear) DimY() int { return glDim }

func (t gaussianLinear) Prior() Prior {
	if t.uniform {
		return uniformBox(glDim, 1)
	}
	return normalPrior{mean: fill(glDim, 0), std: fill(glDim, math.Sqrt(glPriorVar))}
}

// Simulate: y = x + √0.1·ε, ε ~ N(0, I).
func (t gaussianLinear) Simulate(x [][]float64, seed uint64) [][]float64 {
	sd := math.Sqrt(glNoiseVar)
	return simulateRows(t.Name(), glDim, glDim, x, seed, func(x []float64, rng *rand.Rand, y []float64) {
		for j := range y {
			y[j] = x[j] + sd*rng.NormFloat64()
		}
	})
}

// SamplePosterior is exact in both variants, dimension by dimension since everything factorises.
//
// Gaussian prior: the conjugate update gives precision 1/0.1 + 1/0.1 = 20 and mean
// (y/0.1)/20, i.e. p(x|y) = N(y/2, 0.05·I).
// Uniform prior: the likelihood is symmetric in x and y, so p(x|y) = N(y, 0.1·I) truncated to
// [−1,1]¹⁰, drawn as a truncated normal per dimension.
func (t gaussianLinear) SamplePosterior(yObs []float64, n int, seed uint64) ([][]float64, error) {
	if err := CheckObservation(t, yObs, n); err != nil {
		return nil, err
	}
	if !t.uniform {
		precision := 1/glPriorVar + 1/glNoiseVar
		sd := math.Sqrt(1 / precision)
		return sampleRows(n, glDim, seed, posteriorSalt, func(rng *rand.Rand, x []float64) {
			for j := range x {
				x[j] = yObs[j]/glNoiseVar/precision + sd*rng.NormFloat64()
			}
		}), nil
	}
	sd := math.Sqrt(glNoiseVar)
	for j, v := range yObs {
		if !(logNormalMass((-1-v)/sd, (1-v)/sd) > math.Inf(-1)) {
			return nil, fmt.Errorf("tasks: %s: observation value %d = %v is too far outside the prior box "+
				"[-1,1] to leave any posterior mass; check that yObs comes from this task", t.Name(), j, v)
		}
	}
	return sampleRows(n, glDim, seed, posteriorSalt, func(rng *rand.Rand, x []float64) {
		for j := range x {
			x[j] = yObs[j] + sd*truncatedNormal(rng, (-1-yObs[j])/sd, (1-yObs[j])/sd)
		}
	}), nil
}
