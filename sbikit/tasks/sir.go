package tasks

import (
	"math"
	"math/rand/v2"
)

// sir is sbibm's "sir" epidemic: x = (β, γ), the contact and the recovery rate, with
// β ~ LogNormal(log 0.4, 0.5), γ ~ LogNormal(log 0.125, 0.2). In a population of N = 10⁶
// starting at (S, I, R) = (N−1, 1, 0),
//
//	dS/dt = −β·S·I/N,  dI/dt = β·S·I/N − γ·I,  dR/dt = γ·I,
//
// and y are 10 noisy readings of the infected fraction: y_k ~ Binomial(1000, I(t_k)/N) on days
// t_k = 0, 17, 34, …, 153 (sbibm solves on days 0..160 and keeps every 17th).
type sir struct{}

const (
	sirN       = 1e6
	sirDays    = 17 // days between readings
	sirOutputs = 10
	sirCount   = 1000 // Binomial total count
)

func (sir) Name() string { return "sir" }
func (sir) DimX() int    { return 2 }
func (sir) DimY() int    { return sirOutputs }
func (sir) Prior() Prior {
	return logNormalPrior{loc: []float64{math.Log(0.4), math.Log(0.125)}, scale: []float64{0.5, 0.2}}
}

// sirSolver: over prior draws I/N is accurate to ~10⁻⁸ relative (checked against a fine
// fixed-step solve in the tests), at ~0.05 ms per solve.
var sirSolver = dopri5{rtol: 1e-8, atol: 1e-10, maxSteps: 20_000}

// sirInfected writes the infected fraction I(t_k)/N at the reading days into frac. It solves
// for s = S/N and u = log(I/N), where the equations read
//
//	ds/dt = −β·s·eᵘ,  du/dt = β·s − γ   (R = N − S − I is not needed),
//
// because I spans many orders of magnitude: from 1 person it grows exponentially, which in u
// is a straight line the solver crosses in long steps, and relative accuracy in I comes free.
func sirInfected(solver dopri5, beta, gamma float64, frac []float64) error {
	f := func(_ float64, z, dz []float64) {
		dz[0] = -beta * z[0] * math.Exp(z[1])
		dz[1] = beta*z[0] - gamma
	}
	ts := make([]float64, sirOutputs)
	out := make([][]float64, sirOutputs)
	for k := range ts {
		ts[k] = float64(k * sirDays)
		out[k] = make([]float64, 2)
	}
	z0 := []float64{(sirN - 1) / sirN, math.Log(1 / sirN)}
	if err := solver.solve(f, 0, z0, ts, out); err != nil {
		return err
	}
	for k := range frac {
		frac[k] = math.Exp(out[k][1])
	}
	return nil
}

// Simulate draws y_k ~ Binomial(1000, clamp(I(t_k)/N, 0, 1)). A row whose ODE solve fails
// (non-finite parameters, too many steps) is all NaN.
func (t sir) Simulate(x [][]float64, seed uint64) [][]float64 {
	return simulateRows(t.Name(), 2, sirOutputs, x, seed, func(x []float64, rng *rand.Rand, y []float64) {
		if err := sirInfected(sirSolver, x[0], x[1], y); err != nil {
			for k := range y {
				y[k] = math.NaN()
			}
			return
		}
		for k, p := range y {
			y[k] = float64(binomial(rng, sirCount, math.Min(math.Max(p, 0), 1)))
		}
	})
}
