package datasets

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/probinv/probinv/sbikit/npy"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	d, err := Simulate(lineTask{bad: 0.05}, 300, 1<<63+5, nil) // a seed numpy sees as negative
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "line.npz")
	if err := d.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("loaded %+v, saved %+v", got, d)
	}
}

func TestSaveRefusesInvalidData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.npz")
	for name, d := range map[string]*Dataset{
		"empty":    {Task: "line"},
		"rows":     {Task: "line", X: [][]float64{{1}, {2}}, Y: [][]float64{{1}}},
		"NaN":      {Task: "line", X: [][]float64{{1}}, Y: [][]float64{{math.NaN()}}},
		"ragged":   {Task: "line", X: [][]float64{{1}, {2, 3}}, Y: [][]float64{{1}, {2}}},
		"negative": {Task: "line", X: [][]float64{{1}}, Y: [][]float64{{1}}, Dropped: -1},
	} {
		if err := d.Save(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Save gave %v, want an error naming the file", name, err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a refused Save left a file behind")
	}
}

func TestLoadRejectsBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	d, _ := Simulate(lineTask{}, 200, 2, nil)
	good := filepath.Join(dir, "good.npz")
	if err := d.Save(good); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		return p
	}
	changed := 0
	arrays := func(change func(map[string]*npy.Array)) string {
		a, _ := npy.LoadNPZ(good)
		change(a)
		changed++
		p := filepath.Join(dir, fmt.Sprintf("changed%d.npz", changed))
		if err := npy.SaveNPZ(p, a); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct{ path, want string }{
		{write("truncated.npz", b[:len(b)/2]), "truncated"},
		{write("tail.npz", b[:len(b)-10]), "truncated"},
		{write("empty.npz", nil), "truncated"},
		{filepath.Join(dir, "missing.npz"), "no such file"},
		{arrays(func(a map[string]*npy.Array) { delete(a, "y") }), `no array "y"`},
		{arrays(func(a map[string]*npy.Array) { a["n"] = npy.Int64Scalar(7) }), `"n" is 7 but x has 200 rows`},
		{arrays(func(a map[string]*npy.Array) { a["x"].Float[5] = math.NaN() }), "x row 2 holds NaN"},
		{arrays(func(a map[string]*npy.Array) { a["y"] = npy.Float64(a["y"].Float[:597], 199, 3) }), "x has 200 rows but y has 199"},
		{arrays(func(a map[string]*npy.Array) { a["task"] = npy.Int64Scalar(1) }), `array "task"`},
	}
	for _, c := range cases {
		_, err := Load(c.path)
		if err == nil || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%s): %v, want an error naming the file and %q", filepath.Base(c.path), err, c.want)
		}
	}
}

func TestNumpyReadsDataset(t *testing.T) {
	const python = "/usr/bin/python3" // Debian's, which has numpy; not the pyenv one on PATH
	if err := exec.Command(python, "-c", "import numpy").Run(); err != nil {
		t.Skipf("needs numpy for %s (apt-get install python3-numpy): %v", python, err)
	}
	d, err := Simulate(lineTask{bad: 0.05}, 500, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "line.npz")
	if err := d.Save(path); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, numpy as np
z = np.load(sys.argv[1], allow_pickle=False)
assert str(z["task"]) == "line" and int(z["seed"]) == 42 and int(z["n"]) == 500, (z["task"], z["seed"], z["n"])
assert int(z["dropped"]) == int(sys.argv[2])
x, y = z["x"], z["y"]
assert x.shape == (500, 2) and y.shape == (500, 3) and x.dtype == np.float64, (x.shape, y.shape)
assert np.isfinite(x).all() and np.isfinite(y).all()
assert x[0, 0] == float(sys.argv[3]) and y[-1, 2] == float(sys.argv[4])
`
	out, err := exec.Command(python, "-c", script, path, fmt.Sprint(d.Dropped),
		fmt.Sprintf("%.17g", d.X[0][0]), fmt.Sprintf("%.17g", d.Y[499][2])).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
}
