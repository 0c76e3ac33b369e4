// Package chain holds what the loops that run one compiled step from Go share (annealed Langevin
// dynamics in sbikit/score, DDPM and DDIM in sbikit/diffusion, the ODE solver in sbikit/ode, the PDE
// rollout in physics): noise drawn in Go from the caller's random stream, so that a seed fixes the
// samples and samplers share no random state; scalar inputs and outputs in the state's dtype
// (float32 or float64); and an in-graph finiteness check of the new state.
package chain

import (
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// AllFinite is a scalar boolean node: whether every element of every node of state is finite. A step
// graph returns it next to the new state, so that the loop can stop on a NaN or Inf with one scalar
// read instead of copying the state to the host.
func AllFinite(state []*graph.Node) *graph.Node {
	if len(state) == 0 {
		panic("chain: AllFinite needs at least one node")
	}
	all := graph.LogicalAll(graph.IsFinite(state[0]))
	for _, x := range state[1:] {
		all = graph.LogicalAnd(all, graph.LogicalAll(graph.IsFinite(x)))
	}
	return all
}

// Normals is a tensor of standard normal draws from rng with the given dtype and dimensions.
func Normals(rng *rand.Rand, dtype dtypes.DType, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	if dtype == dtypes.Float32 {
		z := make([]float32, n)
		for i := range z {
			z[i] = float32(rng.NormFloat64())
		}
		return tensors.FromFlatDataAndDimensions(z, dims...)
	}
	z := make([]float64, n)
	for i := range z {
		z[i] = rng.NormFloat64()
	}
	return tensors.FromFlatDataAndDimensions(z, dims...)
}

// Scalar is v as a scalar tensor of dtype (float32 or float64).
func Scalar(dtype dtypes.DType, v float64) *tensors.Tensor {
	if dtype == dtypes.Float32 {
		return tensors.FromScalar(float32(v))
	}
	return tensors.FromScalar(v)
}

// Float64s copies a float32 or float64 tensor's values as float64.
func Float64s(t *tensors.Tensor) ([]float64, error) {
	if t.DType() == dtypes.Float64 {
		return tensors.CopyFlatData[float64](t)
	}
	v, err := tensors.CopyFlatData[float32](t)
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out, err
}
