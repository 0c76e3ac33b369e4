package tasks

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// TestGaussianLinearPosterior: p(x|y) = N(y/2, 0.05·I).
func TestGaussianLinearPosterior(t *testing.T) {
	task := gaussianLinear{}
	y := task.Simulate(task.Prior().Sample(1, 1), 2)[0]
	const n = 20_000
	x, err := task.SamplePosterior(y, n, 3)
	if err != nil {
		t.Fatal(err)
	}
	_, cov := meanCovariance(x)
	for j := range 10 {
		mean, std := meanStd(column(x, j))
		if math.Abs(mean-y[j]/2) > 5*math.Sqrt(0.05/n) || math.Abs(std*std/0.05-1) > 0.04 {
			t.Errorf("dim %d: mean %.4f var %.4f, want %.4f, 0.05", j, mean, std*std, y[j]/2)
		}
		for l := range j {
			if math.Abs(cov[j][l]) > 5*0.05/math.Sqrt(n) {
				t.Errorf("cov[%d][%d] = %.4f, want 0", j, l, cov[j][l])
			}
		}
	}
}

// TestGaussianLinearUniformPosterior: per dimension, N(y_j, 0.1) truncated to [−1, 1], with
// the exact truncated-normal mean and variance (see TestTruncatedNormal), for y inside, near
// and beyond the edges of the box.
func TestGaussianLinearUniformPosterior(t *testing.T) {
	task := gaussianLinear{uniform: true}
	y := []float64{0, 0.5, -0.95, 1.2, -1.6, 2.5, 0.99, -0.3, 4, -7}
	const n = 20_000
	x, err := task.SamplePosterior(y, n, 4)
	if err != nil {
		t.Fatal(err)
	}
	sd := math.Sqrt(0.1)
	phi := func(z float64) float64 { return math.Exp(-0.5*z*z) / math.Sqrt(2*math.Pi) }
	for j, yj := range y {
		a, b := (-1-yj)/sd, (1-yj)/sd
		z := math.Exp(logNormalMass(a, b))
		m := (phi(a) - phi(b)) / z
		wantMean := yj + sd*m
		wantVar := sd * sd * (1 + (a*phi(a)-b*phi(b))/z - m*m)
		c := column(x, j)
		if slices.Min(c) < -1 || slices.Max(c) > 1 {
			t.Fatalf("dim %d: sample outside [−1, 1]", j)
		}
		mean, std := meanStd(c)
		if math.Abs(mean-wantMean) > 5*math.Sqrt(wantVar/n) || math.Abs(std*std/wantVar-1) > 0.05 {
			t.Errorf("y=%v: mean %.4f var %.5f, want %.4f, %.5f", yj, mean, std*std, wantMean, wantVar)
		}
	}
}

// TestGaussianMixturePosterior compares with sbibm's own construction — draw a component,
// then x ~ N(y, σ²I), rejecting draws outside the box — near a corner of the box, where the
// truncation changes the component weights, and in the middle.
func TestGaussianMixturePosterior(t *testing.T) {
	task := gaussianMixture{}
	for _, y := range [][]float64{{9.7, -9.9}, {1.5, -3}} {
		x, err := task.SamplePosterior(y, 10_000, 5)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(6, 7))
		var ref [][]float64
		for len(ref) < 10_000 {
			sd := gmStd[rng.IntN(2)]
			r := []float64{y[0] + sd*rng.NormFloat64(), y[1] + sd*rng.NormFloat64()}
			if math.Abs(r[0]) <= 10 && math.Abs(r[1]) <= 10 {
				ref = append(ref, r)
			}
		}
		if d, crit := slicedKS(x, ref, 10, 1), 1.3*ksCritical(10_000, 10_000); d > crit {
			t.Errorf("y=%v: sliced KS %.4f > %.4f against rejection sampling", y, d, crit)
		}
	}
}

