// Package backend chooses the GoMLX backend that every probinv computation runs on, in one place.
//
// GOMLX_BACKEND is honoured when set ("go", "go:parallelism=4", "xla:cuda", "xla:cpu", ...).
// When it is unset, probinv uses the pure-Go backend as Default configures it. GoMLX's own default
// for that backend runs independent ops on a bounded worker pool (2 slots per core), and an op such
// as DotGeneral holds its slot while it waits for another slot to run its parts: with enough ops in
// flight every slot waits and the program hangs (reproduced on 2 cores, also with parallelism=4;
// see deadlock_test.go). With parallelism=-1 the pool is unbounded, so nothing ever waits for a
// slot: no deadlock is possible, ops still run in parallel, and Go's scheduler keeps the work on
// GOMAXPROCS threads. It was also the fastest setting measured (an MLP Adam step: ~110 steps/s,
// against ~85 with ops run sequentially).
//
// Build tags: a CPU-only build needs no cgo: `go build -tags noxla` (CGO_ENABLED=0 works too).
// Without the tag the XLA backend is compiled in (cgo); it runs on a machine with a PJRT plugin,
// found through PJRT_PLUGIN_LIBRARY_PATH (or downloaded by GoMLX where there is internet), and is
// selected with GOMLX_BACKEND=xla:cuda or xla:cpu.
//
// Getting a backend also installs probinv's gradient rules (internal/fastgrad), which make training
// on the pure-Go backend several times faster and second-order gradients through Slice possible.
package backend

import (
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // The pure-Go backend, registered as "go".
	"github.com/probinv/probinv/internal/fastgrad"
)

// Default is the configuration used when GOMLX_BACKEND is unset.
const Default = "go:parallelism=-1"

var (
	shared     backends.Backend
	sharedName string
	sharedErr  error
	sharedOnce sync.Once
)

// Get returns the process-wide backend, creating it on first use, and logs once which backend
// runs. All probinv estimators share it (tensors cannot move between backend instances, and an
// XLA client is expensive to create).
func Get() (backends.Backend, error) {
	sharedOnce.Do(func() {
		shared, sharedName, sharedErr = New()
		if sharedErr == nil {
			log.Printf("probinv: GoMLX backend %s", sharedName)
		}
	})
	return shared, sharedErr
}

// Name is the configuration of the backend Get returns ("go:parallelism=-1", "xla:cuda", ...), for
// logs and benchmark results. It creates the backend if needed and is "" if that failed.
func Name() string {
	_, _ = Get()
	return sharedName
}

// New creates a backend from GOMLX_BACKEND, or Default when it is unset, and returns it with the
// configuration used. Asking for a backend that is not compiled in or cannot start returns an error
// that says how to fix it; it never panics.
func New() (backends.Backend, string, error) {
	config, set := os.LookupEnv(backends.ConfigEnvVar)
	if !set || config == "" {
		config = Default
	}
	b, err := NewWithConfig(config)
	return b, config, err
}

// NewWithConfig creates the backend named by config ("<name>[:<options>]").
func NewWithConfig(config string) (b backends.Backend, err error) {
	fastgrad.Register()
	name, _, _ := strings.Cut(config, ":")
	available := backends.List()
	slices.Sort(available)
	if !slices.Contains(available, name) {
		hint := ""
		if name == "xla" || name == "stablehlo" {
			hint = " This binary was built with -tags noxla; build without it (needs cgo) to use XLA."
		}
		return nil, fmt.Errorf("GoMLX backend %q is not compiled into this program (available: %s).%s "+
			"Unset %s to use the pure-Go backend (%s)", name, strings.Join(available, ", "), hint,
			backends.ConfigEnvVar, Default)
	}
	// GoMLX constructors may panic on bad configurations; turn that into an error.
	defer func() {
		if r := recover(); r != nil {
			err = explain(config, fmt.Errorf("%v", r))
		}
	}()
	// The pure-Go backend prints its options to stdout; keep stdout for results (JSON lines).
	stdout := os.Stdout
	os.Stdout = os.Stderr
	defer func() { os.Stdout = stdout }()
	b, err = backends.NewWithConfig(config)
	if err != nil {
		return nil, explain(config, err)
	}
	return b, nil
}

func explain(config string, err error) error {
	if strings.HasPrefix(config, "xla") || strings.HasPrefix(config, "stablehlo") {
		return fmt.Errorf("cannot start GoMLX backend %q: %w. XLA needs a PJRT plugin: set "+
			"PJRT_PLUGIN_LIBRARY_PATH to the directory holding pjrt_c_api_*_plugin.so (e.g. the CUDA "+
			"plugin on a GPU machine), or unset %s to use the pure-Go backend (%s)",
			config, err, backends.ConfigEnvVar, Default)
	}
	return fmt.Errorf("cannot start GoMLX backend %q: %w; unset %s to use the pure-Go backend (%s)",
		config, err, backends.ConfigEnvVar, Default)
}
