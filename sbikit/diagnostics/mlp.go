package diagnostics

import (
	"math"
	"math/rand/v2"
)

// mlpConfig holds the training settings of sklearn's MLPClassifier that C2ST relies on.
// The defaults (see sklearnDefaults) are sklearn's, so that our C2ST numbers can be
// compared with sbibm's published ones.
type mlpConfig struct {
	hidden       []int   // units per hidden layer
	batchSize    int     // sklearn "auto": min(200, n)
	learningRate float64 // Adam step size, learning_rate_init
	beta1, beta2 float64 // Adam moment decay rates
	epsilon      float64 // Adam denominator guard
	alpha        float64 // L2 penalty strength
	maxEpochs    int     // sklearn's max_iter counts epochs for the stochastic solvers
	tol          float64 // minimum improvement of the epoch loss that counts
	noChange     int     // n_iter_no_change: epochs without improvement before stopping
}

func sklearnDefaults(hidden []int) mlpConfig {
	return mlpConfig{
		hidden:       hidden,
		batchSize:    200,
		learningRate: 1e-3,
		beta1:        0.9,
		beta2:        0.999,
		epsilon:      1e-8,
		alpha:        1e-4,
		maxEpochs:    10000,
		tol:          1e-4,
		noChange:     10,
	}
}

// mlp is a fully connected network with ReLU hidden layers and one logistic output unit.
// All parameters live in one flat slice so that Adam updates them in a single loop.
// Layer l has weights w[l] (sizes[l] rows of sizes[l+1], row-major, like sklearn's
// coefs_) and biases b[l]; w and b are views into params.
type mlp struct {
	sizes  []int
	params []float64
	w, b   [][]float64
}

// newMLP allocates the network and initialises it as sklearn does (Glorot & Bengio 2010,
// uniform variant): every weight and every bias of layer l is drawn from
// U(−r, r) with r = sqrt(6 / (fan_in + fan_out)), weights before biases, layer by layer.
func newMLP(sizes []int, rng *rand.Rand) *mlp {
	n := 0
	for l := 0; l+1 < len(sizes); l++ {
		n += sizes[l]*sizes[l+1] + sizes[l+1]
	}
	net := &mlp{sizes: sizes, params: make([]float64, n)}
	off := 0
	for l := 0; l+1 < len(sizes); l++ {
		nw, nb := sizes[l]*sizes[l+1], sizes[l+1]
		net.w = append(net.w, net.params[off:off+nw])
		net.b = append(net.b, net.params[off+nw:off+nw+nb])
		r := math.Sqrt(6 / float64(sizes[l]+sizes[l+1]))
		for i := off; i < off+nw+nb; i++ {
			net.params[i] = r * (2*rng.Float64() - 1)
		}
		off += nw + nb
	}
	return net
}

// workspace holds every buffer one training run needs, so that a step allocates nothing.
type workspace struct {
	act   [][]float64 // act[l]: batch × sizes[l]; act[0] is the input batch, the last the output logits
	delta [][]float64 // delta[l]: ∂loss/∂(pre-activation of layer l+1), batch × sizes[l+1]
	grad  []float64   // gradient, laid out like mlp.params
	gw    [][]float64 // views into grad
	gb    [][]float64
	y     []float64 // labels of the batch
}

func newWorkspace(net *mlp, batch int) *workspace {
	ws := &workspace{grad: make([]float64, len(net.params)), y: make([]float64, batch)}
	for _, s := range net.sizes {
		ws.act = append(ws.act, make([]float64, batch*s))
	}
	off := 0
	for l := 0; l+1 < len(net.sizes); l++ {
		nw, nb := len(net.w[l]), len(net.b[l])
		ws.delta = append(ws.delta, make([]float64, batch*nb))
		ws.gw = append(ws.gw, ws.grad[off:off+nw])
		ws.gb = append(ws.gb, ws.grad[off+nw:off+nw+nb])
		off += nw + nb
	}
	return ws
}

