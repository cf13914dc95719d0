"""Forward mode, Jacobians both ways, and second order as forward mode over the
generated gradient: against finite differences, symmetric, zero on untaken branches."""

import sys

import numpy as np
import pytest

import s2s
from gradcheck import load
from test_jacobian import numeric_jacobian

rng = np.random.default_rng(8)


def numeric_hessian(f, x, eps=1e-5):
    g = s2s.grad(f)
    flat = x.ravel()
    cols = []
    for j in range(flat.size):
        e = np.zeros(flat.size)
        e[j] = eps
        cols.append((np.ravel(g((flat + e).reshape(x.shape))) -
                     np.ravel(g((flat - e).reshape(x.shape)))) / (2 * eps))
    return np.stack(cols, axis=-1).reshape(x.shape + x.shape)


@pytest.mark.parametrize("body, shape", [
    ("np.tanh(x) * x ** 2", (3,)),
    ("np.exp(x - np.max(x)) / np.sum(np.exp(x - np.max(x)))", (4,)),
    ("(x @ x.T) * np.sin(x).sum(axis=1)", (2, 3)),
])
def test_jacobian_forward_equals_reverse_equals_differences(tmp_path, body, shape):
    f = load(tmp_path, f"def f(x):\n    return {body}\n")
    x = rng.standard_normal(shape)
    fwd = s2s.jacobian(f, mode="forward")(x)
    rev = s2s.jacobian(f, mode="reverse")(x)
    np.testing.assert_allclose(fwd, rev, atol=1e-12)
    np.testing.assert_allclose(fwd, numeric_jacobian(f, [x], 0), atol=1e-7)
    np.testing.assert_allclose(s2s.jacobian(f)(x), fwd)


def test_jacobian_through_a_loop_both_modes(tmp_path):
    f = load(tmp_path, """
        def f(x, w):
            for i in range(5):
                x = np.tanh(w * x + i)
            return x
    """)
    x, w = rng.standard_normal(3), rng.standard_normal(3)
    fwd = s2s.jacobian(f, wrt=(0, 1), mode="forward")(x, w)
    rev = s2s.jacobian(f, wrt=(0, 1), mode="reverse")(x, w)
    for a, b, i in zip(fwd, rev, range(2)):
        np.testing.assert_allclose(a, b, atol=1e-12)
        np.testing.assert_allclose(a, numeric_jacobian(f, [x, w], i), atol=1e-7)


def test_forward_mode_through_a_while_loop(tmp_path):
    f = load(tmp_path, """
        def newton_sqrt(a):
            x = a
            while abs(x * x - a) > 1e-12:
                x = 0.5 * (x + a / x)
            return x
    """, "newton_sqrt")
    value, tangent = s2s.jvp(f)(4.0, 1.0)
    assert np.isclose(value, 2.0) and np.isclose(tangent, 0.25)
    source = s2s.jvp(f).source
    assert "a_dot" in source and "while " in source and "_stack" not in source


HESSIANS = {
    "rosenbrock": ("np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)", (5,)),
    "logsumexp": ("np.max(x) + np.log(np.sum(np.exp(x - np.max(x))))", (4,)),
    "mlp": ("np.sum(np.tanh(X @ x) ** 2)", (3, 2)),
    "branch": ("np.sum(np.where(x > 0, x ** 3, 0.0))", (4,)),
    "call": ("np.sum(helper(x) ** 2)", (3,)),
}


@pytest.mark.parametrize("name", HESSIANS)
def test_hessian_against_differences_of_the_gradient(tmp_path, name):
    body, shape = HESSIANS[name]
    f = load(tmp_path, f"""
        X = np.array([[0.3, -1.2, 0.5], [1.1, 0.4, -0.7], [0.2, 0.9, 1.5], [-0.6, 0.1, 0.8]])

        def helper(z, scale=1.5):
            return np.sin(z) * z * scale

        def f(x):
            return {body}
    """)
    x = rng.standard_normal(shape)
    H = s2s.hessian(f)(x)
    assert H.shape == shape + shape
    np.testing.assert_allclose(H, numeric_hessian(f, x), rtol=1e-5, atol=1e-6)
    n = x.size
    flat = H.reshape(n, n)
    np.testing.assert_allclose(flat, flat.T, rtol=1e-10, atol=1e-12)  # symmetric
    v = rng.standard_normal(shape)
    np.testing.assert_allclose(s2s.hvp(f)(x, v), (flat @ v.ravel()).reshape(shape),
                               rtol=1e-10, atol=1e-12)


