// Package nn holds the few network layers the estimators share, as GoMLX graph-building functions
// over a scoped context: a dense layer with an optional connectivity mask (for MADE) and a
// multilayer perceptron. Their variables live in the scope the caller passes.
package nn

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// Dense is x·(W⊙mask) + b for x [batch, in], with W [in, out] and b [out] the variables "weights" and
// "bias" of ctx. W starts Glorot-uniform from the context's random state, or at zero (and b too) when
// zero is set: a last layer started at zero makes a residual or flow block start as a fixed map. A nil
// mask (flattened [in, out], 1 to keep a weight) keeps every weight.
func Dense(ctx *context.Context, x *Node, out int, mask []float64, zero bool) *Node {
	g, dtype := x.Graph(), x.DType()
	in := x.Shape().Dim(-1)
	wCtx := ctx.WithInitializer(initializers.XavierUniformFn(ctx))
	if zero {
		wCtx = ctx.WithInitializer(initializers.Zero)
	}
	w := wCtx.VariableWithShape("weights", shapes.Make(dtype, in, out)).ValueGraph(g)
	if mask != nil {
		if len(mask) != in*out {
			panic(fmt.Sprintf("nn.Dense: mask has %d entries, want %d×%d", len(mask), in, out))
		}
		w = Mul(w, Reshape(ConstAsDType(g, dtype, mask), in, out))
	}
	b := ctx.WithInitializer(initializers.Zero).VariableWithShape("bias", shapes.Make(dtype, out)).ValueGraph(g)
	return Add(Dot(x, w), Reshape(b, 1, out))
}

// MLP is layers hidden Dense layers of width hidden with a tanh after each, then a linear Dense layer
// to out units, in the scopes layer_0, …, output of ctx.
func MLP(ctx *context.Context, x *Node, hidden, layers, out int) *Node {
	h := x
	for l := range layers {
		h = Tanh(Dense(ctx.In(fmt.Sprintf("layer_%d", l)), h, hidden, nil, false))
	}
	return Dense(ctx.In("output"), h, out, nil, false)
}
