package main

import (
	"fmt"
	"io"

	"github.com/probinv/probinv/sbikit/tasks"
)

func runTasks(args []string, out io.Writer) error {
	fs := newFlags("tasks", "")
	asJSON := fs.Bool("json", false, "print one JSON object per task")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintf(out, "%-24s %6s %6s  %s\n", "task", "dim_x", "dim_y", "reference posterior")
	}
	for _, name := range tasks.Names() {
		task, err := tasks.Get(name)
		if err != nil {
			return err
		}
		_, hasReference := task.(tasks.ReferencePosterior)
		if *asJSON {
			err = printJSON(out, map[string]any{"task": name, "dim_x": task.DimX(), "dim_y": task.DimY(),
				"reference_posterior": hasReference})
			if err != nil {
				return err
			}
			continue
		}
		reference := "no"
		if hasReference {
			reference = "yes"
		}
		fmt.Fprintf(out, "%-24s %6d %6d  %s\n", name, task.DimX(), task.DimY(), reference)
	}
	return nil
}
