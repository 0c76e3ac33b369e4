// Package npy reads and writes NumPy's .npy and .npz files with the standard library only,
// so that datasets and samples made in Go open with a plain np.load in Python and back.
//
// Supported element types are the ones simulation data needs: float64 ("<f8"), float32
// ("<f4"), int64 ("<i8"), int32 ("<i4"), uint8 ("|u1"), bool ("|b1") and 0-d unicode
// strings ("<U…", for metadata such as a task name). Arrays are held in C (row-major) order;
// Fortran-ordered files are reordered on read. Big-endian files are refused with a message
// that says how to convert them in numpy.
//
// Files are written as .npy format version 1.0 (2.0 when a header is too long for 1.0);
// versions 1.0, 2.0 and 3.0 are read.
package npy

import (
	"fmt"
	"math"
)

// Array is one NumPy array. Exactly one of Float, Int and Str holds the data, chosen by DType:
// Float for "<f8" and "<f4", Int for "<i8", "<i4", "|u1" and "|b1", Str for "<U…".
// Float32 values are widened to float64 on read and rounded to float32 on write, so that
// callers handle a single float type.
type Array struct {
	// DType is NumPy's descr string, e.g. "<f8".
	DType string
	// Shape is the array's shape; empty for a 0-d (scalar) array.
	Shape []int
	Float []float64
	Int   []int64
	// Str is the value of a 0-d string array.
	Str string
}

// Float64 returns a float64 array with the given shape; data is in C order and not copied.
func Float64(data []float64, shape ...int) *Array {
	return &Array{DType: "<f8", Shape: shape, Float: data}
}

// Float32 returns an array stored as float32 (half the bytes); data is rounded when written.
func Float32(data []float64, shape ...int) *Array {
	return &Array{DType: "<f4", Shape: shape, Float: data}
}

// Int64 returns an int64 array with the given shape; data is in C order and not copied.
func Int64(data []int64, shape ...int) *Array {
	return &Array{DType: "<i8", Shape: shape, Int: data}
}

// Int64Scalar returns a 0-d int64 array, what numpy makes of a Python int.
func Int64Scalar(v int64) *Array {
	return &Array{DType: "<i8", Shape: []int{}, Int: []int64{v}}
}

// String returns a 0-d unicode string array, what numpy makes of a Python str.
func String(s string) *Array {
	return &Array{DType: fmt.Sprintf("<U%d", max(1, len([]rune(s)))), Shape: []int{}, Str: s}
}

// Size is the number of elements: the product of Shape (1 for a 0-d array).
func (a *Array) Size() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// Rows returns a 2-D float array as one slice per row (the slices share the array's data).
func (a *Array) Rows() ([][]float64, error) {
	if !isFloat(a.DType) {
		return nil, fmt.Errorf("array of dtype %s is not a float array", a.DType)
	}
	if len(a.Shape) != 2 {
		return nil, fmt.Errorf("array of shape %v is not 2-D", a.Shape)
	}
	n, d := a.Shape[0], a.Shape[1]
	if len(a.Float) != n*d {
		return nil, fmt.Errorf("array of shape %v holds %d values, want %d", a.Shape, len(a.Float), n*d)
	}
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = a.Float[i*d : (i+1)*d : (i+1)*d]
	}
	return rows, nil
}

// FromRows packs equal-length rows into a 2-D float64 array [len(rows), len(rows[0])].
func FromRows(rows [][]float64) (*Array, error) {
	if len(rows) == 0 {
		return Float64(nil, 0, 0), nil
	}
	d := len(rows[0])
	data := make([]float64, 0, len(rows)*d)
	for i, r := range rows {
		if len(r) != d {
			return nil, fmt.Errorf("row %d has %d values, row 0 has %d", i, len(r), d)
		}
		data = append(data, r...)
	}
	return Float64(data, len(rows), d), nil
}

func isFloat(dtype string) bool { return dtype == "<f8" || dtype == "<f4" }

// dtype describes one supported element type.
type dtype struct {
	descr string // canonical descr
	size  int    // bytes per element
	runes int    // for unicode strings: characters per element
}

// parseDType accepts the descr strings numpy writes for the supported types.
func parseDType(descr string) (dtype, error) {
	if descr == "" {
		return dtype{}, fmt.Errorf("empty dtype")
	}
	order, rest := byte('|'), descr
	if c := descr[0]; c == '<' || c == '>' || c == '|' || c == '=' {
		order, rest = c, descr[1:]
	}
	var t dtype
	switch rest {
	case "f8":
		t = dtype{descr: "<f8", size: 8}
	case "f4":
		t = dtype{descr: "<f4", size: 4}
	case "i8":
		t = dtype{descr: "<i8", size: 8}
	case "i4":
		t = dtype{descr: "<i4", size: 4}
	case "u1":
		t = dtype{descr: "|u1", size: 1}
	case "b1", "?":
		t = dtype{descr: "|b1", size: 1}
	default:
		var n int
		if _, err := fmt.Sscanf(rest, "U%d", &n); err != nil || fmt.Sprintf("U%d", n) != rest || n < 0 || n > 1<<24 {
			return dtype{}, fmt.Errorf("unsupported dtype %q (supported: <f8 <f4 <i8 <i4 |u1 |b1 <U); convert it in numpy with a.astype('<f8')", descr)
		}
		t = dtype{descr: fmt.Sprintf("<U%d", n), size: 4 * n, runes: n}
	}
	if order == '>' && t.size > 1 {
		return dtype{}, fmt.Errorf("big-endian dtype %q is not supported; save it from numpy as a.astype('%s')", descr, t.descr)
	}
	return t, nil
}

// elements returns the product of shape, refusing negative sizes and overflow.
func elements(shape []int, itemSize int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= d
	}
	if itemSize > 0 && n > math.MaxInt/itemSize {
		return 0, fmt.Errorf("shape %v is too large", shape)
	}
	return n, nil
}
