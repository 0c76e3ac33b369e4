package diagnostics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The backprop gradient must match central finite differences of the batch loss,
// penalty included.
func TestMLPGradientMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	net := newMLP([]int{3, 7, 5, 1}, rng)
	const m = 9
	ws := newWorkspace(net, m)
	x := make([]float64, m*3)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	for i := range ws.y {
		ws.y[i] = float64(i % 2)
	}
	const alpha = 0.3 // large, so that a wrong penalty gradient shows
	loss := func() float64 {
		copy(ws.act[0], x)
		return net.lossAndGrad(ws, m, alpha)
	}
	loss()
	grad := append([]float64(nil), ws.grad...)
	const h = 1e-6
	for i := range net.params {
		orig := net.params[i]
		net.params[i] = orig + h
		up := loss()
		net.params[i] = orig - h
		down := loss()
		net.params[i] = orig
		fd := (up - down) / (2 * h)
		if math.Abs(fd-grad[i]) > 1e-6*(1+math.Abs(fd)) {
			t.Errorf("parameter %d: backprop %.9g, finite difference %.9g", i, grad[i], fd)
		}
	}
}

// Glorot-uniform as sklearn: every weight and bias of a layer within ±sqrt(6/(fan_in+fan_out)),
// and spread over that range.
func TestMLPInitBounds(t *testing.T) {
	net := newMLP([]int{2, 20, 20, 1}, rand.New(rand.NewPCG(3, 4)))
	for l := range net.w {
		r := math.Sqrt(6 / float64(net.sizes[l]+net.sizes[l+1]))
		for _, p := range [][]float64{net.w[l], net.b[l]} {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, v := range p {
				lo, hi = min(lo, v), max(hi, v)
			}
			if lo < -r || hi > r {
				t.Errorf("layer %d: values in [%g, %g], want within ±%g", l, lo, hi, r)
			}
			if len(p) >= 20 && (lo > -r/2 || hi < r/2) {
				t.Errorf("layer %d: values in [%g, %g] do not spread over ±%g", l, lo, hi, r)
			}
		}
	}
}

// Training on a linearly separable problem must reach perfect training accuracy.
func TestMLPLearnsSeparableData(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 400
	x := make([]float64, 2*n)
	y := make([]float64, n)
	for i := range n {
		x[2*i], x[2*i+1] = rng.NormFloat64(), rng.NormFloat64()
		if x[2*i]+x[2*i+1] > 0.3 {
			y[i] = 1
			x[2*i] += 0.3 // open a margin
		}
	}
	cfg := sklearnDefaults([]int{20, 20})
	cfg.maxEpochs = 300
	net := trainMLP(x, y, 2, cfg, rng)
	if acc := net.accuracy(x, y, 2, newWorkspace(net, 200)); acc < 0.99 {
		t.Errorf("training accuracy %.3f on separable data, want ≥ 0.99", acc)
	}
}
