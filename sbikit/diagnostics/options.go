package diagnostics

// Option changes a setting of C2ST or MMD. Each function reads only the options that
// concern it and ignores the rest, so one list can be passed to both.
type Option func(*options)

type options struct {
	seed         uint64
	folds        int
	hiddenPerDim int
	maxEpochs    int
	workers      int
	bandwidth    float64
	maxSamples   int
}

func defaultOptions() options {
	return options{
		seed:         1, // sbibm's default seed
		folds:        5,
		hiddenPerDim: 10,
		maxEpochs:    10000,
	}
}

func collect(opts []Option) options {
	o := defaultOptions()
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithSeed fixes the random numbers: the fold split, the classifier's initial weights and
// its mini-batch order (C2ST), and the subsamples (MMD). Default 1, as in sbibm.
func WithSeed(seed uint64) Option { return func(o *options) { o.seed = seed } }

// WithFolds sets the number of cross-validation folds of C2ST (default 5, as sbibm).
func WithFolds(k int) Option { return func(o *options) { o.folds = k } }

// WithHiddenPerDim sets the width of C2ST's two hidden layers to k·dim units
// (default 10, as sbibm).
func WithHiddenPerDim(k int) Option { return func(o *options) { o.hiddenPerDim = k } }

// WithMaxEpochs caps the training epochs of each C2ST classifier (default 10000, sklearn's
// max_iter in sbibm). Training usually stops much earlier, when the loss stalls.
func WithMaxEpochs(n int) Option { return func(o *options) { o.maxEpochs = n } }

// WithWorkers sets how many goroutines run at once: C2ST's folds, MMD's kernel rows.
// Default (0): GOMAXPROCS.
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithBandwidth fixes MMD's Gaussian kernel width σ instead of the median heuristic.
// Use it to compare several sample sets on one scale.
func WithBandwidth(sigma float64) Option { return func(o *options) { o.bandwidth = sigma } }

// WithMaxSamples makes MMD use a seeded random subset of at most n rows of each set;
// its cost falls with the square of n. Default (0): all rows.
func WithMaxSamples(n int) Option { return func(o *options) { o.maxSamples = n } }
