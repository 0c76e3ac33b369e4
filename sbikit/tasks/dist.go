package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Exact samplers of the few distributions the tasks need beyond math/rand/v2.

// binomial draws from Binomial(n, p) by inversion, searching outward from the mode
// (the "chop-down from the mode" variant of inversion): the support is visited in the order
// m, m−1, m+1, m−2, … and u ~ U(0,1) is reduced by each pmf until it falls inside one.
// That is inversion of the cdf under a reordering of the support, so it is exact; the
// expected number of steps is O(√(np(1−p))), about 20 for n = 1000.
func binomial(rng *rand.Rand, n int, p float64) int {
	switch {
	case !(p > 0):
		return 0
	case p >= 1:
		return n
	case p > 0.5:
		return n - binomial(rng, n, 1-p)
	}
	q := 1 - p
	ratio := p / q
	m := int(float64(n+1) * p) // the mode
	lgN, _ := math.Lgamma(float64(n + 1))
	lgM, _ := math.Lgamma(float64(m + 1))
	lgNM, _ := math.Lgamma(float64(n - m + 1))
	// pmf(m) = C(n,m) p^m q^(n−m)
	pm := math.Exp(lgN - lgM - lgNM + float64(m)*math.Log(p) + float64(n-m)*math.Log1p(-p))
	for {
		u := rng.Float64()
		if u < pm {
			return m
		}
		u -= pm
		lo, hi := m, m
		pLo, pHi := pm, pm
		for lo > 0 || hi < n {
			if lo > 0 {
				// pmf(k−1) = pmf(k) · k / (n−k+1) · q/p
				pLo *= float64(lo) / float64(n-lo+1) / ratio
				lo--
				if u < pLo {
					return lo
				}
				u -= pLo
			}
			if hi < n {
				// pmf(k+1) = pmf(k) · (n−k) / (k+1) · p/q
				pHi *= float64(n-hi) / float64(hi+1) * ratio
				hi++
				if u < pHi {
					return hi
				}
				u -= pHi
			}
		}
		// u exceeded the rounded total mass (a ~1e-15 event): draw again.
	}
}

// normalCDF is Φ(z).
func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// logNormalMass is log(Φ(b) − Φ(a)) for a < b, accurate far into either tail, where the
// difference of two cdfs would round to 0: it works with the upper tail Q(z) = Φ(−z) on
// the side away from 0.
func logNormalMass(a, b float64) float64 {
	if a > 0 {
		// Φ(b) − Φ(a) = Q(a) − Q(b) = Q(a)·(1 − Q(b)/Q(a))
		qa, qb := normalCDF(-a), normalCDF(-b)
		if qa == 0 {
			return logUpperTail(a) + math.Log1p(-math.Exp(logUpperTail(b)-logUpperTail(a)))
		}
		return math.Log(qa) + math.Log1p(-qb/qa)
	}
	if b < 0 {
		return logNormalMass(-b, -a)
	}
	return math.Log(normalCDF(b) - normalCDF(a))
}

// logUpperTail is log Q(z) for large z by the asymptotic series
// Q(z) ≈ φ(z)/z · (1 − 1/z² + 3/z⁴), used only where Q(z) underflows (z > 37).
func logUpperTail(z float64) float64 {
	z2 := z * z
	return -0.5*z2 - math.Log(z) - 0.5*math.Log(2*math.Pi) + math.Log(1-1/z2+3/(z2*z2))
}

// truncatedNormal draws z ~ N(0,1) restricted to [a, b] (a < b, either may be infinite) by
// rejection with the proposals of Robert (1995), "Simulation of truncated normal variables":
// N(0,1) itself when the interval holds much of the mass around 0, a uniform on [a, b] when
// it is narrow, and a translated exponential for a tail [a, b] with a > 0. Each acceptance
// probability is bounded below, so it is fast for any interval, including far tails.
// Callers make sure the interval has positive mass (logNormalMass(a, b) > −Inf).
func truncatedNormal(rng *rand.Rand, a, b float64) float64 {
	if !(a < b) {
		panic(fmt.Sprintf("tasks: truncatedNormal on the empty interval [%v, %v]", a, b))
	}
	if b <= 0 {
		// Mirror the left tail onto the right one.
		return -truncatedNormal(rng, -b, -a)
	}
	w := b - a
	if a <= 0 {
		if w >= 2.5 { // at least ~40% of N(0,1) falls inside
			for {
				z := rng.NormFloat64()
				if z >= a && z <= b {
					return z
				}
			}
		}
		// Uniform proposal; accept with φ(z)/φ(0) ≥ exp(−w²/2) ≥ 0.04.
		for {
			z := a + w*rng.Float64()
			if rng.Float64() <= math.Exp(-0.5*z*z) {
				return z
			}
		}
	}
	if w*(2*a+w) <= 2 {
		// Narrow tail interval: uniform proposal; accept with φ(z)/φ(a) ≥ exp(−1).
		for {
			z := a + w*rng.Float64()
			if rng.Float64() <= math.Exp(0.5*(a*a-z*z)) {
				return z
			}
		}
	}
	if a > 1e6 {
		// So far out, φ(z)/φ(a) = exp(−a(z−a) − (z−a)²/2) and z − a ~ 1/a, so the quadratic term
		// is below 10⁻¹²: z − a is an exponential of rate a truncated to [0, w], drawn by inversion.
		return a - math.Log1p(-rng.Float64()*(-math.Expm1(-a*w)))/a
	}
	// Wide tail interval: z = a + Exp(λ) with Robert's optimal rate λ, accepted with
	// exp(−(z−λ)²/2), and rejected above b.
	lambda := 0.5 * (a + math.Sqrt(a*a+4))
	for {
		z := a + rng.ExpFloat64()/lambda
		if z <= b && rng.Float64() <= math.Exp(-0.5*(z-lambda)*(z-lambda)) {
			return z
		}
	}
}
