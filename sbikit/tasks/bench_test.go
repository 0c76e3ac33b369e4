package tasks

import (
	"math"
	"testing"
)

// Benchmarks of the costs the report quotes: simulating and reference-sampling 10,000 rows.
//
//	go test -tags noxla -run '^$' -bench . -benchtime 1x ./sbikit/tasks/

func BenchmarkSimulate10k(b *testing.B) {
	for _, name := range Names() {
		task, _ := Get(name)
		x := task.Prior().Sample(10_000, 1)
		b.Run(name, func(b *testing.B) {
			nan := 0
			for b.Loop() {
				y := task.Simulate(x, 2)
				nan = 0
				for _, row := range y {
					if math.IsNaN(row[0]) {
						nan++
					}
				}
			}
			b.ReportMetric(float64(nan), "NaN-rows")
		})
	}
}

func BenchmarkSamplePosterior10k(b *testing.B) {
	for _, name := range Names() {
		task, _ := Get(name)
		ref, ok := task.(ReferencePosterior)
		if !ok {
			continue
		}
		y := task.Simulate(task.Prior().Sample(1, 3), 4)[0]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := ref.SamplePosterior(y, 10_000, 5); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
