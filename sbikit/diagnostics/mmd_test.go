package diagnostics

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// gaussianMMD2 is the population MMD² between N(0, s1²I) and N(Δ, s2²I) in dim
// dimensions under k(x,y) = exp(−‖x−y‖²/(2σ²)). It follows from
// E exp(−‖Z‖²/(2σ²)) = (σ²/(σ²+v))^{dim/2} exp(−‖μ‖²/(2(σ²+v))) for Z ~ N(μ, vI),
// applied to the differences X−X′, Y−Y′ and X−Y.
func gaussianMMD2(sigma, s1, s2, delta2 float64, dim int) float64 {
	e := func(v, mu2 float64) float64 {
		s2 := sigma * sigma
		return math.Pow(s2/(s2+v), float64(dim)/2) * math.Exp(-mu2/(2*(s2+v)))
	}
	return e(2*s1*s1, 0) + e(2*s2*s2, 0) - 2*e(s1*s1+s2*s2, delta2)
}

func TestMMDMatchesClosedForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 1))
	// At n = 4000 the estimate's standard deviation is ≤ 0.0045 for these cases
	// (measured over 20 repetitions), so 0.015 is over 3 standard deviations.
	const n, dim = 4000, 2
	for _, c := range []struct{ shift, scale float64 }{{0, 1}, {0.5, 1}, {1, 1}, {0, 1.5}} {
		a := gaussian(rng, n, dim, 0, 1)
		b := gaussian(rng, n, dim, c.shift, c.scale)
		got, err := MMD(a, b, WithBandwidth(1))
		if err != nil {
			t.Fatal(err)
		}
		want := gaussianMMD2(1, 1, c.scale, dim*c.shift*c.shift, dim)
		t.Logf("shift %g scale %g: MMD² %.5f, closed form %.5f", c.shift, c.scale, got, want)
		if math.Abs(got-want) > 0.015 {
			t.Errorf("shift %g scale %g: MMD² = %.5f, closed form %.5f", c.shift, c.scale, got, want)
		}
	}
}

func TestMMDGrowsWithShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	a := gaussian(rng, 1000, 3, 0, 1)
	same, err := MMD(a, gaussian(rng, 1000, 3, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(same) > 0.003 {
		t.Errorf("MMD² of one distribution = %.5f, want ≈ 0", same)
	}
	// Fix the bandwidth so that every shift is measured with the same kernel.
	sigma, err := MedianDistance(a, 1)
	if err != nil {
		t.Fatal(err)
	}
	prev := same
	for _, d := range []float64{0.25, 0.5, 1, 2} {
		got, err := MMD(a, shifted(gaussian(rng, 1000, 3, 0, 1), d), WithBandwidth(sigma))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("shift %g: MMD² %.5f", d, got)
		if got <= prev {
			t.Errorf("MMD² at shift %g = %.5f, not above %.5f at the smaller shift", d, got, prev)
		}
		prev = got
	}
}

// For N(0,1) the distance |X−X′| is half-normal with scale √2, whose median is
// √2 · Φ⁻¹(3/4) ≈ 0.9539.
func TestMedianDistanceOfGaussian(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	got, err := MedianDistance(gaussian(rng, 5000, 1, 0, 1), 1)
	if err != nil {
		t.Fatal(err)
	}
	want := math.Sqrt2 * 0.6744897501960817
	if math.Abs(got-want) > 0.03 {
		t.Errorf("median distance = %.4f, want %.4f", got, want)
	}
}

func TestMMDIsDeterministicAcrossWorkers(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 1))
	a, b := gaussian(rng, 700, 2, 0, 1), gaussian(rng, 500, 2, 0.3, 1)
	one, err := MMD(a, b, WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	three, _ := MMD(a, b, WithWorkers(3))
	if one != three {
		t.Errorf("MMD² with 1 and 3 workers: %v and %v", one, three)
	}
	sub, _ := MMD(a, b, WithMaxSamples(300))
	if math.Abs(sub-one) > 0.02 {
		t.Errorf("MMD² on 300-row subsets = %.4f, far from %.4f on all rows", sub, one)
	}
}

func TestMMDRejectsBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 1))
	good := gaussian(rng, 10, 2, 0, 1)
	inf := gaussian(rng, 10, 2, 0, 1)
	inf[2][0] = math.Inf(1)
	cases := []struct {
		name string
		a, b [][]float64
		opts []Option
		want string
	}{
		{"one row", good[:1], good, nil, "at least 2 rows"},
		{"dims", good, gaussian(rng, 10, 1, 0, 1), nil, "dimensions"},
		{"inf", inf, good, nil, "+Inf"},
		{"bandwidth", good, good, []Option{WithBandwidth(-1)}, "bandwidth"},
		{"coincident", [][]float64{{1}, {1}, {1}}, [][]float64{{1}, {1}}, nil, "WithBandwidth"},
	}
	for _, c := range cases {
		_, err := MMD(c.a, c.b, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

func BenchmarkMMD10k2D(b *testing.B) {
	rng := rand.New(rand.NewPCG(6, 1))
	x, y := gaussian(rng, 10000, 2, 0, 1), shifted(gaussian(rng, 10000, 2, 0, 1), 1)
	for b.Loop() {
		if _, err := MMD(x, y); err != nil {
			b.Fatal(err)
		}
	}
}
