package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/probinv/probinv/sbikit"
	"github.com/probinv/probinv/sbikit/evaluate"
	"github.com/probinv/probinv/sbikit/npy"
	"github.com/probinv/probinv/sbikit/tasks"
)

func runSample(args []string, out io.Writer) error {
	fs := newFlags("sample", "")
	modelDir := fs.String("model", "", "model `dir`ectory written by sbikit train")
	obsFile := fs.String("obs", "", "observation `file`: one row of dim_y values (.csv, or .npy of shape [dim_y] or [1, dim_y])")
	taskName := fs.String("task", "", "with --obs-index: the sbibm task of the observation (default: the model's task)")
	obsIndex := fs.Int("obs-index", 0, fmt.Sprintf("sample the posterior of sbibm's observation k (1 to %d) instead of --obs", evaluate.NumObservations))
	reference := fs.String("reference", "", "`dir`ectory of sbibm's reference files (default: $PROBINV_SBIBM or shared/data/sbibm)")
	n := fs.Int("n", 10000, "number of posterior samples")
	seed := fs.Uint64("seed", 1, "sampling seed")
	path := fs.String("out", "", "output `file` of samples, one per row: .npy or .csv")
	asJSON := fs.Bool("json", false, "print a JSON summary line")
	solver := fs.String("solver", "", "fmpe and cnf models: the sampling ODE `solver`, method:steps (euler:64, midpoint:16, rk4:8) or dopri5 (default: the model's)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *modelDir == "" || *path == "" || (*obsFile == "") == (*obsIndex == 0) {
		fs.Usage()
		return errors.New("sample needs --model, --out, and either --obs FILE or --obs-index k")
	}
	if *n < 1 {
		return fmt.Errorf("--n %d: need at least one sample", *n)
	}
	if !strings.HasSuffix(*path, ".npy") && !strings.HasSuffix(*path, ".csv") {
		return fmt.Errorf("--out %s: unknown sample file type; use .npy or .csv", *path)
	}
	model, err := sbikit.Load(*modelDir)
	if err != nil {
		return err
	}
	if *solver != "" {
		o, err := parseSolver(*solver)
		if err == nil {
			err = model.SetSampling(o)
		}
		if err != nil {
			return fmt.Errorf("--solver: %w", err)
		}
	}
	source := *obsFile
	var yObs []float64
	if *obsFile != "" {
		yObs, err = readObservation(*obsFile)
	} else {
		yObs, source, err = sbibmObservation(model, *taskName, *obsIndex, *reference)
	}
	if err != nil {
		return err
	}
	post, err := model.Posterior(yObs)
	if err != nil {
		return err
	}
	start := time.Now()
	samples, err := post.Sample(*n, *seed)
	if err != nil {
		return err
	}
	seconds := time.Since(start).Seconds()
	acceptance, err := post.Acceptance()
	if err != nil {
		return err
	}
	if err := writeSamples(*path, samples); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, map[string]any{"model": *modelDir, "obs": source, "n": len(samples), "seed": *seed,
			"seconds": seconds, "acceptance": acceptance, "out": *path})
	}
	fmt.Fprintf(out, "wrote %d posterior samples for %s to %s in %.2fs (acceptance %.3f)\n",
		len(samples), source, *path, seconds, acceptance)
	return nil
}

// readObservation reads one observation: a file of one row (see readSamples), or a 1-D .npy
// array, which is what np.save writes for a vector.
func readObservation(path string) ([]float64, error) {
	rows, err := readSamples(path)
	if err != nil && strings.HasSuffix(path, ".npy") {
		if arr, loadErr := npy.Load(path); loadErr == nil && len(arr.Shape) == 1 && arr.Float != nil {
			rows, err = [][]float64{arr.Float}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if len(rows) != 1 {
		return nil, fmt.Errorf("%s has %d rows; an observation file holds exactly one", path, len(rows))
	}
	return rows[0], nil
}

// sbibmObservation reads sbibm's observation k of the task (the model's task when task is ""),
// returning it and a description of where it came from.
func sbibmObservation(model *sbikit.Model, task string, k int, reference string) ([]float64, string, error) {
	if task == "" {
		task = model.Task()
	}
	if task == "" {
		return nil, "", errors.New("the model records no task; pass --task with --obs-index")
	}
	if k < 1 || k > evaluate.NumObservations {
		return nil, "", fmt.Errorf("--obs-index %d: sbibm's observations are numbered 1 to %d", k, evaluate.NumObservations)
	}
	dir, err := evaluate.ReferenceDir(reference)
	if err != nil {
		return nil, "", err
	}
	y, err := tasks.LoadObservation(dir, task, k)
	return y, task + " observation " + strconv.Itoa(k), err
}

// writeSamples writes one sample per row to a .npy file or, with a header row theta_1, …, as
// sbibm's files have, to a .csv file.
func writeSamples(path string, rows [][]float64) error {
	if strings.HasSuffix(path, ".npy") {
		arr, err := npy.FromRows(rows)
		if err != nil {
			return err
		}
		return npy.Save(path, arr)
	}
	return npy.WriteAtomic(path, func(w io.Writer) error {
		var b []byte
		for j := range rows[0] {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, "theta_"+strconv.Itoa(j+1)...)
		}
		for _, row := range rows {
			b = append(b, '\n')
			for j, v := range row {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendFloat(b, v, 'g', -1, 64)
			}
		}
		b = append(b, '\n')
		_, err := w.Write(b)
		return err
	})
}

// parseSolver reads "method:steps" (fixed steps) or "dopri5" (adaptive, default tolerances).
func parseSolver(s string) (sbikit.ODE, error) {
	method, steps, fixed := strings.Cut(s, ":")
	if !fixed {
		if method != "dopri5" {
			return sbikit.ODE{}, fmt.Errorf("%q: write method:steps (euler:64, midpoint:16, rk4:8) or dopri5", s)
		}
		return sbikit.DefaultDensity, nil
	}
	n, err := strconv.Atoi(steps)
	if err != nil || n < 1 {
		return sbikit.ODE{}, fmt.Errorf("%q: the number of steps must be a positive integer", s)
	}
	return sbikit.ODE{Method: method, Steps: n}, nil
}
