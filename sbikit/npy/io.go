package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// maxHeader bounds the header we are willing to read; numpy itself refuses headers over
// 10,000 bytes by default. A corrupt length field must not make us allocate gigabytes.
const maxHeader = 1 << 20

// Write writes a as a .npy stream. It returns an error when the data does not match the
// shape or dtype (e.g. 5 values for shape [2, 3], or 300 in a uint8 array).
func Write(w io.Writer, a *Array) error {
	if a == nil {
		return errors.New("npy: nil array")
	}
	t, err := parseDType(a.DType)
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	data, err := encode(a, t)
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	text := header{descr: t.descr, shape: a.Shape}.format()
	// Pad with spaces and end with '\n' so that the data starts on a 64-byte boundary.
	prefix, version := 10, byte(1)
	if len(text)+1+prefix > math.MaxUint16 {
		prefix, version = 12, 2
	}
	padded := (prefix + len(text) + 1 + 63) / 64 * 64
	text += strings.Repeat(" ", padded-prefix-len(text)-1) + "\n"

	buf := make([]byte, 0, padded+len(data))
	buf = append(buf, magic...)
	buf = append(buf, version, 0)
	if version == 1 {
		buf = binary.LittleEndian.AppendUint16(buf, uint16(len(text)))
	} else {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(text)))
	}
	buf = append(buf, text...)
	buf = append(buf, data...)
	_, err = w.Write(buf)
	return err
}

// encode returns the little-endian bytes of a's elements.
func encode(a *Array, t dtype) ([]byte, error) {
	n, err := elements(a.Shape, t.size)
	if err != nil {
		return nil, err
	}
	if t.runes > 0 || strings.HasPrefix(t.descr, "<U") {
		if len(a.Shape) != 0 {
			return nil, fmt.Errorf("string arrays must be 0-d, got shape %v", a.Shape)
		}
		runes := []rune(a.Str)
		if len(runes) > t.runes {
			return nil, fmt.Errorf("string of %d characters does not fit dtype %s", len(runes), t.descr)
		}
		out := make([]byte, t.size)
		for i, r := range runes {
			binary.LittleEndian.PutUint32(out[4*i:], uint32(r))
		}
		return out, nil
	}
	out := make([]byte, n*t.size)
	if isFloat(t.descr) {
		if len(a.Float) != n || a.Int != nil {
			return nil, fmt.Errorf("dtype %s with shape %v needs %d values in Float (and none in Int), got %d", t.descr, a.Shape, n, len(a.Float))
		}
		for i, v := range a.Float {
			if t.size == 8 {
				binary.LittleEndian.PutUint64(out[8*i:], math.Float64bits(v))
			} else {
				binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(float32(v)))
			}
		}
		return out, nil
	}
	if len(a.Int) != n || a.Float != nil {
		return nil, fmt.Errorf("dtype %s with shape %v needs %d values in Int (and none in Float), got %d", t.descr, a.Shape, n, len(a.Int))
	}
	for i, v := range a.Int {
		switch t.descr {
		case "<i8":
			binary.LittleEndian.PutUint64(out[8*i:], uint64(v))
		case "<i4":
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, fmt.Errorf("value %d at index %d does not fit in int32", v, i)
			}
			binary.LittleEndian.PutUint32(out[4*i:], uint32(int32(v)))
		case "|u1":
			if v < 0 || v > math.MaxUint8 {
				return nil, fmt.Errorf("value %d at index %d does not fit in uint8", v, i)
			}
			out[i] = byte(v)
		case "|b1":
			if v != 0 {
				out[i] = 1
			}
		}
	}
	return out, nil
}

