package prior

import (
	"math"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/physics/grid"
	"github.com/probinv/probinv/sbikit/tasks"
)

var _ tasks.Prior = GRF{}

func TestGRFCheck(t *testing.T) {
	ok := GRF{Grid: grid.New2D(8, 8, 1, 1, grid.Periodic), Exponent: 4, Scale: 1}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	bad := []GRF{
		{Grid: grid.New1D(2, 1, grid.Periodic), Exponent: 4, Scale: 1},
		{Grid: grid.New1D(300, 1, grid.Periodic), Exponent: 4, Scale: 1},
		{Grid: grid.New1D(8, 1, "wrap"), Exponent: 4, Scale: 1},
		{Grid: ok.Grid, Exponent: -4, Scale: 1},
		{Grid: ok.Grid, Exponent: math.NaN(), Scale: 1},
		{Grid: ok.Grid, Exponent: 4, Scale: 0},
		{Grid: ok.Grid, Exponent: 4, Scale: math.Inf(1)},
		{Grid: ok.Grid, Exponent: 4, K0: -1, Scale: 1},
	}
	for _, p := range bad {
		if err := p.Check(); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
}

// TestGRFSpectrum draws many fields and compares the empirical variance of every mode's coefficient
// with λ_k, and the log-log slope of the spectrum with −α. The periodic field is stationary: every
// cell's variance is Scale².
func TestGRFSpectrum(t *testing.T) {
	const draws = 2000
	for _, p := range []GRF{
		{Grid: grid.New2D(32, 32, 1, 1, grid.Periodic), Exponent: 4, Scale: 0.7}, // Holzschuh et al.
		{Grid: grid.New1D(32, 2, grid.Neumann), Exponent: 3, K0: 2, Scale: 1},
		{Grid: grid.New1D(32, 2, grid.Dirichlet), Exponent: 2, K0: 1, Scale: 2},
	} {
		s := p.must()
		v := make([]float64, len(s.variance))
		for _, u := range p.Sample(draws, 1) {
			for k, c := range s.transform(u, true) {
				v[k] += c * c / draws
			}
		}
		worst := 0.0 // in standard errors, √(2/draws) relative
		var lx, ly []float64
		for k, want := range s.variance {
			if want == 0 {
				if v[k] > 1e-24 {
					t.Errorf("%v: mode %d has no variance but drew %g", p.Grid, k, v[k])
				}
				continue
			}
			worst = max(worst, math.Abs(v[k]/want-1)/math.Sqrt(2.0/draws))
			lx, ly = append(lx, math.Log(p.K0*p.K0+k2(s, k))/2), append(ly, math.Log(v[k]))
		}
		slope := fit(lx, ly)
		t.Logf("%s %v α=%g K0=%g: worst mode off by %.2f standard errors; slope in (K0²+|k|²)^½: %.3f", p.Grid.BC, p.Grid.N, p.Exponent, p.K0, worst, slope)
		if worst > 5 {
			t.Errorf("%v: a mode's variance is %.1f standard errors off", p.Grid, worst)
		}
		if math.Abs(slope+p.Exponent) > 0.1 {
			t.Errorf("%v: spectral slope %.3f, want %g", p.Grid, slope, -p.Exponent)
		}
		if p.Grid.BC == grid.Periodic { // diag C = Σ_k Q_ik² λ_k, the same in every cell
			c := make([]float64, len(s.variance))
			for i := range c {
				e := make([]float64, len(c))
				e[i] = 1
				for k, q := range s.transform(e, true) {
					c[i] += q * q * s.variance[k]
				}
				if math.Abs(c[i]-p.Scale*p.Scale) > 1e-10 {
					t.Fatalf("cell %d has variance %g, want %g", i, c[i], p.Scale*p.Scale)
				}
			}
		}
	}
}

// k2 is |k|² of mode k.
func k2(s spectrum, k int) float64 {
	sum := 0.0
	for a := len(s.dims) - 1; a >= 0; a-- {
		kk := s.bases[a].K[k%s.dims[a]]
		sum += kk * kk
		k /= s.dims[a]
	}
	return sum
}

// fit is the least-squares slope of y on x.
func fit(x, y []float64) float64 {
	var mx, my, sxy, sxx float64
	for i := range x {
		mx, my = mx+x[i]/float64(len(x)), my+y[i]/float64(len(x))
	}
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	return sxy / sxx
}

func TestGRFDeterminism(t *testing.T) {
	p := GRF{Grid: grid.New2D(4, 6, 1, 1.5, grid.Periodic), Exponent: 4, Scale: 1}
	a, b, c := p.Sample(5, 7), p.Sample(3, 7), p.Sample(3, 8)
	for i := range b {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("row %d depends on the number of rows", i)
		}
		if slices.Equal(b[i], c[i]) {
			t.Fatalf("row %d is the same for seeds 7 and 8", i)
		}
	}
}

