package flows

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
)

// Elementwise is a monotonic bijection of each element of x, parametrised per element by NumParams values
// that a conditioner network predicts. Coupling and autoregressive transforms differ only in what those
// parameters may depend on; the element-wise map is what this interface swaps (affine or spline).
type Elementwise interface {
	// NumParams is the number of parameters per element.
	NumParams() int
	// Apply maps x [batch, d] with params [batch, d, NumParams] to y and log|dy/dx| per element. With
	// inverse set, x is read as the map's output and the inverse map and log|dx/dy| are returned.
	// A zero params tensor must give the identity.
	Apply(x, params *Node, inverse bool) (y, logAbsDet *Node)
}

// Affine is y = x·exp(s) + t (RealNVP, Dinh et al. 2017; MAF, Papamakarios et al. 2017), with the
// log-scale s soft-clamped to (−MaxLogScale, MaxLogScale) by s = M·tanh(raw/M), so that one badly
// conditioned batch cannot make a scale overflow.
type Affine struct{}

// MaxLogScale bounds the log-scale of one affine transform: a factor of e⁵ ≈ 150 per transform.
const MaxLogScale = 5.0

// NumParams is 2: the shift t and the raw log-scale.
func (Affine) NumParams() int { return 2 }

// Apply implements Elementwise.
func (Affine) Apply(x, params *Node, inverse bool) (y, logAbsDet *Node) {
	shift, raw := paramAt(params, 0), paramAt(params, 1)
	logScale := MulScalar(Tanh(MulScalar(raw, 1/MaxLogScale)), MaxLogScale)
	if inverse {
		return Mul(Sub(x, shift), Exp(Neg(logScale))), Neg(logScale)
	}
	return Add(Mul(x, Exp(logScale)), shift), logScale
}

// Spline is the rational-quadratic spline of RationalQuadraticSpline with Bins bins on [−Bound, Bound]
// and identity tails (neural spline flows, Durkan et al. 2019). Zero parameters give equal bins and unit
// knot derivatives minus the floors, which is the identity map.
type Spline struct {
	Bins  int
	Bound float64
}

// NumParams is 3K−1: K widths, K heights and the K−1 interior knot derivatives.
func (s Spline) NumParams() int { return 3*s.Bins - 1 }

// Apply implements Elementwise.
func (s Spline) Apply(x, params *Node, inverse bool) (y, logAbsDet *Node) {
	k := s.Bins
	w := Slice(params, AxisRange(), AxisRange(), AxisRange(0, k))
	h := Slice(params, AxisRange(), AxisRange(), AxisRange(k, 2*k))
	d := Slice(params, AxisRange(), AxisRange(), AxisRange(2*k, 3*k-1))
	// softplus(u) + MinDerivative = 1 at u = softplus⁻¹(1 − MinDerivative): shift so that zero
	// parameters are the identity.
	d = AddScalar(d, inverseSoftplusOfOneMinusMin)
	return RationalQuadraticSpline(x, w, h, d, s.Bound, inverse)
}

// paramAt is params[..., i] for params [..., d, p].
func paramAt(params *Node, i int) *Node {
	return Squeeze(Slice(params, AxisRange(), AxisRange(), AxisRange(i, i+1)), -1)
}

// inverseSoftplusOfOneMinusMin is log(e^(1−MinDerivative) − 1), the raw derivative parameter whose
// knot derivative is exactly 1.
const inverseSoftplusOfOneMinusMin = 0.539742417236952
