"""Whole programs: the article's example, logistic regression, a tanh MLP with
softmax cross-entropy, and the statement forms of the supported subset."""

import sys

import numpy as np
import pytest

import s2s
from gradcheck import check_grads, load

rng = np.random.default_rng(3)


def test_article_example_gives_4_and_6(tmp_path):
    # The autodiff article prints [2, 2] for its PyTorch version; d/dx sum((x+1)^2) = 2(x+1).
    f = load(tmp_path, """
        def loss(x):
            return np.sum((x + 3 - 2) ** 2)
    """, "loss")
    np.testing.assert_array_equal(s2s.grad(f)(np.array([1.0, 2.0])), [4.0, 6.0])


LOGISTIC = """
    def loss(w, b, x, y):
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
"""


def test_logistic_regression(tmp_path):
    f = load(tmp_path, LOGISTIC, "loss")
    x = rng.standard_normal((50, 4))
    y = (rng.random(50) > 0.5).astype(float)
    w, b = rng.standard_normal(4), 0.1
    check_grads(f, [w, b, x, y], wrt=("w", "b"))
    dw, db = s2s.grad(f, wrt=("w", "b"))(w, b, x, y)
    p = 1 / (1 + np.exp(-(x @ w + b)))
    np.testing.assert_allclose(dw, x.T @ (p - y) / 50, rtol=1e-12)
    np.testing.assert_allclose(db, np.mean(p - y), rtol=1e-10)


MLP = """
    def loss(w1, b1, w2, b2, x, labels):
        h = np.tanh(x @ w1 + b1)
        logits = h @ w2 + b2
        shifted = logits - np.max(logits, axis=1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        return -np.mean(np.sum(labels * log_probs, axis=1))
"""


def test_two_layer_tanh_mlp_with_softmax_cross_entropy(tmp_path):
    f = load(tmp_path, MLP, "loss")
    x = rng.standard_normal((8, 5))
    labels = np.eye(3)[rng.integers(0, 3, 8)]
    params = [rng.standard_normal((5, 4)) * 0.5, rng.standard_normal(4) * 0.1,
              rng.standard_normal((4, 3)) * 0.5, rng.standard_normal(3) * 0.1]
    check_grads(f, params + [x, labels], wrt=(0, 1, 2, 3))
    assert "1 - h**2" in s2s.grad(f, wrt=(0, 1, 2, 3)).source  # tanh' from the forward value


def test_float32_inputs_keep_float32(tmp_path):
    f = load(tmp_path, MLP, "loss")
    x = rng.standard_normal((8, 5)).astype(np.float32)
    labels = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    params = [rng.standard_normal(s).astype(np.float32) for s in [(5, 4), (4,), (4, 3), (3,)]]
    grads = s2s.grad(f, wrt=(0, 1, 2, 3))(*params, x, labels)
    assert [g.dtype for g in grads] == [np.float32] * 4
    g64 = s2s.grad(f, wrt=(0, 1, 2, 3))(*[p.astype(float) for p in params], x.astype(float),
                                         labels.astype(float))
    for a, b in zip(grads, g64):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_python_floats(tmp_path):
    f = load(tmp_path, """
        def rosenbrock(x, y, a=1.0, b=100.0):
            return (a - x) ** 2 + b * (y - x ** 2) ** 2
    """, "rosenbrock")
    dx, dy = s2s.grad(f, wrt=("x", "y"))(0.5, -0.3)
    assert isinstance(dx, float) and isinstance(dy, float)
    assert np.isclose(dx, -2 * 0.5 - 400 * 0.5 * (-0.3 - 0.25))
    assert np.isclose(dy, 200 * (-0.3 - 0.25))
    check_grads(f, [0.5, -0.3, 2.0, 10.0], wrt=(0, 1, 2, 3))


def test_statement_forms(tmp_path):
    f = load(tmp_path, """
        SCALE = 0.5
        OFFSETS = np.array([0.1, -0.2, 0.3])

        def f(x, y, n=2.0, *, power=3):
            a, b = x * SCALE, y + OFFSETS
            acc = a * b
            acc += np.sin(a) / n
            acc = acc * np.pi + math.pi
            c, d = acc[0], acc[1:]
            first, second, third = b
            return np.sum(d ** power) + c * first * np.e - second * third
    """)
    args = [rng.standard_normal(3), rng.standard_normal(3), 1.5]
    check_grads(f, args, wrt=("x", "y", "n"))
    np.testing.assert_allclose(s2s.grad(f, wrt="x")(*args, power=2),
                               s2s.grad(f, wrt=0)(*args, power=2))


