package bench

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/backend"
	"github.com/probinv/probinv/sbikit/cnf"
)

// TestCNFScalingCase runs the cheapest cnf_scaling case (about 2 s) and checks that its metrics are
// all there and plausible, and that ode_sampling's field gets random output weights.
func TestCNFScalingCase(t *testing.T) {
	var found bool
	for _, c := range Cases() {
		if c.Name != "cnf_scaling_d2_fm" {
			continue
		}
		found = true
		m, err := c.Run()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"step_seconds", "compile_seconds", "alloc_bytes_per_step", "peak_rss_bytes",
			"rss_baseline_bytes", "field_evaluations_per_step"} {
			if !(m[k] > 0) {
				t.Errorf("%s = %g, want > 0 (metrics %v)", k, m[k], m)
			}
		}
		if m["peak_rss_bytes"] < m["rss_baseline_bytes"] && c.Params["peak_memory_source"] == peakSourceVmHWM {
			t.Errorf("peak RSS %g below the baseline %g", m["peak_rss_bytes"], m["rss_baseline_bytes"])
		}
	}
	if !found {
		t.Fatal("cnf_scaling_d2_fm is not registered")
	}
	b, err := backend.Get()
	if err != nil {
		t.Fatal(err)
	}
	if err := randomField(b, context.New().Checked(false), cnf.Net{Hidden: 8, Layers: 1}, 2, 2, rand.New(rand.NewPCG(1, 2))); err != nil {
		t.Fatal(err)
	}
}
