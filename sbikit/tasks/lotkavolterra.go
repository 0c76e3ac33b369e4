package tasks

import (
	"math"
	"math/rand/v2"
)

// lotkaVolterra is sbibm's "lotka_volterra" predator–prey model: x = (α, β, γ, δ), each
// LogNormal with loc (−0.125, −3, −0.125, −3) and scale 0.5. Prey u and predators v follow
//
//	du/dt = α·u − β·u·v,  dv/dt = −γ·v + δ·u·v,  (u, v)(0) = (30, 1),
//
// and y are the populations at t = 0, 2.1, 4.2, …, 18.9 (sbibm saves every 0.1 over [0, 20]
// and keeps every 21st), prey's 10 values first, then the predators', each with log-normal
// noise: y ~ LogNormal(log clamp(u, 10⁻¹⁰, 10⁴), 0.1).
type lotkaVolterra struct{}

const (
	lvOutputs = 10
	lvEvery   = 2.1
	lvNoise   = 0.1
)

func (lotkaVolterra) Name() string { return "lotka_volterra" }
func (lotkaVolterra) DimX() int    { return 4 }
func (lotkaVolterra) DimY() int    { return 2 * lvOutputs }
func (lotkaVolterra) Prior() Prior {
	return logNormalPrior{loc: []float64{-0.125, -3, -0.125, -3}, scale: fill(4, 0.5)}
}

// lvSolver: over prior draws the global error in log u and log v stays below ~10⁻⁵, far
// under the 0.1 observation noise, at ~0.1 ms per solve. The step cap only bites for
// parameter draws far in the prior's tails (none in 10,000 draws).
var lvSolver = dopri5{rtol: 1e-8, atol: 1e-8, maxSteps: 100_000}

// lvLogPopulations writes log u(t_k) into logU and log v(t_k) into logV. It solves for the
// logarithms, where the equations read
//
//	d(log u)/dt = α − β·v,  d(log v)/dt = −γ + δ·u,
//
// because for some parameters the populations swing over tens of orders of magnitude: in
// u and v the troughs are where an explicit solver loses relative accuracy (and positivity)
// and the model turns stiff; in log u and log v they are smooth and the solution stays
// positive by construction.
func lvLogPopulations(solver dopri5, p []float64, logU, logV []float64) error {
	alpha, beta, gamma, delta := p[0], p[1], p[2], p[3]
	f := func(_ float64, z, dz []float64) {
		dz[0] = alpha - beta*math.Exp(z[1])
		dz[1] = -gamma + delta*math.Exp(z[0])
	}
	ts := make([]float64, lvOutputs)
	out := make([][]float64, lvOutputs)
	for k := range ts {
		ts[k] = float64(k) * lvEvery
		out[k] = make([]float64, 2)
	}
	if err := solver.solve(f, 0, []float64{math.Log(30), 0}, ts, out); err != nil {
		return err
	}
	for k := range ts {
		logU[k], logV[k] = out[k][0], out[k][1]
	}
	return nil
}

// Simulate draws the noisy populations. A row whose ODE solve fails (non-finite parameters,
// too many steps) is all NaN.
func (t lotkaVolterra) Simulate(x [][]float64, seed uint64) [][]float64 {
	lo, hi := math.Log(1e-10), math.Log(1e4)
	return simulateRows(t.Name(), 4, 2*lvOutputs, x, seed, func(x []float64, rng *rand.Rand, y []float64) {
		if err := lvLogPopulations(lvSolver, x, y[:lvOutputs], y[lvOutputs:]); err != nil {
			for k := range y {
				y[k] = math.NaN()
			}
			return
		}
		for k, lu := range y {
			y[k] = math.Exp(math.Min(math.Max(lu, lo), hi) + lvNoise*rng.NormFloat64())
		}
	})
}
