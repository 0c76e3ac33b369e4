package linalg

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSolve solves random systems, one with a zero leading entry that needs pivoting, and checks
// the residual a x − b.
func TestSolve(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 3, 20} {
		a := make([][]float64, n)
		b := make([]float64, n)
		for i := range a {
			a[i] = make([]float64, n)
			for j := range a[i] {
				a[i][j] = r.NormFloat64()
			}
			b[i] = r.NormFloat64()
		}
		if n > 1 {
			a[0][0] = 0
		}
		x := Solve(a, b)
		for i := range a {
			s := -b[i]
			for j := range a[i] {
				s += a[i][j] * x[j]
			}
			if math.Abs(s) > 1e-10 {
				t.Fatalf("n = %d: residual %g in row %d", n, s, i)
			}
		}
	}
}
