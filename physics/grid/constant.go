package grid

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Constant is x (row-major over dims) as a constant of g in dtype: the host-side fields and matrices
// of the simulators (velocity coefficients, spectral operators, prior variances). It converts x with
// a typed loop, because graph.ConstAsDType converts element by element through reflection, which
// took seconds for the coefficients of a 1024² grid and most of a minute at 4096².
func Constant(g *Graph, dtype dtypes.DType, x []float64, dims ...int) *Node {
	switch dtype {
	case dtypes.Float64:
		return ConstTensor(g, tensors.FromFlatDataAndDimensions(x, dims...))
	case dtypes.Float32:
		x32 := make([]float32, len(x))
		for i, v := range x {
			x32[i] = float32(v)
		}
		return ConstTensor(g, tensors.FromFlatDataAndDimensions(x32, dims...))
	}
	return ConvertDType(ConstTensor(g, tensors.FromFlatDataAndDimensions(x, dims...)), dtype)
}
