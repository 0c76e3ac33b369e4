package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// slcp is sbibm's "slcp" (simple likelihood, complex posterior): x ~ U(−3,3)⁵, and y is four
// independent draws from a 2-D normal whose mean and covariance are simple functions of x:
//
//	m = (x₁, x₂),  s₁ = x₃²,  s₂ = x₄²,  ρ = tanh(x₅),
//	S = [[s₁², ρ·s₁·s₂], [ρ·s₁·s₂, s₂²]] + 10⁻⁶·I   (sbibm's jitter keeps S positive definite).
//
// y = (y₁₁, y₁₂, y₂₁, y₂₂, …, y₄₁, y₄₂): the four 2-D points one after the other, as sbibm
// flattens its [4, 2] draw. The signs of x₃ and x₄ do not matter, so the posterior has four
// mirror-image modes.
type slcp struct{}

const (
	slcpPoints = 4
	slcpBound  = 3
	slcpJitter = 1e-6
)

func (slcp) Name() string { return "slcp" }
func (slcp) DimX() int    { return 5 }
func (slcp) DimY() int    { return 2 * slcpPoints }
func (slcp) Prior() Prior { return uniformBox(5, slcpBound) }

// slcpCov returns the entries a = S₁₁, b = S₂₂, c = S₁₂ of S(x).
func slcpCov(x []float64) (a, b, c float64) {
	s1, s2 := x[2]*x[2], x[3]*x[3]
	rho := math.Tanh(x[4])
	return s1*s1 + slcpJitter, s2*s2 + slcpJitter, rho * s1 * s2
}

// Simulate draws y_k = m + L·ε_k with L the Cholesky factor of S.
func (t slcp) Simulate(x [][]float64, seed uint64) [][]float64 {
	return simulateRows(t.Name(), 5, 2*slcpPoints, x, seed, func(x []float64, rng *rand.Rand, y []float64) {
		a, b, c := slcpCov(x)
		l11 := math.Sqrt(a)
		l21 := c / l11
		l22 := math.Sqrt(b - l21*l21)
		for k := range slcpPoints {
			e1, e2 := rng.NormFloat64(), rng.NormFloat64()
			y[2*k] = x[0] + l11*e1
			y[2*k+1] = x[1] + l21*e1 + l22*e2
		}
	})
}

// slcpData are the sufficient statistics of the four points: their mean ȳ and the scatter
// matrix Σ_k (y_k − ȳ)(y_k − ȳ)ᵀ, entries sxx, syy, sxy.
type slcpData struct{ mx, my, sxx, syy, sxy float64 }

func newSLCPData(y []float64) slcpData {
	var d slcpData
	for k := range slcpPoints {
		d.mx += y[2*k] / slcpPoints
		d.my += y[2*k+1] / slcpPoints
	}
	for k := range slcpPoints {
		dx, dy := y[2*k]-d.mx, y[2*k+1]-d.my
		d.sxx += dx * dx
		d.syy += dy * dy
		d.sxy += dx * dy
	}
	return d
}

// logLik is log p(y|x) = Σ_k log N(y_k; m, S)
//
//	= −n·log 2π − (n/2)·log det S − ½·tr(S⁻¹·M),  M = scatter + n·(ȳ−m)(ȳ−m)ᵀ, n = 4.
func (d slcpData) logLik(x []float64) float64 {
	a, b, c := slcpCov(x)
	det := a*b - c*c
	n := float64(slcpPoints)
	dx, dy := d.mx-x[0], d.my-x[1]
	mxx, myy, mxy := d.sxx+n*dx*dx, d.syy+n*dy*dy, d.sxy+n*dx*dy
	trace := (b*mxx - 2*c*mxy + a*myy) / det // S⁻¹ = [[b, −c], [−c, a]] / det
	return -n*math.Log(2*math.Pi) - 0.5*n*math.Log(det) - 0.5*trace
}

// The posterior sampler works in the coordinates u = (w₁, w₂, x₃, x₄, x₅), where the mean
// is m = ȳ + L·w with L·Lᵀ = S/n the Cholesky factor of the covariance of ȳ. The likelihood
// factorises as
//
//	p(y|x) ∝ det S^(−(n−1)/2) · exp(−½·tr(S⁻¹·scatter)) · det(S/n)^(−½) · exp(−½·|w|²),
//
// and the change of variables m → w multiplies the density by |det L| = det(S/n)^½, so
//
//	p(u|y) ∝ det S^(−(n−1)/2) · exp(−½·tr(S⁻¹·scatter)) · N(w; 0, I) · 1[|m₁|, |m₂| ≤ 3]
//
// on the half-box x₃, x₄ ≥ 0 (see SamplePosterior). In x the variance of m grows as x₃⁴ and
// x₄⁴: a funnel that a random walk sized for the bulk explores far too slowly once it drifts
// to large |x₃| or |x₄|. In u the funnel is gone; only the box constraint still couples w to
// the rest.