// forward computes the logits of the first m rows of ws.act[0] into ws.act[last], keeping
// every hidden activation for backprop: a_{l+1} = relu(a_l W_l + b_l), logits = a_L W_L + b_L.
func (net *mlp) forward(ws *workspace, m int) {
	last := len(net.sizes) - 2
	for l := 0; l <= last; l++ {
		nin, nout := net.sizes[l], net.sizes[l+1]
		in, out := ws.act[l], ws.act[l+1]
		w, b := net.w[l], net.b[l]
		for i := 0; i < m; i++ {
			x := in[i*nin : (i+1)*nin]
			z := out[i*nout : (i+1)*nout]
			copy(z, b)
			for k, xk := range x {
				if xk == 0 { // ReLU zeros are common; skipping them halves the work
					continue
				}
				axpy(xk, w[k*nout:(k+1)*nout], z)
			}
			if l < last {
				for j, v := range z {
					if v < 0 {
						z[j] = 0
					}
				}
			}
		}
	}
}

// lossAndGrad runs forward and backward on the first m rows of ws.act[0] with labels
// ws.y and returns sklearn's batch loss
//
//	L = −(1/m) Σ_i [y_i log p_i + (1−y_i) log(1−p_i)] + (α / 2m) Σ_l ‖W_l‖²,
//
// p_i = σ(logit_i) clipped to [ε, 1−ε], with ε the float64 machine epsilon. The gradient
// it leaves in ws.grad is ∂L/∂θ: for weights (a_lᵀ δ_l + α W_l) / m, for biases mean(δ_l),
// with δ_L = p − y at the output and δ_{l−1} = (δ_l W_lᵀ) ⊙ 1[a_l > 0] below.
func (net *mlp) lossAndGrad(ws *workspace, m int, alpha float64) float64 {
	net.forward(ws, m)
	last := len(net.sizes) - 2
	logits, dOut := ws.act[last+1], ws.delta[last]
	const eps = 0x1p-52
	loss := 0.0
	for i := 0; i < m; i++ {
		p := 1 / (1 + math.Exp(-logits[i]))
		dOut[i] = p - ws.y[i]
		p = min(max(p, eps), 1-eps)
		if ws.y[i] == 1 {
			loss -= math.Log(p)
		} else {
			loss -= math.Log(1 - p)
		}
	}
	loss /= float64(m)
	sq := 0.0
	for _, w := range net.w {
		for _, v := range w {
			sq += v * v
		}
	}
	loss += 0.5 * alpha * sq / float64(m)

	inv := 1 / float64(m)
	for l := last; l >= 0; l-- {
		nin, nout := net.sizes[l], net.sizes[l+1]
		a, d := ws.act[l], ws.delta[l]
		w, gw, gb := net.w[l], ws.gw[l], ws.gb[l]
		clear(gw)
		clear(gb)
		var dPrev []float64
		if l > 0 {
			dPrev = ws.delta[l-1]
		}
		for i := 0; i < m; i++ {
			x := a[i*nin : (i+1)*nin]
			di := d[i*nout : (i+1)*nout]
			axpy(1, di, gb)
			if l == 0 { // the input layer needs no delta
				for k, xk := range x {
					axpy(xk, di, gw[k*nout:(k+1)*nout])
				}
				continue
			}
			dp := dPrev[i*nin : (i+1)*nin]
			for k, xk := range x {
				if xk == 0 { // the unit is off: no weight gradient, and relu' = 0
					dp[k] = 0
					continue
				}
				dp[k] = axpyDot(xk, di, gw[k*nout:(k+1)*nout], w[k*nout:(k+1)*nout])
			}
		}
		for j := range gw {
			gw[j] = (gw[j] + alpha*w[j]) * inv
		}
		for j := range gb {
			gb[j] *= inv
		}
	}
	return loss
}

// adam is the Adam optimiser in sklearn's form (Kingma & Ba 2014, with the bias
// correction folded into the step size):
//
//	m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,
//	η_t = η √(1−β₂ᵗ) / (1−β₁ᵗ),  θ ← θ − η_t m / (√v + ε).
type adam struct {
	m, v []float64
	t    int
}

