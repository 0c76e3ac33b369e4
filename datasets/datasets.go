// Package datasets generates, saves and loads simulation datasets: n pairs (x, y) with x
// drawn from a task's prior and y from its simulator. Training data made once can be shared,
// reloaded for another estimator, or opened in Python with a plain np.load.
//
// A dataset is a function of (task, n, seed) alone. Global row i is row i%1000 of block
// i/1000; block k draws its x from the prior with a seed derived from (seed, k) and simulates
// its y with another. Because tasks give every row of a batch its own random stream, this
// makes the result independent of how the work is split among goroutines and of progress
// chunking, and a smaller dataset is a prefix of a larger one with the same seed.
package datasets

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/probinv/probinv/sbikit/progress"
	"github.com/probinv/probinv/sbikit/tasks"
)

// Dataset is n simulated pairs: X[i] ~ p(x), Y[i] ~ p(y | X[i]).
type Dataset struct {
	// Task is the name of the task simulated, Seed the seed that reproduces the dataset.
	Task string
	Seed uint64
	// X holds n rows of DimX parameters, Y the n matching rows of DimY observations.
	X, Y [][]float64
	// Dropped counts the simulations left out because x or y held NaN or Inf.
	Dropped int
}

// blockSize is the unit of seeding and of work. It is part of the definition of a dataset:
// changing it changes every dataset made from a seed.
const blockSize = 1000

// Simulate makes n valid pairs for task. Rows whose x or y contain NaN or Inf are left out,
// counted in Dropped and replaced by further simulations; if more than half of the
// simulations are invalid it gives up with an error. Progress, and the count of dropped
// rows, go to progress (nil for silence). Blocks are simulated on all CPUs, so the task's
// Prior and Simulate must be safe for concurrent use.
func Simulate(task tasks.Task, n int, seed uint64, progress io.Writer) (*Dataset, error) {
	return simulate(task, n, seed, progress, runtime.GOMAXPROCS(0))
}

func simulate(task tasks.Task, n int, seed uint64, w io.Writer, workers int) (*Dataset, error) {
	if task == nil {
		return nil, errors.New("datasets: Simulate needs a task, got nil")
	}
	if n <= 0 {
		return nil, fmt.Errorf("datasets: task %q: number of simulations must be positive, got %d", task.Name(), n)
	}
	if task.DimX() <= 0 || task.DimY() <= 0 {
		return nil, fmt.Errorf("datasets: task %q has dimensions x %d, y %d; both must be positive", task.Name(), task.DimX(), task.DimY())
	}
	bar := progress.New(w, n, "simulate "+task.Name())
	// The bar counts valid rows and stops at n: later rounds simulate a few rows more than
	// the dropped ones they replace.
	var mu sync.Mutex
	shown := 0
	report := func(valid int) {
		mu.Lock()
		valid = min(valid, n-shown)
		shown += valid
		mu.Unlock()
		bar.Add(valid)
	}
	ds := &Dataset{Task: task.Name(), Seed: seed}
	next := 0 // the first global row not yet simulated
	for len(ds.X) < n {
		// Simulate what is missing, inflated by the invalid fraction seen so far.
		want := n - len(ds.X)
		if next > 0 {
			want = int(float64(want)*float64(next)/float64(max(len(ds.X), 1))*1.1) + 1
		}
		x, y, err := simulateRows(task, seed, next, next+want, workers, report)
		if err != nil {
			bar.Done()
			return nil, err
		}
		for i := range x {
			if len(ds.X) == n {
				break
			}
			if tasks.Finite(x[i]) && tasks.Finite(y[i]) {
				ds.X, ds.Y = append(ds.X, x[i]), append(ds.Y, y[i])
			} else {
				ds.Dropped++
			}
		}
		next += want
		if tried := len(ds.X) + ds.Dropped; tried >= 20 && 2*ds.Dropped > tried {
			bar.Done()
			return nil, fmt.Errorf("datasets: task %q: %d of %d simulations gave NaN or Inf, more than half; check the simulator and the prior's support", task.Name(), ds.Dropped, tried)
		}
	}
	bar.Done()
	if w != nil && ds.Dropped > 0 {
		fmt.Fprintf(w, "dropped %d of %d simulations with NaN/Inf\n", ds.Dropped, n+ds.Dropped)
	}
	return ds, nil
}

// simulateRows returns global rows [from, to): one piece per block touched, simulated in
// parallel; report (if not nil) is told the number of valid rows of each piece. A piece
// that starts inside a block re-simulates the block from its first row, because a row's
// random stream is fixed by its place in the block; that waste happens only after drops.
func simulateRows(task tasks.Task, seed uint64, from, to, workers int, report func(valid int)) (x, y [][]float64, err error) {
	type piece struct {
		block, lo, hi int // rows [lo, hi) of the block
		x, y          [][]float64
		err           error
	}
	var pieces []*piece
	for k := from / blockSize; k*blockSize < to; k++ {
		lo, hi := max(from-k*blockSize, 0), min(to-k*blockSize, blockSize)
		pieces = append(pieces, &piece{block: k, lo: lo, hi: hi})
	}
	todo := make(chan *piece, len(pieces))
	for _, p := range pieces {
		todo <- p
	}
	close(todo)
	var wg sync.WaitGroup
	for range min(max(workers, 1), len(pieces)) {
		wg.Go(func() {
			for p := range todo {
				p.x, p.y, p.err = simulateBlock(task, seed, p.block, p.hi)
				p.x, p.y = p.x[min(p.lo, len(p.x)):], p.y[min(p.lo, len(p.y)):]
				if report != nil {
					report(countFinite(p.x, p.y))
				}
			}
		})
	}
	wg.Wait()
	for _, p := range pieces {
		if p.err != nil {
			return nil, nil, p.err
		}
		x, y = append(x, p.x...), append(y, p.y...)
	}
	return x, y, nil
}

// simulateBlock draws the first m rows of block k and checks what the task returns, turning
// a panicking or misshapen simulator into an error that names the task.
func simulateBlock(task tasks.Task, seed uint64, k, m int) (x, y [][]float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			x, y, err = nil, nil, fmt.Errorf("datasets: task %q panicked while simulating: %v", task.Name(), r)
		}
	}()
	x = task.Prior().Sample(m, blockSeed(seed, k, 1))
	if err := checkRows("prior", task.Name(), x, m, task.DimX()); err != nil {
		return nil, nil, err
	}
	y = task.Simulate(x, blockSeed(seed, k, 2))
	if err := checkRows("simulator", task.Name(), y, m, task.DimY()); err != nil {
		return nil, nil, err
	}
	return x, y, nil
}

func checkRows(what, name string, rows [][]float64, n, dim int) error {
	if len(rows) != n {
		return fmt.Errorf("datasets: task %q: %s returned %d rows, want %d", name, what, len(rows), n)
	}
	for i, r := range rows {
		if len(r) != dim {
			return fmt.Errorf("datasets: task %q: %s row %d has %d values, want %d", name, what, i, len(r), dim)
		}
	}
	return nil
}

// blockSeed derives the seed of one block and stream (1 for the prior, 2 for the simulator)
// with SplitMix64 steps, so that neighbouring seeds and blocks give unrelated streams.
func blockSeed(seed uint64, block int, stream uint64) uint64 {
	return splitmix(splitmix(seed+stream*0x9e3779b97f4a7c15) ^ uint64(block))
}

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func countFinite(x, y [][]float64) int {
	n := 0
	for i := range x {
		if tasks.Finite(x[i]) && tasks.Finite(y[i]) {
			n++
		}
	}
	return n
}
