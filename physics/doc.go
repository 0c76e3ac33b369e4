// Package physics will hold probinv's differentiable PDE simulators, written as GoMLX graph
// functions so that they can be differentiated and run on the pure-Go backend and on XLA: heat and
// diffusion, viscous Burgers, advection–diffusion and 2-D incompressible flow with buoyancy, with
// their grid operators, PDE-residual priors and random-field priors (issue 7).
//
// The pure-Go backend lacks Pad, FFT and While (see DESIGN.md), so periodic and spectral operators
// here are small dense matrix products and time stepping is a Go loop over a compiled step.
package physics
