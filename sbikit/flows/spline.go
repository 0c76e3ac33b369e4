// Package flows holds the element-wise bijections and the flows built from them.
package flows

import (
	"fmt"
	"slices"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Lower bounds on the spline's bin widths, bin heights and interior knot derivatives, the values nflows
// and zuko use. They keep every bin from collapsing (a zero-width bin divides by zero, and the bin search
// cannot tell two equal knots apart) and every slope away from zero (so log|dy/dx| stays finite and the
// inverse stays well conditioned), whatever the network that predicts the parameters outputs.
const (
	MinBinWidth   = 1e-3
	MinBinHeight  = 1e-3
	MinDerivative = 1e-3
)

// RationalQuadraticSpline applies the element-wise monotonic rational-quadratic spline with K bins on
// [−bound, bound] and identity ("linear") tails outside it, of Durkan, Bekasov, Murray & Papamakarios,
// "Neural Spline Flows", NeurIPS 2019 (arXiv:1906.04032).
//
// The spline is the Gregory–Delbourgo construction the paper uses (its Sec. 3.1): K+1 knots (x_k, y_k)
// from −bound to bound, with derivatives δ_k at the knots. Inside bin k, with ξ = (x − x_k)/w_k the
// position in the bin, w_k and h_k the bin's width and height and s_k = h_k/w_k its slope, the paper's
// bin-wise rational quadratic (its eq. 4) is
//
//	y = y_k + h_k [s_k ξ² + δ_k ξ(1−ξ)] / [s_k + (δ_{k+1} + δ_k − 2 s_k) ξ(1−ξ)],
//
// and its derivative (the paper's eq. 5) is
//
//	dy/dx = s_k² [δ_{k+1} ξ² + 2 s_k ξ(1−ξ) + δ_k (1−ξ)²] / [s_k + (δ_{k+1} + δ_k − 2 s_k) ξ(1−ξ)]².
//
// The inverse (the paper's Appendix A) solves that rational equation for ξ, a quadratic a ξ² + b ξ + c = 0
// with, for Δ = y − y_k,
//
//	a = h_k (s_k − δ_k) + Δ (δ_{k+1} + δ_k − 2 s_k),
//	b = h_k δ_k − Δ (δ_{k+1} + δ_k − 2 s_k),
//	c = −s_k Δ,
//
// whose root in [0, 1] is taken in the form ξ = 2c / (−b − √(b² − 4ac)), the one the paper recommends:
// the textbook (−b + √·)/2a cancels catastrophically when a is small (nearly linear bins). log|dx/dy| is
// minus the forward log-derivative at the recovered ξ.
//
// Shapes: x is [batch, d] (any leading shape works; the parameters add one trailing axis).
// unnormalizedWidths and unnormalizedHeights are [batch, d, K]: a softmax over K, a floor of MinBinWidth
// (MinBinHeight) per bin as in nflows, w = min + (1 − min·K)·softmax, and a cumulative sum give the knots.
// unnormalizedDerivatives is [batch, d, K−1], the interior knots only: δ = MinDerivative + softplus(u).
// The two boundary derivatives are fixed to 1 so that the spline joins the identity tails with a
// continuous first derivative, and the flow's density has no kink at ±bound.
//
// It returns y and log|dy/dx| per element, both shaped like x. With inverse=true, x is read as the
// spline's output: it returns the input that maps to it and log|dx/dy|.
//
// Elements outside [−bound, bound] pass through unchanged with log-det 0. The spline branch is computed
// on an input replaced by 0 outside the interval, so that it is finite everywhere and the Where that picks the
// tail cannot multiply a NaN or Inf by zero in the backward pass. The function is differentiable with
// respect to x and all three parameter tensors, in float32 and float64.
//
// It uses only Slice, Concatenate, Where, comparisons and element-wise ops (no Gather, Pad, Sort or
// While), so it runs, and differentiates, on the pure-Go backend (with internal/fastgrad's Slice
// gradient, which sbikit/backend installs): the cumulative sum is K running additions, and the bin
// search counts the knots at or below each input and selects that bin's quantities with a one-hot
// mask, which at K ≈ 8 is as fast as a gather and simpler to differentiate. (Products with constant
// 0/1 matrices would also do the sums and shifts, but the pure-Go DotGeneral pads a contraction over K
// to its 32-wide blocks at sampling batch sizes, which made them most of the sampling time.)
func RationalQuadraticSpline(x, unnormalizedWidths, unnormalizedHeights, unnormalizedDerivatives *Node,
	bound float64, inverse bool) (y, logAbsDet *Node) {
	dtype := x.DType()
	if !dtype.IsFloat() {
		panicf("RationalQuadraticSpline: x must be float32 or float64, got %s", dtype)
	}
	if !(bound > 0) {
		panicf("RationalQuadraticSpline: bound must be > 0, got %g", bound)
	}
	rank := x.Rank()
	k := unnormalizedWidths.Shape().Dim(-1)
	checkParam := func(name string, p *Node, last int) {
		if p.DType() != dtype {
			panicf("RationalQuadraticSpline: %s has dtype %s, x has %s", name, p.DType(), dtype)
		}
		want := append(x.Shape().Clone().Dimensions, last)
		if p.Rank() != rank+1 || !slices.Equal(p.Shape().Dimensions, want) {
			panicf("RationalQuadraticSpline: %s must have dimensions %v (x's plus K=%d), got %s",
				name, want, k, p.Shape())
		}
	}
	if k < 1 {
		panicf("RationalQuadraticSpline: need at least one bin, got K=%d", k)
	}
	if float64(k)*MinBinWidth >= 1 || float64(k)*MinBinHeight >= 1 {
		panicf("RationalQuadraticSpline: K=%d bins cannot all be at least %g wide", k, MinBinWidth)
	}
	checkParam("unnormalizedWidths", unnormalizedWidths, k)
	checkParam("unnormalizedHeights", unnormalizedHeights, k)
	checkParam("unnormalizedDerivatives", unnormalizedDerivatives, k-1)

	xLo, xHi := knots(unnormalizedWidths, bound, MinBinWidth)
	yLo, yHi := knots(unnormalizedHeights, bound, MinBinHeight)
	dLo, dHi := knotDerivatives(unnormalizedDerivatives, k)

	// Which elements the spline transforms; the rest follow the identity tails.
	inside := LogicalAnd(GreaterOrEqual(x, Scalar(x.Graph(), dtype, -bound)),
		LessOrEqual(x, Scalar(x.Graph(), dtype, bound)))
	// The spline branch sees the inside elements as they are and 0 (any point of the interval would do)
	// for the rest, so it never evaluates out of range. Where, unlike a clamp, passes the gradient of an
	// input exactly at ±bound through unchanged (Min/Max split or drop it at ties).
	in := Where(inside, x, ZerosLike(x))

	// Bin search on the knots of the side the input lives on, then each bin's quantities.
	searchLo := xLo
	if inverse {
		searchLo = yLo
	}
	mask := binMask(in, searchLo)
	pick := func(v *Node) *Node { return ReduceSum(Mul(mask, v), -1) }
	xk, wk := pick(xLo), pick(Sub(xHi, xLo))
	yk, hk := pick(yLo), pick(Sub(yHi, yLo))
	dk, dk1 := pick(dLo), pick(dHi)
	sk := Div(hk, wk)
	curv := Sub(Add(dk1, dk), MulScalar(sk, 2)) // δ_{k+1} + δ_k − 2 s_k: zero for a straight bin.

	var out, xi *Node
	if !inverse {
		xi = Div(Sub(in, xk), wk)
		t := Mul(xi, OneMinus(xi))
		num := Mul(hk, Add(Mul(sk, Square(xi)), Mul(dk, t)))
		den := Add(sk, Mul(curv, t))
		out = Add(yk, Div(num, den))
	} else {
		delta := Sub(in, yk)
		a := Add(Mul(hk, Sub(sk, dk)), Mul(delta, curv))
		b := Sub(Mul(hk, dk), Mul(delta, curv))
		c := Neg(Mul(sk, delta))
		// b² − 4ac ≥ 0 for a monotone bin; the floor only guards against rounding.
		disc := MaxScalar(Sub(Square(b), MulScalar(Mul(a, c), 4)), 0)
		xi = Div(MulScalar(c, 2), Sub(Neg(b), Sqrt(disc)))
		out = Add(xk, Mul(xi, wk))
	}
	logDeriv := forwardLogDerivative(xi, sk, dk, dk1, curv)
	if inverse {
		logDeriv = Neg(logDeriv)
	}
	y = Where(inside, out, x)
	logAbsDet = Where(inside, logDeriv, ZerosLike(x))
	return y, logAbsDet
}

// forwardLogDerivative is log dy/dx inside a bin (the log of the paper's eq. 5), computed as a
// difference of logs so that it does not overflow for steep bins.
func forwardLogDerivative(xi, sk, dk, dk1, curv *Node) *Node {
	t := Mul(xi, OneMinus(xi))
	num := Add(Add(Mul(dk1, Square(xi)), Mul(MulScalar(sk, 2), t)), Mul(dk, Square(OneMinus(xi))))
	den := Add(sk, Mul(curv, t))
	return Sub(Add(MulScalar(Log(sk), 2), Log(num)), MulScalar(Log(den), 2))
}

// knots turns unnormalized bin sizes u [..., K] into the lower and upper knot positions of every bin,
// both [..., K], on [−bound, bound]. The outer knots are set to exactly ±bound (the cumulative sum of the
// floored softmax is 1 only up to rounding), so the spline maps the interval exactly onto itself and
// meets the tails without a jump.
func knots(u *Node, bound, minSize float64) (lo, hi *Node) {
	k := u.Shape().Dim(-1)
	sizes := AddScalar(MulScalar(Softmax(u, -1), 1-minSize*float64(k)), minSize)
	// The interior knots are −bound + 2·bound·Σ_{i≤j} sizes_i, j = 0..K−2.
	inner := make([]*Node, 0, k+1)
	edge := Slice(sizes, lastAxisRange(sizes, 0, 1)...)
	inner = append(inner, Neg(OnesLike(edge)))
	acc := edge
	for j := 0; j < k-1; j++ {
		if j > 0 {
			acc = Add(acc, Slice(sizes, lastAxisRange(sizes, j, j+1)...))
		}
		inner = append(inner, AddScalar(MulScalar(acc, 2), -1))
	}
	inner = append(inner, OnesLike(edge))
	all := MulScalar(Concatenate(inner, -1), bound) // [..., K+1]: −bound, the K−1 interior knots, bound
	return Slice(all, lastAxisRange(all, 0, k)...), Slice(all, lastAxisRange(all, 1, k+1)...)
}

// knotDerivatives turns unnormalized interior derivatives u [..., K−1] into the derivatives at the lower
// and upper knot of every bin, both [..., K], with the two boundary derivatives fixed to 1.
func knotDerivatives(u *Node, k int) (lo, hi *Node) {
	if k == 1 {
		dims := append(u.Shape().Clone().Dimensions[:u.Rank()-1], 1)
		ones := OnesLike(Reshape(ReduceSum(u, -1), dims...))
		return ones, ones
	}
	interior := AddScalar(Softplus(u), MinDerivative)
	one := OnesLike(Slice(interior, lastAxisRange(interior, 0, 1)...))
	return Concatenate([]*Node{one, interior}, -1), Concatenate([]*Node{interior, one}, -1)
}

// lastAxisRange selects [from, to) of the last axis of x and all of the others, for Slice.
func lastAxisRange(x *Node, from, to int) []SliceAxisSpec {
	spec := make([]SliceAxisSpec, x.Rank())
	for i := range spec {
		spec[i] = AxisRange()
	}
	spec[len(spec)-1] = AxisRange(from, to)
	return spec
}

// binMask returns the one-hot [..., K] mask, in v's dtype, of the bin that holds each element of v
// ([...], already inside the interval): the bin index is the number of lower knots at or below v,
// minus one. Counting lower knots only (the first is −bound) keeps the index in 0..K−1 at v = bound.
func binMask(v, lo *Node) *Node {
	g, dtype := v.Graph(), v.DType()
	vb := BroadcastToDims(InsertAxes(v, -1), lo.Shape().Dimensions...)
	above := ConvertDType(GreaterOrEqual(vb, lo), dtype)
	idx := AddScalar(ReduceSum(above, -1), -1)
	bins := Iota(g, shapes.Make(dtype, lo.Shape().Dimensions...), lo.Rank()-1)
	hot := Equal(bins, BroadcastToDims(InsertAxes(idx, -1), lo.Shape().Dimensions...))
	return ConvertDType(hot, dtype)
}

// panicf panics with a formatted message, the way GoMLX graph-building functions report misuse.
func panicf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
