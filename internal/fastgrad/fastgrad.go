// Package fastgrad replaces two of GoMLX v0.26.0's gradient rules with equivalent ones that the
// pure-Go backend runs fast, or runs at all.
//
//   - DotGeneral and Dot: the stock rule multiplies the output gradient v by the other operand
//     broadcast to a full [batch, lhs free, rhs free, contracted] product and then reduces it. XLA
//     fuses that away; the pure-Go backend materialises it, which made an MLP training step ~6×
//     slower than necessary. Here each gradient is itself one DotGeneral (for out = A·B:
//     ∂L/∂A = v·Bᵀ, ∂L/∂B = Aᵀ·v), followed by a transpose into the operand's axis order.
//   - Slice: the stock rule scatters v back with Pad, which the pure-Go backend does not implement,
//     so any second-order gradient through Slice or Concatenate (whose rule is a Slice) panicked.
//     Here the zeros are put in place with Concatenate and Reshape instead.
//
// Register installs the rules in graph.VJPRegistration, which GoMLX documents as the place to
// override gradients. The rules are mathematically identical to the stock ones (the tests compare
// both, including second-order), so they are used on every backend.
package fastgrad

import (
	"reflect"
	"slices"
	"sync"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:staticcheck // GoMLX's own idiom for graph code.
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Stock holds GoMLX's original rules for the node types Register replaces, captured before
// replacing them, so that tests and benchmarks can compare against them.
var Stock = map[NodeType]VJP{
	NodeTypeDotGeneral: VJPRegistration[NodeTypeDotGeneral],
	NodeTypeDot:        VJPRegistration[NodeTypeDot],
	NodeTypeSlice:      VJPRegistration[NodeTypeSlice],
}

// Rules are the replacements Register installs.
var Rules = map[NodeType]VJP{
	NodeTypeDotGeneral: singleOutput(dotGeneralVJP),
	NodeTypeDot:        singleOutput(dotVJP),
	NodeTypeSlice:      singleOutput(sliceVJP),
}

var registerOnce sync.Once

// Register installs Rules in graph.VJPRegistration. It is idempotent and cheap; call it before
// building any graph that takes gradients (sbikit/backend does it for you).
func Register() {
	registerOnce.Do(func() { Use(Rules) })
}

// Use installs the given rules in graph.VJPRegistration. Tests use it to switch between Stock
// and Rules; it is not safe to call while another goroutine builds a graph.
func Use(rules map[NodeType]VJP) {
	for t, rule := range rules {
		VJPRegistration[t] = rule
	}
}

func singleOutput(rule func(node, v *Node) []*Node) VJP {
	return func(node *Node, vjpOutputs []*Node, _ shapes.Shape) []*Node {
		return rule(node, vjpOutputs[0])
	}
}

// dotGeneralVJP: out[b, l, r] = Σ_c lhs[b, l, c]·rhs[b, c, r] (axes grouped as batch b,
// lhs-free l, rhs-free r, contracted c). Then ∂L/∂lhs[b,l,c] = Σ_r v[b,l,r]·rhs[b,c,r] and
// ∂L/∂rhs[b,c,r] = Σ_l lhs[b,l,c]·v[b,l,r]: each one DotGeneral of v with the other operand.
// The operands are ordered so that, for the usual [batch, free, contracted] · [batch, contracted,
// free] layouts, the result already has the operand's axis order and needs no transpose.
func dotGeneralVJP(node, v *Node) []*Node {
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	lc, lb := intField(node, "lhsContractingAxes"), intField(node, "lhsBatchAxes")
	rc, rb := intField(node, "rhsContractingAxes"), intField(node, "rhsBatchAxes")
	lf, rf := freeAxes(lhs.Rank(), lc, lb), freeAxes(rhs.Rank(), rc, rb)
	// Axes of v (= out): [batch..., lhs free..., rhs free...].
	nb := len(lb)
	vBatch, vLhsFree, vRhsFree := iota(0, nb), iota(nb, len(lf)), iota(nb+len(lf), len(rf))

	// DotGeneral(v, rhs) has axes [batch, lhs free, rhs's contracted axes in ascending order].
	gLhs := DotGeneral(v, vRhsFree, vBatch, rhs, rf, rb)
	gLhs = toAxes(gLhs, lhs.Rank(), lb, lf, contractedOrder(lc, rc))
	// DotGeneral(lhs, v) has axes [batch, lhs's contracted axes in ascending order, rhs free].
	gRhs := DotGeneral(lhs, lf, lb, v, vLhsFree, vBatch)
	gRhs = toAxes(gRhs, rhs.Rank(), rb, contractedOrder(rc, lc), rf)
	return []*Node{gLhs, gRhs}
}

// contractedOrder lists this operand's contracted axes in the order in which a DotGeneral leaves
// them when they come from the other operand: sorted by the paired axis of the other operand.
func contractedOrder(this, other []int) []int {
	sortedOther := slices.Sorted(slices.Values(other))
	order := make([]int, len(this))
	for k, axis := range this {
		order[slices.Index(sortedOther, other[k])] = axis
	}
	return order
}

// toAxes transposes x, whose axes are the concatenation of the given groups of operand axes, into
// the operand's axis order 0…rank−1.
func toAxes(x *Node, rank int, groups ...[]int) *Node {
	perm := make([]int, rank)
	pos := 0
	for _, group := range groups {
		for _, axis := range group {
			perm[axis] = pos
			pos++
		}
	}
	if isIdentity(perm) {
		return x
	}
	return TransposeAllAxes(x, perm...)
}

// dotVJP handles graph.Dot (vector·vector, matrix·vector, matrix·matrix) by the same rules.
func dotVJP(node, v *Node) []*Node {
	a, b := node.Inputs()[0], node.Inputs()[1]
	switch {
	case a.Rank() == 1 && b.Rank() == 1: // s = a·b
		return []*Node{Mul(v, b), Mul(v, a)}
	case a.Rank() == 2 && b.Rank() == 1: // o[i] = Σ_j a[i,j] b[j]
		return []*Node{
			Mul(InsertAxes(v, -1), InsertAxes(b, 0)),       // ∂a[i,j] = v[i] b[j]
			DotGeneral(a, []int{0}, nil, v, []int{0}, nil), // ∂b[j] = Σ_i a[i,j] v[i]
		}
	default: // O = A·B: ∂A = V·Bᵀ, ∂B = Aᵀ·V
		return []*Node{
			DotGeneral(v, []int{1}, nil, b, []int{1}, nil),
			DotGeneral(a, []int{0}, nil, v, []int{0}, nil),
		}
	}
}

// sliceVJP scatters v back into zeros shaped like the sliced operand: the adjoint of
// x[start : limit : stride] along each axis. Strided axes are first spread out by interleaving
// stride−1 zeros, then zeros are concatenated before and after.
func sliceVJP(node, v *Node) []*Node {
	x := node.Inputs()[0]
	starts, strides := intField(node, "starts"), intField(node, "strides")
	grad := v
	for axis, dim := range x.Shape().Dimensions {
		if stride := strides[axis]; stride > 1 {
			grad = interleaveZeros(grad, axis, stride)
		}
		// After interleaving the axis spans [start, start+length).
		length := grad.Shape().Dimensions[axis]
		grad = padWithZeros(grad, axis, starts[axis], dim-starts[axis]-length)
	}
	return []*Node{grad}
}

// interleaveZeros turns [.., m, ..] into [.., (m−1)·stride+1, ..] with v's entries at multiples of
// stride along axis and zeros between them.
func interleaveZeros(v *Node, axis, stride int) *Node {
	dims := v.Shape().Dimensions
	m := dims[axis]
	expanded := InsertAxes(v, axis+1) // [.., m, 1, ..]
	zerosShape := expanded.Shape().Clone()
	zerosShape.Dimensions[axis+1] = stride - 1
	spread := Concatenate([]*Node{expanded, Zeros(v.Graph(), zerosShape)}, axis+1)
	newDims := slices.Clone(dims)
	newDims[axis] = m * stride
	spread = Reshape(spread, newDims...)
	return SliceAxis(spread, axis, AxisRange(0, (m-1)*stride+1))
}

// padWithZeros concatenates `before` and `after` zeros to v along axis.
func padWithZeros(v *Node, axis, before, after int) *Node {
	parts := make([]*Node, 0, 3)
	zeros := func(n int) *Node {
		shape := v.Shape().Clone()
		shape.Dimensions[axis] = n
		return Zeros(v.Graph(), shape)
	}
	if before > 0 {
		parts = append(parts, zeros(before))
	}
	parts = append(parts, v)
	if after > 0 {
		parts = append(parts, zeros(after))
	}
	if len(parts) == 1 {
		return v
	}
	return Concatenate(parts, axis)
}

// intField reads an []int parameter of a node's (unexported) inputs struct, e.g. the contracting
// axes of a DotGeneral. GoMLX v0.26.0 has no public accessor for them; reflection reads them
// without unsafe. It panics if GoMLX renames the field, which the tests catch at once.
func intField(node *Node, name string) []int {
	inputs := reflect.ValueOf(node).Elem().FieldByName("inputs").Elem().Elem()
	f := inputs.FieldByName(name)
	if !f.IsValid() {
		panic("fastgrad: GoMLX node " + node.Type().String() + " has no field " + name +
			"; this package matches GoMLX v0.26.0")
	}
	out := make([]int, f.Len())
	for i := range out {
		out[i] = int(f.Index(i).Int())
	}
	return out
}

// freeAxes are the axes of an operand that are neither contracted nor batch.
func freeAxes(rank int, contracting, batch []int) []int {
	var free []int
	for axis := range rank {
		if !slices.Contains(contracting, axis) && !slices.Contains(batch, axis) {
			free = append(free, axis)
		}
	}
	return free
}

func iota(start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i
	}
	return out
}

func isIdentity(perm []int) bool {
	for i, p := range perm {
		if i != p {
			return false
		}
	}
	return true
}
