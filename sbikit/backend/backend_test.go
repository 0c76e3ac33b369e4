package backend

import (
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
)

func TestDefaultIsPureGo(t *testing.T) {
	t.Setenv(backends.ConfigEnvVar, "")
	b, name, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if name != Default || !strings.Contains(b.Name(), "(go)") {
		t.Errorf("default backend = %q (%s), want %q", name, b.Name(), Default)
	}
}

func TestHonoursEnvironment(t *testing.T) {
	t.Setenv(backends.ConfigEnvVar, "go:parallelism=2")
	_, name, err := New()
	if err != nil || name != "go:parallelism=2" {
		t.Errorf("New() = %q, %v; want go:parallelism=2", name, err)
	}
}

// TestXLAWithoutPluginIsAnError: asking for XLA where it cannot run must return an error naming the
// fix (PJRT_PLUGIN_LIBRARY_PATH, or the build tag) and the pure-Go fallback, never panic.
func TestXLAWithoutPluginIsAnError(t *testing.T) {
	t.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	_, err := NewWithConfig("xla:cuda")
	if err == nil {
		t.Skip("an XLA CUDA plugin is installed here; nothing to check")
	}
	t.Logf("error (as users see it): %v", err)
	want := "PJRT_PLUGIN_LIBRARY_PATH"
	if !slices.Contains(backends.List(), "xla") {
		want = "noxla"
	}
	for _, s := range []string{want, Default} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestBadOptionIsAnError(t *testing.T) {
	if _, err := NewWithConfig("go:no_such_option"); err == nil || !strings.Contains(err.Error(), Default) {
		t.Errorf("NewWithConfig(go:no_such_option) error = %v, want one naming %s", err, Default)
	}
	if _, err := NewWithConfig("nosuchbackend"); err == nil {
		t.Error("unknown backend: want an error")
	}
}
