"""The conventions at awkward points, each its own test (README: "Conventions")."""

import numpy as np

import s2s
from gradcheck import check_grads, load

rng = np.random.default_rng(11)


def test_where_gives_zero_not_nan_on_the_branch_not_taken(tmp_path):
    # JAX and PyTorch return NaN at x <= 0 here: 0 * inf from the sqrt branch.
    f = load(tmp_path, """
        def f(x):
            return np.sum(np.where(x > 0, np.sqrt(x), 0.0))
    """)
    g = s2s.grad(f)(np.array([-1.0, 0.0, 4.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.25])


def test_where_through_an_intermediate_name_still_has_no_nan(tmp_path):
    f = load(tmp_path, """
        def f(x):
            s = np.log(x)
            return np.sum(np.where(x > 0, s * x, x))
    """)
    g = s2s.grad(f)(np.array([-2.0, 0.0, 1.0]))
    np.testing.assert_allclose(g, [1.0, 1.0, 1.0])


def test_abs_has_zero_derivative_at_zero(tmp_path):
    # PyTorch's choice; JAX gives abs'(0) = 1.
    f = load(tmp_path, "def f(x):\n    return np.sum(np.abs(x))\n")
    np.testing.assert_array_equal(s2s.grad(f)(np.array([-2.0, 0.0, 3.0])), [-1.0, 0.0, 1.0])


def test_sign_has_zero_derivative_everywhere(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sum(np.sign(x) * 3.0 + x)\n")
    np.testing.assert_array_equal(s2s.grad(f)(np.array([-2.0, 0.0, 3.0])), [1.0, 1.0, 1.0])


def test_maximum_and_minimum_split_ties_half_and_half(tmp_path):
    f = load(tmp_path, "def f(x, y):\n    return np.sum(np.maximum(x, y) + 2.0 * np.minimum(x, y))\n")
    x, y = np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])
    dx, dy = s2s.grad(f, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, [1.5, 2.0, 1.0])
    np.testing.assert_array_equal(dy, [1.5, 1.0, 2.0])


