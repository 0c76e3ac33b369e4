package pde

import (
	"math"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/probinv/probinv/internal/linalg"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/physics/prior"
	"github.com/probinv/probinv/physics/spectral"
)

// smallHeat is heat2d on 4 × 6 cells, with the default power law (no mean mode) and a diffusion that
// damps the finest modes by e^−4.6: small enough for dense matrices.
func smallHeat() Heat2D {
	return Heat2D{
		Field: prior.GRF{Grid: grid.New2D(4, 6, 1, 1.5, grid.Periodic), Exponent: 4, Scale: 1},
		Nu:    0.05, T: 0.2, Sigma: 0.3,
	}
}

// densePosterior is the posterior of the linear-Gaussian model y = A u₀ + N(0, σ²I), u₀ ~ N(0, C),
// from the full matrices: with the gain K = C Aᵀ S⁻¹, S = A C Aᵀ + σ²I, the mean K y and the
// covariance C − K A C. This form needs no C⁻¹, which does not exist when the mean mode has no
// variance.
func densePosterior(a, c [][]float64, sigma float64, y []float64) (mean []float64, cov [][]float64) {
	ca := mul(c, transpose(a))
	s := mul(a, ca)
	for i := range s {
		s[i][i] += sigma * sigma
	}
	// S is symmetric, so row i of K = C Aᵀ S⁻¹ solves S kᵢ = row i of C Aᵀ.
	k := make([][]float64, len(ca))
	for i, row := range ca {
		k[i] = linalg.Solve(s, row)
	}
	mean = make([]float64, len(y))
	for i := range mean {
		for j := range y {
			mean[i] += k[i][j] * y[j]
		}
	}
	kac := mul(k, mul(a, c))
	cov = make([][]float64, len(y))
	for i := range cov {
		cov[i] = make([]float64, len(y))
		for j := range cov[i] {
			cov[i][j] = c[i][j] - kac[i][j]
		}
	}
	return mean, cov
}

func mul(a, b [][]float64) [][]float64 {
	out := make([][]float64, len(a))
	for i := range out {
		out[i] = make([]float64, len(b[0]))
		for k := range b {
			for j := range out[i] {
				out[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return out
}

func transpose(a [][]float64) [][]float64 {
	out := make([][]float64, len(a[0]))
	for i := range out {
		out[i] = make([]float64, len(a))
		for j := range a {
			out[i][j] = a[j][i]
		}
	}
	return out
}

// TestHeat2DPosterior compares the per-mode posterior with the dense linear-Gaussian one: A is the
// task's own forward model (Forward, float64) applied to the unit fields, C = Q diag(λ) Qᵀ the
// prior's covariance. Means and covariances agree to 1e-8; then 20 000 samples have that mean and
// covariance within 5 standard errors, and the draws are seeded.
func TestHeat2DPosterior(t *testing.T) {
	b := testbackend.Get(t)
	task := smallHeat()
	n := task.DimX()
	eye := make([][]float64, n)
	for i := range eye {
		eye[i] = make([]float64, n)
		eye[i][i] = 1
	}
	// Row j of Forward(I) is A e_j, column j of A.
	a := transpose(MustExecOnce(b, func(x *Node) *Node { return Forward(task, x) }, eye).Value().([][]float64))
	bases, lambda := task.Field.Bases(), task.Field.Variances()
	inv := [][][]float64{bases[0].Inverse(), bases[1].Inverse()}
	q := make([][]float64, n) // q[k] is mode k as a field
	for k := range q {
		q[k] = spectral.Transform(eye[k], inv...)
	}
	outer := func(w []float64) [][]float64 { // Σ_k w_k q_k q_kᵀ
		m := make([][]float64, n)
		for i := range m {
			m[i] = make([]float64, n)
			for j := range m[i] {
				for k := range q {
					m[i][j] += w[k] * q[k][i] * q[k][j]
				}
			}
		}
		return m
	}
	if lambda[0] != 0 {
		t.Fatalf("the default power law should leave the mean mode without variance, λ₀ = %g", lambda[0])
	}

	y := task.Simulate(task.Field.Sample(1, 5), 6)[0]
	wantMean, wantCov := densePosterior(a, outer(lambda), task.Sigma, y)
	mean, err := task.PosteriorMean(y)
	if err != nil {
		t.Fatal(err)
	}
	m, err := task.posterior()
	if err != nil {
		t.Fatal(err)
	}
	variance := make([]float64, n)
	for k, s := range m.sd {
		variance[k] = s * s
	}
	cov := outer(variance)
	worst := 0.0
	for i := range n {
		worst = max(worst, math.Abs(mean[i]-wantMean[i]))
		for j := range n {
			worst = max(worst, math.Abs(cov[i][j]-wantCov[i][j]))
		}
	}
	t.Logf("per-mode vs dense posterior: max difference %.2g in mean and covariance", worst)
	if worst > 1e-8 {
		t.Fatalf("per-mode posterior differs from the dense one by %.3g, want ≤ 1e-8", worst)
	}

	const draws = 20_000
	x, err := task.SamplePosterior(y, draws, 7)
	if err != nil {
		t.Fatal(err)
	}
	sampleMean := make([]float64, n)
	for _, row := range x {
		for i, v := range row {
			sampleMean[i] += v / draws
		}
	}
	for i := range n {
		if se := math.Sqrt(wantCov[i][i] / draws); math.Abs(sampleMean[i]-wantMean[i]) > 5*se+1e-12 {
			t.Errorf("sample mean of cell %d = %g, want %g ± %.2g", i, sampleMean[i], wantMean[i], 5*se)
		}
		for j := range n {
			s := 0.0
			for _, row := range x {
				s += (row[i] - wantMean[i]) * (row[j] - wantMean[j])
			}
			s /= draws
			se := math.Sqrt((wantCov[i][i]*wantCov[j][j] + wantCov[i][j]*wantCov[i][j]) / draws)
			if math.Abs(s-wantCov[i][j]) > 5*se+1e-12 {
				t.Errorf("sample covariance [%d][%d] = %g, want %g ± %.2g", i, j, s, wantCov[i][j], 5*se)
			}
		}
	}

	again, _ := task.SamplePosterior(y, 3, 7)
	other, _ := task.SamplePosterior(y, 3, 8)
	for i := range again {
		if !slices.Equal(again[i], x[i]) {
			t.Errorf("row %d depends on the number of rows or differs between runs", i)
		}
		if slices.Equal(again[i], other[i]) {
			t.Errorf("row %d is the same for seeds 7 and 8", i)
		}
	}
}

// TestHeat2DPosteriorErrors checks the errors of bad observations and settings.
func TestHeat2DPosteriorErrors(t *testing.T) {
	task := smallHeat()
	y := make([]float64, task.DimY())
	for _, c := range []struct {
		task Heat2D
		y    []float64
		n    int
		want string
	}{
		{task, y[:5], 1, "DimY"},
		{task, append(slices.Clone(y[1:]), math.NaN()), 1, "finite"},
		{task, y, -1, "n must be ≥ 0"},
		{Heat2D{Field: task.Field, Nu: task.Nu, T: task.T}, y, 1, "Sigma > 0"},
		{Heat2D{Field: prior.GRF{Grid: task.Field.Grid, Exponent: -4, Scale: 1}, Nu: task.Nu, T: task.T, Sigma: 1}, y, 1, "exponent"},
	} {
		if _, err := c.task.SamplePosterior(c.y, c.n, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("SamplePosterior: got %v, want an error about %q", err, c.want)
		}
	}
}
