package flows

import (
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Transform is a conditional bijection between the data side x and the base side z of a flow, both
// [batch, d], given a context c [batch or 1, dc] (nil for an unconditional flow). Its parameters are the
// variables of the context scope it is called in, so Forward and Inverse called in the same scope are
// the two directions of one map.
type Transform interface {
	// Forward is z = f(x; c), the density direction, with log|det ∂z/∂x| per row ([batch]).
	Forward(ctx *context.Context, x, c *Node) (z, logDet *Node)
	// Inverse is x = f⁻¹(z; c), the sampling direction, with log|det ∂x/∂z| per row.
	Inverse(ctx *context.Context, z, c *Node) (x, logDet *Node)
}

// Coupling is a coupling layer (Dinh et al., RealNVP, 2017; with a spline, Durkan et al. 2019): the
// elements where Mask is true (x_a) pass through unchanged and condition, through Net, the
// element-wise map of the others (x_b):
//
//	z_a = x_a,  z_b = τ(x_b; Net(x_a, c)).
//
// Its Jacobian is triangular, so log|det| = Σ_b log|τ′(x_b)|, and both directions cost one network
// evaluation. The two halves are split and merged by products with constant 0/1 selection matrices
// (exact, differentiable, and cheap at the dimensions of a parameter vector), so the network and the
// element-wise map only ever see the elements they act on.
type Coupling struct {
	Mask []bool
	Net  Net
	Map  Elementwise
}

// Forward implements Transform.
func (t Coupling) Forward(ctx *context.Context, x, c *Node) (z, logDet *Node) {
	return t.apply(ctx, x, c, false)
}

// Inverse implements Transform.
func (t Coupling) Inverse(ctx *context.Context, z, c *Node) (x, logDet *Node) {
	return t.apply(ctx, z, c, true)
}

func (t Coupling) apply(ctx *context.Context, v, c *Node, inverse bool) (*Node, *Node) {
	d := len(t.Mask)
	if v.Shape().Dim(-1) != d {
		panicf("Coupling: input has %d dimensions, mask has %d", v.Shape().Dim(-1), d)
	}
	var kept, changed []int
	for i, keep := range t.Mask {
		if keep {
			kept = append(kept, i)
		} else {
			changed = append(changed, i)
		}
	}
	if len(kept) == 0 || len(changed) == 0 {
		panicf("Coupling: mask %v must keep some elements and change others", t.Mask)
	}
	g, dtype := v.Graph(), v.DType()
	// select_S is the [d, |S|] matrix that picks the elements S: v·select_S = v_S, v_S·select_Sᵀ puts them back.
	selectOf := func(idx []int) *Node {
		return constMatrix(g, dtype, d, len(idx), func(i, j int) bool { return idx[j] == i })
	}
	selKept, selChanged := selectOf(kept), selectOf(changed)
	va, vb := Dot(v, selKept), Dot(v, selChanged)
	params := t.Net.apply(ctx, va, c, len(changed), t.Map.NumParams(), nil)
	out, ld := t.Map.Apply(vb, params, inverse)
	merged := Add(Dot(va, Transpose(selKept, 0, 1)), Dot(out, Transpose(selChanged, 0, 1)))
	return merged, ReduceSum(ld, -1)
}

// Autoregressive is a masked autoregressive transform (MAF, Papamakarios et al. 2017, with MADE
// masks; with a spline, Durkan et al. 2019): z_i = τ(x_i; Net(x_{<i}, c)), where < follows Order
// (Order[i] is the 1-based position of x_i). The density direction costs one network evaluation; the
// inverse needs d, since x_i can only be computed once the x before it are known: pass k fixes the
// k-th element in the order, so after d passes every element is exact.
type Autoregressive struct {
	Order []int
	Net   Net
	Map   Elementwise
}

// Forward implements Transform.
func (t Autoregressive) Forward(ctx *context.Context, x, c *Node) (z, logDet *Node) {
	z, ld := t.Map.Apply(x, t.params(ctx, x, c), false)
	return z, ReduceSum(ld, -1)
}

// Inverse implements Transform.
func (t Autoregressive) Inverse(ctx *context.Context, z, c *Node) (x, logDet *Node) {
	x = ZerosLike(z)
	var ld *Node
	for range t.Order {
		x, ld = t.Map.Apply(z, t.params(ctx, x, c), true)
	}
	return x, ReduceSum(ld, -1)
}

func (t Autoregressive) params(ctx *context.Context, x, c *Node) *Node {
	if x.Shape().Dim(-1) != len(t.Order) {
		panicf("Autoregressive: input has %d dimensions, order has %d", x.Shape().Dim(-1), len(t.Order))
	}
	return t.Net.apply(ctx, x, c, len(t.Order), t.Map.NumParams(), newMADE(t.Order, t.Net.Hidden, t.Map.NumParams()))
}

// couplingMasks returns the mask of each of n coupling layers over d dimensions: alternating halves, so
// that every element is transformed by every other layer. Layers 0 and 1 split even and odd indices;
// each later pair splits a random half (seeded, so the flow is the same at every run) from the rest,
// so that in d > 2 every pair of elements ends up on opposite sides of some layer.
func couplingMasks(d, n int) [][]bool {
	masks := make([][]bool, n)
	rng := rand.New(rand.NewPCG(uint64(d), 0x636f75706c696e67))
	var half []bool
	for l := range n {
		if l%2 == 1 {
			masks[l] = make([]bool, d)
			for i := range d {
				masks[l][i] = !half[i]
			}
			continue
		}
		half = make([]bool, d)
		if l == 0 {
			for i := range d {
				half[i] = i%2 == 0
			}
		} else {
			for _, i := range rng.Perm(d)[:(d+1)/2] {
				half[i] = true
			}
		}
		masks[l] = half
	}
	return masks
}

// autoregressiveOrders returns the order of each of n autoregressive layers: natural, then reversed,
// alternating, as in MAF's reversing permutations between layers.
func autoregressiveOrders(d, n int) [][]int {
	orders := make([][]int, n)
	for l := range n {
		orders[l] = make([]int, d)
		for i := range d {
			if l%2 == 0 {
				orders[l][i] = i + 1
			} else {
				orders[l][i] = d - i
			}
		}
	}
	return orders
}

// constMatrix is the [rows, cols] 0/1 matrix with ones where on(i, j).
func constMatrix(g *Graph, dtype dtypes.DType, rows, cols int, on func(i, j int) bool) *Node {
	flat := make([]float64, rows*cols)
	for i := range rows {
		for j := range cols {
			if on(i, j) {
				flat[i*cols+j] = 1
			}
		}
	}
	return Reshape(ConstAsDType(g, dtype, flat), rows, cols)
}
