package sbikit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/probinv/probinv/sbikit/cnf"
	"github.com/probinv/probinv/sbikit/ode"
	"github.com/probinv/probinv/sbikit/tasks"
)

// FMPE is flow-matching posterior estimation (Wildberger et al. 2023): a conditional continuous
// normalizing flow q(x|y) whose vector field v_θ(x_t, t, y) is regressed onto the velocity of the
// optimal-transport path from N(0, I) to the simulated x (see cnf.Matching). Training never solves
// the ODE, so a step costs one network pass whatever the dimension; sampling and the log-density
// solve it (see Sampling and Density).
//
//	model, err := sbikit.FMPE{Prior: task.Prior()}.Train(x, y)
//	post, err := model.Posterior(yObs)
type FMPE struct {
	Net      cnf.Net      // the vector field (default: cnf.Net.WithDefaults)
	Matching cnf.Matching // path width σ_min and the time distribution (default: cnf.Matching.WithDefaults)
	Sampling ODE          // how samples are drawn (default DefaultSampling)
	Density  ODE          // how LogProb integrates the density (default DefaultDensity)

	Embedding Embedding
	Training  Training
	Prior     tasks.Prior // the support the posterior is truncated to, as for NPE
	Task      string      // for the record in model.json
}

// CNF is posterior estimation with a continuous normalizing flow trained by maximum likelihood,
// as NPE but with the flow a neural ODE (FFJORD, Grathwohl et al. 2019): each training step solves
// the augmented ODE of the instantaneous change of variables with Likelihood's fixed steps and
// backpropagates through the solver. This is the approach the lecture calls not scalable, and
// the one flow matching replaces; `sbikit bench` measures why (cnf_scaling).
type CNF struct {
	Net        cnf.Net    // the vector field (default: 32 units per 4 dimensions, 2 layers)
	Likelihood Likelihood // the training solver and trace estimator (default: DefaultLikelihood)
	Sampling   ODE        // how samples are drawn (default: Likelihood.Solver)
	Density    ODE        // how LogProb integrates the density (default: Likelihood.Solver)

	Embedding Embedding
	Training  Training
	Prior     tasks.Prior
	Task      string
}

// ODE is how a continuous flow's ODE is solved: Steps fixed steps of Method ("euler", "midpoint",
// "rk4"), or, with Steps 0 and Method "dopri5", adaptive Dormand–Prince steps holding the local
// error under RTol·|z| + ATol.
type ODE struct {
	Method string  `json:"method"`
	Steps  int     `json:"steps,omitempty"`
	RTol   float64 `json:"rtol,omitempty"`
	ATol   float64 `json:"atol,omitempty"`
}

// The default solvers. Sampling uses fixed midpoint steps: the learned optimal-transport paths are
// nearly straight, and fixed steps cost the same for every observation. The density is the
// integral of a trace along the path, whose error adds up in log q, so it is solved adaptively
// to a tight tolerance.
var (
	DefaultSampling   = ODE{Method: "midpoint", Steps: 16}
	DefaultDensity    = ODE{Method: "dopri5", RTol: 1e-5, ATol: 1e-5}
	DefaultLikelihood = Likelihood{Solver: ODE{Method: "rk4", Steps: 4}, Trace: cnf.TraceExact, Kinetic: 0.05, Jacobian: 0.05}
)

func (o ODE) withDefaults(def ODE) ODE {
	if o == (ODE{}) {
		return def
	}
	return o
}

// options turns o into the ode package's options, checking it.
func (o ODE) options() (ode.Options, error) {
	m, err := ode.MethodByName(o.Method)
	if err != nil {
		return ode.Options{}, err
	}
	if o.Steps < 0 || o.Steps == 0 && m.E == nil || o.RTol < 0 || o.ATol < 0 {
		return ode.Options{}, fmt.Errorf("bad ODE settings %+v: give steps ≥ 1, or steps 0 with the adaptive method dopri5 and tolerances ≥ 0", o)
	}
	return ode.Options{Method: m, Steps: o.Steps, RTol: o.RTol, ATol: o.ATol}, nil
}

