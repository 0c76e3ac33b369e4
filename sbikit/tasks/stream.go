package tasks

import (
	"math/rand/v2"
	"runtime"
	"sync"
)

// Salts keep the prior, the simulator and the posterior samplers on different random streams
// when a caller passes them the same seed: with one shared stream, gaussian_linear would
// simulate y = 2x exactly, since x and the noise would be the same normal draws.
// The simulator uses the plain stream (seed, i).
const (
	simulatorSalt = 0
	priorSalt     = 0x9e3779b97f4a7c15
	posteriorSalt = 0xbf58476d1ce4e5b9
)

// stream is the random stream of row i: PCG seeded with (seed XOR salt, i).
func stream(seed, salt uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^salt, uint64(i)))
}

// SimulatorStream is the random stream row i of a Simulate call with the given seed draws from, for
// tasks outside this package (see Register), so that they seed their rows as these do.
func SimulatorStream(seed uint64, i int) *rand.Rand {
	return stream(seed, simulatorSalt, i)
}

// PosteriorStream is the random stream row i of a SamplePosterior call with the given seed draws
// from, for tasks outside this package, so that their reference posteriors seed rows as these do.
func PosteriorStream(seed uint64, i int) *rand.Rand {
	return stream(seed, posteriorSalt, i)
}

// parallelRows calls f(i) for i in [0, n) on GOMAXPROCS goroutines, in contiguous chunks.
// Each row draws from its own stream, so the result does not depend on the scheduling.
func parallelRows(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := start; i < end; i++ {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// simulateRows is the shared body of the simulators: it checks the width of x, allocates the
// output and fills row i with sim(x[i], rng_i, out[i]) in parallel.
func simulateRows(name string, dimX, dimY int, x [][]float64, seed uint64,
	sim func(x []float64, rng *rand.Rand, y []float64)) [][]float64 {
	for i, row := range x {
		if len(row) != dimX {
			panic(badWidth(name, i, len(row), dimX))
		}
	}
	flat := make([]float64, len(x)*dimY)
	y := make([][]float64, len(x))
	for i := range y {
		y[i] = flat[i*dimY : (i+1)*dimY : (i+1)*dimY]
	}
	parallelRows(len(x), func(i int) {
		sim(x[i], stream(seed, simulatorSalt, i), y[i])
	})
	return y
}

// sampleRows allocates n rows of width dim and fills row i with draw(rng_i, row) in parallel.
func sampleRows(n, dim int, seed, salt uint64, draw func(rng *rand.Rand, row []float64)) [][]float64 {
	flat := make([]float64, n*dim)
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	parallelRows(n, func(i int) {
		draw(stream(seed, salt, i), rows[i])
	})
	return rows
}