def test_hessian_of_the_branch_not_taken_is_zero_not_nan(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sum(np.where(x > 0, x ** 3, 0.0))\n")
    H = s2s.hessian(f)(np.array([-2.0, -0.5, 1.0]))
    np.testing.assert_array_equal(H, np.diag([0.0, 0.0, 6.0]))


def test_nested_grad_gives_higher_derivatives(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sin(x)\n")
    d3 = s2s.grad(s2s.grad(s2s.grad(f)))
    for x in (0.3, -1.2, 2.0):
        assert np.isclose(d3(x), -np.cos(x), rtol=1e-13)


def test_hessian_through_loops(tmp_path):
    f = load(tmp_path, """
        def rnn(h, W, xs):
            for t in range(xs.shape[0]):
                h = np.tanh(W @ h + xs[t])
            return np.sum(h ** 2)

        def newton_sqrt(a):
            x = a
            while abs(x * x - a) > 1e-12:
                x = 0.5 * (x + a / x)
            return x
    """, "rnn")
    h, W, xs = rng.standard_normal(3), rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((4, 3))
    H = s2s.hessian(f)(h, W, xs)
    g = s2s.grad(f)
    numeric = np.stack([(g(h + e, W, xs) - g(h - e, W, xs)) / 2e-5 for e in np.eye(3) * 1e-5],
                       axis=-1)
    np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    assert "_h_stack_dot.append(" in s2s.hessian(f).source  # tangents ride with the stack
    newton = sys.modules[f.__module__].newton_sqrt
    for a in (2.0, 0.7):
        assert np.isclose(s2s.hessian(newton)(a), -0.25 * a ** -1.5, rtol=1e-9)


def test_hessians_through_prod_and_norm_helpers(tmp_path):
    # the gradients call _prod_adjoint and _norm_adjoint, which are not linear in their
    # arguments: each has a tangent helper of its own (HELPER_JVPS)
    f = load(tmp_path, """
        def prod(x):
            return np.prod(x)

        def norm(x):
            return np.linalg.norm(x)

        def rows(x):
            return np.sum(np.prod(x, axis=1) ** 2)
    """, "prod")
    x = np.array([0.0, 2.0, 3.0, -1.0])  # a zero: products of the others, exactly
    expected = np.array([[0.0 if i == j else np.prod(np.delete(x, [i, j])) for j in range(4)]
                         for i in range(4)])
    np.testing.assert_array_equal(s2s.hessian(f)(x), expected)
    v = rng.standard_normal(4)
    np.testing.assert_allclose(s2s.hvp(f)(x, v), expected @ v, atol=1e-15)
    norm = f.__globals__["norm"]
    y = rng.standard_normal(5)
    r = np.linalg.norm(y)
    np.testing.assert_allclose(s2s.hessian(norm)(y), (np.eye(5) - np.outer(y, y) / r**2) / r,
                               rtol=1e-12, atol=1e-14)
    rows = f.__globals__["rows"]
    X = rng.standard_normal((2, 3))
    H = s2s.hessian(rows)(X)
    g = s2s.grad(rows)
    numeric = np.stack([(g(X + e) - g(X - e)) / 2e-6 for e in np.eye(6).reshape(6, 2, 3) * 1e-6],
                       axis=-1).reshape(2, 3, 2, 3)
    np.testing.assert_allclose(H, numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H.reshape(6, 6), H.reshape(6, 6).T, atol=1e-12)


def test_forward_mode_takes_an_elementwise_cluster_as_one_expression(tmp_path):
    f = load(tmp_path, """
        def f(x, y):
            a = np.sin(x) * y
            b = a ** 2 + np.exp(-x)
            return np.tanh(b) * x
    """)
    jvp = s2s.jvp(f, wrt=0)
    body = jvp.source.split("def f_jvp(")[1]
    assert body.count("_dot = ") == 1  # one tangent, the result's: no a_dot, no b_dot
    x, y, v = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(4)
    value, tangent = jvp(x, y, v)
    np.testing.assert_allclose(value, f(x, y))
    eps = 1e-6
    np.testing.assert_allclose(tangent, (f(x + eps * v, y) - f(x - eps * v, y)) / (2 * eps),
                               rtol=1e-6, atol=1e-8)
    J = s2s.jacobian(f, wrt=0, mode="forward")(x, y)
    np.testing.assert_allclose(J, s2s.jacobian(f, wrt=0, mode="reverse")(x, y), rtol=1e-12)
