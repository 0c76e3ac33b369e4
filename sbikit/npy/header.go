package npy

import (
	"fmt"
	"strconv"
	"strings"
)

// magic opens every .npy file; the format version follows it in two bytes.
const magic = "\x93NUMPY"

// header is the Python dict literal after the magic, e.g.
// {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }
type header struct {
	descr   string
	fortran bool
	shape   []int
}

// format writes the dict the way numpy does, so that files match np.save byte for byte.
func (h header) format() string {
	dims := make([]string, len(h.shape))
	for i, d := range h.shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := "(" + strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	shape += ")"
	order := "False"
	if h.fortran {
		order = "True"
	}
	return fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", h.descr, order, shape)
}

// parseHeader reads the dict literal. It accepts exactly the three keys numpy writes, as
// np.load does, and nothing that would need a Python interpreter.
func parseHeader(s string) (header, error) {
	p := &parser{s: s}
	var h header
	seen := map[string]bool{}
	if err := p.expect('{'); err != nil {
		return h, err
	}
	for {
		if p.peek() == '}' {
			p.pos++
			break
		}
		key, err := p.str()
		if err != nil {
			return h, err
		}
		if err := p.expect(':'); err != nil {
			return h, err
		}
		switch key {
		case "descr":
			if p.peek() == '[' {
				return h, fmt.Errorf("structured dtypes are not supported")
			}
			h.descr, err = p.str()
		case "fortran_order":
			h.fortran, err = p.boolean()
		case "shape":
			h.shape, err = p.tuple()
		default:
			return h, fmt.Errorf("unexpected header key %q", key)
		}
		if err != nil {
			return h, err
		}
		if seen[key] {
			return h, fmt.Errorf("header key %q repeated", key)
		}
		seen[key] = true
		if p.peek() == ',' {
			p.pos++
		} else if p.peek() != '}' {
			return h, p.fail("',' or '}'")
		}
	}
	if rest := strings.TrimSpace(p.s[p.pos:]); rest != "" {
		return h, fmt.Errorf("unexpected %q after the header dict", rest)
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, fmt.Errorf("header has no %q", k)
		}
	}
	return h, nil
}

// parser is a cursor over the header text.
type parser struct {
	s   string
	pos int
}

// peek skips blanks and returns the next byte, or 0 at the end.
func (p *parser) peek() byte {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n') {
		p.pos++
	}
	if p.pos == len(p.s) {
		return 0
	}
	return p.s[p.pos]
}

func (p *parser) fail(want string) error {
	if p.pos >= len(p.s) {
		return fmt.Errorf("header ends early, want %s", want)
	}
	return fmt.Errorf("header has %q at byte %d, want %s", p.s[p.pos], p.pos, want)
}

func (p *parser) expect(c byte) error {
	if p.peek() != c {
		return p.fail(strconv.QuoteRune(rune(c)))
	}
	p.pos++
	return nil
}

// str reads a quoted string (numpy uses single quotes; double quotes are accepted).
func (p *parser) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", p.fail("a quoted string")
	}
	end := strings.IndexByte(p.s[p.pos+1:], q)
	if end < 0 {
		return "", fmt.Errorf("header has an unterminated string")
	}
	v := p.s[p.pos+1 : p.pos+1+end]
	p.pos += end + 2
	return v, nil
}

func (p *parser) boolean() (bool, error) {
	p.peek()
	for _, w := range []string{"True", "False"} {
		if strings.HasPrefix(p.s[p.pos:], w) {
			p.pos += len(w)
			return w == "True", nil
		}
	}
	return false, p.fail("True or False")
}

// tuple reads a tuple of non-negative integers such as (), (3,) or (2, 3).
// A trailing "L" (Python 2 long) is accepted, as old numpy wrote it.
func (p *parser) tuple() ([]int, error) {
	if err := p.expect('('); err != nil {
		return nil, err
	}
	dims := []int{}
	for {
		if p.peek() == ')' {
			p.pos++
			return dims, nil
		}
		start := p.pos
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		if start == p.pos {
			return nil, p.fail("a non-negative integer")
		}
		d, err := strconv.Atoi(p.s[start:p.pos])
		if err != nil {
			return nil, fmt.Errorf("header shape: %v", err)
		}
		dims = append(dims, d)
		if p.pos < len(p.s) && p.s[p.pos] == 'L' {
			p.pos++
		}
		switch p.peek() {
		case ',':
			p.pos++
		case ')':
		default:
			return nil, p.fail("',' or ')'")
		}
	}
}