// Likelihood is how the cnf method evaluates log q(x|y) while training: fixed steps of a solver,
// unrolled so that gradients flow through them, and the trace estimator (cnf.Traces).
type Likelihood struct {
	Solver ODE    `json:"solver"`
	Trace  string `json:"trace"`
	// Kinetic and Jacobian are the weights of RNODE's penalties λ_K ∫‖v_θ‖² dt and λ_J ∫‖∂v_θ/∂z‖²_F dt
	// added to −log q (see cnf.Regularizers): without them, training through few fixed steps fits
	// fields whose samples miss their density (on two_moons, C2ST 0.91 at a training loss 1.6 nats
	// better than the honest one).
	Kinetic  float64 `json:"kinetic"`
	Jacobian float64 `json:"jacobian"`
}

// Train fits the vector field to the pairs (x[i], y[i]) by flow matching; checkpoints and resuming
// work as for NPE.
func (e FMPE) Train(x, y [][]float64) (*Model, error) {
	dimX, _, err := checkPairs(x, y)
	if err != nil {
		return nil, err
	}
	net, match := e.Net.WithDefaults(dimX), e.Matching.WithDefaults()
	sampling, density := e.Sampling.withDefaults(DefaultSampling), e.Density.withDefaults(DefaultDensity)
	m := meta{Method: methodFMPE, Net: &net, Matching: &match, Sampling: &sampling, Density: &density}
	return train(m, e.Embedding, e.Training.forRegression(), e.Prior, e.Task, x, y)
}

// Train fits the continuous flow to the pairs by maximum likelihood through the solver.
func (e CNF) Train(x, y [][]float64) (*Model, error) {
	dimX, _, err := checkPairs(x, y)
	if err != nil {
		return nil, err
	}
	// Every training step runs the field 4·steps times with d vector-Jacobian products each, so
	// the default field is half as wide and one layer shallower than FMPE's.
	net := e.Net
	if net.Hidden == 0 {
		net.Hidden = 32 * max(1, (dimX+3)/4)
	}
	if net.Layers == 0 {
		net.Layers = 2
	}
	net = net.WithDefaults(dimX)
	lik := e.Likelihood
	if lik.Solver == (ODE{}) {
		lik.Solver = DefaultLikelihood.Solver
	}
	if lik.Trace == "" {
		lik.Trace = DefaultLikelihood.Trace
	}
	if lik.Kinetic == 0 && lik.Jacobian == 0 {
		lik.Kinetic, lik.Jacobian = DefaultLikelihood.Kinetic, DefaultLikelihood.Jacobian
	}
	// By default the posterior solves the ODE as training did: with few fixed steps, the trained
	// field is fitted to that discretization, which a finer solver would not reproduce.
	sampling, density := e.Sampling.withDefaults(lik.Solver), e.Density.withDefaults(lik.Solver)
	m := meta{Method: methodCNF, Net: &net, Likelihood: &lik, Sampling: &sampling, Density: &density}
	return train(m, e.Embedding, e.Training, e.Prior, e.Task, x, y)
}

