package bench

import (
	"testing"

	"github.com/probinv/probinv/internal/testbackend"
	"github.com/probinv/probinv/physics"
)

// TestPhysicsSetups runs two steps of every physics_* case's simulator at its smaller size (the
// timed cases take seconds each), so that a change in the physics packages that breaks a case shows
// in the tests, and checks that each case is registered.
func TestPhysicsSetups(t *testing.T) {
	b := testbackend.Get(t)
	names := map[string]bool{}
	for _, c := range Cases() {
		names[c.Name] = true
	}
	for _, c := range physicsSimulators {
		s, err := c.setup(c.sizes[0])
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if _, _, err := physics.Rollout(b, s.sim, s.state, 2, physics.Options{}); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !(s.bytes > 0) {
			t.Errorf("%s: bytes per cell update %g, want > 0", c.name, s.bytes)
		}
		for _, n := range c.sizes {
			if name := physicsCase(c.name, n, c.setup).Name; !names[name] {
				t.Errorf("%s is not registered", name)
			}
		}
	}
}