func (o *adam) step(params, grad []float64, c *mlpConfig) {
	o.t++
	lr := c.learningRate * math.Sqrt(1-math.Pow(c.beta2, float64(o.t))) / (1 - math.Pow(c.beta1, float64(o.t)))
	m, v := o.m[:len(params)], o.v[:len(params)]
	grad = grad[:len(params)]
	for i, g := range grad {
		m[i] = c.beta1*m[i] + (1-c.beta1)*g
		v[i] = c.beta2*v[i] + (1-c.beta2)*g*g
		params[i] -= lr * m[i] / (math.Sqrt(v[i]) + c.epsilon)
	}
}

// trainMLP fits a classifier to the rows of x (n × dim, row-major) with 0/1 labels y,
// as sklearn's MLPClassifier.fit with solver="adam": each epoch shuffles the rows and
// takes one Adam step per mini-batch; training stops after maxEpochs epochs or once the
// epoch's mean batch loss has failed to drop by tol below the best seen for more than
// noChange epochs in a row.
func trainMLP(x, y []float64, dim int, c mlpConfig, rng *rand.Rand) *mlp {
	n := len(y)
	sizes := append(append([]int{dim}, c.hidden...), 1)
	net := newMLP(sizes, rng)
	batch := min(c.batchSize, n)
	ws := newWorkspace(net, batch)
	opt := &adam{m: make([]float64, len(net.params)), v: make([]float64, len(net.params))}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	best, stale := math.Inf(1), 0
	for epoch := 0; epoch < c.maxEpochs; epoch++ {
		rng.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		total := 0.0
		for start := 0; start < n; start += batch {
			m := min(batch, n-start)
			in := ws.act[0]
			for r, src := range idx[start : start+m] {
				copy(in[r*dim:(r+1)*dim], x[src*dim:(src+1)*dim])
				ws.y[r] = y[src]
			}
			total += net.lossAndGrad(ws, m, c.alpha) * float64(m)
			opt.step(net.params, ws.grad, &c)
		}
		loss := total / float64(n)
		if loss > best-c.tol {
			stale++
		} else {
			stale = 0
		}
		best = min(best, loss)
		if stale > c.noChange {
			break
		}
	}
	return net
}

// accuracy returns the fraction of rows of x whose predicted class (1 when the logit is
// positive, i.e. p > 1/2) equals y.
func (net *mlp) accuracy(x, y []float64, dim int, ws *workspace) float64 {
	n := len(y)
	batch := len(ws.y)
	out := ws.act[len(ws.act)-1]
	correct := 0
	for start := 0; start < n; start += batch {
		m := min(batch, n-start)
		copy(ws.act[0], x[start*dim:(start+m)*dim])
		net.forward(ws, m)
		for i := 0; i < m; i++ {
			if (out[i] > 0) == (y[start+i] == 1) {
				correct++
			}
		}
	}
	return float64(correct) / float64(n)
}

// axpy adds a·x to y (BLAS daxpy); len(y) must be at least len(x). Unrolled by four
// because these rows are short (10·dim) and the loop overhead would otherwise dominate.
func axpy(a float64, x, y []float64) {
	y = y[:len(x)]
	j := 0
	for ; j+4 <= len(x); j += 4 {
		y[j] += a * x[j]
		y[j+1] += a * x[j+1]
		y[j+2] += a * x[j+2]
		y[j+3] += a * x[j+3]
	}
	for ; j < len(x); j++ {
		y[j] += a * x[j]
	}
}

// axpyDot adds a·d to g and returns d·w in the same pass over d: backprop needs both the
// weight gradient (aᵀδ) and the delta one layer down (δWᵀ) from the same row of δ.
func axpyDot(a float64, d, g, w []float64) float64 {
	g, w = g[:len(d)], w[:len(d)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(d); j += 4 {
		g[j] += a * d[j]
		g[j+1] += a * d[j+1]
		g[j+2] += a * d[j+2]
		g[j+3] += a * d[j+3]
		s0 += d[j] * w[j]
		s1 += d[j+1] * w[j+1]
		s2 += d[j+2] * w[j+2]
		s3 += d[j+3] * w[j+3]
	}
	for ; j < len(d); j++ {
		g[j] += a * d[j]
		s0 += d[j] * w[j]
	}
	return (s0 + s1) + (s2 + s3)
}
