package bench

import (
	"math/rand/v2"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	"github.com/gomlx/gomlx/pkg/ml/layers/fnn"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/probinv/probinv/internal/fastgrad"
	"github.com/probinv/probinv/sbikit/backend"
)

func init() {
	register(Case{
		Name:   "mlp_adam_step",
		Params: map[string]any{"layers": "4-128-128-2", "batch": 256, "dtype": "float32"},
		Run:    mlpAdamStep,
	})
}

// mlpAdamStep measures Adam training steps per second of an MLP 4→128→128→2 (ReLU) at batch 256,
// with GoMLX's stock gradient rules and with internal/fastgrad's.
func mlpAdamStep() (map[string]float64, error) {
	b, err := backend.Get()
	if err != nil {
		return nil, err
	}
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
	model := func(ctx *context.Context, _ any, inputs []*Node) []*Node {
		return []*Node{fnn.New(ctx, inputs[0], 2).NumHiddenLayers(2, 128).Activation(activations.TypeRelu).Done()}
	}
	metrics := map[string]float64{}
	for _, rules := range []struct {
		name  string
		rules map[NodeType]VJP
	}{{"stock", fastgrad.Stock}, {"fastgrad", fastgrad.Rules}} {
		fastgrad.Use(rules.rules)
		trainer := train.NewTrainer(b, context.New(), model, losses.MeanSquaredError,
			optimizers.Adam().LearningRate(1e-3).Done(), nil, nil)
		stepsPerSecond, err := rate(3*time.Second, func() error {
			_, err := trainer.TrainStep(nil, inputs, labels)
			return err
		})
		fastgrad.Use(fastgrad.Rules)
		if err != nil {
			return nil, err
		}
		metrics["steps_per_second_"+rules.name] = stepsPerSecond
	}
	metrics["speedup"] = metrics["steps_per_second_fastgrad"] / metrics["steps_per_second_stock"]
	return metrics, nil
}
