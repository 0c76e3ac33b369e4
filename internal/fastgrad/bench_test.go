package fastgrad

import (
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	"github.com/gomlx/gomlx/pkg/ml/layers/fnn"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// BenchmarkMLPAdamStep times one Adam training step of an MLP 4→128→128→2 (ReLU, float32) on a
// batch of 256, with GoMLX's stock gradient rules and with this package's rules. It reports
// steps/s; run with `go test -tags noxla -run '^$' -bench MLPAdamStep ./internal/fastgrad/`.
func BenchmarkMLPAdamStep(b *testing.B) {
	for _, rules := range []struct {
		name  string
		rules map[NodeType]VJP
	}{{"stock", Stock}, {"fastgrad", Rules}} {
		b.Run(rules.name, func(b *testing.B) {
			Use(rules.rules)
			defer Use(Rules)
			rng := rand.New(rand.NewPCG(7, 8))
			x, y := make([]float32, 256*4), make([]float32, 256*2)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			for i := range y {
				y[i] = float32(rng.NormFloat64())
			}
			inputs := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, 256, 4)}
			labels := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, 256, 2)}
			ctx := context.New()
			model := func(ctx *context.Context, _ any, inputs []*Node) []*Node {
				return []*Node{fnn.New(ctx, inputs[0], 2).NumHiddenLayers(2, 128).Activation(activations.TypeRelu).Done()}
			}
			trainer := train.NewTrainer(testBackend(), ctx, model, losses.MeanSquaredError,
				optimizers.Adam().LearningRate(1e-3).Done(), nil, nil)
			step := func() {
				if _, err := trainer.TrainStep(nil, inputs, labels); err != nil {
					b.Fatal(err)
				}
			}
			step() // Compile outside the timed loop.
			b.ResetTimer()
			for range b.N {
				step()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}
