package npy

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Save writes a to a .npy file. The file appears complete or not at all: the data goes to a
// temporary file in the same directory that is renamed over path once it is written.
func Save(path string, a *Array) error {
	return WriteAtomic(path, func(w io.Writer) error { return Write(w, a) })
}

// Load reads a .npy file. Errors name the file.
func Load(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	a, err := Read(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("npy: %s: %w", path, err)
	}
	return a, nil
}

// zipTime is the modification time stamped on .npz entries. A fixed time makes the same
// arrays give the same bytes, so files can be compared and cached by hash.
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// SaveNPZ writes named arrays to a .npz file, as np.savez_compressed does: a zip archive of
// deflate-compressed "<name>.npy" entries, in sorted name order. np.load(path) reads it back.
// Like Save, it writes a temporary file and renames it, so a crash never leaves half a file.
func SaveNPZ(path string, arrays map[string]*Array) error {
	names := make([]string, 0, len(arrays))
	for name := range arrays {
		if name == "" {
			return fmt.Errorf("npz: %s: an array has an empty name", path)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return WriteAtomic(path, func(w io.Writer) error {
		z := zip.NewWriter(w)
		for _, name := range names {
			e, err := z.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Deflate, Modified: zipTime})
			if err != nil {
				return err
			}
			if err := Write(e, arrays[name]); err != nil {
				return fmt.Errorf("array %q: %w", name, err)
			}
		}
		return z.Close()
	})
}

// LoadNPZ reads every array of a .npz file (compressed or not), keyed by name without the
// ".npy" suffix, as np.load does. Errors name the file and the entry.
func LoadNPZ(path string) (map[string]*Array, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		if errors.Is(err, zip.ErrFormat) {
			return nil, fmt.Errorf("npz: %s: not a readable .npz (zip) file: %w; it is truncated or corrupt, write it again", path, err)
		}
		return nil, fmt.Errorf("npz: %w", err)
	}
	defer z.Close()
	arrays := map[string]*Array{}
	for _, f := range z.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		if _, dup := arrays[name]; dup {
			return nil, fmt.Errorf("npz: %s: entry %q appears twice; the file is corrupt", path, name)
		}
		a, err := readEntry(f)
		if err != nil {
			return nil, fmt.Errorf("npz: %s: entry %q: %w", path, f.Name, err)
		}
		arrays[name] = a
	}
	return arrays, nil
}

// readEntry reads a zip entry to its end, so that the zip reader verifies its CRC, and then
// parses it as .npy.
func readEntry(f *zip.File) (*Array, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		if errors.Is(err, zip.ErrChecksum) {
			return nil, fmt.Errorf("%w (CRC mismatch): the file is corrupt, write it again", err)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("entry is truncated: the file is corrupt, write it again")
		}
		return nil, err
	}
	return Read(bytes.NewReader(b))
}

// WriteAtomic runs write on a temporary file next to path and renames it to path when
// write, flush and close all succeed; otherwise it removes the temporary file. So a crash or a
// full disk never leaves half a file where a good one was. Other packages use it for their
// own files (a model's JSON description) so that there is one way to write a file safely.
func WriteAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("npy: cannot write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("npy: writing %s: %w", path, err)
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err = write(w); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
