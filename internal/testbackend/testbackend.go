// Package testbackend gives tests the backend the toolkit runs on (sbikit/backend.Get), failing the
// test when there is none: the shared instance (tensors cannot cross backend instances), with
// probinv's gradient rules installed.
package testbackend

import (
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/probinv/probinv/sbikit/backend"
)

// Get is backend.Get, or the test's end.
func Get(t testing.TB) backends.Backend {
	t.Helper()
	b, err := backend.Get()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
