package flows

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Kinds of flow that Config builds.
const (
	KindCoupling = "coupling" // affine coupling layers (RealNVP)
	KindMAF      = "maf"      // affine masked autoregressive transforms
	KindNSF      = "nsf"      // rational-quadratic spline coupling layers (neural spline flow)
	KindNSFAR    = "nsf-ar"   // rational-quadratic spline autoregressive transforms
)

// Kinds lists the flow kinds, for help texts and validation.
var Kinds = []string{KindCoupling, KindMAF, KindNSF, KindNSFAR}

// Config describes a flow; it is what a checkpoint stores to rebuild one. The zero value of each field
// takes its default (see WithDefaults).
type Config struct {
	Kind       string  `json:"kind"`
	Transforms int     `json:"transforms"` // number of transforms (default 5)
	Hidden     int     `json:"hidden"`     // units per hidden layer of each conditioner (default: see WithDefaults)
	Layers     int     `json:"layers"`     // hidden layers per conditioner (default 2)
	Bins       int     `json:"bins"`       // spline bins (default 8)
	Bound      float64 `json:"bound"`      // spline interval [−Bound, Bound], identity outside (default 4)
}

// WithDefaults fills the unset fields for a flow over dim dimensions. The default width is 32 hidden
// units per 4 dimensions (32 for 2-D, 64 for 5-D, 96 for 10-D): wide enough for the sbibm tasks, and
// a multiple of 32, the block size of the pure-Go backend's matrix product, which pads other widths.
func (c Config) WithDefaults(dim int) Config {
	if c.Kind == "" {
		c.Kind = KindNSF
	}
	if c.Transforms == 0 {
		c.Transforms = 5
	}
	if c.Hidden == 0 {
		c.Hidden = 32 * max(1, (dim+3)/4)
	}
	if c.Layers == 0 {
		c.Layers = 2
	}
	if c.Bins == 0 {
		c.Bins = 8
	}
	if c.Bound == 0 {
		c.Bound = 4
	}
	return c
}

// Flow is a normalizing flow over d dimensions: a standard-normal base N(0, I) pushed through the
// inverses of Transforms, so that the density of x is, by the change of variables,
//
//	log q(x|c) = log N(f(x; c); 0, I) + log|det ∂f/∂x|,  f = f_K ∘ … ∘ f_1,
//
// with each f_k a Transform and its log-determinants summed.
type Flow struct {
	Dim        int
	Transforms []Transform
}

// New builds the flow c describes over dim dimensions. Coupling kinds need dim ≥ 2 (with one dimension
// nothing is left to condition on); use an autoregressive kind for dim = 1.
func New(c Config, dim int) (Flow, error) {
	c = c.WithDefaults(dim)
	if dim < 1 {
		return Flow{}, fmt.Errorf("flows: dimension must be ≥ 1, got %d", dim)
	}
	if c.Transforms < 1 || c.Hidden < 1 || c.Layers < 1 || c.Bins < 2 || !(c.Bound > 0) {
		return Flow{}, fmt.Errorf("flows: need transforms, hidden, layers ≥ 1, bins ≥ 2 and bound > 0, got %+v", c)
	}
	net := Net{Hidden: c.Hidden, Layers: c.Layers}
	spline := Spline{Bins: c.Bins, Bound: c.Bound}
	f := Flow{Dim: dim}
	switch c.Kind {
	case KindCoupling, KindNSF:
		if dim < 2 {
			return Flow{}, fmt.Errorf("flows: a %q flow needs at least 2 dimensions, got 1; use %q or %q", c.Kind, KindMAF, KindNSFAR)
		}
		var m Elementwise = Affine{}
		if c.Kind == KindNSF {
			m = spline
		}
		for _, mask := range couplingMasks(dim, c.Transforms) {
			f.Transforms = append(f.Transforms, Coupling{Mask: mask, Net: net, Map: m})
		}
	case KindMAF, KindNSFAR:
		var m Elementwise = Affine{}
		if c.Kind == KindNSFAR {
			m = spline
		}
		for _, order := range autoregressiveOrders(dim, c.Transforms) {
			f.Transforms = append(f.Transforms, Autoregressive{Order: order, Net: net, Map: m})
		}
	default:
		return Flow{}, fmt.Errorf("flows: unknown kind %q, want one of %v", c.Kind, Kinds)
	}
	return f, nil
}

// scope is the context scope of transform k.
func scope(ctx *context.Context, k int) *context.Context {
	return ctx.In(fmt.Sprintf("transform_%d", k))
}

// LogProb is log q(x|c) for x [batch, Dim], one value per row.
func (f Flow) LogProb(ctx *context.Context, x, c *Node) *Node {
	z, sum := x, (*Node)(nil)
	for k, t := range f.Transforms {
		var ld *Node
		z, ld = t.Forward(scope(ctx, k), z, c)
		if sum == nil {
			sum = ld
		} else {
			sum = Add(sum, ld)
		}
	}
	return Add(StandardNormalLogProb(z), sum)
}

// Sample maps base draws eps [batch, Dim] (standard normal) to samples x of the flow, returning also
// log q(x|c) = log N(eps) − log|det ∂x/∂eps|, which costs nothing extra.
func (f Flow) Sample(ctx *context.Context, eps, c *Node) (x, logProb *Node) {
	x, logProb = eps, StandardNormalLogProb(eps)
	for k := len(f.Transforms) - 1; k >= 0; k-- {
		var ld *Node
		x, ld = f.Transforms[k].Inverse(scope(ctx, k), x, c)
		logProb = Sub(logProb, ld)
	}
	return x, logProb
}

// StandardNormalLogProb is log N(z; 0, I) per row of z [batch, d].
func StandardNormalLogProb(z *Node) *Node {
	d := float64(z.Shape().Dim(-1))
	return AddScalar(MulScalar(ReduceSum(Square(z), -1), -0.5), -0.5*d*math.Log(2*math.Pi))
}