// logPostU is log p(u|y) up to a constant, −Inf outside the support.
func (d slcpData) logPostU(u []float64) float64 {
	for j := 2; j < 5; j++ {
		lo := 0.0
		if j == 4 {
			lo = -slcpBound
		}
		if !(u[j] >= lo && u[j] <= slcpBound) {
			return math.Inf(-1)
		}
	}
	m1, m2 := d.meanFromU(u)
	if !(math.Abs(m1) <= slcpBound && math.Abs(m2) <= slcpBound) {
		return math.Inf(-1)
	}
	a, b, c := slcpCov(u)
	det := a*b - c*c
	n := float64(slcpPoints)
	trace := (b*d.sxx - 2*c*d.sxy + a*d.syy) / det
	return -0.5*(n-1)*math.Log(det) - 0.5*trace - 0.5*(u[0]*u[0]+u[1]*u[1])
}

// meanFromU is m = ȳ + L·w.
func (d slcpData) meanFromU(u []float64) (m1, m2 float64) {
	l11, l21, l22 := slcpMeanChol(u)
	return d.mx + l11*u[0], d.my + l21*u[0] + l22*u[1]
}

// slcpMeanChol is the Cholesky factor L of S/n, the covariance of ȳ.
func slcpMeanChol(x []float64) (l11, l21, l22 float64) {
	a, b, c := slcpCov(x)
	n := float64(slcpPoints)
	l11 = math.Sqrt(a / n)
	l21 = c / n / l11
	l22 = math.Sqrt(b/n - l21*l21)
	return l11, l21, l22
}

// drawW replaces w by a draw from its exact conditional p(w | x₃, x₄, x₅, y): N(0, I)
// restricted to the w whose mean m = ȳ + L·w lies in the box. It tries a few draws of N(0, I)
// until one fits; if all miss, it does one sweep of the two univariate conditionals,
// truncated normals, instead. Both moves leave the posterior invariant, and which one runs
// does not depend on w, so their mixture does too.
func (d slcpData) drawW(rng *rand.Rand, u []float64) {
	l11, l21, l22 := slcpMeanChol(u)
	for range 10 {
		w1, w2 := rng.NormFloat64(), rng.NormFloat64()
		m1, m2 := d.mx+l11*w1, d.my+l21*w1+l22*w2
		if math.Abs(m1) <= slcpBound && math.Abs(m2) <= slcpBound {
			u[0], u[1] = w1, w2
			return
		}
	}
	// |ȳ₁ + l11·w₁| ≤ 3 bounds w₁; then |ȳ₂ + l21·w₁ + l22·w₂| ≤ 3 bounds w₂ given w₁ —
	// and w₁ given w₂, through both constraints.
	lo, hi := (-slcpBound-d.mx)/l11, (slcpBound-d.mx)/l11
	if l21 != 0 {
		a, b := (-slcpBound-d.my-l22*u[1])/l21, (slcpBound-d.my-l22*u[1])/l21
		lo, hi = math.Max(lo, math.Min(a, b)), math.Min(hi, math.Max(a, b))
	}
	u[0] = truncatedNormal(rng, lo, hi)
	r := d.my + l21*u[0]
	u[1] = truncatedNormal(rng, (-slcpBound-r)/l22, (slcpBound-r)/l22)
}

// SamplePosterior runs Metropolis–Hastings chains on the exact posterior (see sampleMCMC),
// in the coordinates u above, with drawW as an extra Gibbs move.
//
// The chains live on the half-box where x₃, x₄ ≥ 0, where the posterior has one mode
// instead of four (S depends on x₃ and x₄ only through their squares, and the prior is
// symmetric). Each output sample then gets independent random signs for x₃ and x₄, which
// restores the exact four-mode posterior without asking a chain to jump between modes.
func (t slcp) SamplePosterior(yObs []float64, n int, seed uint64) ([][]float64, error) {
	if err := CheckObservation(t, yObs, n); err != nil {
		return nil, err
	}
	data := newSLCPData(yObs)
	// Starting points: x₃, x₄, x₅ from the (half-)prior and w ~ N(0, I), whose density is
	// the last factor of p(u|y); so the importance weight p/q is the rest.
	initial := func(rng *rand.Rand, u []float64) float64 {
		u[0], u[1] = rng.NormFloat64(), rng.NormFloat64()
		u[2], u[3] = slcpBound*rng.Float64(), slcpBound*rng.Float64()
		u[4] = slcpBound * (2*rng.Float64() - 1)
		return -0.5 * (u[0]*u[0] + u[1]*u[1])
	}
	opt := mcmcOptions{gibbs: data.drawW}
	rows, err := sampleMCMC(data.logPostU, initial, 5, n, seed, opt)
	if err != nil {
		return nil, fmt.Errorf("tasks: slcp: %w", err)
	}
	for i, x := range rows {
		x[0], x[1] = data.meanFromU(x)
		rng := stream(seed, posteriorSalt^0x5ca1ab1e, i)
		if rng.IntN(2) == 0 {
			x[2] = -x[2]
		}
		if rng.IntN(2) == 0 {
			x[3] = -x[3]
		}
	}
	return rows, nil
}
