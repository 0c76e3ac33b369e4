package progress

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// withClock returns a bar whose clock moves by step on every reading after New.
func withClock(b *Bar, step time.Duration) *Bar {
	t := b.start
	b.now = func() time.Time { t = t.Add(step); return t }
	return b
}

func TestSilent(t *testing.T) {
	b := New(nil, 10, "quiet")
	b.Add(3)
	b.Done()
	var nilBar *Bar
	nilBar.Add(1)
	nilBar.Done()
}

func TestPlainLinesEveryTenPercent(t *testing.T) {
	var buf bytes.Buffer
	b := withClock(New(&buf, 100, "simulate"), 20*time.Millisecond)
	for range 100 {
		b.Add(1)
	}
	b.Done()
	b.Done() // a second Done prints nothing
	b.Add(5) // nor does Add after Done
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 10 || strings.Contains(buf.String(), "\r") {
		t.Fatalf("want 9 progress lines and a final one, no \\r; got %q", buf.String())
	}
	// 50 items in 1 s: 50 items/s, 50 left, so one second to go.
	if want := "simulate 50/100 (50%) 50/s ETA 1s"; lines[4] != want {
		t.Errorf("line 5 = %q, want %q", lines[4], want)
	}
	if want := "simulate 100/100 (100%) 49.5/s in 2.02s"; lines[9] != want {
		t.Errorf("final line = %q, want %q", lines[9], want)
	}
}

func TestTerminalUpdatesInPlaceAtMostFivePerSecond(t *testing.T) {
	var buf bytes.Buffer
	b := withClock(New(&buf, 1000, "sample"), 50*time.Millisecond)
	b.tty = true
	for range 40 { // 2 seconds of fake time
		b.Add(25)
	}
	if strings.Contains(buf.String(), "\n") {
		t.Fatalf("a terminal line must not end before Done: %q", buf.String())
	}
	if n := strings.Count(buf.String(), "\r"); n != 10 {
		t.Errorf("%d updates in 2 s, want 10", n)
	}
	b.Done()
	out := buf.String()
	if !strings.HasSuffix(out, "\n") || !strings.Contains(out[strings.LastIndex(out, "\r"):], "1000/1000 (100%) 488/s in 2.05s") {
		t.Errorf("final line: %q", out[strings.LastIndex(out, "\r"):])
	}
}

func TestTerminalBlanksLeftovers(t *testing.T) {
	var buf bytes.Buffer
	b := withClock(New(&buf, 0, "x"), time.Second)
	b.tty = true
	b.Add(1000000) // a long line: "x 1000000 1e+06/s"…
	b.Add(-999999) // then a shorter one must cover it
	parts := strings.Split(buf.String(), "\r")
	if len(parts) != 3 || len(parts[2]) < len(parts[1]) {
		t.Fatalf("a shorter update must pad over the longer one: %q", parts)
	}
}

func TestUnknownTotal(t *testing.T) {
	var buf bytes.Buffer
	b := withClock(New(&buf, 0, "rollout"), 500*time.Millisecond)
	b.Add(7)
	b.Done()
	if got, want := buf.String(), "rollout 7 7/s in 1s\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestConcurrentAdd(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, 8000, "par")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				b.Add(1)
			}
		})
	}
	wg.Wait()
	b.Done()
	if !strings.Contains(buf.String(), "par 8000/8000 (100%)") {
		t.Errorf("lost counts: %q", buf.String())
	}
}

func TestFileIsNotATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) || isTerminal(&bytes.Buffer{}) {
		t.Error("a file or a buffer was taken for a terminal")
	}
}

// A bar with no total prints a plain line every five seconds, with its status.
func TestUnknownTotalPrintsPeriodicallyWithStatus(t *testing.T) {
	var buf bytes.Buffer
	b := withClock(New(&buf, 0, "train epoch"), 2*time.Second)
	for i := range 5 {
		b.SetStatus("loss " + string(rune('a'+i)))
		b.Add(1) // clock readings at 2, 4, 6, 8, 10 s: a line at 6 s, then Done's at 12 s
	}
	b.Done()
	want := "train epoch 3 0.5/s · loss c\ntrain epoch 5 0.417/s in 12s · loss e\n"
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
