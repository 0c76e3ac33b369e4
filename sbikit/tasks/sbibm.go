package tasks

import (
	"compress/bzip2"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The sbibm repository keeps, per task and observation k = 1..10, the files
//
//	<dir>/<task>/num_observation_<k>/observation.csv                      one row: y_o
//	<dir>/<task>/num_observation_<k>/true_parameters.csv                  one row: the x that made y_o
//	<dir>/<task>/num_observation_<k>/reference_posterior_samples.csv.bz2  10,000 rows of x ~ p(x|y_o)
//
// each a CSV file with a header row. The loaders below read that layout.

// LoadObservation reads observation k of a task: y_o, one row of DimY values.
func LoadObservation(dir, task string, k int) ([]float64, error) {
	return loadRow(dir, task, k, "observation.csv", "DimY")
}

// LoadTrueParameters reads the parameters x that sbibm simulated observation k from.
func LoadTrueParameters(dir, task string, k int) ([]float64, error) {
	return loadRow(dir, task, k, "true_parameters.csv", "DimX")
}

// LoadReferenceSamples reads sbibm's reference posterior samples for observation k, one row
// of DimX values per sample.
func LoadReferenceSamples(dir, task string, k int) ([][]float64, error) {
	path := sbibmPath(dir, task, k, "reference_posterior_samples.csv.bz2")
	rows, err := ReadCSV(path)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("tasks: %s: has no data rows; the file is truncated or empty", path)
	}
	if err := checkWidth(path, task, rows, "DimX"); err != nil {
		return nil, err
	}
	return rows, nil
}

func sbibmPath(dir, task string, k int, file string) string {
	return filepath.Join(dir, task, fmt.Sprintf("num_observation_%d", k), file)
}

func loadRow(dir, task string, k int, file, dim string) ([]float64, error) {
	path := sbibmPath(dir, task, k, file)
	rows, err := ReadCSV(path)
	if err != nil {
		return nil, err
	}
	if len(rows) != 1 {
		return nil, fmt.Errorf("tasks: %s: has %d data rows, want exactly 1", path, len(rows))
	}
	if err := checkWidth(path, task, rows, dim); err != nil {
		return nil, err
	}
	return rows[0], nil
}

// checkWidth compares the rows' width with the task's dimension when the task is known here.
func checkWidth(path, task string, rows [][]float64, dim string) error {
	t, err := Get(task)
	if err != nil || len(rows) == 0 {
		return nil // a task this package does not implement: nothing to check against
	}
	want := t.DimX()
	if dim == "DimY" {
		want = t.DimY()
	}
	if got := len(rows[0]); got != want {
		return fmt.Errorf("tasks: %s: rows have %d values but %s has %s = %d; is the file from another task?",
			path, got, task, dim, want)
	}
	return nil
}

// ReadCSV reads a numeric CSV file, bzip2-compressed when its name ends in ".bz2". A first
// row that is not all numbers is taken as a header and skipped. All rows must have the same
// number of fields. Errors name the file and the line.
func ReadCSV(path string) ([][]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("tasks: %s does not exist; check the data directory "+
				"(sbibm's files live under <dir>/<task>/num_observation_<k>/)", path)
		}
		return nil, fmt.Errorf("tasks: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".bz2") {
		r = bzip2.NewReader(f)
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // checked below, with a clearer message
	var rows [][]float64
	width := -1
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tasks: %s: %w; the file is corrupt or not CSV", path, err)
		}
		if width < 0 {
			width = len(rec)
		}
		if len(rec) != width {
			return nil, fmt.Errorf("tasks: %s: line %d has %d fields, want %d", path, line, len(rec), width)
		}
		row := make([]float64, width)
		numeric := true
		for j, field := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(field), 64)
			if err != nil {
				if line == 1 {
					numeric = false // a header
					break
				}
				return nil, fmt.Errorf("tasks: %s: line %d, field %d: %q is not a number", path, line, j+1, field)
			}
			row[j] = v
		}
		if numeric {
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// SbibmDir finds sbibm's reference files: $PROBINV_SBIBM when set, else the first directory
// shared/data/sbibm found beside the working directory or one of its parents (a checkout's
// ../shared/data/sbibm, from any folder inside it). The error says where it looked.
func SbibmDir() (string, error) {
	if dir := os.Getenv("PROBINV_SBIBM"); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return "", fmt.Errorf("tasks: PROBINV_SBIBM=%s: %w", dir, err)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("tasks: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, "shared", "data", "sbibm")
		if info, err := os.Stat(candidate); err == nil && info.IsDir() {
			return candidate, nil
		}
		if dir == filepath.Dir(dir) {
			return "", fmt.Errorf("tasks: no shared/data/sbibm in %s or its parents; "+
				"set PROBINV_SBIBM to the directory of sbibm's reference files", wd)
		}
	}
}
