// Package physics holds probinv's differentiable PDE simulators, written as GoMLX graph functions
// so that they can be differentiated and run on the pure-Go backend and on XLA: the Simulator
// interface (one time step, a PDE residual, a stability check), Rollout (one compiled step in a Go
// loop) and Unroll (steps in one graph, for gradients). The equations live in subpackages: heat,
// burgers, advdiff and smoke, on the grids and operators of grid and the eigenbases of spectral;
// prior holds random-field priors and the PDE-residual prior.
//
// The pure-Go backend lacks Pad, FFT and While (see DESIGN.md), so periodic and spectral operators
// here are built from Slice/Concatenate and small dense matrix products, and time stepping is a Go
// loop over a compiled step.
package physics
