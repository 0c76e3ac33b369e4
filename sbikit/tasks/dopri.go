package tasks

import (
	"errors"
	"math"
)

// dopri5 integrates dy/dt = f(t, y) with the explicit Runge–Kutta pair of Dormand and
// Prince, order 5 with an embedded order-4 error estimate (Hairer, Nørsett & Wanner,
// "Solving Ordinary Differential Equations I", §II.5 and §II.4 for the step control).
// Steps adapt so that the local error stays below atol + rtol·|y| in each component; a step
// that would pass an output time is shortened to end on it, so outputs are not interpolated.
type dopri5 struct {
	rtol, atol float64
	maxSteps   int // accepted plus rejected steps, over the whole solve
}

var errTooManySteps = errors.New("ODE solver: too many steps")
var errNotFinite = errors.New("ODE solver: state is not finite")

// Butcher tableau of Dormand–Prince 5(4). The last stage is evaluated at the new state and
// reused as the first stage of the next step (FSAL).
var (
	dpC = [7]float64{0, 1. / 5, 3. / 10, 4. / 5, 8. / 9, 1, 1}
	dpA = [7][6]float64{
		{},
		{1. / 5},
		{3. / 40, 9. / 40},
		{44. / 45, -56. / 15, 32. / 9},
		{19372. / 6561, -25360. / 2187, 64448. / 6561, -212. / 729},
		{9017. / 3168, -355. / 33, 46732. / 5247, 49. / 176, -5103. / 18656},
		{35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84},
	}
	// dpE = b(5th order) − b(4th order): the local error estimate is h·Σ dpE_i k_i.
	dpE = [7]float64{71. / 57600, 0, -71. / 16695, 71. / 1920, -17253. / 339200, 22. / 525, -1. / 40}
)

// solve integrates from (t0, y0) and writes y(ts[k]) into out[k] for increasing ts ≥ t0.
// y0 is not modified.
func (s dopri5) solve(f func(t float64, y, dy []float64), t0 float64, y0 []float64,
	ts []float64, out [][]float64) error {
	d := len(y0)
	var k [7][]float64
	for i := range k {
		k[i] = make([]float64, d)
	}
	y := clone(y0)
	yNew := make([]float64, d)
	tmp := make([]float64, d)

	t := t0
	f(t, y, k[0])
	h := s.initialStep(f, t, y, k[0], tmp, yNew)
	steps := 0
	for idx, tOut := range ts {
		for t < tOut {
			if steps++; steps > s.maxSteps {
				return errTooManySteps
			}
			hWanted, last := h, false
			if t+h >= tOut {
				h, last = tOut-t, true
			}
			// Stages 2..7.
			for st := 1; st < 7; st++ {
				for j := range d {
					acc := y[j]
					for l := range st {
						acc += h * dpA[st][l] * k[l][j]
					}
					tmp[j] = acc
				}
				if st == 6 {
					copy(yNew, tmp) // the 7th stage point is the 5th-order solution
				}
				f(t+dpC[st]*h, tmp, k[st])
			}
			// Error norm: RMS over components of err_j / (atol + rtol·max|y_j|, |yNew_j|).
			errNorm := 0.0
			for j := range d {
				e := 0.0
				for st := range 7 {
					e += dpE[st] * k[st][j]
				}
				sc := s.atol + s.rtol*math.Max(math.Abs(y[j]), math.Abs(yNew[j]))
				errNorm += (h * e / sc) * (h * e / sc)
			}
			errNorm = math.Sqrt(errNorm / float64(d))
			if math.IsNaN(errNorm) {
				return errNotFinite
			}
			if errNorm <= 1 {
				for _, v := range yNew {
					if math.IsInf(v, 0) || math.IsNaN(v) {
						return errNotFinite
					}
				}
				t += h
				if last {
					t = tOut // exact, free of rounding
				}
				copy(y, yNew)
				k[0], k[6] = k[6], k[0] // FSAL
			}
			// New step from the error norm: h·0.9·err^(−1/5), changed by a factor in [0.2, 5].
			fac := 5.0
			if errNorm > 0 {
				fac = math.Min(5, math.Max(0.2, 0.9*math.Pow(errNorm, -0.2)))
			}
			if last && errNorm <= 1 {
				h = math.Max(hWanted, h*fac) // the output time cut the step short: resume the wanted size
			} else {
				h *= fac
			}
		}
		copy(out[idx], y)
	}
	return nil
}

// initialStep is the starting step size of Hairer, Nørsett & Wanner (§II.4): a first guess
// from the size of y and y′, refined with one Euler step's estimate of y″.
func (s dopri5) initialStep(f func(t float64, y, dy []float64), t float64, y, dy, tmp, dy1 []float64) float64 {
	d0, d1 := 0.0, 0.0
	for j := range y {
		sc := s.atol + s.rtol*math.Abs(y[j])
		d0 += (y[j] / sc) * (y[j] / sc)
		d1 += (dy[j] / sc) * (dy[j] / sc)
	}
	n := float64(len(y))
	d0, d1 = math.Sqrt(d0/n), math.Sqrt(d1/n)
	h0 := 1e-6
	if d0 >= 1e-5 && d1 >= 1e-5 {
		h0 = 0.01 * d0 / d1
	}
	for j := range y {
		tmp[j] = y[j] + h0*dy[j]
	}
	f(t+h0, tmp, dy1)
	d2 := 0.0
	for j := range y {
		sc := s.atol + s.rtol*math.Abs(y[j])
		d2 += ((dy1[j] - dy[j]) / sc) * ((dy1[j] - dy[j]) / sc)
	}
	d2 = math.Sqrt(d2/n) / h0
	h1 := math.Max(1e-6, h0*1e-3)
	if m := math.Max(d1, d2); m > 1e-15 {
		h1 = math.Pow(0.01/m, 0.2)
	}
	return math.Min(100*h0, h1)
}
