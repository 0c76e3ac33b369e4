package pde

import (
	"math"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/probinv/probinv/datasets"
	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/sbikit/tasks"
)

// tasksUnderTest are the registered tasks.
var tasksUnderTest = []Task{NewHeat2D(), NewBurgers(), NewSmoke()}

// TestSimulate checks each task's Simulate: rows of the right length and finite, the same for the
// same seed and different for another, a row's value independent of the rest of the batch, and
// y = Forward(x) (the noise-free model unrolled in a graph, which must agree with the rollout) plus
// Sigma times the normal draws of the row's stream, tasks.SimulatorStream(seed, i).
func TestSimulate(t *testing.T) {
	b := testbackend.Get(t)
	for _, task := range tasksUnderTest {
		t.Run(task.Name(), func(t *testing.T) {
			x := task.Prior().Sample(6, 1)
			y := task.Simulate(x, 7)
			if len(y) != len(x) {
				t.Fatalf("%d rows from %d", len(y), len(x))
			}
			for i, row := range y {
				if len(row) != task.DimY() || !tasks.Finite(row) {
					t.Fatalf("row %d: %d values (want %d), finite %v", i, len(row), task.DimY(), tasks.Finite(row))
				}
			}
			again, other, head := task.Simulate(x, 7), task.Simulate(x, 8), task.Simulate(x[:2], 7)
			for i := range y {
				if !slices.Equal(y[i], again[i]) {
					t.Errorf("row %d differs between two runs with the same seed", i)
				}
				if slices.Equal(y[i], other[i]) {
					t.Errorf("row %d is the same for seeds 7 and 8", i)
				}
				if i < len(head) && !slices.Equal(y[i], head[i]) {
					t.Errorf("row %d depends on the rows simulated with it", i)
				}
			}

			flat := make([]float32, 0, len(x)*task.DimX())
			for _, row := range x {
				for _, v := range row {
					flat = append(flat, float32(v))
				}
			}
			clean := tensors.MustCopyFlatData[float32](MustExecOnce(b, func(x *Node) *Node { return Forward(task, x) },
				tensors.FromFlatDataAndDimensions(flat, len(x), task.DimX())))
			worst := 0.0
			for i, row := range y {
				rng := tasks.SimulatorStream(7, i)
				for j, v := range row {
					worst = math.Max(worst, math.Abs(v-float64(clean[i*task.DimY()+j])-task.Noise()*rng.NormFloat64()))
				}
			}
			if worst > 1e-5 {
				t.Errorf("y − Forward(x) − σ·(the noise of the row's stream) is up to %.3g, want 0 to float32 rounding: "+
					"the rollout and Forward disagree, or the noise is not the row's", worst)
			}
		})
	}
}

// TestInvalidRowsAreNaN checks that rows with NaN or outside the prior's support come back as NaN
// and that the others come out as they do alone (without noise, which depends on the row's index).
func TestInvalidRowsAreNaN(t *testing.T) {
	task := NewBurgers()
	task.Sigma = 0
	x := task.Prior().Sample(3, 2)
	want := task.Simulate(x, 3)
	y := task.Simulate([][]float64{x[0], {math.NaN(), 0, 0, 0}, x[1], {5, 0, 0, 0}, x[2]}, 3)
	for i, j := range map[int]int{0: 0, 2: 1, 4: 2} {
		if !slices.Equal(y[i], want[j]) {
			t.Errorf("valid row %d differs from its simulation alone", i)
		}
	}
	for _, i := range []int{1, 3} {
		for _, v := range y[i] {
			if !math.IsNaN(v) {
				t.Fatalf("row %d: got a number, want NaN", i)
			}
		}
	}
}

// TestRegister checks that the tasks are found by name, and that datasets simulates them.
func TestRegister(t *testing.T) {
	Register()
	Register() // a second call is harmless
	for _, want := range tasksUnderTest {
		got, err := tasks.Get(want.Name())
		if err != nil {
			t.Fatal(err)
		}
		if got.DimX() != want.DimX() || got.DimY() != want.DimY() {
			t.Errorf("%s: dims %d, %d, want %d, %d", want.Name(), got.DimX(), got.DimY(), want.DimX(), want.DimY())
		}
	}
	d, err := datasets.Simulate(NewHeat2D(), 20, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.X) != 20 || len(d.X[0]) != 1024 || len(d.Y[0]) != 1024 || d.Dropped != 0 {
		t.Errorf("heat2d dataset: %d rows of %d and %d values, %d dropped; want 20 of 1024 and 1024, none dropped",
			len(d.X), len(d.X[0]), len(d.Y[0]), d.Dropped)
	}
}
