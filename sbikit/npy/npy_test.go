package npy

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// examples covers every supported dtype and the edge shapes (0-d, 1-d, empty).
func examples() map[string]*Array {
	return map[string]*Array{
		"f8":     Float64([]float64{1, -2.5, math.Inf(1), math.NaN(), 1e-300, 6}, 2, 3),
		"f4":     Float32([]float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}, 2, 2, 2),
		"f8_1d":  Float64([]float64{3, 4, 5}, 3),
		"empty":  Float64([]float64{}, 0, 3),
		"scalar": Int64Scalar(-42),
		"i8":     Int64([]int64{math.MinInt64, 0, math.MaxInt64}, 3),
		"i4":     {DType: "<i4", Shape: []int{2}, Int: []int64{math.MinInt32, math.MaxInt32}},
		"u1":     {DType: "|u1", Shape: []int{3}, Int: []int64{0, 7, 255}},
		"b1":     {DType: "|b1", Shape: []int{2}, Int: []int64{1, 0}},
		"str":    String("two_moons θ→x"),
		"str0":   String(""),
	}
}

// same compares arrays, treating NaN as equal to NaN and float32 data as rounded.
func same(t *testing.T, name string, want, got *Array) {
	t.Helper()
	if got.DType != want.DType || !reflect.DeepEqual(append([]int{}, got.Shape...), append([]int{}, want.Shape...)) ||
		got.Str != want.Str || !reflect.DeepEqual(got.Int, want.Int) || len(got.Float) != len(want.Float) {
		t.Fatalf("%s: got %+v, want %+v", name, got, want)
	}
	for i, w := range want.Float {
		if want.DType == "<f4" {
			w = float64(float32(w))
		}
		if g := got.Float[i]; g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
			t.Fatalf("%s: value %d = %v, want %v", name, i, g, w)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for name, a := range examples() {
		var buf bytes.Buffer
		if err := Write(&buf, a); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if a.DType == "<f8" && (buf.Len()-8*a.Size())%64 != 0 {
			t.Errorf("%s: data does not start on a 64-byte boundary", name)
		}
		got, err := Read(&buf)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		same(t, name, a, got)
		if buf.Len() != 0 {
			t.Errorf("%s: Read left %d bytes unread", name, buf.Len())
		}
	}
}

// TestHeaderBytes pins the layout np.save produces for np.arange(6.0).reshape(2, 3).
func TestHeaderBytes(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, Float64([]float64{0, 1, 2, 3, 4, 5}, 2, 3)); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	dict := "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"
	want := "\x93NUMPY\x01\x00\x76\x00" + dict + strings.Repeat(" ", 128-10-len(dict)-1) + "\n"
	if len(b) != 128+6*8 || string(b[:128]) != want {
		t.Fatalf("header = %q, want %q", b[:min(len(b), 128)], want)
	}
	// Element 1 is 1.0: little-endian 0x3ff0000000000000.
	if got := b[136:144]; !bytes.Equal(got, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}) {
		t.Fatalf("element 1 bytes = % x", got)
	}
}

// handMade builds a .npy stream with an arbitrary header dict and raw data.
func handMade(dict string, data []byte) []byte {
	dict += "\n"
	b := append([]byte(magic), 1, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(dict)))
	return append(append(b, dict...), data...)
}

func TestFortranOrderIsReordered(t *testing.T) {
	// The 2x3 matrix [[0 1 2] [3 4 5]] stored column by column: 0 3 1 4 2 5.
	var data []byte
	for _, v := range []int32{0, 3, 1, 4, 2, 5} {
		data = binary.LittleEndian.AppendUint32(data, uint32(v))
	}
	a, err := Read(bytes.NewReader(handMade("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }", data)))
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{0, 1, 2, 3, 4, 5}; !reflect.DeepEqual(a.Int, want) {
		t.Fatalf("got %v, want %v", a.Int, want)
	}
}

func TestBadHeadersAreErrors(t *testing.T) {
	for _, c := range []struct{ dict, want string }{
		{"{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", "big-endian"},
		{"{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", "unsupported dtype"},
		{"{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }", "structured"},
		{"{'descr': '<f8', 'shape': (1,), }", "fortran_order"},
		{"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}", "unexpected header key"},
		{"{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", "non-negative"},
		{"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", "too large"},
		{"{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", "truncated"},
		{"{'descr': '<U2', 'fortran_order': False, 'shape': (2,), }", "only 0-d"},
	} {
		_, err := Read(bytes.NewReader(handMade(c.dict, make([]byte, 16))))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("header %s: error %v, want one containing %q", c.dict, err, c.want)
		}
	}
	if _, err := Read(strings.NewReader("PK\x03\x04 this is a zip")); err == nil || !strings.Contains(err.Error(), "LoadNPZ") {
		t.Errorf("zip bytes: error %v, want a hint to use LoadNPZ", err)
	}
	if _, err := Read(strings.NewReader("x,y\n1,2\n")); err == nil || !strings.Contains(err.Error(), "bad magic") {
		t.Errorf("csv bytes: error %v, want bad magic", err)
	}
}

