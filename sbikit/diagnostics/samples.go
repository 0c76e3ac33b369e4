package diagnostics

import (
	"fmt"
	"math"
)

// flatten checks that x is a non-empty set of equal-length rows of finite numbers and
// copies it into one row-major slice, the layout the hot loops want.
func flatten(name string, x [][]float64) (flat []float64, dim int, err error) {
	if len(x) == 0 {
		return nil, 0, fmt.Errorf("diagnostics: sample set %s is empty; pass at least one row", name)
	}
	dim = len(x[0])
	if dim == 0 {
		return nil, 0, fmt.Errorf("diagnostics: rows of %s have no columns; pass rows with one value per dimension", name)
	}
	flat = make([]float64, 0, len(x)*dim)
	for i, row := range x {
		if len(row) != dim {
			return nil, 0, fmt.Errorf("diagnostics: row %d of %s has %d values but row 0 has %d; every row must have the same length", i, name, len(row), dim)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, 0, fmt.Errorf("diagnostics: %s[%d][%d] is %v; drop or repair non-finite samples first", name, i, j, v)
			}
		}
		flat = append(flat, row...)
	}
	return flat, dim, nil
}

// flattenPair flattens both sets and checks that they live in the same space.
func flattenPair(a, b [][]float64) (fa, fb []float64, dim int, err error) {
	fa, dim, err = flatten("a", a)
	if err != nil {
		return nil, nil, 0, err
	}
	fb, dimB, err := flatten("b", b)
	if err != nil {
		return nil, nil, 0, err
	}
	if dim != dimB {
		return nil, nil, 0, fmt.Errorf("diagnostics: a has %d dimensions but b has %d; compare samples of the same variables", dim, dimB)
	}
	return fa, fb, dim, nil
}
