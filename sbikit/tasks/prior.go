package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// The three prior families of the sbibm tasks, all independent across dimensions.

// uniformPrior is U(lo, hi) in every dimension.
type uniformPrior struct{ lo, hi []float64 }

// Uniform is the prior U(lo_j, hi_j) in every dimension j, for tasks outside this package (see
// Register). It panics unless lo and hi have the same length and lo_j < hi_j.
func Uniform(lo, hi []float64) Prior {
	if len(lo) != len(hi) {
		panic(fmt.Sprintf("tasks: Uniform: %d lower bounds and %d upper bounds", len(lo), len(hi)))
	}
	for j := range lo {
		if !(lo[j] < hi[j]) {
			panic(fmt.Sprintf("tasks: Uniform: dimension %d has lo = %g, hi = %g; want lo < hi", j, lo[j], hi[j]))
		}
	}
	return uniformPrior{lo: clone(lo), hi: clone(hi)}
}

// uniformBox is U(-b, b)^dim.
func uniformBox(dim int, b float64) uniformPrior {
	p := uniformPrior{lo: make([]float64, dim), hi: make([]float64, dim)}
	for j := range dim {
		p.lo[j], p.hi[j] = -b, b
	}
	return p
}

func (p uniformPrior) Sample(n int, seed uint64) [][]float64 {
	return sampleRows(n, len(p.lo), seed, priorSalt, func(rng *rand.Rand, x []float64) {
		for j := range x {
			x[j] = p.lo[j] + (p.hi[j]-p.lo[j])*rng.Float64()
		}
	})
}

// LogProb is -Σ log(hi_j - lo_j) inside the box, -Inf outside (or for NaN).
func (p uniformPrior) LogProb(x []float64) float64 {
	checkLen("LogProb", len(x), len(p.lo))
	lp := 0.0
	for j, v := range x {
		if !(v >= p.lo[j] && v <= p.hi[j]) {
			return math.Inf(-1)
		}
		lp -= math.Log(p.hi[j] - p.lo[j])
	}
	return lp
}

func (p uniformPrior) Bounds() (lo, hi []float64) {
	return clone(p.lo), clone(p.hi)
}

// normalPrior is N(mean_j, std_j²) in every dimension.
type normalPrior struct{ mean, std []float64 }

func (p normalPrior) Sample(n int, seed uint64) [][]float64 {
	return sampleRows(n, len(p.mean), seed, priorSalt, func(rng *rand.Rand, x []float64) {
		for j := range x {
			x[j] = p.mean[j] + p.std[j]*rng.NormFloat64()
		}
	})
}

// LogProb is Σ_j log N(x_j; mean_j, std_j²).
func (p normalPrior) LogProb(x []float64) float64 {
	checkLen("LogProb", len(x), len(p.mean))
	lp := 0.0
	for j, v := range x {
		lp += logNormalPDF(v, p.mean[j], p.std[j])
	}
	return nanToInf(lp)
}

func (p normalPrior) Bounds() (lo, hi []float64) {
	return fill(len(p.mean), math.Inf(-1)), fill(len(p.mean), math.Inf(1))
}

// logNormalPrior is LogNormal(loc_j, scale_j): log x_j ~ N(loc_j, scale_j²).
type logNormalPrior struct{ loc, scale []float64 }

func (p logNormalPrior) Sample(n int, seed uint64) [][]float64 {
	return sampleRows(n, len(p.loc), seed, priorSalt, func(rng *rand.Rand, x []float64) {
		for j := range x {
			x[j] = math.Exp(p.loc[j] + p.scale[j]*rng.NormFloat64())
		}
	})
}

// LogProb is Σ_j [log N(log x_j; loc_j, scale_j²) − log x_j], the change of variables from log x.
func (p logNormalPrior) LogProb(x []float64) float64 {
	checkLen("LogProb", len(x), len(p.loc))
	lp := 0.0
	for j, v := range x {
		if !(v > 0) {
			return math.Inf(-1)
		}
		lv := math.Log(v)
		lp += logNormalPDF(lv, p.loc[j], p.scale[j]) - lv
	}
	return nanToInf(lp)
}

func (p logNormalPrior) Bounds() (lo, hi []float64) {
	return fill(len(p.loc), 0), fill(len(p.loc), math.Inf(1))
}

// logNormalPDF is log N(v; mean, std²).
func logNormalPDF(v, mean, std float64) float64 {
	z := (v - mean) / std
	return -0.5*z*z - math.Log(std) - 0.5*math.Log(2*math.Pi)
}

// nanToInf maps NaN (from a NaN parameter) to -Inf, the log-density of "impossible".
func nanToInf(lp float64) float64 {
	if math.IsNaN(lp) {
		return math.Inf(-1)
	}
	return lp
}

// checkLen panics on a parameter vector of the wrong length: a programming mistake, since
// the dimension is fixed by the task.
func checkLen(method string, got, want int) {
	if got != want {
		panic(fmt.Sprintf("tasks: Prior.%s: got %d parameters, want %d", method, got, want))
	}
}

func badWidth(task string, row, got, want int) string {
	return fmt.Sprintf("tasks: %s.Simulate: row %d has %d parameters, want %d (Task.DimX)", task, row, got, want)
}

func clone(v []float64) []float64 { return append([]float64(nil), v...) }

func fill(n int, v float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}
