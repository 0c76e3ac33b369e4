package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/probinv/probinv/sbikit/diagnostics"
	"github.com/probinv/probinv/sbikit/npy"
	"github.com/probinv/probinv/sbikit/tasks"
)

func runC2ST(args []string, out io.Writer) error {
	fs := newFlags("c2st", "A B   (sample files: .csv, .csv.bz2 or .npy, one sample per row)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	seed := fs.Uint64("seed", 1, "seed of the classifier's initialisation, batches and folds")
	withMMD := fs.Bool("mmd", false, "also compute the squared MMD (Gaussian kernel, median heuristic)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 2 {
		fs.Usage()
		return errors.New("c2st needs two sample files")
	}
	a, err := readSamples(files[0])
	if err != nil {
		return err
	}
	b, err := readSamples(files[1])
	if err != nil {
		return err
	}
	start := time.Now()
	accuracy, err := diagnostics.C2ST(a, b, diagnostics.WithSeed(*seed))
	if err != nil {
		return fmt.Errorf("c2st %s %s: %w", files[0], files[1], err)
	}
	result := map[string]any{"a": files[0], "b": files[1], "n_a": len(a), "n_b": len(b), "dim": len(a[0]),
		"c2st": accuracy, "seconds": time.Since(start).Seconds()}
	if *withMMD {
		mmd, err := diagnostics.MMD(a, b, diagnostics.WithSeed(*seed))
		if err != nil {
			return err
		}
		result["mmd"] = mmd
	}
	if *asJSON {
		return printJSON(out, result)
	}
	fmt.Fprintf(out, "c2st %.4f (0.5: indistinguishable, 1: disjoint), %d vs %d samples in %d dimensions, %.1fs\n",
		accuracy, len(a), len(b), len(a[0]), result["seconds"])
	if *withMMD {
		fmt.Fprintf(out, "mmd² %.5f\n", result["mmd"])
	}
	return nil
}

// readSamples reads one sample per row from a .csv, .csv.bz2 (header row optional, e.g. sbibm's
// reference_posterior_samples.csv.bz2) or a 2-D .npy file.
func readSamples(path string) ([][]float64, error) {
	switch {
	case strings.HasSuffix(path, ".npy"):
		arr, err := npy.Load(path)
		if err != nil {
			return nil, err
		}
		rows, err := arr.Rows()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return rows, nil
	case strings.HasSuffix(path, ".csv"), strings.HasSuffix(path, ".csv.bz2"):
		return tasks.ReadCSV(path)
	}
	return nil, fmt.Errorf("%s: unknown sample file type; use .csv, .csv.bz2 or .npy", path)
}
