package main

import (
	"io"

	"github.com/probinv/probinv/internal/bench"
	"github.com/probinv/probinv/sbikit/backend"
)

func runBench(args []string, out io.Writer) error {
	fs := newFlags("bench", "")
	pattern := fs.String("run", "", "run only the benchmarks whose name matches this regular expression")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if _, err := backend.Get(); err != nil {
		return err
	}
	var emitErr error
	err := bench.RunMatching(*pattern, backend.Name(), func(r bench.Result) {
		if emitErr == nil {
			emitErr = printJSON(out, r)
		}
	})
	if err != nil {
		return err
	}
	return emitErr
}
