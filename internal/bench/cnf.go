package bench

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/probinv/probinv/sbikit/backend"
	"github.com/probinv/probinv/sbikit/cnf"
	"github.com/probinv/probinv/sbikit/ode"
)

// The cnf_scaling_* cases answer the lecture's claim that maximum-likelihood training of a
// continuous normalizing flow does not scale, by measuring it: one Adam training step of the same
// field network, trained
//
//   - by flow matching (fm): one forward pass of the field per step, whatever the solver;
//   - by maximum likelihood through S unrolled RK4 steps of the augmented ODE, with the exact trace
//     (cnf_exact: every one of the 4·S field evaluations adds D vector-Jacobian products) or
//     Hutchinson's estimate with Rademacher probes (cnf_hutchinson: one product per evaluation),
//
// for dimensions D = 2, 5, 10 and S = 1, 2, 4, 8. One case per (D, objective, S), named
// cnf_scaling_d{D}_{fm | exact_s{S} | hutchinson_s{S}}, so that each JSON line is one point of the
// scaling curves, with the coordinates in its params (`--run cnf_scaling_d10` picks a dimension).
// The work counts field_evaluations_per_step and vjps_per_step come with the timings, so that a
// reader can see which of them the time follows.
func init() {
	for _, d := range []int{2, 5, 10} {
		register(scalingCase(d, "fm", 0))
		for _, objective := range []string{"exact", "hutchinson"} {
			for _, s := range []int{1, 2, 4, 8} {
				register(scalingCase(d, objective, s))
			}
		}
	}
	register(Case{
		Name: "ode_sampling",
		Params: map[string]any{"dim": 2, "hidden": 64, "layers": 3, "frequencies": 4, "context_batch": 1,
			"batch": samplingBatch, "method": ode.RK4.Name, "steps": samplingSteps, "adaptive_method": ode.DormandPrince.Name,
			"adaptive_rtol": 1e-5, "adaptive_atol": 1e-6, "dtype": "float32"},
		Run: odeSampling,
	})
}

// The training setup of the cnf_scaling cases.
const (
	scalingBatch      = 256
	scalingContextDim = 2
	// scalingMinDuration is how long each case's timed steps last at least (and at least 3 steps):
	// short, so that all 27 cases stay within a few minutes.
	scalingMinDuration = 1500 * time.Millisecond
)

var scalingNet = cnf.Net{Hidden: 64, Layers: 3, Frequencies: 4}

func scalingCase(d int, objective string, steps int) Case {
	name := fmt.Sprintf("cnf_scaling_d%d_%s", d, objective)
	params := map[string]any{"dim": d, "batch": scalingBatch, "context_dim": scalingContextDim,
		"hidden": scalingNet.Hidden, "layers": scalingNet.Layers, "frequencies": scalingNet.Frequencies,
		"dtype": "float32", "optimizer": "adam", "learning_rate": 1e-3}
	if objective == "fm" {
		params["objective"] = "fm"
	} else {
		name += fmt.Sprintf("_s%d", steps)
		params["objective"] = "cnf_" + objective
		params["method"] = ode.RK4.Name
		params["solver_steps"] = steps
	}
	return Case{Name: name, Params: params, Run: func() (map[string]float64, error) {
		return scalingStep(d, objective, steps, params)
	}}
}