def test_broadcasting_on_every_operand(tmp_path):
    f = load(tmp_path, """
        def f(a, b, c):
            return np.sum(np.tanh(a * b - c / (1.0 + b ** 2)) ** 2)
    """)
    args = [rng.standard_normal((3, 1)), rng.standard_normal((1, 4)), rng.standard_normal(())]
    check_grads(f, args, wrt=(0, 1, 2))


def test_value_and_grad(tmp_path):
    f = load(tmp_path, LOGISTIC, "loss")
    x = rng.standard_normal((10, 2))
    y = (rng.random(10) > 0.5) * 1.0
    w = rng.standard_normal(2)
    value, dw = s2s.value_and_grad(f)(w, 0.0, x, y)
    assert value == f(w, 0.0, x, y)
    np.testing.assert_allclose(dw, s2s.grad(f)(w, 0.0, x, y))
    value, (dw2, db) = s2s.value_and_grad(f, wrt=("w", "b"))(w, 0.0, x, y)
    np.testing.assert_allclose(dw2, dw)


def test_unused_argument_gets_a_zero_gradient(tmp_path):
    f = load(tmp_path, "def f(x, y):\n    return np.sum(x ** 2)\n")
    g = s2s.grad(f, wrt="y")(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(g, np.zeros(3))


def test_inactive_calls_and_comparisons_are_allowed(tmp_path):
    f = load(tmp_path, """
        def f(x, y):
            n = x.shape[0]
            mask = np.abs(y) > 0.5
            w = np.cumsum(y) / n + y.cumsum(axis=0)
            return np.sum(np.where(mask, x * w, x ** 2))
    """)
    check_grads(f, [rng.standard_normal(5), rng.standard_normal(5)])


def test_float32_through_kinks_and_where(tmp_path):
    f = load(tmp_path, """
        def f(x, y):
            r = np.maximum(x, 0.0) * y
            return np.sum(np.clip(r, -1.0, 1.0) + np.where(x > 0, np.abs(x), x ** 2))
    """)
    x = np.array([-1.0, 0.0, 0.5, 2.0], dtype=np.float32)
    y = np.array([0.5, 1.0, 3.0, 0.2], dtype=np.float32)
    dx, dy = s2s.grad(f, wrt=(0, 1))(x, y)
    assert dx.dtype == np.float32 and dy.dtype == np.float32
    check_grads(f, [x.astype(float) + 0.01, y.astype(float)], wrt=(0, 1))


def test_gradient_of_an_array_valued_function_is_refused(tmp_path):
    f = load(tmp_path, "def f(A, x):\n    return np.tanh(A @ x)\n")
    with pytest.raises(ValueError, match=r"f returned an array of shape \(3,\); a gradient needs"):
        s2s.grad(f, wrt=1)(np.ones((3, 2)), np.ones(2))
    g = load(tmp_path, "def g(x):\n    return np.sum(x ** 2)\n", "g")
    assert "np.ndim" not in s2s.grad(g).source  # provably scalar: no check


def test_keyword_only_array_defaults_closures_and_methods(tmp_path):
    f = load(tmp_path, """
        def kwonly(x, *, scale=2.0, bias=np.zeros(3)):
            return np.sum((x * scale + bias) ** 2)

        def make(c):
            def inner(x):
                return np.sum(np.sin(x * c))
            return inner

        class Scaled:
            def __init__(self, scale):
                self.scale = scale

            def loss(self, x):
                return np.sum(np.sin(x) * self.scale)
    """, "kwonly")
    module = sys.modules[f.__module__]
    x = np.array([0.3, -0.5, 1.2])
    np.testing.assert_allclose(s2s.grad(f)(x, scale=3.0), 18.0 * x)
    np.testing.assert_allclose(s2s.grad(f, wrt="scale")(x, scale=3.0), np.sum(6.0 * x * x))
    np.testing.assert_allclose(s2s.grad(module.make(1.5))(x), 1.5 * np.cos(1.5 * x))
    for scale in (3.0, 2.0):  # one compiled method, each object's own attribute
        np.testing.assert_allclose(s2s.grad(module.Scaled(scale).loss)(x), scale * np.cos(x))


def test_loops_that_run_zero_times(tmp_path):
    f = load(tmp_path, """
        def f(x, n):
            acc = x * 0.0
            for i in range(n):
                acc = acc + x * i
            return np.sum(acc) + np.sum(x)
    """)
    x = np.array([0.3, -0.5])
    np.testing.assert_array_equal(s2s.grad(f)(x, 0), [1.0, 1.0])
    np.testing.assert_array_equal(s2s.grad(f)(x, 3), [4.0, 4.0])
