// Package diagnostics measures how far apart two sample sets are: the classifier
// two-sample test (C2ST) that sbibm uses to score posterior samples against reference
// samples, and the maximum mean discrepancy (MMD).
//
// Both are written in plain Go rather than GoMLX: the C2ST classifier is so small
// (dim → 10·dim → 10·dim → 1) that the cost of calling a compiled graph once per
// mini-batch would dominate the arithmetic.
package diagnostics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// C2ST returns the classifier two-sample test accuracy of a against b, as sbibm's
// metrics.c2st computes it:
//
//  1. z-score both sets with the per-dimension mean and standard deviation (n−1
//     denominator, as torch.std) of a, the reference;
//  2. label the rows of a 0 and those of b 1;
//  3. estimate the accuracy of sklearn's MLPClassifier(activation="relu",
//     hidden_layer_sizes=(10·dim, 10·dim), solver="adam", max_iter=10000) by shuffled
//     5-fold cross-validation and return the mean over folds.
//
// 0.5 means the classifier cannot tell the sets apart; 1.0 means they are disjoint. As in
// sbibm the sets may differ in size, but then chance level is max(na, nb)/(na+nb), not 0.5.
//
// The classifier follows sklearn's defaults (Glorot-uniform initialisation, mini-batches
// of min(200, n), Adam with step 1e-3, L2 penalty 1e-4, stop when the epoch loss has not
// improved by 1e-4 for more than 10 epochs), so the numbers agree with sbibm's to within
// the run-to-run spread of the test; the random streams differ from numpy's, so they are
// not bit-identical. Folds train in parallel (see WithWorkers).
func C2ST(a, b [][]float64, opts ...Option) (float64, error) {
	o := collect(opts)
	if o.folds < 2 {
		return 0, fmt.Errorf("diagnostics: C2ST needs at least 2 folds, got %d", o.folds)
	}
	if o.hiddenPerDim < 1 || o.maxEpochs < 1 {
		return 0, fmt.Errorf("diagnostics: C2ST needs WithHiddenPerDim ≥ 1 and WithMaxEpochs ≥ 1, got %d and %d", o.hiddenPerDim, o.maxEpochs)
	}
	fa, fb, dim, err := flattenPair(a, b)
	if err != nil {
		return 0, err
	}
	if len(a) < o.folds || len(b) < o.folds {
		return 0, fmt.Errorf("diagnostics: C2ST with %d folds needs at least %d rows in each set, got %d and %d; pass more samples or fewer folds", o.folds, o.folds, len(a), len(b))
	}
	if err := zscore(fa, fb, dim); err != nil {
		return 0, err
	}

	n := len(a) + len(b)
	x := append(fa, fb...)
	y := make([]float64, n)
	for i := len(a); i < n; i++ {
		y[i] = 1
	}
	h := o.hiddenPerDim * dim
	cfg := sklearnDefaults([]int{h, h})
	cfg.maxEpochs = o.maxEpochs

	tests := kfold(n, o.folds, rand.New(rand.NewPCG(o.seed, 1)))
	scores := make([]float64, o.folds)
	workers := o.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, o.folds) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				scores[f] = foldAccuracy(x, y, dim, tests[f], cfg, o.seed)
			}
		}()
	}
	for f := range o.folds {
		jobs <- f
	}
	close(jobs)
	wg.Wait()

	mean := 0.0
	for _, s := range scores {
		mean += s
	}
	return mean / float64(o.folds), nil
}

// zscore maps both sets through (v − μ_a) / s_a per dimension, with μ_a and s_a the mean
// and sample standard deviation (n−1) of a.
func zscore(a, b []float64, dim int) error {
	n := len(a) / dim
	if n < 2 {
		return fmt.Errorf("diagnostics: z-scoring needs at least 2 rows in a, got %d", n)
	}
	for j := 0; j < dim; j++ {
		mu := 0.0
		for i := j; i < len(a); i += dim {
			mu += a[i]
		}
		mu /= float64(n)
		ss := 0.0
		for i := j; i < len(a); i += dim {
			ss += (a[i] - mu) * (a[i] - mu)
		}
		sd := math.Sqrt(ss / float64(n-1))
		if !(sd > 0) {
			return fmt.Errorf("diagnostics: dimension %d of a is constant (%g), so it cannot be z-scored; drop that dimension from both sets", j, mu)
		}
		for _, s := range [][]float64{a, b} {
			for i := j; i < len(s); i += dim {
				s[i] = (s[i] - mu) / sd
			}
		}
	}
	return nil
}

// kfold returns the test rows of each fold as sklearn's KFold(shuffle=True) makes them:
// a random permutation of 0..n−1 cut into k consecutive pieces, the first n mod k of
// which hold one row more.
func kfold(n, k int, rng *rand.Rand) [][]int {
	perm := rng.Perm(n)
	folds := make([][]int, k)
	start := 0
	for f := range k {
		size := n / k
		if f < n%k {
			size++
		}
		folds[f] = perm[start : start+size]
		start += size
	}
	return folds
}

// foldAccuracy trains on every row outside test and returns the accuracy on test. Every
// fold starts from the same seed, as sbibm's cross_val_score clones one random_state.
func foldAccuracy(x, y []float64, dim int, test []int, cfg mlpConfig, seed uint64) float64 {
	n := len(y)
	inTest := make([]bool, n)
	for _, i := range test {
		inTest[i] = true
	}
	xTrain := make([]float64, 0, (n-len(test))*dim)
	yTrain := make([]float64, 0, n-len(test))
	xTest := make([]float64, 0, len(test)*dim)
	yTest := make([]float64, 0, len(test))
	for i := range n {
		if inTest[i] {
			xTest = append(xTest, x[i*dim:(i+1)*dim]...)
			yTest = append(yTest, y[i])
		} else {
			xTrain = append(xTrain, x[i*dim:(i+1)*dim]...)
			yTrain = append(yTrain, y[i])
		}
	}
	net := trainMLP(xTrain, yTrain, dim, cfg, rand.New(rand.NewPCG(seed, 2)))
	return net.accuracy(xTest, yTest, dim, newWorkspace(net, min(cfg.batchSize, len(yTest))))
}
