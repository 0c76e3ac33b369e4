package tasks

import (
	"errors"
	"math"
	"testing"
)

// TestDopri5Oscillator solves y″ = −y, whose solution (cos t, −sin t) is known.
func TestDopri5Oscillator(t *testing.T) {
	f := func(_ float64, y, dy []float64) { dy[0], dy[1] = y[1], -y[0] }
	ts := []float64{0, 0.5, 1, 3, 10, 30}
	out := make([][]float64, len(ts))
	for k := range out {
		out[k] = make([]float64, 2)
	}
	solver := dopri5{rtol: 1e-10, atol: 1e-12, maxSteps: 100_000}
	if err := solver.solve(f, 0, []float64{1, 0}, ts, out); err != nil {
		t.Fatal(err)
	}
	for k, tk := range ts {
		if e := math.Hypot(out[k][0]-math.Cos(tk), out[k][1]+math.Sin(tk)); e > 1e-8 {
			t.Errorf("t = %v: error %.2e", tk, e)
		}
	}
	// The step cap and non-finite states are reported.
	tight := dopri5{rtol: 1e-10, atol: 1e-12, maxSteps: 10}
	if err := tight.solve(f, 0, []float64{1, 0}, ts, out); !errors.Is(err, errTooManySteps) {
		t.Errorf("with 10 steps: err = %v, want errTooManySteps", err)
	}
	blowUp := func(_ float64, y, dy []float64) { dy[0] = y[0] * y[0] } // y = 1/(1−t) blows up at t = 1
	if err := solver.solve(blowUp, 0, []float64{1}, []float64{2}, out[:1]); err == nil {
		t.Error("solving through a blow-up should fail")
	}
}

// rk4 integrates with n classic Runge–Kutta steps per unit of time: the "much finer solve"
// the adaptive solutions are checked against, in the model's original variables.
func rk4(f func(y, dy []float64), y0 []float64, ts []float64, perUnit int) [][]float64 {
	d := len(y0)
	y := clone(y0)
	k1, k2, k3, k4, tmp := make([]float64, d), make([]float64, d), make([]float64, d), make([]float64, d), make([]float64, d)
	out := make([][]float64, len(ts))
	t := 0.0
	for idx, tOut := range ts {
		steps := int(math.Ceil((tOut - t) * float64(perUnit)))
		if steps > 0 {
			h := (tOut - t) / float64(steps)
			for range steps {
				f(y, k1)
				for j := range y {
					tmp[j] = y[j] + h/2*k1[j]
				}
				f(tmp, k2)
				for j := range y {
					tmp[j] = y[j] + h/2*k2[j]
				}
				f(tmp, k3)
				for j := range y {
					tmp[j] = y[j] + h*k3[j]
				}
				f(tmp, k4)
				for j := range y {
					y[j] += h / 6 * (k1[j] + 2*k2[j] + 2*k3[j] + k4[j])
				}
			}
		}
		t = tOut
		out[idx] = clone(y)
	}
	return out
}

// TestSIRAccuracy compares the simulator's infected fraction with RK4 on (S, I, R) at 1000
// steps per day, for prior draws.
func TestSIRAccuracy(t *testing.T) {
	ts := make([]float64, sirOutputs)
	for k := range ts {
		ts[k] = float64(k * sirDays)
	}
	worst := 0.0
	for _, x := range (sir{}).Prior().Sample(12, 21) {
		beta, gamma := x[0], x[1]
		f := func(y, dy []float64) {
			inf := beta * y[0] * y[1] / sirN
			dy[0], dy[1], dy[2] = -inf, inf-gamma*y[1], gamma*y[1]
		}
		ref := rk4(f, []float64{sirN - 1, 1, 0}, ts, 1000)
		p := make([]float64, sirOutputs)
		if err := sirInfected(sirSolver, beta, gamma, p); err != nil {
			t.Fatal(err)
		}
		for k := range p {
			want := ref[k][1] / sirN
			// Relative 10⁻⁶, or 10⁻¹² absolute for fractions far below what 1000 readings see.
			if e := math.Abs(p[k] - want); e > 1e-6*want+1e-12 {
				t.Errorf("β=%.3f γ=%.3f day %v: I/N = %.10g, fine solve %.10g", beta, gamma, ts[k], p[k], want)
			}
			if want > 1e-9 {
				worst = math.Max(worst, math.Abs(p[k]/want-1))
			}
		}
	}
	t.Logf("largest relative error in I/N: %.1e", worst)
}

// TestLotkaVolterraAccuracy compares the solution in log-variables with RK4 on (u, v) at
// 10⁴ steps per unit time, for prior draws, on the clamped log-populations that y depends on.
func TestLotkaVolterraAccuracy(t *testing.T) {
	ts := make([]float64, lvOutputs)
	for k := range ts {
		ts[k] = float64(k) * lvEvery
	}
	lo, hi := math.Log(1e-10), math.Log(1e4)
	clamp := func(v float64) float64 { return math.Min(math.Max(v, lo), hi) }
	worst := 0.0
	for _, x := range (lotkaVolterra{}).Prior().Sample(12, 22) {
		f := func(y, dy []float64) {
			dy[0] = x[0]*y[0] - x[1]*y[0]*y[1]
			dy[1] = -x[2]*y[1] + x[3]*y[0]*y[1]
		}
		ref := rk4(f, []float64{30, 1}, ts, 10_000)
		logU, logV := make([]float64, lvOutputs), make([]float64, lvOutputs)
		if err := lvLogPopulations(lvSolver, x, logU, logV); err != nil {
			t.Fatal(err)
		}
		for k := range ts {
			for s, got := range []float64{logU[k], logV[k]} {
				want := math.Log(math.Max(ref[k][s], 1e-300))
				e := math.Abs(clamp(got) - clamp(want))
				worst = math.Max(worst, e)
				if e > 1e-5 {
					t.Errorf("x=%.3f t=%.1f population %d: log %.9f, fine solve %.9f", x, ts[k], s, got, want)
				}
			}
		}
	}
	t.Logf("largest error in clamped log-population: %.1e", worst)
}
