// Package bench holds probinv's performance benchmarks. `sbikit bench` (and so `make bench`) runs
// them and prints one JSON object per result, each naming the backend it ran on, so that numbers
// from different machines and commits can be compared by a program.
package bench

import (
	"fmt"
	"regexp"
	"time"
)

// Result is one measured case.
type Result struct {
	Name    string             `json:"name"`
	Backend string             `json:"backend"`
	Metrics map[string]float64 `json:"metrics"`
	Params  map[string]any     `json:"params,omitempty"`
}

// Case is one benchmark: Run measures it and returns its metrics.
type Case struct {
	Name   string
	Params map[string]any
	Run    func() (map[string]float64, error)
}

// cases is the registry, in the order they run. Packages of this module add theirs in init.
var cases []Case

func register(c Case) { cases = append(cases, c) }

// Cases lists the registered benchmarks.
func Cases() []Case { return cases }

// RunMatching runs the cases whose name matches pattern (all for ""), calling emit with each
// result as soon as it is known.
func RunMatching(pattern, backendName string, emit func(Result)) error {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return fmt.Errorf("bad benchmark pattern %q: %w", pattern, err)
	}
	for _, c := range cases {
		if !re.MatchString(c.Name) {
			continue
		}
		metrics, err := c.Run()
		if err != nil {
			return fmt.Errorf("benchmark %s: %w", c.Name, err)
		}
		emit(Result{Name: c.Name, Backend: backendName, Metrics: metrics, Params: c.Params})
	}
	return nil
}

// rate runs step repeatedly for at least d (after one untimed warm-up call) and returns calls/s.
func rate(d time.Duration, step func() error) (float64, error) {
	if err := step(); err != nil {
		return 0, err
	}
	times, err := timeCalls(d, 3, step)
	if err != nil {
		return 0, err
	}
	total := 0.0
	for _, t := range times {
		total += t
	}
	return float64(len(times)) / total, nil
}

// timeCalls calls step one by one until at least d has passed and at least minCalls were made (so a
// step of seconds is timed minCalls times, not for d), and returns the seconds of each call.
func timeCalls(d time.Duration, minCalls int, step func() error) ([]float64, error) {
	var times []float64
	start := time.Now()
	for time.Since(start) < d || len(times) < minCalls {
		t := time.Now()
		if err := step(); err != nil {
			return nil, err
		}
		times = append(times, time.Since(t).Seconds())
	}
	return times, nil
}
