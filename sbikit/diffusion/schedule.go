// Package diffusion is the lecture's denoising diffusion probabilistic model (DDPM, Ho et al. 2020).
// The forward process adds Gaussian noise in T steps,
//
//	q(x_t | x_{t−1}) = N(√α_t x_{t−1}, β_t I),  α_t = 1 − β_t,  so  q(x_t | x₀) = N(√ᾱ_t x₀, (1 − ᾱ_t) I)
//
// with ᾱ_t = Π_{s≤t} α_s, and a network ε_θ(x_t, t) learns the noise ε in x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε
// (Algorithm 1, Model.Loss). The reverse process samples by Algorithm 2 or by DDIM's deterministic or
// partly stochastic steps (Song et al. 2021), both in Sampler, apart from the network so that samplers
// swap without retraining. Conditioned on an observation's embedding c, ε_θ(x_t, t, c) is a posterior
// estimator (sbikit.DiffusionPosterior).
package diffusion

import (
	"fmt"
	"math"
)

// Schedule is the noise schedule β₁, …, β_T.
type Schedule struct {
	Kind  string `json:"kind"`  // "linear" (Ho et al.) or "cosine" (Nichol & Dhariwal 2021)
	Steps int    `json:"steps"` // T
	// BetaMin and BetaMax are β₁ and β_T of the linear schedule (defaults 1e-4 and 0.02, the lecture's).
	BetaMin float64 `json:"beta_min,omitempty"`
	BetaMax float64 `json:"beta_max,omitempty"`
}

// The schedule kinds.
const (
	Linear = "linear"
	Cosine = "cosine"
)

// WithDefaults fills the unset fields: linear, T = 1000, β from 1e-4 to 0.02.
func (s Schedule) WithDefaults() Schedule {
	if s.Kind == "" {
		s.Kind = Linear
	}
	if s.Steps == 0 {
		s.Steps = 1000
	}
	if s.Kind == Linear && s.BetaMin == 0 && s.BetaMax == 0 {
		s.BetaMin, s.BetaMax = 1e-4, 0.02
	}
	return s
}

// Check reports a schedule that is not one.
func (s Schedule) Check() error {
	switch {
	case s.Steps < 1:
		return fmt.Errorf("diffusion: a schedule needs T ≥ 1 steps, got %d", s.Steps)
	case s.Kind == Linear && !(s.BetaMin > 0 && s.BetaMax >= s.BetaMin && s.BetaMax < 1):
		return fmt.Errorf("diffusion: the linear schedule needs 0 < β_min ≤ β_max < 1, got %g and %g", s.BetaMin, s.BetaMax)
	case s.Kind != Linear && s.Kind != Cosine:
		return fmt.Errorf("diffusion: unknown schedule %q, want %q or %q", s.Kind, Linear, Cosine)
	}
	return nil
}

// Tables are a schedule's coefficients, indexed by t = 0, …, T (index 0 is the data: β₀ = 0, ᾱ₀ = 1).
type Tables struct {
	T                     int
	Beta, Alpha, AlphaBar []float64
	// PosteriorVar is β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) β_t, the variance of q(x_{t−1} | x_t, x₀), and
	// MeanX0, MeanXt its mean's coefficients: μ̃_t(x_t, x₀) = MeanX0[t] x₀ + MeanXt[t] x_t with
	// MeanX0 = √ᾱ_{t−1} β_t/(1 − ᾱ_t) and MeanXt = √α_t (1 − ᾱ_{t−1})/(1 − ᾱ_t).
	PosteriorVar, MeanX0, MeanXt []float64
}

// Tables computes the coefficients of a checked schedule.
func (s Schedule) Tables() Tables {
	T := s.Steps
	tb := Tables{T: T, Beta: make([]float64, T+1), Alpha: make([]float64, T+1), AlphaBar: make([]float64, T+1),
		PosteriorVar: make([]float64, T+1), MeanX0: make([]float64, T+1), MeanXt: make([]float64, T+1)}
	tb.Alpha[0], tb.AlphaBar[0] = 1, 1
	// f is the cosine schedule's ᾱ before normalization, with Nichol & Dhariwal's offset s = 0.008.
	f := func(t int) float64 {
		return math.Pow(math.Cos((float64(t)/float64(T)+0.008)/1.008*math.Pi/2), 2)
	}
	for t := 1; t <= T; t++ {
		switch s.Kind {
		case Linear:
			tb.Beta[t] = s.BetaMin
			if T > 1 {
				tb.Beta[t] += (s.BetaMax - s.BetaMin) * float64(t-1) / float64(T-1)
			}
		case Cosine: // β_t = 1 − ᾱ_t/ᾱ_{t−1}, clipped at 0.999 so that the last steps stay finite
			tb.Beta[t] = min(1-f(t)/f(t-1), 0.999)
		}
		tb.Alpha[t] = 1 - tb.Beta[t]
		tb.AlphaBar[t] = tb.AlphaBar[t-1] * tb.Alpha[t]
		tb.PosteriorVar[t] = (1 - tb.AlphaBar[t-1]) / (1 - tb.AlphaBar[t]) * tb.Beta[t]
		tb.MeanX0[t] = math.Sqrt(tb.AlphaBar[t-1]) * tb.Beta[t] / (1 - tb.AlphaBar[t])
		tb.MeanXt[t] = math.Sqrt(tb.Alpha[t]) * (1 - tb.AlphaBar[t-1]) / (1 - tb.AlphaBar[t])
	}
	return tb
}
