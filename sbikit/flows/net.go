package flows

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	"github.com/probinv/probinv/sbikit/nn"
)

// Net is the conditioner of a transform: a multilayer perceptron from its input x [batch, d_in] (the
// conditioning half of a coupling layer, or all of x for an autoregressive one) and the context
// c [batch or 1, dc] (the embedded observation) to p parameters for each of d_out elements, returned
// as [batch, d_out, p].
//
// The context enters the first hidden layer through its own weight matrix, h₁ = act(x W + c V + b),
// which is the same as feeding the concatenation [x, c] but lets one observation (batch 1) broadcast
// over a batch of samples without copying it, and leaves the context outside the autoregressive masks
// (every output may depend on all of c).
//
// The last layer starts at zero, so every transform starts as a fixed element-wise map of its input
// (the identity for the affine transform and the spline alike) and training starts from the base
// distribution, the usual choice for stable flow training (Glow; nflows' residual nets).
type Net struct {
	Hidden int // units per hidden layer
	Layers int // number of hidden layers
}

// made holds the masks of a MADE network (Germain et al. 2015): with the inputs given degrees
// 1..d in some order, hidden unit k of every layer gets degree k mod (d−1) + 1, a connection into a
// hidden unit is kept when its degree is ≥ the source's, and into an output when its degree is
// strictly >, so output i (the parameters of x_i) depends only on the inputs before i in that order.
type made struct {
	in, out []float64 // flattened [rows, cols] masks of the first and the last layer
	hidden  []float64 // mask between consecutive hidden layers (the same for all of them)
}

// newMADE builds the masks for inputs ordered by order (order[i] is the 1-based position of x_i), h
// hidden units and p parameters per dimension.
func newMADE(order []int, h, p int) *made {
	d := len(order)
	hidDeg := make([]int, h)
	for k := range hidDeg {
		if d > 1 {
			hidDeg[k] = k%(d-1) + 1
		}
	}
	mask := func(rows, cols int, keep func(i, j int) bool) []float64 {
		m := make([]float64, rows*cols)
		for i := range rows {
			for j := range cols {
				if keep(i, j) {
					m[i*cols+j] = 1
				}
			}
		}
		return m
	}
	return &made{
		in:     mask(d, h, func(i, k int) bool { return hidDeg[k] >= order[i] }),
		hidden: mask(h, h, func(k, l int) bool { return hidDeg[l] >= hidDeg[k] }),
		out:    mask(h, d*p, func(k, o int) bool { return order[o/p] > hidDeg[k] }),
	}
}

// apply builds the network in ctx. With m non-nil the weights from x are masked (MADE).
func (n Net) apply(ctx *context.Context, x, c *Node, dOut, p int, m *made) *Node {
	var inMask, hidMask, outMask []float64
	if m != nil {
		inMask, hidMask, outMask = m.in, m.hidden, m.out
	}
	h := nn.Dense(ctx.In("layer_0"), x, n.Hidden, inMask, false)
	if c != nil {
		h = Add(h, nn.Dense(ctx.In("context"), c, n.Hidden, nil, false))
	}
	h = activations.Relu(h)
	for l := 1; l < n.Layers; l++ {
		h = activations.Relu(nn.Dense(ctx.In(fmt.Sprintf("layer_%d", l)), h, n.Hidden, hidMask, false))
	}
	out := nn.Dense(ctx.In("output"), h, dOut*p, outMask, true)
	return Reshape(out, append(out.Shape().Clone().Dimensions[:out.Rank()-1], dOut, p)...)
}
