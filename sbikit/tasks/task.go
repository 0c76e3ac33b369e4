// Package tasks holds the benchmark inference problems of sbibm (Lueckmann et al. 2021):
// a prior p(x) over parameters x and a simulator y ~ p(y|x), and, where the likelihood is
// tractable, a sampler of the exact posterior p(x|y).
//
// Notation follows the lecture: x are the parameters (sbibm calls them θ), y the
// observations (sbibm's x). Samples are [][]float64, one row per draw.
//
// Every random draw is seeded and deterministic. Row i of a batch uses its own stream
// derived from (seed, i), so results do not depend on how a batch is split or on how
// many goroutines simulate it. Simulate uses PCG(seed, i) itself; Prior.Sample and
// SamplePosterior first XOR the seed with a fixed constant of their own, so that passing
// the same seed to the prior and the simulator still gives independent draws.
//
// Get returns a task by name; the sbibm reference files (observations, true parameters,
// reference posterior samples) load with LoadObservation, LoadTrueParameters and
// LoadReferenceSamples.
package tasks

import "math"

// Task is one benchmark problem.
type Task interface {
	// Name is the sbibm name, e.g. "two_moons".
	Name() string
	// DimX is the number of parameters, DimY the length of one observation.
	DimX() int
	DimY() int
	// Prior is p(x).
	Prior() Prior
	// Simulate draws one y ~ p(y|x) for each row of x. Row i uses the stream (seed, i).
	// A row whose simulation fails (an ODE solve that does not finish, NaN parameters)
	// comes back as NaN. Rows of the wrong length panic: DimX is fixed by the task.
	Simulate(x [][]float64, seed uint64) [][]float64
}

// Prior is a distribution over parameters x.
type Prior interface {
	// Sample draws n parameter vectors; row i uses the stream (seed, i).
	Sample(n int, seed uint64) [][]float64
	// LogProb is log p(x); -Inf outside the support or for NaN. It panics if len(x) != DimX.
	LogProb(x []float64) float64
	// Bounds are the per-dimension support limits, ±Inf where unbounded.
	Bounds() (lo, hi []float64)
}

// ReferencePosterior is implemented by tasks whose posterior p(x|y) can be sampled exactly
// (analytically, by inverting the simulator, by rejection, or by MCMC on the exact likelihood).
type ReferencePosterior interface {
	// SamplePosterior draws n samples of p(x|yObs); row i uses the stream (seed, i), except
	// for MCMC samplers, whose chain c uses the stream (seed, c). It returns an error for an
	// observation of the wrong length or with NaN/Inf values, for n < 0, and for an
	// observation that no parameter in the prior's support could have produced.
	SamplePosterior(yObs []float64, n int, seed uint64) ([][]float64, error)
}

// Finite reports whether every value of a row is finite. Simulators signal a failed simulation
// with NaN or Inf, which datasets drop and estimators refuse.
func Finite(row []float64) bool {
	for _, v := range row {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
