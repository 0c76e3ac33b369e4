// Package sbikit holds probinv's user-facing posterior estimators and what they share: the Posterior
// interface, the training loop (standardization, validation split, Adam, learning-rate halving,
// early stopping, progress, checkpoints that resume), and the model directory format.
//
// NPE (neural posterior estimation with a conditional normalizing flow) is the first estimator:
//
//	task, _ := tasks.Get("two_moons")
//	data, _ := datasets.Simulate(task, 10_000, 1, os.Stderr)
//	model, err := sbikit.NPE{Prior: task.Prior(), Training: sbikit.Training{Dir: "model"}}.Train(data.X, data.Y)
//	post, err := model.Posterior(yObs)        // p(x | y_o), amortized: no retraining per observation
//	samples, err := post.Sample(10_000, 1)    // inside the prior's support
//	logp, err := post.LogProb(samples)        // log p(x | y_o)
//	model, err = sbikit.Load("model")         // later, or from `sbikit train --out model`
//
// The other estimators give the same Model and Posterior: FMPE (a continuous flow trained by flow
// matching), CNF (a continuous flow trained by maximum likelihood through its ODE solver) and NPSE (a
// score network trained by denoising score matching, sampled by annealed Langevin dynamics; it has
// no density, so its LogProb is an error).
//
// Notation follows the lecture: x are parameters, y observations.
package sbikit