// TestGRFScore compares Score with central differences of log p_σ, with and without noise, with a
// mean mode of no variance and without.
func TestGRFScore(t *testing.T) {
	backend := testbackend.Get(t)
	for _, p := range []GRF{
		{Grid: grid.New2D(4, 6, 1, 1.5, grid.Periodic), Exponent: 4, Scale: 1},
		{Grid: grid.New2D(5, 3, 1, 1, grid.Dirichlet), Exponent: 2, K0: 1, Scale: 0.5},
		{Grid: grid.New1D(7, 1, grid.Neumann), Exponent: 1, Scale: 1},
	} {
		u := p.Sample(2, 3)
		for _, sigma := range []float64{0, 0.3} {
			got := MustExecOnce(backend, func(u, sigma *Node) *Node { return p.Score(nil, u, sigma, nil) },
				u, []float64{sigma, sigma}).Value().([][]float64)
			const h = 1e-5
			worst, size := 0.0, 0.0
			for b := range u {
				for j := range u[b] {
					plus, minus := slices.Clone(u[b]), slices.Clone(u[b])
					plus[j] += h
					minus[j] -= h
					want := (p.logProb(plus, sigma) - p.logProb(minus, sigma)) / (2 * h)
					worst, size = max(worst, math.Abs(got[b][j]-want)), max(size, math.Abs(want))
				}
			}
			t.Logf("%s σ=%g: |score − finite differences| = %.2g of %.3g", p.Grid.BC, sigma, worst, size)
			if worst > 1e-5*size {
				t.Errorf("%s σ=%g: score off by %.2g (max %.3g)", p.Grid.BC, sigma, worst, size)
			}
		}
	}
}

// TestGRFVariances checks the exported spectrum: the bases are those of spectral.New on the grid's
// axes, and the variances follow c·(K0² + |k|²)^(−α/2) with trace Scale²·cells (0 for the mean mode
// when K0 = 0).
func TestGRFVariances(t *testing.T) {
	for _, p := range []GRF{
		{Grid: grid.New2D(4, 6, 1, 1.5, grid.Periodic), Exponent: 4, Scale: 1},
		{Grid: grid.New2D(5, 3, 1, 1, grid.Dirichlet), Exponent: 2, K0: 1, Scale: 0.5},
	} {
		s, bases, lambda := p.must(), p.Bases(), p.Variances()
		for a, b := range bases {
			if b.N != p.Grid.N[a] || b.L != p.Grid.L[a] || b.BC != p.Grid.BC {
				t.Errorf("%v: basis %d is of %d cells over %g with %q", p.Grid, a, b.N, b.L, b.BC)
			}
		}
		total, c := 0.0, 0.0
		for k, v := range lambda {
			total += v
			q := p.K0*p.K0 + k2(s, k)
			if q == 0 {
				if v != 0 {
					t.Errorf("%v: the mean mode has variance %g, want 0", p.Grid, v)
				}
				continue
			}
			if c == 0 {
				c = v * math.Pow(q, p.Exponent/2)
			}
			if want := c * math.Pow(q, -p.Exponent/2); math.Abs(v-want) > 1e-12*want {
				t.Errorf("%v: λ of mode %d = %g, want %g", p.Grid, k, v, want)
			}
		}
		if want := p.Scale * p.Scale * float64(p.Grid.Cells()); math.Abs(total-want) > 1e-12*want {
			t.Errorf("%v: trace %g, want Scale²·cells = %g", p.Grid, total, want)
		}
	}
}
