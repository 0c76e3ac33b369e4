package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// gaussianMixture is sbibm's "gaussian_mixture": x ~ U(−10,10)²,
// y ~ ½·N(x, I) + ½·N(x, 0.01·I), a posterior with a sharp peak on a broad base.
type gaussianMixture struct{}

const gmBound = 10

// gmStd are the standard deviations of the two mixture components.
var gmStd = [2]float64{1, 0.1}

func (gaussianMixture) Name() string { return "gaussian_mixture" }
func (gaussianMixture) DimX() int    { return 2 }
func (gaussianMixture) DimY() int    { return 2 }
func (gaussianMixture) Prior() Prior { return uniformBox(2, gmBound) }

func (t gaussianMixture) Simulate(x [][]float64, seed uint64) [][]float64 {
	return simulateRows(t.Name(), 2, 2, x, seed, func(x []float64, rng *rand.Rand, y []float64) {
		sd := gmStd[rng.IntN(2)]
		for j := range y {
			y[j] = x[j] + sd*rng.NormFloat64()
		}
	})
}

// SamplePosterior is exact. The likelihood is symmetric in x and y and the prior is flat on
// the box B, so p(x|y) ∝ Σ_c ½·N(x; y, σ_c²I) on B: a mixture of the two components
// truncated to B, with weights w_c ∝ ½·P_c where P_c = N(B; y, σ_c²I) is the mass each keeps
// inside the box (sbibm gets the same by rejecting draws of the untruncated mixture). We pick
// c with those weights, then draw each coordinate from a truncated normal; unlike plain
// rejection this stays fast when y lies near or beyond the edge of the box.
func (t gaussianMixture) SamplePosterior(yObs []float64, n int, seed uint64) ([][]float64, error) {
	if err := CheckObservation(t, yObs, n); err != nil {
		return nil, err
	}
	var logP [2]float64 // log P_c
	for c, sd := range gmStd {
		for _, v := range yObs {
			logP[c] += logNormalMass((-gmBound-v)/sd, (gmBound-v)/sd)
		}
	}
	top := math.Max(logP[0], logP[1])
	if !(top > math.Inf(-1)) { // −Inf, or NaN where even the tail formula overflows
		return nil, fmt.Errorf("tasks: gaussian_mixture: observation %v is too far outside the prior "+
			"box [-10,10]² to have any posterior mass; check that yObs comes from this task", yObs)
	}
	w0 := math.Exp(logP[0]-top) / (math.Exp(logP[0]-top) + math.Exp(logP[1]-top))
	return sampleRows(n, 2, seed, posteriorSalt, func(rng *rand.Rand, x []float64) {
		sd := gmStd[1]
		if rng.Float64() < w0 {
			sd = gmStd[0]
		}
		for j := range x {
			x[j] = yObs[j] + sd*truncatedNormal(rng, (-gmBound-yObs[j])/sd, (gmBound-yObs[j])/sd)
		}
	}), nil
}
