package npy

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// python is Debian's interpreter, which has python3-numpy; the pyenv python3 first on PATH
// does not.
const python = "/usr/bin/python3"

// needNumpy skips the test when Debian's numpy is not installed.
func needNumpy(t *testing.T) {
	t.Helper()
	if err := exec.Command(python, "-c", "import numpy").Run(); err != nil {
		t.Skipf("needs numpy for %s (apt-get install python3-numpy): %v", python, err)
	}
}

// numpyScript checks what Go wrote and writes numpy's own files for Go to read back.
// Go's values are v[i, j] = 10*i + j + 0.25 for a 3x4 matrix.
const numpyScript = `
import io, sys, numpy as np
d = sys.argv[1]
v = 10.0 * np.arange(3)[:, None] + np.arange(4)[None, :] + 0.25

x = np.load(d + "/go.npy", allow_pickle=False)
assert x.dtype == np.float64 and x.shape == (3, 4), (x.dtype, x.shape)
assert (x == v).all(), x
# Go's bytes are np.save's bytes.
buf = io.BytesIO(); np.save(buf, v)
assert open(d + "/go.npy", "rb").read() == buf.getvalue(), "header or data differ from np.save"

with np.load(d + "/go.npz", allow_pickle=False) as z:
    assert sorted(z.files) == ["f", "k", "s", "x"], z.files
    assert (z["x"] == v).all()
    assert z["f"].dtype == np.float32 and (z["f"] == v.astype(np.float32)).all()
    assert z["k"].shape == () and z["k"].dtype == np.int64 and int(z["k"]) == -7
    assert z["s"].shape == () and str(z["s"]) == "two_moons θ", str(z["s"])

np.save(d + "/np64.npy", 2 * v)
np.save(d + "/np32.npy", (2 * v).astype(np.float32))
np.save(d + "/npfortran.npy", np.asfortranarray(2 * v))
np.savez(d + "/np.npz", a=v + 1, b=(v + 1).astype(np.float32), name="gaussian_linear", n=np.int64(3))
np.savez_compressed(d + "/npc.npz", a=v + 1, b=(v + 1).astype(np.float32), name="gaussian_linear", n=np.int64(3))
`

func TestNumpyRoundTrip(t *testing.T) {
	needNumpy(t)
	dir := t.TempDir()
	v := make([]float64, 12)
	for i := range 3 {
		for j := range 4 {
			v[4*i+j] = 10*float64(i) + float64(j) + 0.25
		}
	}
	if err := Save(filepath.Join(dir, "go.npy"), Float64(v, 3, 4)); err != nil {
		t.Fatal(err)
	}
	err := SaveNPZ(filepath.Join(dir, "go.npz"), map[string]*Array{
		"x": Float64(v, 3, 4), "f": Float32(v, 3, 4), "k": Int64Scalar(-7), "s": String("two_moons θ"),
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", numpyScript, dir)
	cmd.Env = append(os.Environ(), "PYTHONIOENCODING=utf-8")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("numpy rejected Go's files: %v\n%s", err, out)
	}

	scaled := func(k, add float64) []float64 {
		out := make([]float64, len(v))
		for i := range v {
			out[i] = k*v[i] + add
		}
		return out
	}
	for file, want := range map[string]*Array{
		"np64.npy":      Float64(scaled(2, 0), 3, 4),
		"np32.npy":      Float32(scaled(2, 0), 3, 4),
		"npfortran.npy": Float64(scaled(2, 0), 3, 4),
	} {
		got, err := Load(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		same(t, file, want, got)
	}
	for _, file := range []string{"np.npz", "npc.npz"} {
		z, err := LoadNPZ(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		same(t, file+":a", Float64(scaled(1, 1), 3, 4), z["a"])
		same(t, file+":b", Float32(scaled(1, 1), 3, 4), z["b"])
		same(t, file+":name", String("gaussian_linear"), z["name"])
		same(t, file+":n", Int64Scalar(3), z["n"])
	}
}
