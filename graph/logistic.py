"""L2 logistic regression and stratified folds in plain NumPy: the classifier's training without SciPy.

The objective and stopping rule are scikit-learn's LogisticRegression(C, solver="lbfgs"): mean log
loss + ||W||^2 / (2 C n), intercept not penalised, binary problems fitted as one sigmoid, L-BFGS
until the largest gradient entry is <= 1e-4. The problem is strictly convex, so any solver that
meets that rule lands on the same weights up to the tolerance. Folds are StratifiedKFold's
(shuffle=True) assignment, draw for draw, so cross-validated figures do not move either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

GTOL = 1e-4
FTOL = 64 * np.finfo(float).eps
HISTORY = 10
MAX_LINE_SEARCH = 50
ARMIJO = 1e-4

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


def minimize_lbfgs(fun: Objective, x0: np.ndarray, max_iter: int) -> tuple[np.ndarray, int]:
    """Minimise a smooth convex function with L-BFGS and a backtracking line search."""
    x = x0.astype(np.float64)
    f, g = fun(x)
    steps: list[tuple[np.ndarray, np.ndarray, float]] = []
    iterations = 0
    while iterations < max_iter and np.abs(g).max() > GTOL:
        iterations += 1
        direction = -_two_loop(g, steps)
        slope = float(g @ direction)
        if slope >= 0:  # not a descent direction (numerical trouble): restart from the gradient
            steps.clear()
            direction, slope = -g, -float(g @ g)
        step = 1.0 if steps else min(1.0, 1.0 / float(np.linalg.norm(g)))
        for _ in range(MAX_LINE_SEARCH):
            x_new = x + step * direction
            f_new, g_new = fun(x_new)
            if f_new <= f + ARMIJO * step * slope:
                break
            step *= 0.5
        else:
            break  # no decrease found: x is as good as this precision allows
        s, y = x_new - x, g_new - g
        sy = float(s @ y)
        if sy > 1e-10 * float(y @ y):
            steps.append((s, y, 1.0 / sy))
            del steps[:-HISTORY]
        converged = (f - f_new) <= FTOL * max(abs(f), abs(f_new), 1.0)
        x, f, g = x_new, f_new, g_new
        if converged:
            break
    return x, iterations


def _two_loop(g: np.ndarray, steps: list[tuple[np.ndarray, np.ndarray, float]]) -> np.ndarray:
    """The L-BFGS inverse-Hessian approximation applied to g."""
    q = g.copy()
    alphas = []
    for s, y, rho in reversed(steps):
        alpha = rho * float(s @ q)
        q -= alpha * y
        alphas.append(alpha)
    if steps:
        s, y, _ = steps[-1]
        q *= float(s @ y) / float(y @ y)
    for (s, y, rho), alpha in zip(steps, reversed(alphas), strict=True):
        q += (alpha - rho * float(y @ q)) * s
    return q


def fit_logistic(
    features: Any, y: np.ndarray, n_classes: int, c: float, max_iter: int = 3000
) -> tuple[np.ndarray, np.ndarray]:
    """(weight (n_classes, n_features), bias) of an L2 logistic regression on the labels present.

    With two labels present it is one sigmoid, laid out as softmax([0, z]); labels absent from y
    keep zero weights, as scikit-learn's classes_ mapping did.
    """
    n_features = features.shape[1]
    weight = np.zeros((n_classes, n_features), np.float32)
    bias = np.zeros(n_classes, np.float32)
    present = np.unique(y)
    if len(present) < 2:
        return weight, bias
    x = features.astype(np.float64)
    reg = 1.0 / (c * len(y))
    if len(present) == 2:
        target = (y == present[1]).astype(np.float64)
        w, _ = minimize_lbfgs(_binary(x, target, reg), np.zeros(n_features + 1), max_iter)
        weight[present[1]], bias[present[1]] = w[:-1], w[-1]
        return weight, bias
    encoded = np.searchsorted(present, y)
    k = len(present)
    start = np.zeros((n_features + 1) * k)
    w, _ = minimize_lbfgs(_multinomial(x, encoded, k, reg), start, max_iter)
    w = w.reshape(n_features + 1, k)
    weight[present], bias[present] = w[:-1].T, w[-1]
    return weight, bias


def _binary(x: Any, target: np.ndarray, reg: float) -> Objective:
    """Mean log loss of sigmoid(x @ w + b) plus reg / 2 * ||w||^2, and its gradient."""
    n = len(target)

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        z = x @ w + b
        loss = float(np.logaddexp(0.0, z).sum() - target @ z) / n + 0.5 * reg * float(w @ w)
        residual = (_sigmoid(z) - target) / n
        return loss, np.r_[x.T @ residual + reg * w, residual.sum()]

    return objective


def _multinomial(x: Any, y: np.ndarray, k: int, reg: float) -> Objective:
    """Mean cross-entropy of softmax(x @ W + b) plus reg / 2 * ||W||^2, and its gradient.

    Parameters are laid out (n_features + 1, k), bias last, so x @ W gathers contiguous rows.
    """
    n, m = len(y), x.shape[1]
    rows = np.arange(n)

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        params = params.reshape(m + 1, k)
        w, b = params[:-1], params[-1]
        logits = np.asarray(x @ w) + b
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1))
        loss = float((log_norm - logits[rows, y]).sum()) / n + 0.5 * reg * float((w * w).sum())
        residual = np.exp(logits - log_norm[:, None])
        residual[rows, y] -= 1.0
        residual /= n
        grad = np.empty_like(params)
        grad[:-1] = np.asarray(x.T @ residual) + reg * w
        grad[-1] = residual.sum(axis=0)
        return loss, grad.ravel()

    return objective


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z) without overflow warnings."""
    return np.asarray(np.exp(-np.logaddexp(0.0, -z)))


def stratified_folds(
    y: np.ndarray, n_splits: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs, as StratifiedKFold(n_splits, shuffle=True, random_state=seed)."""
    y = np.asarray(y)
    _, first_index, inverse = np.unique(y, return_index=True, return_inverse=True)
    _, by_appearance = np.unique(first_index, return_inverse=True)
    encoded = by_appearance[inverse]
    n_classes = len(first_index)
    ordered = np.sort(encoded)
    allocation = np.asarray(
        [np.bincount(ordered[i::n_splits], minlength=n_classes) for i in range(n_splits)]
    )
    rng = np.random.RandomState(seed)
    test_folds = np.empty(len(y), dtype="i")
    for label in range(n_classes):
        folds_for_label = np.arange(n_splits).repeat(allocation[:, label])
        rng.shuffle(folds_for_label)
        test_folds[encoded == label] = folds_for_label
    indices = np.arange(len(y))
    for fold in range(n_splits):
        yield indices[test_folds != fold], indices[test_folds == fold]