// twoMoonsLogLik is log p(y|x) = log p_p(y − g(x)): the point p = (0.25 + r cos a, r sin a)
// has density N(r; 0.1, 0.01²)·(1/π)/r in the plane (polar change of variables), for
// a ∈ (−π/2, π/2).
func twoMoonsLogLik(x, y []float64) float64 {
	u := y[0] + math.Abs(x[0]+x[1])/math.Sqrt2 - moonOffset
	v := y[1] - (x[1]-x[0])/math.Sqrt2
	if u <= 0 {
		return math.Inf(-1)
	}
	r := math.Hypot(u, v)
	return logNormalPDF(r, moonRadius, moonWidth) - math.Log(math.Pi) - math.Log(r)
}

// TestTwoMoonsPosterior compares the exact sampler with self-normalised importance sampling
// from the prior, weighted by the likelihood: posterior means, stds and the weight of the
// crescent with x₁ + x₂ > 0. The y values include one close to the fold (y₁ near 0.25).
func TestTwoMoonsPosterior(t *testing.T) {
	task := twoMoons{}
	prior := task.Prior().Sample(1_000_000, 8)
	for _, y := range [][]float64{{-0.64, 0.16}, {0.2, -0.05}, {0.0, 0.9}} {
		x, err := task.SamplePosterior(y, 20_000, 9)
		if err != nil {
			t.Fatal(err)
		}
		var sw, sw2 float64
		var m, m2 [2]float64
		var pos float64
		for _, p := range prior {
			w := math.Exp(twoMoonsLogLik(p, y))
			sw += w
			sw2 += w * w
			for j := range 2 {
				m[j] += w * p[j]
				m2[j] += w * p[j] * p[j]
			}
			if p[0]+p[1] > 0 {
				pos += w
			}
		}
		ess := sw * sw / sw2
		samplePos := 0.0
		for _, r := range x {
			if r[0]+r[1] > 0 {
				samplePos++
			}
		}
		samplePos /= float64(len(x))
		if math.Abs(samplePos-pos/sw) > 5*math.Sqrt(0.25/ess) {
			t.Errorf("y=%v: P(x₁+x₂ > 0) = %.4f, importance sampling says %.4f (ESS %.0f)", y, samplePos, pos/sw, ess)
		}
		for j := range 2 {
			mean, std := meanStd(column(x, j))
			isMean := m[j] / sw
			isStd := math.Sqrt(m2[j]/sw - isMean*isMean)
			if math.Abs(mean-isMean) > 5*isStd/math.Sqrt(ess) || math.Abs(std/isStd-1) > 0.05 {
				t.Errorf("y=%v dim %d: mean %.4f std %.4f, importance sampling %.4f, %.4f (ESS %.0f)",
					y, j, mean, std, isMean, isStd, ess)
			}
		}
	}
}

