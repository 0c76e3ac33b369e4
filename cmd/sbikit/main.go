// Command sbikit runs probinv from a shell: simulate datasets, train posterior estimators, sample
// them, score them against sbibm's reference posteriors, compare sample sets, list tasks and run
// benchmarks. Every command that reports numbers can print them as JSON, one object per line.
//
//	sbikit tasks [--json]
//	sbikit simulate --task two_moons --n 10000 --seed 1 --out sims.npz
//	sbikit simulate --task heat2d --n 1000 --out heat.npz   (also burgers, smoke: sbikit/tasks/pde)
//	sbikit train --method npe --flow nsf --task two_moons --sims 10000 --seed 1 --out model/
//	sbikit train --data sims.npz --out model/    (a saved dataset; rerun to resume an unfinished run)
//	sbikit sample --model model/ --obs y.csv --n 10000 --out samples.npy
//	sbikit sample --model model/ --obs-index 3 --n 10000 --out samples.csv  (sbibm's observation 3)
//	sbikit eval --method npe --flow nsf --task two_moons --sims 10000 --obs 1-10 --json
//	sbikit c2st [--json] [--seed S] A B          (A, B: .csv, .csv.bz2 or .npy)
//	sbikit bench [--run REGEXP]                  (JSON lines, with the backend they ran on)
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/probinv/probinv/sbikit/tasks/pde"
)

// command is one subcommand: run parses its own flags from args and writes its results to out.
type command struct {
	summary string
	run     func(args []string, out io.Writer) error
}

var commands = map[string]command{
	"tasks":    {"list the benchmark tasks and their dimensions", runTasks},
	"simulate": {"simulate (x, y) pairs of a task and save them as .npz", runSimulate},
	"train":    {"train a posterior estimator on simulations into a model directory", runTrain},
	"sample":   {"draw posterior samples from a trained model for one observation", runSample},
	"eval":     {"train on a task and score the posteriors of sbibm's observations by C2ST", runEval},
	"c2st":     {"classifier two-sample test between two sample files", runC2ST},
	"bench":    {"run the performance benchmarks, printing JSON lines", runBench},
}

// The PDE tasks join the registry here, after every package's init, so that internal/bench's
// simulate_* cases (10,000 rows each) stay those of the sbibm tasks.
func init() { pde.Register() }

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		// Errors from package sbikit already start with "sbikit: ".
		fmt.Fprintln(os.Stderr, "sbikit:", strings.TrimPrefix(err.Error(), "sbikit: "))
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(out)
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage(os.Stderr)
		return fmt.Errorf("unknown command %q", args[0])
	}
	err := cmd.run(args[1:], out)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sbikit <command> [flags]; `sbikit <command> -h` for its flags\n\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, commands[name].summary)
	}
}

// newFlags makes a FlagSet for a subcommand whose errors are returned, not fatal.
func newFlags(name, argsUsage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: sbikit %s [flags] %s\n", name, argsUsage)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterspersed parses flags that may come before or after positional arguments
// (`sbikit c2st A B --json` as well as `sbikit c2st --json A B`), returning the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// printJSON writes v as one line of JSON.
func printJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}
