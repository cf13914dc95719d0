"""The same workloads for the peers: JAX (``jax.grad``, and ``jax.jit`` of it),
PyTorch eager (``torch.autograd.grad``), HIPS autograd and tangent-ad.

``build(peer, workload)`` returns a Candidate or raises Skip(reason): a peer that is not
installed, cannot differentiate the workload or fails on it is reported as skipped with
the reason, never dropped.  Every peer computes in float64.

A Candidate separates what is timed from what is not: ``prepare`` turns the NumPy
arguments into the peer's own (device arrays, leaf tensors; untimed), ``run`` computes
the gradient from them and waits for the result (timed), ``to_numpy`` converts it back
for the correctness check against the hand-written gradient (untimed).

Hessian rows (``workload.kind == "hessian"``) have their own candidates: ``jax.hessian``
(and ``jax.jit`` of it) and ``torch.autograd.functional.hessian``; autograd and tangent
are skipped there.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

PEERS = ("jax", "jax.jit", "torch", "autograd", "tangent")


class Skip(Exception):
    """The peer cannot run this workload; str() is the reason."""


@dataclass
class Candidate:
    name: str
    prepare: Callable[[tuple], tuple]
    run: Callable
    to_numpy: Callable[[object], tuple]


def positions(workload):
    params = list(inspect.signature(workload.func).parameters)
    return tuple(params.index(name) for name in workload.wrt)


def _gmm_select(d):
    cols, rows = np.triu_indices(d, 1)
    return np.eye(d * d)[rows * d + cols]


def _rosenbrock_chain(*x):
    """workloads.rosenbrock_chain for any peer: arithmetic only, on 10 scalars."""
    return sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2 for i in range(9))


def _log_gamma_distrib(a, p):
    out = 0.25 * p * (p - 1) * math.log(math.pi)
    for j in range(1, p + 1):
        out = out + math.lgamma(a + 0.5 * (1 - j))
    return out


# --- jax.numpy and autograd.numpy: the workloads written against a NumPy-like `xp` ----

def numpy_like(xp):
    """The workload functions written with `xp` (jax.numpy or autograd.numpy)."""

    def rosenbrock(x, y):
        return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2

    def rosenbrock_loop(x):
        out = 0.0
        for i in range(x.shape[0] - 1):
            out = out + (1.0 - x[i]) ** 2 + 100.0 * (x[i + 1] - x[i] ** 2) ** 2
        return out

    def logistic(w, b, x, y):
        p = 1.0 / (1.0 + xp.exp(-(x @ w + b)))
        return -xp.mean(y * xp.log(p) + (1.0 - y) * xp.log(1.0 - p))

    def mlp(w1, b1, w2, b2, x, labels):
        h = xp.tanh(x @ w1 + b1)
        logits = h @ w2 + b2
        shifted = logits - xp.max(logits, axis=1, keepdims=True)
        log_probs = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
        return -xp.mean(xp.sum(labels * log_probs, axis=1))

    def gmm(alphas, means, icf, x, wishart_gamma, wishart_m):
        n, d = x.shape
        k = alphas.shape[0]
        q_diags = xp.exp(icf[:, :d])
        sum_qs = xp.sum(icf[:, :d], axis=1)
        lower = xp.reshape(icf[:, d:] @ _gmm_select(d), (k, d, d))
        centered = x[None, :, :] - means[:, None, :]
        q_centered = q_diags[:, None, :] * centered + centered @ xp.transpose(lower, (0, 2, 1))
        inner = alphas[:, None] + sum_qs[:, None] - 0.5 * xp.sum(q_centered ** 2, axis=2)
        top = xp.max(inner, axis=0)
        log_sum = top + xp.log(xp.sum(xp.exp(inner - top), axis=0))
        top_alpha = xp.max(alphas)
        log_alphas = top_alpha + xp.log(xp.sum(xp.exp(alphas - top_alpha)))
        dof = d + wishart_m + 1
        prior = xp.sum(0.5 * wishart_gamma ** 2 * (xp.sum(q_diags ** 2, axis=1)
                                                   + xp.sum(icf[:, d:] ** 2, axis=1))
                       - wishart_m * sum_qs)
        prior_constant = dof * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) \
            - _log_gamma_distrib(0.5 * dof, d)
        return -n * d * 0.5 * math.log(2 * math.pi) + xp.sum(log_sum) - n * log_alphas \
            + prior - k * prior_constant

    def elementwise(x, y):
        return xp.sum(xp.log1p(xp.exp(-x * y)) + xp.tanh(x) ** 2)

    def rnn(W, U, b, h, xs):
        for t in range(xs.shape[0]):
            h = xp.tanh(W @ h + U @ xs[t] + b)
        return xp.sum(h ** 2)

    def rosenbrock_nd(x):
        return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    return {"rosenbrock": rosenbrock, "rosenbrock_chain": _rosenbrock_chain,
            "rosenbrock_loop": rosenbrock_loop,
            "logistic": logistic, "mlp": mlp, "gmm": gmm, "elementwise": elementwise,
            "rnn": rnn, "hessian": rosenbrock_nd}


# --- PyTorch ----------------------------------------------------------------------------

def torch_functions(torch):
    """The workload functions written with torch."""

    def rosenbrock(x, y):
        return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2

    def rosenbrock_loop(x):
        out = 0.0
        for i in range(x.shape[0] - 1):
            out = out + (1.0 - x[i]) ** 2 + 100.0 * (x[i + 1] - x[i] ** 2) ** 2
        return out

    def logistic(w, b, x, y):
        p = 1.0 / (1.0 + torch.exp(-(x @ w + b)))
        return -torch.mean(y * torch.log(p) + (1.0 - y) * torch.log(1.0 - p))

    def mlp(w1, b1, w2, b2, x, labels):
        h = torch.tanh(x @ w1 + b1)
        logits = h @ w2 + b2
        shifted = logits - torch.amax(logits, dim=1, keepdim=True)
        log_probs = shifted - torch.log(torch.sum(torch.exp(shifted), dim=1, keepdim=True))
        return -torch.mean(torch.sum(labels * log_probs, dim=1))

    selects = {}

    def gmm(alphas, means, icf, x, wishart_gamma, wishart_m):
        n, d = x.shape
        k = alphas.shape[0]
        if d not in selects:
            selects[d] = torch.from_numpy(_gmm_select(d))
        q_diags = torch.exp(icf[:, :d])
        sum_qs = torch.sum(icf[:, :d], dim=1)
        lower = torch.reshape(icf[:, d:] @ selects[d], (k, d, d))
        centered = x[None, :, :] - means[:, None, :]
        q_centered = q_diags[:, None, :] * centered + centered @ torch.permute(lower, (0, 2, 1))
        inner = alphas[:, None] + sum_qs[:, None] - 0.5 * torch.sum(q_centered ** 2, dim=2)
        top = torch.amax(inner, dim=0)
        log_sum = top + torch.log(torch.sum(torch.exp(inner - top), dim=0))
        top_alpha = torch.amax(alphas)
        log_alphas = top_alpha + torch.log(torch.sum(torch.exp(alphas - top_alpha)))
        dof = d + wishart_m + 1
        prior = torch.sum(0.5 * wishart_gamma ** 2 * (torch.sum(q_diags ** 2, dim=1)
                                                      + torch.sum(icf[:, d:] ** 2, dim=1))
                          - wishart_m * sum_qs)
        prior_constant = dof * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) \
            - _log_gamma_distrib(0.5 * dof, d)
        return -n * d * 0.5 * math.log(2 * math.pi) + torch.sum(log_sum) - n * log_alphas \
            + prior - k * prior_constant

    def elementwise(x, y):
        return torch.sum(torch.log1p(torch.exp(-x * y)) + torch.tanh(x) ** 2)

    def rnn(W, U, b, h, xs):
        for t in range(xs.shape[0]):
            h = torch.tanh(W @ h + U @ xs[t] + b)
        return torch.sum(h ** 2)

    def rosenbrock_nd(x):
        return torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    return {"rosenbrock": rosenbrock, "rosenbrock_chain": _rosenbrock_chain,
            "rosenbrock_loop": rosenbrock_loop,
            "logistic": logistic, "mlp": mlp, "gmm": gmm, "elementwise": elementwise,
            "rnn": rnn, "hessian": rosenbrock_nd}


# --- builders ---------------------------------------------------------------------------

def _import(name):
    try:
        if name == "jax":
            import jax
            jax.config.update("jax_enable_x64", True)
            return jax
        if name == "torch":
            import torch
            return torch
        if name == "autograd":
            import autograd
            import autograd.numpy
            return autograd
        if name == "tangent":
            import tangent
            return tangent
    except Exception as error:  # ImportError, or a package broken on this Python
        raise Skip(f"cannot import {name}: {type(error).__name__}: {error}") from None
    raise ValueError(name)


def _float_tuple(grads, like):
    return tuple(float(g) if isinstance(a, float) else np.asarray(g) for g, a in zip(grads, like))


def build(peer, workload):
    """A Candidate computing `workload`'s gradient (its Hessian for kind "hessian")
    with `peer`, or raise Skip."""
    if workload.kind == "hessian":
        if peer not in _HESSIAN_BUILDERS:
            raise Skip("not a candidate on the Hessian row")
        return _HESSIAN_BUILDERS[peer](workload)
    return _BUILDERS[peer](workload)


def _jax(workload, jit):
    jax = _import("jax")
    import jax.numpy as jnp
    f = numpy_like(jnp)[workload.family]
    argnums = positions(workload)
    g = jax.grad(f, argnums=argnums)
    if jit:
        # non-differentiated Python numbers (the GMM's wishart_gamma, wishart_m) are
        # static: the function calls math.log on them
        g = jax.jit(g, static_argnums=tuple(
            i for i in range(len(inspect.signature(workload.func).parameters))
            if i not in argnums and i in _python_scalar_positions(workload)))

    def prepare(args):
        return tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)

    def run(*args):
        return jax.block_until_ready(g(*args))

    def to_numpy(grads):
        return tuple(np.asarray(x) for x in grads)

    return Candidate("jax.jit" if jit else "jax", prepare, run, to_numpy)


def _python_scalar_positions(workload):
    args = workload.make("test")
    return {i for i, a in enumerate(args) if isinstance(a, (int, float))}


def _torch(workload):
    torch = _import("torch")
    f = torch_functions(torch)[workload.family]
    wrt = positions(workload)

    def prepare(args):
        out = []
        for i, a in enumerate(args):
            if isinstance(a, np.ndarray):
                a = torch.from_numpy(a.copy())
                if i in wrt:
                    a.requires_grad_(True)
            elif i in wrt:
                a = torch.tensor(a, dtype=torch.float64, requires_grad=True)
            out.append(a)
        return tuple(out)

    def run(*args):
        return torch.autograd.grad(f(*args), [args[i] for i in wrt])

    def to_numpy(grads):
        return tuple(g.detach().numpy() for g in grads)

    return Candidate("torch", prepare, run, to_numpy)


def _autograd(workload):
    autograd = _import("autograd")
    f = numpy_like(autograd.numpy)[workload.family]
    wrt = positions(workload)

    def packed(params, args):
        args = list(args)
        for i, p in zip(wrt, params):
            args[i] = p
        return f(*args)

    g = autograd.grad(packed)  # autograd differentiates w.r.t. one argument: a tuple

    def prepare(args):
        return tuple(args)

    def run(*args):
        return g(tuple(args[i] for i in wrt), args)

    return Candidate("autograd", prepare, run, tuple)


def _tangent(workload):
    tangent = _import("tangent")
    wrt = positions(workload)
    try:
        g = tangent.grad(workload.func, wrt=wrt, verbose=0)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise Skip(f"tangent.grad fails: {type(error).__name__}: {first[:160]}") from None

    def prepare(args):
        return tuple(args)

    def run(*args):
        grads = g(*args)
        return grads if len(wrt) > 1 else (grads,)

    return Candidate("tangent", prepare, run, tuple)


_BUILDERS = {"jax": lambda w: _jax(w, False), "jax.jit": lambda w: _jax(w, True),
             "torch": _torch, "autograd": _autograd, "tangent": _tangent}


# --- Hessian rows: the full Hessian with respect to the one argument in wrt -------------

def _jax_hessian(workload, jit):
    jax = _import("jax")
    import jax.numpy as jnp
    (argnum,) = positions(workload)
    h = jax.hessian(numpy_like(jnp)[workload.family], argnums=argnum)  # jacfwd(jacrev)
    if jit:
        h = jax.jit(h)

    def prepare(args):
        return tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)

    def run(*args):
        return jax.block_until_ready(h(*args))

    return Candidate("jax.jit" if jit else "jax", prepare, run, lambda H: (np.asarray(H),))


def _torch_hessian(workload):
    torch = _import("torch")
    f = torch_functions(torch)[workload.family]
    (i,) = positions(workload)

    def prepare(args):
        return tuple(torch.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a
                     for a in args)

    def run(*args):
        # default (vectorize=False): one reverse-over-reverse sweep per input element
        return torch.autograd.functional.hessian(
            lambda x: f(*args[:i], x, *args[i + 1:]), args[i])

    return Candidate("torch", prepare, run, lambda H: (H.detach().numpy(),))


_HESSIAN_BUILDERS = {"jax": lambda w: _jax_hessian(w, False),
                     "jax.jit": lambda w: _jax_hessian(w, True), "torch": _torch_hessian}


def versions():
    """{library: version or 'not installed (reason)'} for RESULTS.md."""
    out = {}
    for name in ("jax", "jaxlib", "torch", "autograd", "tangent"):
        try:
            module = __import__(name)
            out[name] = getattr(module, "__version__", None) or _dist_version(name)
        except Exception as error:
            out[name] = f"not available ({type(error).__name__}: {str(error)[:80]})"
    return out


def _dist_version(name):
    from importlib import metadata
    for dist in (name, f"{name}-ad"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return "?"
