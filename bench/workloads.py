"""Benchmark workloads: each is a function in the subset s2s differentiates, the
gradient a careful engineer would write by hand in NumPy (same tuple of gradients as
``s2s.grad(func, wrt=WRT)``), and ``make(size)`` giving its arguments.

HESSIANS holds the Hessian rows (kind "hessian"): there ``hand`` is a hand-written
Hessian, ``(H,)`` with ``H.shape == x.shape + x.shape``, and the candidates compute the
full Hessian (``s2s.hessian(func, wrt=WRT[0])``, ``jax.hessian``, ...).

Sizes: "test" (tiny, for tests/test_bench_gradients.py), "quick" (``run.py --quick``)
and "full".  Every ``make`` is deterministic (seeded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Workload:
    name: str                      # unique; --only matches it or its family
    family: str                    # the peer implementations are per family
    func: Callable                 # the function s2s differentiates
    hand: Callable                 # hand-written gradient: tuple, one entry per wrt
                                   # (kind "hessian": the Hessian, as a 1-tuple)
    wrt: tuple                     # argument names
    make: Callable[[str], tuple]   # size -> positional arguments
    describe: Callable[[str], str]  # size -> a short description of the arguments
    quick: bool = True             # part of run.py --quick
    kind: str = "grad"             # "grad", or "hessian" (one wrt; full Hessian)
    loop: bool = False             # the function loops (its memory target is not 2x)


# --- 1. Rosenbrock ------------------------------------------------------------------

def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def rosenbrock_hand(x, y):
    t = y - x * x
    return -2.0 * (1.0 - x) - 400.0 * x * t, 200.0 * t


def rosenbrock_chain(x0, x1, x2, x3, x4, x5, x6, x7, x8, x9):
    """The chained Rosenbrock function of 10 Python floats, written out."""
    return (100.0 * (x1 - x0 ** 2) ** 2 + (1.0 - x0) ** 2
            + 100.0 * (x2 - x1 ** 2) ** 2 + (1.0 - x1) ** 2
            + 100.0 * (x3 - x2 ** 2) ** 2 + (1.0 - x2) ** 2
            + 100.0 * (x4 - x3 ** 2) ** 2 + (1.0 - x3) ** 2
            + 100.0 * (x5 - x4 ** 2) ** 2 + (1.0 - x4) ** 2
            + 100.0 * (x6 - x5 ** 2) ** 2 + (1.0 - x5) ** 2
            + 100.0 * (x7 - x6 ** 2) ** 2 + (1.0 - x6) ** 2
            + 100.0 * (x8 - x7 ** 2) ** 2 + (1.0 - x7) ** 2
            + 100.0 * (x9 - x8 ** 2) ** 2 + (1.0 - x8) ** 2)


def rosenbrock_chain_hand(x0, x1, x2, x3, x4, x5, x6, x7, x8, x9):
    t0 = x1 - x0 * x0
    t1 = x2 - x1 * x1
    t2 = x3 - x2 * x2
    t3 = x4 - x3 * x3
    t4 = x5 - x4 * x4
    t5 = x6 - x5 * x5
    t6 = x7 - x6 * x6
    t7 = x8 - x7 * x7
    t8 = x9 - x8 * x8
    return (-400.0 * x0 * t0 - 2.0 * (1.0 - x0),
            200.0 * t0 - 400.0 * x1 * t1 - 2.0 * (1.0 - x1),
            200.0 * t1 - 400.0 * x2 * t2 - 2.0 * (1.0 - x2),
            200.0 * t2 - 400.0 * x3 * t3 - 2.0 * (1.0 - x3),
            200.0 * t3 - 400.0 * x4 * t4 - 2.0 * (1.0 - x4),
            200.0 * t4 - 400.0 * x5 * t5 - 2.0 * (1.0 - x5),
            200.0 * t5 - 400.0 * x6 * t6 - 2.0 * (1.0 - x6),
            200.0 * t6 - 400.0 * x7 * t7 - 2.0 * (1.0 - x7),
            200.0 * t7 - 400.0 * x8 * t8 - 2.0 * (1.0 - x8),
            200.0 * t8)


def rosenbrock_loop(x):
    out = 0.0
    for i in range(x.shape[0] - 1):
        out = out + (1.0 - x[i]) ** 2 + 100.0 * (x[i + 1] - x[i] ** 2) ** 2
    return out


def rosenbrock_loop_hand(x):
    head, tail = x[:-1], x[1:]
    t = tail - head * head
    g = np.zeros_like(x)
    g[:-1] = -2.0 * (1.0 - head) - 400.0 * head * t
    g[1:] += 200.0 * t
    return (g,)


# --- 2. logistic regression ----------------------------------------------------------

def logistic_loss(w, b, x, y):
    z = x @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def logistic_loss_hand(w, b, x, y):
    p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
    r = (p - y) / y.shape[0]
    return x.T @ r, float(np.sum(r))


# --- 3. tanh MLP, softmax cross-entropy --------------------------------------------

def mlp_loss(w1, b1, w2, b2, x, labels):
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(labels * log_probs, axis=1))


def mlp_loss_hand(w1, b1, w2, b2, x, labels):
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    e = np.exp(logits - np.max(logits, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    # labels need not be one-hot: d/dlogits of -sum(labels * log_softmax) / n
    dlogits = (p * np.sum(labels, axis=1, keepdims=True) - labels) / x.shape[0]
    dh = dlogits @ w2.T
    dz = dh * (1.0 - h * h)
    return x.T @ dz, np.sum(dz, axis=0), h.T @ dlogits, np.sum(dlogits, axis=0)


# --- 4. ADBench Gaussian mixture (copied from examples/gmm.py) ------------------------

def log_gamma_distrib(a, p):
    out = 0.25 * p * (p - 1) * math.log(math.pi)
    for j in range(1, p + 1):
        out = out + math.lgamma(a + 0.5 * (1 - j))
    return out


def gmm_objective(alphas, means, icf, x, wishart_gamma, wishart_m):
    n, d = x.shape
    k = alphas.shape[0]
    q_diags = np.exp(icf[:, :d])
    sum_qs = np.sum(icf[:, :d], axis=1)
    # the strictly lower triangle of each L, filled column by column from icf[:, d:]
    cols, rows = np.triu_indices(d, 1)
    select = np.eye(d * d)[rows * d + cols]
    lower = np.reshape(icf[:, d:] @ select, (k, d, d))
    centered = x[None, :, :] - means[:, None, :]
    q_centered = q_diags[:, None, :] * centered + centered @ np.transpose(lower, (0, 2, 1))
    inner = alphas[:, None] + sum_qs[:, None] - 0.5 * np.sum(q_centered ** 2, axis=2)
    top = np.max(inner, axis=0)
    log_sum = top + np.log(np.sum(np.exp(inner - top), axis=0))
    top_alpha = np.max(alphas)
    log_alphas = top_alpha + np.log(np.sum(np.exp(alphas - top_alpha)))
    dof = d + wishart_m + 1
    prior = np.sum(0.5 * wishart_gamma ** 2 * (np.sum(q_diags ** 2, axis=1)
                                               + np.sum(icf[:, d:] ** 2, axis=1))
                   - wishart_m * sum_qs)
    prior_constant = dof * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) \
        - log_gamma_distrib(0.5 * dof, d)
    return -n * d * 0.5 * math.log(2 * math.pi) + np.sum(log_sum) - n * log_alphas \
        + prior - k * prior_constant


def gmm_objective_hand(alphas, means, icf, x, wishart_gamma, wishart_m):
    """Q_k = diag(exp(icf[k, :d])) + L_k (L_k strictly lower, column-major from
    icf[k, d:]); inner[k, i] = alphas_k + sum(icf[k, :d]) - |Q_k (x_i - mu_k)|^2 / 2.
    R = softmax(inner, axis=0) (responsibilities); G = dobj/d(Q c) = -R * (Q c)."""
    n, d = x.shape
    k = alphas.shape[0]
    q = np.exp(icf[:, :d])
    cols, rows = np.triu_indices(d, 1)
    lower = np.zeros((k, d, d))
    lower[:, rows, cols] = icf[:, d:]
    centered = x[None, :, :] - means[:, None, :]                       # (k, n, d)
    qc = q[:, None, :] * centered + centered @ np.transpose(lower, (0, 2, 1))
    inner = alphas[:, None] + np.sum(icf[:, :d], axis=1)[:, None] - 0.5 * np.sum(qc * qc, axis=2)
    e = np.exp(inner - np.max(inner, axis=0))
    resp = e / np.sum(e, axis=0)                                      # (k, n)
    resp_k = np.sum(resp, axis=1)                                     # (k,)
    ea = np.exp(alphas - np.max(alphas))
    dalphas = resp_k - n * ea / np.sum(ea)
    g = -resp[:, :, None] * qc                                        # (k, n, d)
    dq = np.sum(g * centered, axis=1) + wishart_gamma ** 2 * q        # times q: d/dicf
    dicf = np.empty_like(icf)
    dicf[:, :d] = dq * q + (resp_k - wishart_m)[:, None]
    dlower = np.transpose(g, (0, 2, 1)) @ centered                    # (k, d, d)
    dicf[:, d:] = dlower[:, rows, cols] + wishart_gamma ** 2 * icf[:, d:]
    gs = np.sum(g, axis=1)                                            # (k, d)
    dmeans = -(q * gs + (gs[:, None, :] @ lower)[:, 0, :])
    return dalphas, dmeans, dicf


# --- 5. elementwise chain ------------------------------------------------------------

def elementwise_chain(x, y):
    return np.sum(np.log1p(np.exp(-x * y)) + np.tanh(x) ** 2)


def elementwise_chain_hand(x, y):
    e = np.exp(-x * y)
    t = np.tanh(x)
    return (-y * e / (1.0 + e) + 2.0 * t * (1.0 - t * t),)


# --- 6. vanilla RNN ------------------------------------------------------------------

def rnn_loss(W, U, b, h, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t] + b)
    return np.sum(h ** 2)


def rnn_loss_hand(W, U, b, h, xs):
    steps = xs.shape[0]
    hs = np.empty((steps + 1, h.shape[0]))
    hs[0] = h
    for t in range(steps):
        hs[t + 1] = np.tanh(W @ hs[t] + U @ xs[t] + b)
    dz = np.empty((steps, h.shape[0]))
    dh = 2.0 * hs[steps]
    for t in range(steps - 1, -1, -1):
        dz[t] = dh * (1.0 - hs[t + 1] * hs[t + 1])
        dh = W.T @ dz[t]
    return dz.T @ hs[:-1], dz.T @ xs, np.sum(dz, axis=0)


# --- 7. Hessian row: chained Rosenbrock with vector slices ------------------------------

def rosenbrock_nd(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_nd_hessian(x):
    """f = sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2, i = 0..n-2: tridiagonal.
    d2f/dx[i]^2 = 1200 x[i]^2 - 400 x[i+1] + 2 (i <= n-2, term i) + 200 (i >= 1, term
    i-1); d2f/dx[i]dx[i+1] = -400 x[i]."""
    head, tail = x[:-1], x[1:]
    diagonal = np.zeros_like(x)
    diagonal[:-1] = 1200.0 * head * head - 400.0 * tail + 2.0
    diagonal[1:] += 200.0
    off = -400.0 * head
    return (np.diag(diagonal) + np.diag(off, 1) + np.diag(off, -1),)


# --- arguments -----------------------------------------------------------------------

def _rng(name):
    return np.random.default_rng(sum(map(ord, name)))


def _rosenbrock_args(size):
    return (-1.2, 1.0)


def _chain_args(size):
    return tuple(float(v) for v in _rng("chain").uniform(-1.5, 1.5, 10))


def _loop_args(size):
    return (_rng("chain").uniform(-1.5, 1.5, 10),)


_HESSIAN_N = {"test": 6, "quick": 30, "full": 100}


def _hessian_args(size):
    return (_rng("hessian").uniform(-1.5, 1.5, _HESSIAN_N[size]),)


_LOGISTIC = {"test": (50, 4), "quick": (2000, 50), "full": (10_000, 100)}


def _logistic_args(size):
    n, d = _LOGISTIC[size]
    rng = _rng("logistic")
    x = rng.standard_normal((n, d))
    w = rng.standard_normal(d) * 0.1
    y = (x @ rng.standard_normal(d) + rng.standard_normal(n) > 0).astype(float)
    return w, 0.1, x, y


_MLP = {"test": (8, 6, 5, 3), "quick": (64, 196, 64, 10), "full": (256, 784, 256, 10)}


def _mlp_args(size):
    batch, n_in, n_hidden, n_out = _MLP[size]
    rng = _rng("mlp")
    x = rng.standard_normal((batch, n_in))
    labels = np.eye(n_out)[rng.integers(0, n_out, batch)]
    return (rng.standard_normal((n_in, n_hidden)) / math.sqrt(n_in), rng.standard_normal(n_hidden) * 0.1,
            rng.standard_normal((n_hidden, n_out)) / math.sqrt(n_hidden), rng.standard_normal(n_out) * 0.1,
            x, labels)


def gmm_args(d, k, n, seed=0):
    """As examples/gmm.py:problem: (alphas, means, icf, x, wishart_gamma, wishart_m)."""
    rng = np.random.default_rng(seed)
    alphas = rng.standard_normal(k)
    means = rng.random((k, d))
    icf = rng.standard_normal((k, d + d * (d - 1) // 2)) * 0.3
    x = rng.standard_normal((n, d))
    return alphas, means, icf, x, 1.0, 0


_ELEMENTWISE = {"test": 20, "quick": 100_000, "full": 1_000_000}


def _elementwise_args(size):
    rng = _rng("elementwise")
    n = _ELEMENTWISE[size]
    return rng.standard_normal(n), rng.standard_normal(n)


_RNN = {"test": (6, 5, 3), "quick": (50, 64, 32), "full": (50, 64, 32)}


def _rnn_args(size):
    steps, hidden, n_in = _RNN[size]
    rng = _rng("rnn")
    return (rng.standard_normal((hidden, hidden)) * 0.5 / math.sqrt(hidden),
            rng.standard_normal((hidden, n_in)) / math.sqrt(n_in),
            rng.standard_normal(hidden) * 0.1, rng.standard_normal(hidden) * 0.5,
            rng.standard_normal((steps, n_in)))


_GMM_N = {"test": 7, "quick": 100, "full": 1000}


def _gmm(d, k, quick):
    def make(size):
        return gmm_args(d, k, _GMM_N[size])

    def describe(size):
        return f"d={d} K={k} n={_GMM_N[size]}"
    return Workload(f"gmm_d{d}_k{k}", "gmm", gmm_objective, gmm_objective_hand,
                    ("alphas", "means", "icf"), make, describe, quick)


WORKLOADS = [
    Workload("rosenbrock", "rosenbrock", rosenbrock, rosenbrock_hand, ("x", "y"),
             _rosenbrock_args, lambda size: "2 Python floats"),
    Workload("rosenbrock_chain", "rosenbrock_chain", rosenbrock_chain,
             rosenbrock_chain_hand, tuple(f"x{i}" for i in range(10)), _chain_args,
             lambda size: "10 Python floats, chained"),
    # not in the benchmark issue's list: a kept loop over a NumPy vector against a
    # vectorised hand-written gradient (how far a loop is from vectorised code)
    Workload("rosenbrock_loop", "rosenbrock_loop", rosenbrock_loop,
             rosenbrock_loop_hand, ("x",), _loop_args,
             lambda size: "10-vector, loop over 9 terms", loop=True),
    Workload("logistic", "logistic", logistic_loss, logistic_loss_hand, ("w", "b"),
             _logistic_args, lambda size: "n={} d={}".format(*_LOGISTIC[size])),
    Workload("mlp", "mlp", mlp_loss, mlp_loss_hand, ("w1", "b1", "w2", "b2"), _mlp_args,
             lambda size: "batch {} {}-{}-{}".format(*_MLP[size])),
    _gmm(2, 5, True),
    _gmm(10, 25, True),
    _gmm(20, 50, False),
    Workload("elementwise", "elementwise", elementwise_chain, elementwise_chain_hand, ("x",),
             _elementwise_args, lambda size: f"n={_ELEMENTWISE[size]:,}"),
    Workload("rnn", "rnn", rnn_loss, rnn_loss_hand, ("W", "U", "b"), _rnn_args,
             lambda size: "T={} H={} input {}".format(*_RNN[size]), loop=True),
]

# Hessian rows: not gradients, so kept apart from WORKLOADS (whose tests check gradients)
HESSIANS = [
    Workload("rosenbrock_nd_hessian", "hessian", rosenbrock_nd, rosenbrock_nd_hessian, ("x",),
             _hessian_args, lambda size: "Hessian, n={0} ({0}x{0})".format(_HESSIAN_N[size]),
             kind="hessian"),
]

BY_NAME = {w.name: w for w in WORKLOADS + HESSIANS}


def select(only=None, quick=False):
    """Workloads to run: all (or the quick ones), or those whose name or family is `only`."""
    chosen = [w for w in WORKLOADS + HESSIANS if only in (None, w.name, w.family)]
    if only is None and quick:
        chosen = [w for w in chosen if w.quick]
    return chosen