// scalingStep measures the Adam training step of one objective: compile_seconds is graph building
// and compilation (timeCompile), step_seconds the median step after a warm-up (measureSteps),
// alloc_bytes_per_step the Go heap allocated per timed step, peak_rss_bytes the process's peak
// resident memory over the timed steps and rss_baseline_bytes its resident memory just before them
// (after a garbage collection that returned the free heap to the OS), so that their difference is
// what the steps added. The Go heap grows to about twice its live size before a collection
// (GOGC=100), so both alloc and peak RSS count the garbage a step makes as well as what it keeps.
func scalingStep(d int, objective string, steps int, params map[string]any) (map[string]float64, error) {
	b, err := backend.Get()
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(uint64(d), uint64(steps)))
	x := tensors.FromFlatDataAndDimensions(normals32(rng, scalingBatch*d), scalingBatch, d)
	c := tensors.FromFlatDataAndDimensions(normals32(rng, scalingBatch*scalingContextDim), scalingBatch, scalingContextDim)
	flow := cnf.Flow{Dim: d, Net: scalingNet}
	// Unchecked: the unrolled solver evaluates the field, and so reuses its variables, many times.
	ctx := context.New().Checked(false)
	if err := ctx.SetRNGStateFromSeed(1); err != nil {
		return nil, err
	}
	opt := optimizers.Adam().LearningRate(1e-3).Done()
	stepFn := func(ctx *context.Context, x, c *Node) *Node {
		var loss *Node
		switch objective {
		case "fm":
			loss = cnf.Matching{}.WithDefaults().Loss(ctx.In("model"), flow, x, c)
		case "exact":
			lq, _ := flow.LogProb(ctx.In("model"), x, c, nil, ode.RK4, steps)
			loss = Neg(ReduceAllMean(lq))
		case "hutchinson":
			eps := cnf.Probes(ctx, x, cnf.TraceRademacher)
			lq, _ := flow.LogProb(ctx.In("model"), x, c, eps, ode.RK4, steps)
			loss = Neg(ReduceAllMean(lq))
		default:
			panic("unknown objective " + objective)
		}
		opt.UpdateGraph(ctx, x.Graph(), loss)
		return loss
	}
	// Graph building and compilation alone are timed with PreCompile on a throwaway context: in GoMLX
	// v0.26.0, context.Exec's PreCompile hands the buffers of the variables the graph updates (here
	// all: the model's, the optimizer's, the random state) to the graph it does not run, and they are
	// lost. The real step then compiles again at its first call, which is also its warm-up.
	compile, err := timeCompile(b, stepFn, x, c)
	if err != nil {
		return nil, err
	}
	exec, err := context.NewExec(b, ctx, stepFn)
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	step := func() error {
		out, err := exec.Exec(x, c)
		if err != nil {
			return err
		}
		loss := tensors.ToScalar[float32](out[0]) // waits for the step
		free(out...)
		if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
			return fmt.Errorf("the loss is not finite (%g)", loss)
		}
		return nil
	}
	if err := step(); err != nil {
		return nil, err
	}
	m, err := measureSteps(scalingMinDuration, 3, step)
	if err != nil {
		return nil, err
	}
	params["peak_memory_source"] = m.peakSource
	evals, vjps := 1, 0 // flow matching: one forward pass, no product inside the loss
	switch objective {
	case "exact":
		evals = ode.RK4.Stages() * steps
		vjps = evals * d
	case "hutchinson":
		evals = ode.RK4.Stages() * steps
		vjps = evals
	}
	return map[string]float64{
		"step_seconds":               m.median,
		"steps_timed":                float64(m.n),
		"compile_seconds":            compile,
		"alloc_bytes_per_step":       m.allocPerStep,
		"peak_rss_bytes":             m.peak,
		"rss_baseline_bytes":         m.baseline,
		"field_evaluations_per_step": float64(evals),
		"vjps_per_step":              float64(vjps),
	}, nil
}