func TestWriteRefusesMismatchedData(t *testing.T) {
	for name, a := range map[string]*Array{
		"short":    Float64([]float64{1, 2}, 2, 3),
		"u1 range": {DType: "|u1", Shape: []int{1}, Int: []int64{256}},
		"i4 range": {DType: "<i4", Shape: []int{1}, Int: []int64{1 << 40}},
		"str 1-d":  {DType: "<U3", Shape: []int{1}, Str: "abc"},
		"dtype":    {DType: "<c8", Shape: []int{1}},
	} {
		if err := Write(&bytes.Buffer{}, a); err == nil {
			t.Errorf("%s: Write gave no error", name)
		}
	}
}

// TestTruncationIsAnError cuts a valid stream at every length and expects an error each time.
func TestTruncationIsAnError(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, Float64([]float64{1, 2, 3, 4, 5, 6}, 3, 2)); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	for n := 0; n < len(b); n++ {
		if _, err := Read(bytes.NewReader(b[:n])); err == nil {
			t.Fatalf("reading the first %d of %d bytes gave no error", n, len(b))
		}
	}
	// Load names the file.
	path := filepath.Join(t.TempDir(), "cut.npy")
	if err := os.WriteFile(path, b[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("Load of a truncated file: %v", err)
	}
}

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.npy")
	a := Float64([]float64{1, 2, 3, 4}, 2, 2)
	if err := Save(path, a); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	same(t, path, a, got)
	rows, err := got.Rows()
	if err != nil || !reflect.DeepEqual(rows, [][]float64{{1, 2}, {3, 4}}) {
		t.Fatalf("Rows = %v, %v", rows, err)
	}
}

// TestFailedSaveKeepsOldFile checks that a write that fails halfway leaves the previous file
// untouched and no temporary file behind.
func TestFailedSaveKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.npz")
	good := map[string]*Array{"x": Float64([]float64{1}, 1)}
	if err := SaveNPZ(path, good); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	bad := map[string]*Array{"a": Float64([]float64{1}, 1), "b": Float64([]float64{1}, 5)}
	if err := SaveNPZ(path, bad); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("SaveNPZ with a bad array: %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("a failed save changed the existing file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("directory holds %d entries after a failed save, want 1", len(entries))
	}
}

func TestNPZRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "all.npz")
	want := examples()
	if err := SaveNPZ(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadNPZ(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d arrays, want %d", len(got), len(want))
	}
	for name, a := range want {
		same(t, name, a, got[name])
	}
	// Same arrays, same bytes.
	path2 := filepath.Join(t.TempDir(), "again.npz")
	if err := SaveNPZ(path2, want); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(path)
	b2, _ := os.ReadFile(path2)
	if !bytes.Equal(b1, b2) {
		t.Error("saving the same arrays twice gave different bytes")
	}
}

func TestCorruptNPZIsAnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.npz")
	data := make([]float64, 1000)
	for i := range data {
		data[i] = math.Sin(float64(i))
	}
	if err := SaveNPZ(path, map[string]*Array{"x": Float64(data, 100, 10)}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)

	for _, n := range []int{0, 10, len(b) / 2, len(b) - 30, len(b) - 1} {
		cut := filepath.Join(dir, "cut.npz")
		os.WriteFile(cut, b[:n], 0o644)
		if _, err := LoadNPZ(cut); err == nil || !strings.Contains(err.Error(), cut) {
			t.Errorf("LoadNPZ of the first %d of %d bytes: %v", n, len(b), err)
		}
	}

	// A wrong CRC in the central directory must be caught when the entry is read.
	bad := bytes.Clone(b)
	cd := bytes.LastIndex(bad, []byte("PK\x01\x02"))
	bad[cd+16] ^= 0xff
	crc := filepath.Join(dir, "crc.npz")
	os.WriteFile(crc, bad, 0o644)
	if _, err := LoadNPZ(crc); err == nil || !strings.Contains(err.Error(), "CRC") || !strings.Contains(err.Error(), crc) {
		t.Errorf("LoadNPZ with a bad CRC: %v", err)
	}
}

// FuzzRead feeds arbitrary bytes to Read: it must return an error or an array that writes
// and reads back to itself, and never panic or allocate what a corrupt header claims.
func FuzzRead(f *testing.F) {
	for _, a := range examples() {
		var buf bytes.Buffer
		if err := Write(&buf, a); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add(handMade("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }", make([]byte, 24)))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, a); err != nil {
			t.Fatalf("array read from %q does not write: %v", b, err)
		}
		again, err := Read(&buf)
		if err != nil {
			t.Fatalf("rewritten array does not read: %v", err)
		}
		if !reflect.DeepEqual(again.Shape, a.Shape) || again.DType != a.DType || again.Str != a.Str {
			t.Fatalf("rewrite changed %+v into %+v", a, again)
		}
	})
}
