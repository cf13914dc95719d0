"""vjp, jvp and jacobian (reverse mode) against finite differences; second order is
refused with a clear error until forward mode lands."""

import numpy as np
import pytest

import s2s
from gradcheck import load

rng = np.random.default_rng(5)


def numeric_jacobian(f, args, i, eps=1e-6):
    x = np.asarray(args[i], dtype=float)
    out = np.asarray(f(*args))
    jac = np.zeros(out.shape + x.shape)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = eps
        hi, lo = list(args), list(args)
        hi[i], lo[i] = x + e.reshape(x.shape), x - e.reshape(x.shape)
        jac.reshape(out.shape + (x.size,))[..., k] = (np.asarray(f(*hi)) - np.asarray(f(*lo))) / (2 * eps)
    return jac


SOFTMAX = """
    def softmax(z, w):
        e = np.exp(z * w - np.max(z * w))
        return e / np.sum(e)
"""


def test_jacobian_of_softmax_and_matrix_inputs(tmp_path):
    f = load(tmp_path, SOFTMAX, "softmax")
    z, w = rng.standard_normal(4), rng.standard_normal(4)
    jz, jw = s2s.jacobian(f, wrt=(0, 1))(z, w)
    np.testing.assert_allclose(jz, numeric_jacobian(f, [z, w], 0), atol=1e-8)
    np.testing.assert_allclose(jw, numeric_jacobian(f, [z, w], 1), atol=1e-8)
    g = load(tmp_path, "def g(A, x):\n    return np.tanh(A @ x)\n", "g")
    A, x = rng.standard_normal((3, 2)), rng.standard_normal(2)
    jac = s2s.jacobian(g)(A, x)
    assert jac.shape == (3, 3, 2)
    np.testing.assert_allclose(jac, numeric_jacobian(g, [A, x], 0), atol=1e-8)


def test_jacobian_through_a_loop(tmp_path):
    f = load(tmp_path, """
        def f(x):
            for i in range(4):
                x = np.sin(x) * 1.1 + x[0]
            return x
    """)
    x = rng.standard_normal(3)
    np.testing.assert_allclose(s2s.jacobian(f)(x), numeric_jacobian(f, [x], 0), atol=1e-7)


def test_vjp_and_jvp(tmp_path):
    f = load(tmp_path, SOFTMAX, "softmax")
    z, w = rng.standard_normal(4), rng.standard_normal(4)
    J = numeric_jacobian(f, [z, w], 0)
    ct, t = rng.standard_normal(4), rng.standard_normal(4)
    np.testing.assert_allclose(s2s.vjp(f)(z, w, ct), ct @ J, atol=1e-8)
    value, tangent = s2s.jvp(f)(z, w, t)
    np.testing.assert_allclose(value, f(z, w))
    np.testing.assert_allclose(tangent, J @ t, atol=1e-8)
    assert "def softmax_vjp(d_out, z, w):" in s2s.vjp(f).source


def test_unknown_jacobian_mode_is_refused(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sum(x ** 3)\n")
    with pytest.raises(ValueError, match="mode="):
        s2s.jacobian(f, mode="sideways")


def test_jacobian_and_hessian_read_wrt_however_it_is_passed(tmp_path):
    # positional, by keyword, left to its default, keyword-only: the same matrices
    f = load(tmp_path, """
        def f(x, scale=2.0, *, w=np.array([0.5, -1.0, 2.0])):
            return np.tanh(x * w) * scale
        """)
    x, w = rng.standard_normal(3), rng.standard_normal(3)
    expected_x = numeric_jacobian(lambda x: f(x, 2.0, w=w), [x], 0)
    jac_x = s2s.jacobian(f, wrt="x")
    for call in (lambda: jac_x(x, w=w), lambda: jac_x(x, 2.0, w=w), lambda: jac_x(x=x, w=w)):
        np.testing.assert_allclose(call(), expected_x, atol=1e-8)
    expected_w = numeric_jacobian(lambda w: f(x, 3.0, w=w), [w], 0)
    np.testing.assert_allclose(s2s.jacobian(f, wrt="w")(x, 3.0, w=w), expected_w, atol=1e-8)
    default_w = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(s2s.jacobian(f, wrt="w")(x), numeric_jacobian(
        lambda w: f(x, w=w), [default_w], 0), atol=1e-8)
    g = load(tmp_path, """
        def g(x, y, *, k=3.0):
            return np.sum(np.sin(x * y) * k)
        """, "g")
    hess = s2s.hessian(g, wrt="y")
    for call in (lambda: hess(x, w), lambda: hess(x, y=w), lambda: hess(x, w, k=3.0)):
        np.testing.assert_allclose(call(), np.diag(-3.0 * x ** 2 * np.sin(x * w)), atol=1e-10)
