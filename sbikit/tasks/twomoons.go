package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
)

// twoMoons is sbibm's "two_moons": x ~ U(−1,1)², and y = p + g(x) where p is a point on a
// noisy half circle and g folds the plane along the line x₁ + x₂ = 0, so that the posterior
// is two crescents.
type twoMoons struct{}

func (twoMoons) Name() string { return "two_moons" }
func (twoMoons) DimX() int    { return 2 }
func (twoMoons) DimY() int    { return 2 }
func (twoMoons) Prior() Prior { return uniformBox(2, 1) }

// The half circle: angle a ~ U(−π/2, π/2), radius r ~ N(0.1, 0.01²), centre (0.25, 0).
const (
	moonRadius = 0.1
	moonWidth  = 0.01
	moonOffset = 0.25
)

// moonPoint draws p = (r cos a + 0.25, r sin a).
func moonPoint(rng *rand.Rand) (p0, p1 float64) {
	a := math.Pi * (rng.Float64() - 0.5)
	r := moonRadius + moonWidth*rng.NormFloat64()
	return r*math.Cos(a) + moonOffset, r * math.Sin(a)
}

// Simulate: y = p + g(x), g(x) = (−|x₁+x₂|/√2, (−x₁+x₂)/√2).
func (t twoMoons) Simulate(x [][]float64, seed uint64) [][]float64 {
	return simulateRows(t.Name(), 2, 2, x, seed, func(x []float64, rng *rand.Rand, y []float64) {
		p0, p1 := moonPoint(rng)
		y[0] = p0 - math.Abs(x[0]+x[1])/math.Sqrt2
		y[1] = p1 + (x[1]-x[0])/math.Sqrt2
	})
}

// SamplePosterior draws from p(x|y) exactly, by running the simulator backwards.
//
// Why it is exact: y = p + g(x) with p ~ q independent of x, so the likelihood is
// p(y|x) = q(y − g(x)). g is a rotation by 45° followed by a fold (z₁ → −|z₁|), so on each
// half plane {x₁+x₂ ≥ 0} and {x₁+x₂ < 0} it is an isometry onto {g₁ ≤ 0}, with |det J| = 1.
// Draw p ~ q and set z = y − p. If z₁ > 0 no x maps there (likelihood 0): redraw. Else z has
// two preimages, one per half plane; picking one at random gives x the density
// ½·q(y − g(x))·|det J| ∝ p(y|x) on the whole plane. The prior is uniform, so keeping only
// draws inside the box [−1,1]² yields p(x|y) ∝ p(x)·p(y|x).
//
// (sbibm's own sampler flips the sign of z₁ at random without first rejecting z₁ > 0;
// that differs from this one only for observations with y₁ > 0.25 = min p₁, and none of
// its ten observations is such.)
func (t twoMoons) SamplePosterior(yObs []float64, n int, seed uint64) ([][]float64, error) {
	if err := CheckObservation(t, yObs, n); err != nil {
		return nil, err
	}
	const maxTries = 100_000 // per sample; a plausible y accepts a good fraction of tries
	var failed atomic.Bool
	rows := sampleRows(n, 2, seed, posteriorSalt, func(rng *rand.Rand, x []float64) {
		for range maxTries {
			p0, p1 := moonPoint(rng)
			z0, z1 := yObs[0]-p0, yObs[1]-p1 // z = g(x) = (−|u|, v) with u, v rotated coordinates
			if z0 > 0 {
				continue
			}
			u := -z0
			if rng.IntN(2) == 0 {
				u = z0
			}
			// Invert the rotation u = (x₁+x₂)/√2, v = (x₂−x₁)/√2.
			x0, x1 := (u-z1)/math.Sqrt2, (u+z1)/math.Sqrt2
			if math.Abs(x0) <= 1 && math.Abs(x1) <= 1 {
				x[0], x[1] = x0, x1
				return
			}
		}
		failed.Store(true)
	})
	if failed.Load() {
		return nil, fmt.Errorf("tasks: two_moons: observation %v is (nearly) impossible under the prior: "+
			"no posterior draw accepted in %d tries; check that yObs comes from this task", yObs, maxTries)
	}
	return rows, nil
}