def test_maximum_with_a_constant_tie(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sum(np.maximum(x, 0.0))\n")
    np.testing.assert_array_equal(s2s.grad(f)(np.array([-1.0, 0.0, 2.0])), [0.0, 0.5, 1.0])


def test_clip_at_its_bounds_splits_half_and_half(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sum(np.clip(x, 0.0, 1.0))\n")
    g = s2s.grad(f)(np.array([-1.0, 0.0, 0.5, 1.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.5, 1.0, 0.5, 0.0])


def test_max_and_min_reductions_share_the_gradient_among_ties(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.max(x) + 10.0 * np.min(x)\n")
    g = s2s.grad(f)(np.array([3.0, 1.0, 3.0, 1.0, 1.0, 2.0]))
    np.testing.assert_allclose(g, [0.5, 10 / 3, 0.5, 10 / 3, 10 / 3, 0.0])
    h = load(tmp_path, "def f(x):\n    return np.sum(np.max(x, axis=1))\n")
    g = s2s.grad(h)(np.array([[1.0, 1.0], [0.0, 2.0]]))
    np.testing.assert_array_equal(g, [[0.5, 0.5], [0.0, 1.0]])


def test_sqrt_has_infinite_derivative_at_zero(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sum(np.sqrt(x))\n")
    with np.errstate(divide="ignore"):
        g = s2s.grad(f)(np.array([0.0, 4.0]))
    assert g[0] == np.inf and g[1] == 0.25


def test_stable_forms_are_kept_in_the_derivative(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sum(np.log1p(x) + np.expm1(x))\n")
    source = s2s.grad(f).source
    assert "np.expm1" not in source.split("def f_grad")[1] or "np.exp(x)" in source
    x = np.array([1e-12, 3.0])
    np.testing.assert_allclose(s2s.grad(f)(x), 1 / (1 + x) + np.exp(x), rtol=1e-14)
    # log1p's derivative stays accurate where 1 + x rounds (x tiny)
    check_grads(f, [np.array([1e-3, -0.5, 2.0])])


def test_logistic_loss_derivative_simplifies_to_p_minus_y(tmp_path):
    f = load(tmp_path, """
        def f(z, y):
            p = 1.0 / (1.0 + np.exp(-z))
            return -np.sum(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    """)
    g = s2s.grad(f)
    assert "p - y" in g.source or "y - p" in g.source
    # saturated p (exactly 1.0 in floats): the simplified form stays finite
    np.testing.assert_allclose(g(np.array([40.0, -3.0]), np.array([0.0, 1.0])),
                               [1.0, 1 / (1 + np.exp(3.0)) - 1.0], rtol=1e-12)


def test_power_with_a_variable_exponent_at_zero_base(tmp_path):
    # d/dy x**y = x**y log(x) is 0 * -inf at x == 0; JAX and PyTorch give 0, so do we.
    f = load(tmp_path, "def f(x, y):\n    return np.sum(x ** y + np.power(x, y))\n")
    dx, dy = s2s.grad(f, wrt=(0, 1))(np.array([0.0, 2.0]), np.array([2.0, 3.0]))
    np.testing.assert_allclose(dx, [0.0, 2 * 3 * 4.0])
    np.testing.assert_allclose(dy, [0.0, 2 * 8 * np.log(2.0)])
    g = load(tmp_path, "def f(x):\n    return np.sum(x ** 3.0)\n")
    np.testing.assert_array_equal(s2s.grad(g)(np.array([0.0, -1.0])), [0.0, 3.0])


def test_softplus_has_the_sigmoid_derivative_where_exp_overflows(tmp_path):
    # d/du log1p(exp(u)) = exp(u) / (1 + exp(u)) is inf / inf = NaN once exp(u) overflows
    # (u > 709), which JAX and PyTorch give; s2s writes it 1 / (1 + exp(-u)): 1 there
    f = load(tmp_path, "def f(x, y):\n    return np.sum(np.log1p(np.exp(x * y)))\n")
    g = s2s.grad(f, wrt=("x", "y"))
    body = "\n".join(line for line in g.source.split("def f_grad")[1].splitlines()
                     if not line.strip().startswith("#"))
    assert "np.exp(-x * y)" in body and "np.exp(x * y)" not in body  # no forward exp held
    x, y = np.array([800.0, -800.0, 0.0, 2.0]), np.array([1.0, 1.0, 3.0, -0.5])
    with np.errstate(over="ignore"):
        dx, dy = g(x, y)
    sigmoid = np.array([1.0, 0.0, 0.5, 1 / (1 + np.exp(1.0))])
    np.testing.assert_allclose(dx, y * sigmoid, rtol=1e-14)
    np.testing.assert_allclose(dy, x * sigmoid, rtol=1e-14)
    # against finite differences, with x and y broadcasting, at 0 and negative points
    check_grads(f, [rng.standard_normal((3, 1)), rng.standard_normal((1, 4))], wrt=("x", "y"))
    check_grads(f, [np.array([0.0, -2.0, 5.0]), np.array([-1.0, 0.0, 3.0])], wrt=("x", "y"))


def test_softplus_value_and_gradient_together(tmp_path):
    # the value needs exp(-z) itself, the gradient its sigmoid form: both right
    f = load(tmp_path, "def f(z, w):\n    return np.sum(w * np.log1p(np.exp(-z)))\n")
    z, w = np.array([0.0, -3.0, 40.0, 2.0, -750.0]), rng.standard_normal(5)
    with np.errstate(over="ignore"):
        value, dz = s2s.value_and_grad(f)(z, w)
        assert value == f(z, w)
    np.testing.assert_allclose(dz, -w / (1 + np.exp(z)), rtol=1e-14)
    assert dz[-1] == -w[-1]  # exp(750) overflows: -w e / (1 + e) would be NaN
    check_grads(f, [z[:4], w[:4]])
