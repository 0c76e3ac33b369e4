package sbikit

import (
	"fmt"
	"hash/fnv"
	"math"

	"github.com/probinv/probinv/sbikit/tasks"
)

// Standardizer is the affine map v ↦ (v − Mean)/Std that the estimators apply to parameters and
// observations before training (z-scoring), fitted on the training set. Networks train faster and
// more reliably on inputs of unit scale, and a flow's density changes by the constant Σ log Std.
type Standardizer struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
}

// fitStandardizer computes per-column means and standard deviations (n−1) of the given rows. A
// column with no spread gets Std 1, so that it passes through as its offset from the mean.
func fitStandardizer(rows [][]float64, idx []int, dim int) Standardizer {
	s := Standardizer{Mean: make([]float64, dim), Std: make([]float64, dim)}
	for _, i := range idx {
		for j, v := range rows[i] {
			s.Mean[j] += v
		}
	}
	n := float64(len(idx))
	for j := range s.Mean {
		s.Mean[j] /= n
	}
	for _, i := range idx {
		for j, v := range rows[i] {
			s.Std[j] += (v - s.Mean[j]) * (v - s.Mean[j])
		}
	}
	for j := range s.Std {
		s.Std[j] = math.Sqrt(s.Std[j] / math.Max(n-1, 1))
		if !(s.Std[j] > 1e-12) {
			s.Std[j] = 1
		}
	}
	return s
}

// forward standardizes rows into a flat float32 [len(rows), dim] slice.
func (s Standardizer) forward(rows [][]float64) []float32 {
	d := len(s.Mean)
	out := make([]float32, len(rows)*d)
	for i, row := range rows {
		for j, v := range row {
			out[i*d+j] = float32((v - s.Mean[j]) / s.Std[j])
		}
	}
	return out
}

// logScale is Σ log Std, the log-density offset between standardized and original coordinates.
func (s Standardizer) logScale() float64 {
	sum := 0.0
	for _, v := range s.Std {
		sum += math.Log(v)
	}
	return sum
}

// checkPairs validates training pairs: as many parameter rows as observation rows, each of its
// dimension, all finite, and enough of them to hold out a validation set.
func checkPairs(x, y [][]float64) (dimX, dimY int, err error) {
	if len(x) != len(y) {
		return 0, 0, fmt.Errorf("sbikit: %d parameter rows but %d observation rows; pass one x per simulated y", len(x), len(y))
	}
	if len(x) < minPairs {
		return 0, 0, fmt.Errorf("sbikit: %d simulations are too few to train and validate on; simulate at least %d", len(x), minPairs)
	}
	dimX, dimY = len(x[0]), len(y[0])
	if dimX == 0 || dimY == 0 {
		return 0, 0, fmt.Errorf("sbikit: empty rows (x has %d columns, y %d)", dimX, dimY)
	}
	for i := range x {
		if len(x[i]) != dimX || len(y[i]) != dimY {
			return 0, 0, fmt.Errorf("sbikit: row %d has %d parameters and %d observations, row 0 has %d and %d",
				i, len(x[i]), len(y[i]), dimX, dimY)
		}
		if !tasks.Finite(x[i]) || !tasks.Finite(y[i]) {
			return 0, 0, fmt.Errorf("sbikit: row %d has a NaN or Inf value; drop failed simulations first (datasets.Simulate does)", i)
		}
	}
	return dimX, dimY, nil
}

// minPairs is the fewest simulations an estimator accepts: 10% of them must make a validation set.
const minPairs = 20

// fingerprint identifies a training set, so that a checkpoint is only resumed on the data it was
// trained on.
func fingerprint(x, y [][]float64) string {
	h := fnv.New64a()
	var buf [8]byte
	for _, rows := range [][][]float64{x, y} {
		for _, r := range rows {
			for _, v := range r {
				b := math.Float64bits(v)
				for k := range buf {
					buf[k] = byte(b >> (8 * k))
				}
				h.Write(buf[:])
			}
		}
	}
	return fmt.Sprintf("%016x", h.Sum64())
}