// timeCompile returns the seconds GoMLX takes to build and compile the graph of fn for args, in a
// fresh context that is then dropped.
func timeCompile(b backends.Backend, fn func(ctx *context.Context, x, c *Node) *Node, args ...any) (float64, error) {
	exec, err := context.NewExec(b, context.New().Checked(false), fn)
	if err != nil {
		return 0, err
	}
	defer exec.Finalize()
	start := time.Now()
	if err := exec.PreCompile(args...); err != nil {
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}

// stepMeasurement is what measureSteps reports.
type stepMeasurement struct {
	median         float64 // seconds per call
	fastest        float64 // seconds of the fastest call
	n              int     // timed calls
	allocPerStep   float64 // Go heap bytes allocated per timed call
	peak, baseline float64 // bytes: peak during the calls, and before them
	peakSource     string
}

// measureSteps times calls of step, which the caller has warmed up (its first call compiles), as
// timeCalls does, and returns their median, which a stray slow call (a garbage
// collection, another process) does not move, with the memory they used.
func measureSteps(d time.Duration, minCalls int, step func() error) (stepMeasurement, error) {
	var m stepMeasurement
	w := watchPeak()
	defer w.stop()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	alloc := ms.TotalAlloc
	times, err := timeCalls(d, minCalls, step)
	if err != nil {
		return m, err
	}
	runtime.ReadMemStats(&ms)
	m.n = len(times)
	m.allocPerStep = float64(ms.TotalAlloc-alloc) / float64(m.n)
	slices.Sort(times)
	m.fastest = times[0]
	m.median = times[m.n/2]
	if m.n%2 == 0 {
		m.median = (times[m.n/2-1] + times[m.n/2]) / 2
	}
	m.peak, m.peakSource = w.stop()
	m.baseline = w.baseline
	return m, nil
}

// peakWatch follows the peak memory of the process from its start: the kernel's high-water mark of
// the resident set (VmHWM, reset by writing 5 to /proc/self/clear_refs, Linux ≥ 4.0), or where that
// is not possible, the Go heap in use sampled every 2 ms (which misses memory outside the Go heap
// and peaks shorter than the interval).
type peakWatch struct {
	baseline float64
	vmHWM    bool
	done     chan struct{}
	wg       sync.WaitGroup
	heapPeak uint64
	stopped  bool
	result   float64
}

const (
	peakSourceVmHWM = "VmHWM (/proc/self/status, reset through /proc/self/clear_refs)"
	peakSourceHeap  = "runtime HeapInuse sampled every 2 ms"
)

func watchPeak() *peakWatch {
	// Start from what the process needs now: collect the garbage of earlier cases (and of compiling)
	// and return the free heap to the OS, so the peak is this case's.
	runtime.GC()
	debug.FreeOSMemory()
	w := &peakWatch{}
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err == nil {
		if rss, err := procStatusBytes("VmRSS"); err == nil {
			if _, err := procStatusBytes("VmHWM"); err == nil {
				w.vmHWM, w.baseline = true, rss
				return w
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.baseline, w.heapPeak = float64(ms.HeapInuse), ms.HeapInuse
	w.done = make(chan struct{})
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-w.done:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				w.heapPeak = max(w.heapPeak, ms.HeapInuse)
			}
		}
	}()
	return w
}

// stop ends the watch (once; later calls return the same) and returns the peak in bytes and how it
// was measured.
func (w *peakWatch) stop() (float64, string) {
	if w.vmHWM {
		if !w.stopped {
			w.stopped = true
			w.result, _ = procStatusBytes("VmHWM")
		}
		return w.result, peakSourceVmHWM
	}
	if !w.stopped {
		w.stopped = true
		close(w.done)
		w.wg.Wait()
		w.result = float64(w.heapPeak)
	}
	return w.result, peakSourceHeap
}

// procStatusBytes reads a "Key:  123 kB" line of /proc/self/status, in bytes.
func procStatusBytes(key string) (float64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != key {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) != 2 || fields[1] != "kB" {
			break
		}
		kb, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, err
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", key)
}

// The ode_sampling setup.
const (
	samplingBatch = 10000
	samplingSteps = 16
	// samplingSolves is how many solves of the batch are timed after the warm-up: each takes seconds
	// on a CPU, of steady work, so two are enough, and the case stays under a couple of minutes.
	samplingSolves = 2
)

// odeSampling answers whether a sampler should run the ODE solver unrolled in the graph or as a
// compiled step called from a Go loop: it draws 10,000 samples of a 2-D field network (random
// weights, one observation broadcast over the batch) with 16 RK4 steps both ways, and with the
// adaptive Dormand–Prince solver at rtol 1e-5. *_solve_seconds are medians over samplingSolves
// solves after a warm-up (see measureSteps). unrolled_compile_seconds is graph building and
// compilation alone (PreCompile); the Solver compiles its step graph (and dopri5 its starting-step
// graph) inside its first Solve, so its *_compile_seconds are the first solve of one draw less the
// fastest of the next three; compiling these small graphs takes about a millisecond, within the
// timing noise of those solves, so it may read 0. max_abs_diff is the largest difference between
// the two fixed-step results, which must agree to rounding (both take the same steps at the same
// times).
func odeSampling() (map[string]float64, error) {
	b, err := backend.Get()
	if err != nil {
		return nil, err
	}
	const d, dc = 2, 2
	net := cnf.Net{Hidden: 64, Layers: 3, Frequencies: 4}
	flow := cnf.Flow{Dim: d, Net: net}
	rng := rand.New(rand.NewPCG(21, 22))
	eps := tensors.FromFlatDataAndDimensions(normals32(rng, samplingBatch*d), samplingBatch, d)
	c := tensors.FromFlatDataAndDimensions(normals32(rng, dc), 1, dc)
	one := tensors.FromFlatDataAndDimensions(normals32(rng, d), 1, d)
	// An unchecked context, so that the three graphs below share the network's variables.
	ctx := context.New().Checked(false)
	if err := randomField(b, ctx, net, d, dc, rng); err != nil {
		return nil, err
	}
	metrics := map[string]float64{"rk4_evaluations": float64(ode.RK4.Stages() * samplingSteps)}

	unrolled, err := context.NewExec(b, ctx, func(ctx *context.Context, eps, c *Node) *Node {
		return flow.Sample(ctx.In("model"), eps, c, ode.RK4, samplingSteps)
	})
	if err != nil {
		return nil, err
	}
	defer unrolled.Finalize()
	// This graph updates no variable, so PreCompile is safe here (see scalingStep).
	start := time.Now()
	if err := unrolled.PreCompile(eps, c); err != nil {
		return nil, err
	}
	metrics["unrolled_compile_seconds"] = time.Since(start).Seconds()
	var unrolledOut []float32
	sample := func() error {
		out, err := unrolled.Exec(eps, c)
		if err != nil {
			return err
		}
		unrolledOut = tensors.MustCopyFlatData[float32](out[0])
		free(out...)
		return nil
	}
	if err := sample(); err != nil {
		return nil, err
	}
	m, err := measureSteps(0, samplingSolves, sample)
	if err != nil {
		return nil, err
	}
	metrics["unrolled_solve_seconds"] = m.median

	sys := func(ctx *context.Context, extra []*Node) ode.Field { return flow.Field(ctx.In("model"), extra[0]) }
	var solverOut []float32
	for _, run := range []struct {
		name string
		opts ode.Options
	}{
		{"solver", ode.Options{Method: ode.RK4, Steps: samplingSteps}},
		{"dopri5", ode.Options{Method: ode.DormandPrince, RTol: 1e-5, ATol: 1e-6}},
	} {
		solver, err := ode.NewSolver(b, ctx, sys, run.opts)
		if err != nil {
			return nil, err
		}
		var stats ode.Stats
		solveOf := func(eps *tensors.Tensor) func() error {
			return func() error {
				out, st, err := solver.Solve([]*tensors.Tensor{eps}, []*tensors.Tensor{c}, 0, 1)
				if err != nil {
					return err
				}
				stats = st
				if run.name == "solver" && eps.Shape().Dim(0) == samplingBatch {
					solverOut = tensors.MustCopyFlatData[float32](out[0])
				}
				free(out...)
				return nil
			}
		}
		// The compile time, from solves of one draw (milliseconds each): the first compiles, the
		// next ones do not.
		start := time.Now()
		if err := solveOf(one)(); err != nil {
			return nil, err
		}
		first := time.Since(start).Seconds()
		m, err := measureSteps(0, 3, solveOf(one))
		if err != nil {
			return nil, err
		}
		metrics[run.name+"_compile_seconds"] = max(0, first-m.fastest)
		// The solves of the batch, after a warm-up (which compiles the step for its shape).
		solve := solveOf(eps)
		if err := solve(); err != nil {
			return nil, err
		}
		if m, err = measureSteps(0, samplingSolves, solve); err != nil {
			return nil, err
		}
		metrics[run.name+"_solve_seconds"] = m.median
		if run.name == "dopri5" {
			metrics["dopri5_evaluations"] = float64(stats.Evaluations)
			metrics["dopri5_steps"] = float64(stats.Steps)
			metrics["dopri5_rejected"] = float64(stats.Rejected)
		}
	}
	diff := 0.0
	for i := range unrolledOut {
		diff = max(diff, math.Abs(float64(unrolledOut[i]-solverOut[i])))
	}
	metrics["max_abs_diff"] = diff
	metrics["speedup_solver_over_unrolled"] = metrics["unrolled_solve_seconds"] / metrics["solver_solve_seconds"]
	return metrics, nil
}

// randomField creates the field network's variables in ctx (under "model") by evaluating it once,
// then draws the output layer's weights, which start at zero (the flow starts as the identity map),
// from N(0, 1/Hidden): a field of order one, so that the solvers do realistic work (an adaptive
// solver takes one step on a zero field). The other layers keep their Xavier initialization.
func randomField(b backends.Backend, ctx *context.Context, net cnf.Net, d, dc int, rng *rand.Rand) error {
	init, err := context.NewExec(b, ctx, func(ctx *context.Context, z, c *Node) *Node {
		return net.Velocity(ctx.In("model"), z, Scalar(z.Graph(), z.DType(), 0.5), c)
	})
	if err != nil {
		return err
	}
	defer init.Finalize()
	out, err := init.Exec(tensors.FromFlatDataAndDimensions(make([]float32, d), 1, d),
		tensors.FromFlatDataAndDimensions(make([]float32, dc), 1, dc))
	if err != nil {
		return err
	}
	free(out...)
	var setErr error
	found := false
	ctx.EnumerateVariables(func(v *context.Variable) {
		if setErr != nil || !v.Trainable || v.Name() != "weights" || !strings.HasSuffix(v.Scope(), "/output") {
			return
		}
		found = true
		if v.Shape().DType != dtypes.Float32 {
			setErr = fmt.Errorf("output weights of dtype %s, want float32", v.Shape().DType)
			return
		}
		vals := normals32(rng, v.Shape().Size())
		for i := range vals {
			vals[i] /= float32(math.Sqrt(float64(net.Hidden)))
		}
		setErr = v.SetValue(tensors.FromFlatDataAndDimensions(vals, v.Shape().Dimensions...))
	})
	if setErr == nil && !found {
		setErr = fmt.Errorf("no output-layer weights in the field network's variables")
	}
	return setErr
}

func normals32(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// free releases the outputs of a call at once, rather than leaving them to the garbage collector,
// so that the memory measured is what a step needs. Freeing cannot fail in a way that matters here.
func free(ts ...*tensors.Tensor) {
	for _, t := range ts {
		_ = t.FinalizeAll()
	}
}