// buildContinuous sets the loss and posterior functions of an fmpe or cnf model, after checking its
// settings: it is the one place that does, for Train (through newModel), Load and SetSampling alike.
// The posterior runs its ODEs by ode.Solver, one compiled solver step called from a Go loop, which
// allows the adaptive steps of the density.
func (m *Model) buildContinuous() error {
	flow := cnf.Flow{Dim: m.meta.DimX, Net: *m.meta.Net}
	if err := m.meta.Net.Check(); err != nil {
		return err
	}
	emb := m.meta.Embedding
	switch m.meta.Method {
	case methodFMPE:
		match := *m.meta.Matching
		if err := match.Check(); err != nil {
			return err
		}
		m.loss = func(ctx *context.Context, x, y *Node) *Node {
			return match.Loss(ctx, flow, x, emb.apply(ctx, y))
		}
	case methodCNF:
		lik := *m.meta.Likelihood
		opts, err := lik.Solver.options()
		if err != nil || opts.Steps == 0 {
			return fmt.Errorf("the training solver must take fixed steps (it is unrolled to backpropagate through it), got %+v", lik.Solver)
		}
		if !slices.Contains(cnf.Traces, lik.Trace) {
			return fmt.Errorf("unknown trace estimator %q; available: %v", lik.Trace, cnf.Traces)
		}
		if lik.Kinetic < 0 || lik.Jacobian < 0 {
			return fmt.Errorf("the regularizers' weights must be ≥ 0, got %g and %g", lik.Kinetic, lik.Jacobian)
		}
		m.loss = func(ctx *context.Context, x, y *Node) *Node {
			eps := cnf.Probes(ctx, x, lik.Trace)
			logProb, reg := flow.LogProb(ctx, x, emb.apply(ctx, y), eps, opts.Method, opts.Steps)
			penalty := Add(MulScalar(reg.Kinetic, lik.Kinetic), MulScalar(reg.Jacobian, lik.Jacobian))
			return ReduceAllMean(Sub(penalty, logProb))
		}
		// Early stopping watches −log q solved with four times the steps and the exact trace. Trained
		// long enough, the field learns to exploit the few training steps (the integrated trace then
		// overstates the contraction, and samples miss the density: on two_moons the training loss
		// fell from −1.6 to −3.3 nats while C2ST rose to 0.9); the finer solve does not share the
		// error, so its loss rises there and training stops before.
		m.validation = func(ctx *context.Context, x, y *Node) *Node {
			logProb, _ := flow.LogProb(ctx, x, emb.apply(ctx, y), nil, opts.Method, 4*opts.Steps)
			return Neg(ReduceAllMean(logProb))
		}
	}
	sampling, err := m.meta.Sampling.options()
	if err != nil {
		return err
	}
	density, err := m.meta.Density.options()
	if err != nil {
		return err
	}
	sampler, err := ode.NewSolver(m.backend, m.ctx, func(ctx *context.Context, extra []*Node) ode.Field {
		ctx = ctx.In(modelScope)
		return flow.Field(ctx, emb.apply(ctx, extra[0]))
	}, sampling)
	if err != nil {
		return err
	}
	densitySolver, err := ode.NewSolver(m.backend, m.ctx, func(ctx *context.Context, extra []*Node) ode.Field {
		ctx = ctx.In(modelScope)
		return flow.DensityField(ctx, emb.apply(ctx, extra[0]), nil)
	}, density)
	if err != nil {
		return err
	}
	d := m.meta.DimX
	m.sample = func(rng *rand.Rand, n int, y []float32) ([]float32, error) {
		out, _, err := sampler.Solve([]*tensors.Tensor{tensors.FromFlatDataAndDimensions(normals(rng, n*d), n, d)},
			[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, 1, len(y))}, 0, 1)
		if err != nil {
			return nil, err
		}
		return tensors.CopyFlatData[float32](out[0])
	}
	m.logProb = odeDensity(densitySolver, d, 1)
	return nil
}

// odeDensity is log q(x|y) of a continuous flow whose data side is at time end: log N(z(0); 0, I) + a(0),
// integrating the density field's state (z, a) from (x, 0) at t = end back to t = 0.
func odeDensity(solver *ode.Solver, d int, end float64) func(x []float32, n int, y []float32) ([]float32, error) {
	return func(x []float32, n int, y []float32) ([]float32, error) {
		out, _, err := solver.Solve(
			[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, n, d), tensors.FromFlatDataAndDimensions(make([]float32, n), n)},
			[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, 1, len(y))}, end, 0)
		if err != nil {
			return nil, err
		}
		z, err := tensors.CopyFlatData[float32](out[0])
		if err != nil {
			return nil, err
		}
		a, err := tensors.CopyFlatData[float32](out[1])
		if err != nil {
			return nil, err
		}
		lq := make([]float32, n)
		for i := range n {
			sq := 0.0
			for _, v := range z[i*d : (i+1)*d] {
				sq += float64(v) * float64(v)
			}
			lq[i] = float32(-0.5*sq - 0.5*float64(d)*math.Log(2*math.Pi) + float64(a[i]))
		}
		return lq, nil
	}
}

// SetSampling changes how a continuous flow (fmpe, cnf) solves its ODE when sampling: fewer or
// cheaper steps trade accuracy for speed without retraining. Save records the choice.
func (m *Model) SetSampling(o ODE) error {
	if m.meta.Sampling == nil {
		return fmt.Errorf("sbikit: a %s model samples without an ODE solver", m.meta.Method)
	}
	return reconfigure(m.meta.Sampling, o, m.buildContinuous)
}

// reconfigure sets a trained model's sampler setting *field to v and rebuilds the model with build,
// putting the old value back when build refuses it, so that a refused setting leaves the model as it
// was (SetSampling, SetLangevin, SetDiffusionSampling).
func reconfigure[T any](field *T, v T, build func() error) error {
	old := *field
	*field = v
	if err := build(); err != nil {
		*field = old
		return fmt.Errorf("sbikit: %w", err)
	}
	return nil
}
