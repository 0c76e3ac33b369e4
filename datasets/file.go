package datasets

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/probinv/probinv/sbikit/npy"
	"github.com/probinv/probinv/sbikit/tasks"
)

// Save writes the dataset to a .npz file that np.load opens without pickles:
// "x" [n, dimX] and "y" [n, dimY] float64, "task" a 0-d string, and "seed", "n" and
// "dropped" int64 scalars. A seed of 2^63 or more appears negative in numpy (same bits).
// The file is written whole or not at all.
func (d *Dataset) Save(path string) error {
	if err := d.check(); err != nil {
		return fmt.Errorf("datasets: not saving %s: %w", path, err)
	}
	x, err := npy.FromRows(d.X)
	if err != nil {
		return fmt.Errorf("datasets: not saving %s: x: %w", path, err)
	}
	y, err := npy.FromRows(d.Y)
	if err != nil {
		return fmt.Errorf("datasets: not saving %s: y: %w", path, err)
	}
	return npy.SaveNPZ(path, map[string]*npy.Array{
		"x":       x,
		"y":       y,
		"task":    npy.String(d.Task),
		"seed":    npy.Int64Scalar(int64(d.Seed)),
		"n":       npy.Int64Scalar(int64(len(d.X))),
		"dropped": npy.Int64Scalar(int64(d.Dropped)),
	})
}

// Load reads a dataset written by Save (or by numpy with the same arrays) and checks that it
// is whole: x and y have as many rows as "n" says and hold no NaN or Inf.
func Load(path string) (*Dataset, error) {
	arrays, err := npy.LoadNPZ(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	d, err := fromArrays(arrays)
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", path, err)
	}
	return d, nil
}

func fromArrays(arrays map[string]*npy.Array) (*Dataset, error) {
	for _, k := range []string{"x", "y", "task", "seed", "n", "dropped"} {
		if arrays[k] == nil {
			keys := slices.Sorted(maps.Keys(arrays))
			return nil, fmt.Errorf("no array %q (found %v); not a dataset written by datasets.Save", k, keys)
		}
	}
	d := &Dataset{}
	var err error
	if d.X, err = arrays["x"].Rows(); err != nil {
		return nil, fmt.Errorf("array \"x\": %w", err)
	}
	if d.Y, err = arrays["y"].Rows(); err != nil {
		return nil, fmt.Errorf("array \"y\": %w", err)
	}
	if t := arrays["task"]; !strings.HasPrefix(t.DType, "<U") || len(t.Shape) != 0 {
		return nil, fmt.Errorf("array \"task\" is %s of shape %v, want a 0-d string", t.DType, t.Shape)
	}
	d.Task = arrays["task"].Str
	ints := map[string]int64{}
	for _, k := range []string{"seed", "n", "dropped"} {
		a := arrays[k]
		if len(a.Shape) != 0 || len(a.Int) != 1 {
			return nil, fmt.Errorf("array %q is %s of shape %v, want an integer scalar", k, a.DType, a.Shape)
		}
		ints[k] = a.Int[0]
	}
	d.Seed, d.Dropped = uint64(ints["seed"]), int(ints["dropped"])
	if ints["n"] != int64(len(d.X)) {
		return nil, fmt.Errorf("\"n\" is %d but x has %d rows; the file is inconsistent, simulate it again", ints["n"], len(d.X))
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	return d, nil
}

// check verifies what Load promises: matching, non-empty, finite rows of one width each.
func (d *Dataset) check() error {
	if len(d.X) == 0 {
		return fmt.Errorf("dataset of task %q is empty", d.Task)
	}
	if len(d.X) != len(d.Y) {
		return fmt.Errorf("x has %d rows but y has %d", len(d.X), len(d.Y))
	}
	if d.Dropped < 0 {
		return fmt.Errorf("dropped count %d is negative", d.Dropped)
	}
	for _, name := range []string{"x", "y"} {
		rows := d.X
		if name == "y" {
			rows = d.Y
		}
		for i, r := range rows {
			if len(r) != len(rows[0]) || len(r) == 0 {
				return fmt.Errorf("%s row %d has %d values, row 0 has %d", name, i, len(r), len(rows[0]))
			}
			if !tasks.Finite(r) {
				return fmt.Errorf("%s row %d holds NaN or Inf", name, i)
			}
		}
	}
	return nil
}