// Read reads one .npy array from r. It reads exactly the header and the data, so several
// arrays can follow each other in one stream. Errors say what is wrong (bad magic, short
// header, data shorter than the shape needs) but cannot name a file; Load and LoadNPZ do.
func Read(r io.Reader) (*Array, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, shortRead(err, "the 8-byte .npy preamble")
	}
	if string(pre[:4]) == "PK\x03\x04" {
		return nil, fmt.Errorf("not a .npy file but a zip archive, probably a .npz: read it with LoadNPZ")
	}
	if string(pre[:6]) != magic {
		return nil, fmt.Errorf("not a .npy file: bad magic %q, want %q", pre[:6], magic)
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, shortRead(err, "the header length")
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, shortRead(err, "the header length")
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf("unsupported .npy format version %d.%d (supported: 1.0, 2.0, 3.0)", pre[6], pre[7])
	}
	if hlen > maxHeader {
		return nil, fmt.Errorf("header length %d is implausibly large; the file is corrupt", hlen)
	}
	text := make([]byte, hlen)
	if _, err := io.ReadFull(r, text); err != nil {
		return nil, shortRead(err, fmt.Sprintf("the %d-byte header", hlen))
	}
	h, err := parseHeader(string(text))
	if err != nil {
		return nil, fmt.Errorf("bad .npy header: %w", err)
	}
	t, err := parseDType(h.descr)
	if err != nil {
		return nil, err
	}
	n, err := elements(h.shape, t.size)
	if err != nil {
		return nil, fmt.Errorf("bad .npy header: %w", err)
	}
	// Read through a growing buffer rather than allocating what the header claims, so that
	// a corrupt shape costs an error, not memory.
	want := int64(n) * int64(t.size)
	var data bytes.Buffer
	if _, err := data.ReadFrom(io.LimitReader(r, want)); err != nil {
		return nil, err
	}
	if int64(data.Len()) < want {
		return nil, fmt.Errorf("data is truncated: shape %v of %s needs %d bytes, found %d", h.shape, t.descr, want, data.Len())
	}
	raw := data.Bytes()
	if h.fortran && len(h.shape) > 1 {
		raw = fortranToC(raw, h.shape, t.size)
	}
	return decode(raw, h.shape, t)
}

func shortRead(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("file ends before %s: truncated or not a .npy file", what)
	}
	return err
}

// decode turns little-endian bytes into an Array.
func decode(raw []byte, shape []int, t dtype) (*Array, error) {
	a := &Array{DType: t.descr, Shape: shape}
	n := len(raw) / max(t.size, 1)
	switch t.descr {
	case "<f8", "<f4":
		a.Float = make([]float64, n)
		for i := range a.Float {
			if t.size == 8 {
				a.Float[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
			} else {
				a.Float[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
			}
		}
	case "<i8", "<i4", "|u1", "|b1":
		a.Int = make([]int64, n)
		for i := range a.Int {
			switch t.descr {
			case "<i8":
				a.Int[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			case "<i4":
				a.Int[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
			case "|u1":
				a.Int[i] = int64(raw[i])
			case "|b1":
				if raw[i] != 0 {
					a.Int[i] = 1
				}
			}
		}
	default: // "<U…"
		if len(shape) != 0 {
			return nil, fmt.Errorf("string arrays of shape %v are not supported, only 0-d strings", shape)
		}
		var sb strings.Builder
		for i := 0; i+4 <= len(raw); i += 4 {
			r := rune(binary.LittleEndian.Uint32(raw[i:]))
			if !utf8.ValidRune(r) {
				return nil, fmt.Errorf("string holds invalid code point %#x; the file is corrupt", r)
			}
			sb.WriteRune(r)
		}
		a.Str = strings.TrimRight(sb.String(), "\x00") // numpy pads with NULs and strips them
	}
	return a, nil
}

// fortranToC reorders column-major element bytes into row-major order.
func fortranToC(raw []byte, shape []int, size int) []byte {
	out := make([]byte, len(raw))
	// stride[k] is the column-major step of axis k, in elements.
	stride := make([]int, len(shape))
	s := 1
	for k, d := range shape {
		stride[k] = s
		s *= d
	}
	idx := make([]int, len(shape)) // multi-index, advanced in row-major order
	for c := 0; c < len(raw)/size; c++ {
		f := 0
		for k, i := range idx {
			f += i * stride[k]
		}
		copy(out[c*size:(c+1)*size], raw[f*size:(f+1)*size])
		for k := len(idx) - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out
}
