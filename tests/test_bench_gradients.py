"""The benchmark's hand-written gradients (bench/workloads.py) against central
differences, and s2s's gradients against the hand-written ones, at the small "test"
size.  No peer library is imported here."""

import inspect
import sys
from pathlib import Path

import numpy as np
import pytest

import s2s

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import scaling, workloads  # noqa: E402

WORKLOADS = [pytest.param(w, id=w.name) for w in workloads.WORKLOADS]


def directional_errors(f, grads, args, wrt, eps=1e-6, seed=0):
    """Relative error of <grad, v> against central differences, per argument in wrt."""
    params = list(inspect.signature(f).parameters)
    rng = np.random.default_rng(seed)
    errors = {}
    for name, g in zip(wrt, grads):
        i = params.index(name)
        x = np.asarray(args[i], dtype=float)
        assert np.shape(g) == x.shape, f"d{name}: shape {np.shape(g)} != {x.shape}"
        v = rng.standard_normal(x.shape)
        like = float if isinstance(args[i], float) else np.asarray
        hi, lo = list(args), list(args)
        hi[i], lo[i] = like(x + eps * v), like(x - eps * v)
        numeric = (f(*hi) - f(*lo)) / (2 * eps)
        analytic = np.vdot(np.asarray(g, dtype=float), v)
        errors[name] = abs(analytic - numeric) / max(abs(numeric), 1e-8)
    return errors


@pytest.mark.parametrize("workload", WORKLOADS)
def test_hand_written_gradient_matches_central_differences(workload):
    args = workload.make("test")
    grads = workload.hand(*args)
    assert isinstance(grads, tuple) and len(grads) == len(workload.wrt)
    errors = directional_errors(workload.func, grads, args, workload.wrt)
    assert max(errors.values()) <= 1e-6, errors


@pytest.mark.parametrize("workload", WORKLOADS)
def test_s2s_gradient_matches_hand_written(workload):
    args = workload.make("test")
    expected = workload.hand(*args)
    got = s2s.grad(workload.func, wrt=workload.wrt)(*args)
    assert len(got) == len(expected)
    for name, g, h in zip(workload.wrt, got, expected):
        assert np.shape(g) == np.shape(h), name
        np.testing.assert_allclose(g, h, rtol=1e-9, atol=1e-12, err_msg=f"d{name}")


def test_gmm_sizes_and_conventions_follow_examples_gmm():
    # the copied objective gives the example's value on the example's problem
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    try:
        import gmm
    finally:
        sys.path.pop(0)
    args = gmm.problem(d=3, k=4, n=20)
    assert workloads.gmm_objective(*args) == pytest.approx(gmm.gmm_objective(*args), rel=1e-14)
    for d, k in ((2, 5), (10, 25), (20, 50)):
        alphas, means, icf, x, _, _ = workloads.BY_NAME[f"gmm_d{d}_k{k}"].make("full")
        assert (alphas.shape, means.shape, icf.shape, x.shape) == \
            ((k,), (k, d), (k, d + d * (d - 1) // 2), (1000, d))


def test_quick_selection_and_only():
    quick = {w.name for w in workloads.select(quick=True)}
    assert "gmm_d20_k50" not in quick and {"gmm_d2_k5", "gmm_d10_k25", "rnn"} <= quick
    assert [w.name for w in workloads.select("gmm")] == ["gmm_d2_k5", "gmm_d10_k25", "gmm_d20_k50"]
    assert [w.name for w in workloads.select("rnn")] == ["rnn"]
    assert [w.name for w in workloads.select("hessian")] == ["rosenbrock_nd_hessian"]
    assert "rosenbrock_nd_hessian" in quick


@pytest.mark.parametrize("workload", [pytest.param(w, id=w.name) for w in workloads.HESSIANS])
def test_hand_written_hessian_matches_differences_and_s2s(workload, eps=1e-6):
    (x,) = workload.make("test")
    (hessian,) = workload.hand(x)
    assert hessian.shape == x.shape + x.shape
    g = s2s.grad(workload.func)
    # column j: central differences of s2s's gradient (itself checked in its own test)
    numeric = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps)
                        for e in np.eye(x.size)], axis=-1)
    np.testing.assert_allclose(hessian, numeric, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(s2s.hessian(workload.func, wrt=workload.wrt[0])(x), hessian,
                               rtol=1e-9, atol=1e-9)
    if workload.func is workloads.rosenbrock_nd:  # rosenbrock_loop, with slices
        np.testing.assert_allclose(g(x), workloads.rosenbrock_loop_hand(x)[0], rtol=1e-12)


def test_scaling_generator_is_differentiable(tmp_path):
    path = scaling.write(tmp_path, "straight_10")
    seconds, g, f = scaling.cold_compile(path)
    assert f is not scaling.fresh_function(path)  # a new function object per import
    a, w = scaling.args()
    errors = directional_errors(f, g(a, w), (a, w), ("a", "w"))
    assert max(errors.values()) <= 1e-6, errors
    source = scaling.straight_line_source(1000)
    assert source.count("\n    v") == 1000 and source.count(" @ w") >= 10
    assert "for step in range(5):" in scaling.loop_source(100)
    assert scaling.loop_source(100).count("\n        v") == 99  # + the carried update
