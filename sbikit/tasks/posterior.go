package tasks

import (
	"fmt"
	"math"
)

// CheckObservation validates the arguments of t's SamplePosterior (ReferencePosterior): an
// observation of DimY finite values and n ≥ 0. Tasks outside this package call it too.
func CheckObservation(t Task, yObs []float64, n int) error {
	if len(yObs) != t.DimY() {
		return fmt.Errorf("tasks: %s: observation has %d values, want %d (Task.DimY); "+
			"pass one observation, not a batch", t.Name(), len(yObs), t.DimY())
	}
	for j, v := range yObs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("tasks: %s: observation value %d is %v; the reference posterior "+
				"needs finite data", t.Name(), j, v)
		}
	}
	if n < 0 {
		return fmt.Errorf("tasks: %s: asked for %d posterior samples; n must be ≥ 0", t.Name(), n)
	}
	return nil
}
