// Package progress prints a one-line progress report for long loops (simulating, sampling,
// PDE rollouts), so that a user can tell a slow run from a stuck one and see when it ends.
//
// On a terminal the line updates in place with '\r', at most five times a second. Elsewhere
// (CI logs, notebooks, files) carriage returns would pile up, so it prints a plain line at
// every 10% instead. A nil writer prints nothing, and a nil *Bar is a valid silent bar.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Bar reports progress towards a total. Add may be called from several goroutines.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	total    int
	count    int
	tty      bool
	start    time.Time
	last     time.Time // when the line was last printed
	decile   int       // plain mode: the last 10% step printed
	width    int       // tty mode: length of the line on screen, to blank its leftovers
	finished bool
	status   string           // text shown after the counts (SetStatus)
	now      func() time.Time // the clock; tests replace it
}

// New starts a bar that counts to total (total <= 0 means unknown: no percentage or ETA, and
// outside a terminal a line every five seconds instead of every 10%).
func New(w io.Writer, total int, label string) *Bar {
	b := &Bar{w: w, label: label, total: total, tty: isTerminal(w), now: time.Now}
	b.start = b.now()
	b.last = b.start
	return b
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Add counts n more items done and prints if it is time to.
func (b *Bar) Add(n int) {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.count += n
	now := b.now()
	if b.tty {
		if now.Sub(b.last) >= 200*time.Millisecond {
			b.print(now, false)
		}
	} else if b.total > 0 {
		if d := min(10, 10*b.count/b.total); d > b.decile && d < 10 {
			b.decile = d
			b.print(now, false)
		}
	} else if now.Sub(b.last) >= plainInterval {
		b.print(now, false)
	}
}

// plainInterval is how often a bar with no known total prints a plain (non-terminal) line.
const plainInterval = 5 * time.Second

// SetStatus sets a short text shown after the counts, such as the current losses of a training
// loop; it shows from the next line printed.
func (b *Bar) SetStatus(s string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.status = s
}

// Done prints the final line with the elapsed time. Later calls do nothing.
func (b *Bar) Done() {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.finished {
		b.finished = true
		b.print(b.now(), true)
	}
}

// print writes the current state; the caller holds the lock.
func (b *Bar) print(now time.Time, final bool) {
	b.last = now
	elapsed := now.Sub(b.start)
	line := fmt.Sprintf("%s %d", b.label, b.count)
	if b.total > 0 {
		line += fmt.Sprintf("/%d (%d%%)", b.total, 100*b.count/b.total)
	}
	rate := float64(b.count) / max(elapsed.Seconds(), 1e-9)
	line += " " + formatRate(rate)
	switch {
	case final:
		line += fmt.Sprintf(" in %v", elapsed.Round(time.Millisecond))
	case b.total > 0 && b.count > 0 && b.count < b.total:
		eta := time.Duration(float64(b.total-b.count) / rate * float64(time.Second))
		line += fmt.Sprintf(" ETA %v", eta.Round(time.Second))
	}
	if b.status != "" {
		line += " · " + b.status
	}
	if !b.tty {
		fmt.Fprintln(b.w, line)
		return
	}
	pad := max(0, b.width-len(line))
	b.width = len(line)
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(b.w, "\r%s%*s%s", line, pad, "", end)
}

// formatRate prints items per second with three significant figures and a k/M suffix.
func formatRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.3gM/s", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.3gk/s", r/1e3)
	default:
		return fmt.Sprintf("%.3g/s", r)
	}
}
