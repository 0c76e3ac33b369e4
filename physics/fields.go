package physics

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// MaxAbs is max|x| over every value of the float32 or float64 fields, read in place on the host: the
// speed bound a state-dependent stability check (StateChecker) compares with its setting. A NaN
// among the values makes it NaN; the caller reports a non-finite result.
func MaxAbs(fields ...*tensors.Tensor) (float64, error) {
	m := 0.0
	for _, f := range fields {
		if dt := f.DType(); dt != dtypes.Float32 && dt != dtypes.Float64 {
			return 0, fmt.Errorf("physics: fields must be float32 or float64, got %s", dt)
		}
		err := f.ConstFlatData(func(flat any) {
			switch v := flat.(type) {
			case []float32:
				for _, x := range v {
					m = max(m, math.Abs(float64(x)))
				}
			case []float64:
				for _, x := range v {
					m = max(m, math.Abs(x))
				}
			}
		})
		if err != nil {
			return 0, err
		}
	}
	return m, nil
}
