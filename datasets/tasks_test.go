package datasets

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/probinv/probinv/sbikit/tasks"
)

// TestRealTasks runs the sbibm tasks through Simulate: rows must not depend on the number of
// goroutines, a smaller dataset must be a prefix of a larger one (which holds only if the
// task gives every row its own stream, as tasks.Task promises), and Save/Load round-trips.
func TestRealTasks(t *testing.T) {
	for _, name := range []string{"two_moons", "gaussian_linear"} {
		task, err := tasks.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		a, err := simulate(task, 1500, 9, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.X) != 1500 || len(a.X[0]) != task.DimX() || len(a.Y[0]) != task.DimY() || a.Task != name {
			t.Fatalf("%s: got %d rows of widths %d, %d", name, len(a.X), len(a.X[0]), len(a.Y[0]))
		}
		b, _ := simulate(task, 1500, 9, nil, 3)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: 1 and 3 workers gave different datasets", name)
		}
		small, _ := simulate(task, 1200, 9, nil, 2)
		if !reflect.DeepEqual(small.X, a.X[:1200]) || !reflect.DeepEqual(small.Y, a.Y[:1200]) {
			t.Fatalf("%s: 1200 rows are not a prefix of 1500; does the task use one stream per row?", name)
		}
		path := filepath.Join(t.TempDir(), name+".npz")
		if err := a.Save(path); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path)
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Fatalf("%s: Load gave %v", name, err)
		}
	}
}
