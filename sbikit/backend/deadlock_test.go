package backend

import (
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestDefaultDoesNotDeadlock runs a wide graph (many independent batched DotGenerals, which the
// pure-Go backend splits across its worker pool) many times on the Default configuration. On
// 2 cores, GoMLX's own default ("go") and "go:parallelism=4" both hang here for good (measured):
// every pool slot is held by an op waiting for a free slot to run its batch split.

func TestDefaultDoesNotDeadlock(t *testing.T) {
	b, err := NewWithConfig(Default)
	if err != nil {
		t.Fatal(err)
	}
	const width = 32
	exec := MustNewExec(b, func(x *Node) *Node {
		var sum *Node
		for i := range width {
			xi := AddScalar(x, float64(i))
			d := DotGeneral(xi, []int{2}, []int{0}, xi, []int{2}, []int{0}) // [batch, n, n]
			if sum == nil {
				sum = ReduceAllSum(d)
			} else {
				sum = Add(sum, ReduceAllSum(d))
			}
		}
		return sum
	})
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 8, 16, 16))
	done := make(chan error)
	go func() {
		for range 200 {
			if _, err := exec.Exec(x); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("backend %s: 200 executions of a wide graph did not finish in 60 s: deadlocked", Default)
	}
}
