"""Bugs found by a robustness sweep, each pinned by a test."""

import numpy as np
import pytest

import s2s
from gradcheck import check_grads, load


def test_forward_mode_counts_a_repeated_operand_once(tmp_path):
    f = load(tmp_path, """
        def sq(x):
            return x * x

        def cube(x):
            y = x * x
            return y * x + (x + x)
    """, "sq")
    assert s2s.jvp(f)(2.0, 1.0) == (4.0, 4.0)
    np.testing.assert_allclose(s2s.jacobian(f, mode="forward")(np.array([0.3, 0.7])),
                               np.diag([0.6, 1.4]))
    cube = f.__globals__["cube"]
    assert np.isclose(s2s.hessian(cube)(0.7), 6 * 0.7)
    assert np.isclose(s2s.jvp(cube)(0.7, 1.0)[1], 3 * 0.49 + 2)


def test_a_list_index_is_an_integer_array_index(tmp_path):
    f = load(tmp_path, """
        def rows(x):
            return np.sum(x[[0, 2]] * np.arange(4.0))

        def repeats(x):
            return np.sum(x[[3, 1, 1]] ** 2)
    """, "rows")
    x = np.arange(12.0).reshape(3, 4)
    value, g = s2s.value_and_grad(f)(x)
    assert value == f(x)
    np.testing.assert_array_equal(g, [[0, 1, 2, 3], [0, 0, 0, 0], [0, 1, 2, 3]])
    repeats = f.__globals__["repeats"]
    np.testing.assert_array_equal(s2s.grad(repeats)(np.arange(4.0)), [0, 4, 0, 6])


def test_abs_of_a_maximum(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sum(np.abs(np.maximum(x, 0.0)))\n")
    np.testing.assert_array_equal(s2s.grad(f)(np.array([1.0, 3.0, -1.0])), [1.0, 1.0, 0.0])
    check_grads(f, [np.array([0.4, 1.3, -0.8])])


def test_spectral_norm_is_refused_and_the_vector_2_norm_is_not(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.linalg.norm(x, ord=2)\n")
    np.testing.assert_allclose(s2s.grad(f)(np.array([3.0, 4.0])), [0.6, 0.8])
    with pytest.raises(ValueError, match="spectral norm"):
        s2s.grad(f)(np.ones((2, 2)))


def test_concatenate_with_axis_none_is_refused(tmp_path):
    f = load(tmp_path, "def f(x, y):\n    return np.sum(np.concatenate([x, y], axis=None) ** 2)\n")
    with pytest.raises(s2s.NoRuleError, match="axis=None"):
        s2s.grad(f)


@pytest.mark.parametrize("body", [
    "np.max(x)", "np.var(x)", "np.prod(x)", "np.sum(np.maximum(x, 0.0))",
    "np.sum(np.where(x > 0, x, 0.1 * x))", "np.sum(np.clip(x, -0.5, 0.5))",
])
def test_float32_in_float32_out_at_kinks_and_reductions(tmp_path, body):
    f = load(tmp_path, f"def f(x):\n    return {body}\n")
    g = s2s.grad(f)(np.array([0.3, -0.2, 0.7], dtype=np.float32))
    assert g.dtype == np.float32
