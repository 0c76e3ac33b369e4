package diffusion

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Flow is the probability-flow ODE of a trained model (Song et al. 2021): the deterministic process
// whose marginals are those of the forward diffusion,
//
//	dx/ds = −½ β(s) (x − ε_θ(x, s)/√(1 − ᾱ(s))),  s ∈ [0, 1] from the data to the noise,
//
// with ᾱ(s) the schedule's ᾱ_t interpolated log-linearly between the steps (t = sT) and β(s) =
// −d log ᾱ/ds. As a continuous normalizing flow it has a log-likelihood, by the instantaneous change
// of variables; Flow implements cnf.VectorField with cnf's time τ = 1 − s running from the noise
// (τ = 0, N(0, I)) to the data, so that cnf.Flow's DensityField and the ode solvers compute it.
type Flow struct {
	Tables Tables
	Eps    Func // the noise predictor; cnf's condition c is its one extra input (none when c is nil)
}

// Velocity is −dx/ds at s = 1 − τ, for the states z [b, d], τ a scalar and the condition c (nil:
// unconditional). The drift is singular at s = 0, where ᾱ = 1: solve over τ ∈ [0, End()].
func (f Flow) Velocity(ctx *context.Context, z, tau, c *Node) *Node {
	st := MulScalar(OneMinus(ConvertDType(tau, z.DType())), float64(f.Tables.T)) // the step t = sT, continuous
	logAlphaBar, beta := f.Tables.Continuous(st)
	var extra []*Node
	if c != nil {
		extra = []*Node{c}
	}
	eps := f.Eps(ctx, z, st, extra)
	drift := MulScalar(Mul(Reshape(beta, 1, 1), Sub(z, Div(eps, Reshape(Sqrt(OneMinus(Exp(logAlphaBar))), 1, 1)))), -0.5)
	return Neg(drift)
}

// End is the τ at which the flow reaches the data side: 1 − 1/T, the first step of the schedule
// (x₁, x₀ with noise of std √β₁, 0.01 for the linear schedule). The log-likelihood of the flow is that
// of x at this step.
func (f Flow) End() float64 { return 1 - 1/float64(f.Tables.T) }

// Continuous is the schedule at a continuous step t ∈ [0, T] (a scalar): log ᾱ(t) interpolated
// linearly between the steps, and β = −d log ᾱ/ds (s = t/T) on its segment, so that the discrete
// model's ᾱ_t are the continuous one's at the integers.
func (tb Tables) Continuous(t *Node) (logAlphaBar, beta *Node) {
	g, dtype := t.Graph(), t.DType()
	logAB := make([]float64, tb.T+1)
	for i, ab := range tb.AlphaBar {
		logAB[i] = math.Log(ab)
	}
	table := ConstAsDType(g, dtype, logAB)
	idx := MinScalar(MaxScalar(Floor(t), 0), float64(tb.T-1))
	i0 := Reshape(ConvertDType(idx, dtypes.Int32), 1, 1)
	lo := Reshape(Gather(table, i0), 1)
	hi := Reshape(Gather(table, AddScalar(i0, 1)), 1)
	logAlphaBar = Reshape(Add(lo, Mul(Sub(hi, lo), Reshape(Sub(t, idx), 1))), 1)
	return logAlphaBar, MulScalar(Sub(lo, hi), float64(tb.T))
}
