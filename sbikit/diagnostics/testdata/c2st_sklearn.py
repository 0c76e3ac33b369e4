"""Reference C2ST for the Go tests, computed exactly as sbibm.metrics.c2st does it.

Usage: /usr/bin/python3 c2st_sklearn.py SEED A.csv B.csv [A.csv B.csv ...]
Prints one line per pair: the mean 5-fold cross-validated accuracy.

sbibm z-scores with torch.std, the n-1 estimator; numpy needs ddof=1 to match.
"""
import sys

import numpy as np
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neural_network import MLPClassifier


def c2st(X, Y, seed=1, n_folds=5):
    mean, std = X.mean(axis=0), X.std(axis=0, ddof=1)
    X, Y = (X - mean) / std, (Y - mean) / std
    ndim = X.shape[1]
    clf = MLPClassifier(
        activation="relu",
        hidden_layer_sizes=(10 * ndim, 10 * ndim),
        max_iter=10000,
        solver="adam",
        random_state=seed,
    )
    data = np.concatenate((X, Y))
    target = np.concatenate((np.zeros((X.shape[0],)), np.ones((Y.shape[0],))))
    folds = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return np.mean(cross_val_score(clf, data, target, cv=folds, scoring="accuracy"))


def main():
    seed = int(sys.argv[1])
    paths = sys.argv[2:]
    for a, b in zip(paths[0::2], paths[1::2]):
        X = np.loadtxt(a, delimiter=",", ndmin=2)
        Y = np.loadtxt(b, delimiter=",", ndmin=2)
        print(f"{c2st(X, Y, seed=seed):.6f}", flush=True)


if __name__ == "__main__":
    main()
