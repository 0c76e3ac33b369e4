package evaluate

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/probinv/probinv/sbikit/flows"
	"github.com/probinv/probinv/sbikit/tasks"
)

func TestParseObs(t *testing.T) {
	good := map[string][]int{
		"1-10":    {1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		"1,3,5":   {1, 3, 5},
		"2":       {2},
		"1-3, 7":  {1, 2, 3, 7},
		"10":      {10},
		"4-4":     {4},
		" 9 , 2 ": {9, 2},
	}
	for s, want := range good {
		got, err := ParseObs(s)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseObs(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	bad := map[string]string{
		"":      "not a number",
		"0":     "out of range",
		"11":    "out of range",
		"1-11":  "out of range",
		"5-2":   "backwards",
		"a":     "not a number",
		"1,,2":  "not a number",
		"1-":    "not a number",
		"1-3,2": "twice",
		"-1":    "not a number",
	}
	for s, want := range bad {
		_, err := ParseObs(s)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "1-10") {
			t.Errorf("ParseObs(%q): error %v, want one saying %q and showing the syntax", s, err, want)
		}
	}
}

// tiny is a run that trains in a few seconds: a small flow, few simulations and epochs.
func tiny() Config {
	return Config{Task: "two_moons", Sims: 300, Seed: 3, MaxEpochs: 3, Obs: []int{1, 4}, Samples: 500,
		Flow: flows.Config{Kind: flows.KindMAF, Transforms: 2, Hidden: 16}}
}

// TestRunScoresEachObservation checks that a run emits one score per observation, in order, as
// they come, and a summary whose means are those of the scores.
func TestRunScoresEachObservation(t *testing.T) {
	if _, err := tasks.SbibmDir(); err != nil {
		t.Skip(err)
	}
	var got []Observation
	sum, err := Run(tiny(), func(o Observation) error {
		got = append(got, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Obs != 1 || got[1].Obs != 4 {
		t.Fatalf("emitted %+v, want observations 1 and 4 in order", got)
	}
	c2st, seconds := 0.0, 0.0
	for _, o := range got {
		if o.Task != "two_moons" || o.Method != "npe" || o.Flow != "maf" {
			t.Errorf("observation %+v: want task two_moons, method npe, flow maf", o)
		}
		// C2ST is an accuracy: at least about chance (0.5) for any estimate, at most 1.
		if o.C2ST < 0.4 || o.C2ST > 1 || o.SampleSeconds <= 0 || o.Acceptance <= 0 || o.Acceptance > 1 {
			t.Errorf("observation %d: c2st %v, sample seconds %v, acceptance %v out of range", o.Obs, o.C2ST, o.SampleSeconds, o.Acceptance)
		}
		c2st += o.C2ST / 2
		seconds += o.SampleSeconds / 2
	}
	want := Summary{Task: "two_moons", Method: "npe", Flow: "maf", Sims: 300, Seed: 3, Obs: []int{1, 4},
		C2STMean: c2st, SampleSecondsMean: seconds, Epochs: 3, TrainSeconds: sum.TrainSeconds, Backend: sum.Backend}
	if !reflect.DeepEqual(sum, want) || sum.TrainSeconds <= 0 || sum.Backend == "" {
		t.Errorf("summary %+v, want %+v with positive train seconds and a backend", sum, want)
	}
}

// TestRunRefusesBadConfigs checks that bad settings fail before any simulation, naming the fix.
func TestRunRefusesBadConfigs(t *testing.T) {
	cases := map[string]struct {
		change func(*Config)
		want   string
	}{
		"unknown task":    {func(c *Config) { c.Task = "no_such_task" }, "valid names are"},
		"unknown method":  {func(c *Config) { c.Method = "sde" }, "available: npe, fmpe, cnf, npse, ddpm, ddim"},
		"unknown flow":    {func(c *Config) { c.Flow.Kind = "glow" }, "available: coupling, maf, nsf, nsf-ar"},
		"bad observation": {func(c *Config) { c.Obs = []int{0} }, "numbered 1 to 10"},
		"no simulations":  {func(c *Config) { c.Sims = 0 }, "positive number"},
		"no reference":    {func(c *Config) { c.Reference = "/no/such/dir" }, "no such file"},
		"empty reference": {func(c *Config) { c.Reference = t.TempDir() }, "does not exist; check the data directory"},
	}
	for name, tc := range cases {
		cfg := tiny()
		tc.change(&cfg)
		_, err := Run(cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}

func TestMissingSbibmDirSaysWhereToPointIt(t *testing.T) {
	t.Setenv("PROBINV_SBIBM", "/no/such/dir")
	_, err := Run(tiny(), nil)
	if err == nil || !strings.Contains(err.Error(), "--reference") || !strings.Contains(err.Error(), "PROBINV_SBIBM") {
		t.Errorf("error %v, want one naming --reference and PROBINV_SBIBM", err)
	}
}

func TestSampleSeedsDiffer(t *testing.T) {
	seen := map[uint64]bool{}
	for seed := uint64(1); seed <= 3; seed++ {
		for k := 1; k <= NumObservations; k++ {
			s := SampleSeed(seed, k)
			if seen[s] {
				t.Fatalf("seed %d, observation %d: sampling seed %d repeats", seed, k, s)
			}
			seen[s] = true
			if SampleSeed(seed, k) != s {
				t.Fatalf("SampleSeed(%d, %d) is not deterministic", seed, k)
			}
		}
	}
}
