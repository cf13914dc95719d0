"""Gradients of formulas (elementwise ops and branches only) get a path for Python
floats: no shape bookkeeping, float literals.  It must give what the general path
gives (to rounding), at ordinary and at awkward points."""

import numpy as np
import pytest

import s2s
from gradcheck import check_grads, load

FORMULAS = {
    "rosenbrock": ("def f(x, y):\n    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2\n", 2),
    "kinks": ("def f(x, y):\n    return np.abs(x) * np.maximum(x, y) + np.sign(y) * np.clip(x, -1.0, 1.0)\n", 2),
    "where": ("def f(x, y):\n    return np.where(x > 0, np.sqrt(x) * y, x ** 3)\n", 2),
    "branch": ("def f(x, y):\n    if x > y:\n        z = np.log1p(x * x) / (1 + y * y)\n    else:\n"
               "        z = np.tanh(x - y) ** 2\n    return z * math.exp(y)\n", 2),
    "power": ("def f(x, y):\n    return x ** y + y ** 3.5 / (x * x + 1)\n", 2),
}
POINTS = [(0.7, 1.3), (-1.2, 0.4), (0.0, 0.0), (1.0, 1.0), (0.0, 2.5), (-3.0, -0.5),
          (1e3, 2.0), (2.0, 1e-8)]


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_float_path_equals_the_general_path(tmp_path, name):
    source, n = FORMULAS[name]
    f = load(tmp_path, "import math\n" + source)
    g = s2s.grad(f, wrt=(0, 1))
    body = g.source.split("def f_grad(")[1]
    assert body.count("if x.__class__ is float and y.__class__ is float:") == 1
    fast_path = body.split("_check_scalar")[0]
    assert "_unbroadcast" not in fast_path and "_like" not in fast_path
    for x, y in POINTS:
        if name == "power" and x <= 0:
            continue  # x ** y of a negative base: not real
        with np.errstate(all="ignore"):
            fast = g(float(x), float(y))
            general = g(np.float64(x), np.array(y))  # not `float`: the general path
        assert all(type(v) is not np.ndarray or v.ndim == 0 for v in fast)
        # the same formula, up to rounding (x * x for x ** 2, float literals)
        np.testing.assert_allclose(np.asarray(fast, dtype=float),
                                   np.asarray(general, dtype=float), rtol=1e-13, atol=0)


@pytest.mark.parametrize("name", ["rosenbrock", "branch"])
def test_float_path_against_finite_differences(tmp_path, name):
    source, _ = FORMULAS[name]
    f = load(tmp_path, "import math\n" + source)
    for x, y in [(0.7, 1.3), (-1.2, 0.4), (3.0, -2.0)]:
        check_grads(f, (x, y), wrt=(0, 1))


def test_value_and_grad_and_a_single_argument(tmp_path):
    f = load(tmp_path, FORMULAS["rosenbrock"][0])
    value, (dx, dy) = s2s.value_and_grad(f, wrt=(0, 1))(0.5, 2.0)
    assert value == f(0.5, 2.0)
    dx_only = s2s.grad(f, wrt=0)(0.5, 2.0)
    assert type(dx_only) is float and dx_only == dx
    assert dy == 200.0 * (2.0 - 0.25)


def test_arrays_and_ints_take_the_general_path(tmp_path):
    f = load(tmp_path, FORMULAS["rosenbrock"][0])
    g = s2s.grad(f, wrt=(0, 1))
    x, y = np.array([0.5, 1.5]), 2.0
    with pytest.raises(ValueError, match="a gradient needs a scalar result"):
        g(x, y)  # an array result is refused on the general path, as before
    dx, dy = g(1, 2)  # ints are not `float`: the general path, same numbers
    assert (dx, dy) == g(1.0, 2.0)


def test_no_float_path_for_array_code_or_annotated_floats(tmp_path):
    f = load(tmp_path, "def f(x, w):\n    return np.sum(np.tanh(x * w))\n")
    assert "is float" not in s2s.grad(f).source.split("def f_grad(")[1]
    h = load(tmp_path, "def h(x: float, y: float):\n    return x ** 2 * y\n", "h")
    source = s2s.grad(h, wrt=(0, 1)).source.split("def h_grad(")[1]
    assert "is float" not in source  # (_like stays: a float32 scalar keeps its precision)
    assert "2.0 * x * y" in source  # the whole gradient is on floats: float literals


def test_higher_derivatives_read_past_the_float_path(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sin(x) * x\n")
    d2 = s2s.grad(s2s.grad(f))
    for x in (0.3, -1.7):
        assert np.isclose(d2(x), 2 * np.cos(x) - x * np.sin(x), rtol=1e-13)
    H = s2s.hessian(f)(np.float64(0.3))
    assert np.isclose(H, 2 * np.cos(0.3) - 0.3 * np.sin(0.3), rtol=1e-13)


def test_a_float_subclass_or_numpy_scalar_takes_the_general_path(tmp_path):
    # x.__class__ is float, as type(x) is float, holds for Python floats alone
    f = load(tmp_path, "def f(x, y):\n    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2\n")

    class Tagged(float):
        pass
    expected = s2s.grad(f, wrt=(0, 1))(0.3, 0.7)
    for x, y in ((Tagged(0.3), 0.7), (np.float64(0.3), 0.7), (0.3, np.float32(0.7))):
        got = s2s.grad(f, wrt=(0, 1))(x, y)
        assert type(got[0]) is not float  # the general path: NumPy values
        np.testing.assert_allclose(np.array(got, dtype=float), expected, rtol=1e-6)