// TestSLCPPosterior checks the MCMC sampler against importance sampling with the exact
// likelihood. The proposal is a wide Student t fitted to the MCMC output on the folded
// coordinates (x₁, x₂, |x₃|, |x₄|, x₅); self-normalised importance sampling is consistent for
// any proposal that covers the target, so a sampler error cannot hide behind it.
func TestSLCPPosterior(t *testing.T) {
	task := slcp{}
	y := task.Simulate([][]float64{{-0.7, 1.1, 1.2, -0.6, -0.9}}, 10)[0]
	x, err := task.SamplePosterior(y, 10_000, 11)
	if err != nil {
		t.Fatal(err)
	}
	folded := make([][]float64, len(x))
	signs := [2][2]float64{}
	for i, r := range x {
		folded[i] = []float64{r[0], r[1], math.Abs(r[2]), math.Abs(r[3]), r[4]}
		signs[boolIndex(r[2] > 0)][boolIndex(r[3] > 0)] += 1 / float64(len(x))
	}
	for _, row := range signs { // the four mirror modes weigh ¼ each
		for _, p := range row {
			if math.Abs(p-0.25) > 0.025 {
				t.Errorf("sign quadrant weights %v, want ¼ each", signs)
			}
		}
	}
	q := newFit(folded).studentT()
	data := newSLCPData(y)
	rng := rand.New(rand.NewPCG(12, 13))
	z, p := make([]float64, 5), make([]float64, 5)
	var sw, sw2 float64
	var m, m2 [5]float64
	for range 400_000 {
		q.sample(rng, z, p)
		if !(math.Abs(p[0]) <= 3 && math.Abs(p[1]) <= 3 && p[2] >= 0 && p[2] <= 3 && p[3] >= 0 && p[3] <= 3 && math.Abs(p[4]) <= 3) {
			continue
		}
		w := math.Exp(data.logLik(p) - q.logDensity(p, z))
		sw += w
		sw2 += w * w
		for j := range 5 {
			m[j] += w * p[j]
			m2[j] += w * p[j] * p[j]
		}
	}
	ess := sw * sw / sw2
	for j := range 5 {
		mean, std := meanStd(column(folded, j))
		isMean := m[j] / sw
		isStd := math.Sqrt(m2[j]/sw - isMean*isMean)
		t.Logf("dim %d: MCMC %.4f ± %.4f, importance sampling %.4f ± %.4f", j, mean, std, isMean, isStd)
		if math.Abs(mean-isMean) > 0.05*isStd || math.Abs(std/isStd-1) > 0.08 {
			t.Errorf("dim %d: MCMC mean %.4f std %.4f, importance sampling %.4f, %.4f (ESS %.0f)",
				j, mean, std, isMean, isStd, ess)
		}
	}
	// Deterministic, also on one goroutine.
	again, _ := task.SamplePosterior(y, 300, 11)
	prev := runtime.GOMAXPROCS(1)
	serial, _ := task.SamplePosterior(y, 300, 11)
	runtime.GOMAXPROCS(prev)
	for i := range again {
		if !slices.Equal(again[i], serial[i]) {
			t.Fatalf("row %d differs between runs", i)
		}
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSamplePosteriorErrors: bad observations give errors that say what is wrong; n = 0 gives
// no samples; observations the prior cannot explain give an error instead of a hang.
func TestSamplePosteriorErrors(t *testing.T) {
	for _, name := range Names() {
		task := mustGet(t, name)
		ref, ok := task.(ReferencePosterior)
		if !ok {
			continue
		}
		y := task.Simulate(task.Prior().Sample(1, 1), 1)[0]
		if _, err := ref.SamplePosterior(y[:len(y)-1], 10, 1); err == nil {
			t.Errorf("%s: short observation accepted", name)
		}
		bad := clone(y)
		bad[0] = math.NaN()
		if _, err := ref.SamplePosterior(bad, 10, 1); err == nil {
			t.Errorf("%s: NaN observation accepted", name)
		}
		if _, err := ref.SamplePosterior(y, -1, 1); err == nil {
			t.Errorf("%s: n = -1 accepted", name)
		}
		if x, err := ref.SamplePosterior(y, 0, 1); err != nil || len(x) != 0 {
			t.Errorf("%s: n = 0 gave %d rows, %v", name, len(x), err)
		}
		x, err := ref.SamplePosterior(y, 5, 1)
		if err != nil || len(x) != 5 || len(x[0]) != task.DimX() {
			t.Errorf("%s: n = 5 gave %d rows, %v", name, len(x), err)
		}
	}
	if _, err := (twoMoons{}).SamplePosterior([]float64{0.5, 0}, 3, 1); err == nil {
		t.Error("two_moons: an impossible observation (y₁ > 0.35) gave no error")
	}
	far := fill(10, 0)
	far[3] = 1e300
	if _, err := (gaussianLinear{uniform: true}).SamplePosterior(far, 3, 1); err == nil {
		t.Error("gaussian_linear_uniform: an observation with no posterior mass gave no error")
	}
	if _, err := (gaussianMixture{}).SamplePosterior([]float64{1e300, 0}, 3, 1); err == nil {
		t.Error("gaussian_mixture: an observation with no posterior mass gave no error")
	}
	// Far outside the box, but the posterior is still defined: it hugs the nearest edge.
	x, err := (gaussianMixture{}).SamplePosterior([]float64{1e3, 0}, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range x {
		if r[0] > 10 || r[0] < 9.9 || math.Abs(r[1]) > 10 {
			t.Fatalf("gaussian_mixture with y = (1000, 0): sample %v, want x₁ just below 10", r)
		}
	}
}
