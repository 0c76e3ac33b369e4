package tasks

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBinomial compares binomial draws with the exact pmf by a χ² statistic over cells of
// expected count ≥ 20, and their mean and variance with np and np(1−p).
func TestBinomial(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const draws = 50_000
	for _, c := range []struct {
		n int
		p float64
	}{{1000, 0.3}, {1000, 0.93}, {1000, 2e-3}, {1000, 1e-7}, {10, 0.5}, {1, 0.2}} {
		counts := make([]float64, c.n+1)
		for range draws {
			counts[binomial(rng, c.n, c.p)]++
		}
		pmf := func(k int) float64 {
			lg := func(v int) float64 { l, _ := math.Lgamma(float64(v + 1)); return l }
			return math.Exp(lg(c.n) - lg(k) - lg(c.n-k) + float64(k)*math.Log(c.p) + float64(c.n-k)*math.Log1p(-c.p))
		}
		// Pool neighbouring k into cells of expected count ≥ 20; a short last cell joins the one before.
		var cellObs, cellExp []float64
		mean, m2 := 0.0, 0.0
		for k := 0; k <= c.n; k++ {
			if len(cellExp) == 0 || cellExp[len(cellExp)-1] >= 20 {
				cellObs, cellExp = append(cellObs, 0), append(cellExp, 0)
			}
			cellObs[len(cellObs)-1] += counts[k]
			cellExp[len(cellExp)-1] += draws * pmf(k)
			mean += float64(k) * counts[k] / draws
			m2 += float64(k*k) * counts[k] / draws
		}
		if last := len(cellExp) - 1; last > 0 && cellExp[last] < 20 {
			cellObs[last-1] += cellObs[last]
			cellExp[last-1] += cellExp[last]
			cellObs, cellExp = cellObs[:last], cellExp[:last]
		}
		chi2, dof := 0.0, len(cellExp)-1
		for i := range cellExp {
			chi2 += (cellObs[i] - cellExp[i]) * (cellObs[i] - cellExp[i]) / cellExp[i]
		}
		// χ² with dof degrees of freedom: mean dof, std √(2 dof); allow 5 std.
		if dof > 0 && chi2 > float64(dof)+5*math.Sqrt(2*float64(dof)) {
			t.Errorf("Binomial(%d, %g): χ² = %.1f with %d degrees of freedom", c.n, c.p, chi2, dof)
		}
		np, npq := float64(c.n)*c.p, float64(c.n)*c.p*(1-c.p)
		varOK := np*draws < 1000 || math.Abs((m2-mean*mean)-npq) < 0.05*npq // too few events to judge
		if math.Abs(mean-np) > 5*math.Sqrt(npq/draws) || !varOK {
			t.Errorf("Binomial(%d, %g): mean %.4f var %.4f, want %.4f, %.4f", c.n, c.p, mean, m2-mean*mean, np, npq)
		}
	}
	if binomial(rng, 1000, 0) != 0 || binomial(rng, 1000, 1) != 1000 || binomial(rng, 1000, math.NaN()) != 0 {
		t.Error("edge cases p = 0, 1, NaN")
	}
}

// TestTruncatedNormal compares draws with the exact mean and variance of N(0,1) on [a, b]:
// with Z = Φ(b) − Φ(a), mean = (φ(a) − φ(b))/Z, var = 1 + (aφ(a) − bφ(b))/Z − mean²,
// on intervals that exercise each proposal (around 0, narrow, wide and far tails, mirrored).
func TestTruncatedNormal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	phi := func(z float64) float64 {
		if math.IsInf(z, 0) {
			return 0
		}
		return math.Exp(-0.5*z*z) / math.Sqrt(2*math.Pi)
	}
	zphi := func(z float64) float64 {
		if math.IsInf(z, 0) {
			return 0
		}
		return z * phi(z)
	}
	inf := math.Inf(1)
	for _, iv := range [][2]float64{{-inf, inf}, {-1, 2}, {-0.3, 0.2}, {0.5, 0.9}, {2, inf}, {8, 8.5},
		{30, inf}, {3, 5}, {-inf, -4}, {-12, -11.9}, {0, 0.01}, {-2, 0}} {
		a, b := iv[0], iv[1]
		z := math.Exp(logNormalMass(a, b))
		mean := (phi(a) - phi(b)) / z
		vr := 1 + (zphi(a)-zphi(b))/z - mean*mean
		const n = 40_000
		v := make([]float64, n)
		for i := range v {
			v[i] = truncatedNormal(rng, a, b)
			if v[i] < a || v[i] > b {
				t.Fatalf("[%v, %v]: draw %v outside", a, b, v[i])
			}
		}
		m, s := meanStd(v)
		if !(math.Abs(m-mean) < 5*math.Sqrt(vr/n) && math.Abs(s*s/vr-1) < 0.05) {
			t.Errorf("[%v, %v]: mean %.5f var %.6f, want %.5f, %.6f", a, b, m, s*s, mean, vr)
		}
	}
	// Beyond a = 10⁶, where φ(a) underflows: a·(z − a) is Exp(1) (mean 1, std 1).
	for _, a := range []float64{2e6, -3e7} {
		v := make([]float64, 10_000)
		for i := range v {
			if a > 0 {
				v[i] = a * (truncatedNormal(rng, a, inf) - a)
			} else {
				v[i] = a * (truncatedNormal(rng, -inf, a) - a)
			}
		}
		if m, s := meanStd(v); !(math.Abs(m-1) < 0.05 && math.Abs(s-1) < 0.05) {
			t.Errorf("a = %v: a·(z − a) has mean %.4f std %.4f, want 1, 1", a, m, s)
		}
	}
}

func TestLogNormalMass(t *testing.T) {
	for _, c := range []struct{ a, b, want float64 }{
		{-1, 1, math.Log(math.Erf(1 / math.Sqrt2))},
		{0, math.Inf(1), math.Log(0.5)},
		{math.Inf(-1), -3, math.Log(0.5 * math.Erfc(3/math.Sqrt2))},
		{40, math.Inf(1), logUpperTail(40)}, // Q(40) ≈ 3.7e-350 underflows float64
		{50, 51, logUpperTail(50) + math.Log1p(-math.Exp(logUpperTail(51)-logUpperTail(50)))},
	} {
		if got := logNormalMass(c.a, c.b); math.Abs(got-c.want) > 1e-9*math.Abs(c.want) {
			t.Errorf("logNormalMass(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
	// The asymptotic series agrees with the direct formula where both work.
	if d := logUpperTail(30) - math.Log(0.5*math.Erfc(30/math.Sqrt2)); math.Abs(d) > 1e-6 {
		t.Errorf("logUpperTail(30) off by %v", d)
	}
}
