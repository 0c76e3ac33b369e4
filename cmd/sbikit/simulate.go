package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/probinv/probinv/datasets"
	"github.com/probinv/probinv/sbikit/tasks"
)

func runSimulate(args []string, out io.Writer) error {
	fs := newFlags("simulate", "")
	taskName := fs.String("task", "", "task `name` (list them with sbikit tasks)")
	n := fs.Int("n", 10000, "number of valid (x, y) pairs")
	seed := fs.Uint64("seed", 1, "random seed")
	path := fs.String("out", "", "output .npz file (arrays x, y, task, seed, n, dropped)")
	asJSON := fs.Bool("json", false, "print a JSON summary line")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *taskName == "" || *path == "" {
		fs.Usage()
		return errors.New("simulate needs --task and --out")
	}
	task, err := tasks.Get(*taskName)
	if err != nil {
		return err
	}
	start := time.Now()
	d, err := datasets.Simulate(task, *n, *seed, os.Stderr)
	if err != nil {
		return err
	}
	seconds := time.Since(start).Seconds()
	if err := d.Save(*path); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, map[string]any{"task": task.Name(), "n": len(d.X), "seed": *seed,
			"dropped": d.Dropped, "seconds": seconds, "out": *path})
	}
	fmt.Fprintf(out, "wrote %d simulations of %s (seed %d, %d dropped) to %s in %.2fs\n",
		len(d.X), task.Name(), *seed, d.Dropped, *path, seconds)
	return nil
}
