"""The NumPy printer: sums are printed with a factor common to several terms taken out
once (Horner's rule), which must never change a value and never add an operation."""

import ast
import math

import numpy as np
import pytest
import sympy as sp

from s2s.symbolic import FLOATS, symbol, to_code

A, B, C, X, Y = (symbol(n) for n in "abcxy")
NAMES = {"np": np, "math": math}


def _binops(code):
    return sum(isinstance(n, (ast.BinOp, ast.UnaryOp)) for n in ast.walk(ast.parse(code)))


def _value(code, point):
    return eval(code, dict(NAMES), dict(point))  # noqa: S307 (our own printed code)


def _random_sum(rng):
    """A sum of 2-6 products of 0-3 symbols (some squared, some an exp or an inverse)."""
    pool = [A, B, C, X, Y, X**2, sp.exp(Y), 1 / (1 + A**2)]
    terms = []
    for _ in range(rng.integers(2, 7)):
        coeff = [1, -1, 2, -2, 200, -400, sp.Rational(1, 2), sp.Float(0.1)][rng.integers(8)]
        factors = [pool[i] for i in rng.choice(len(pool), size=rng.integers(0, 4),
                                               replace=False)]
        terms.append(coeff * sp.Mul(*factors))
    return sp.Add(*terms)


@pytest.mark.parametrize("seed", range(40))
def test_factored_sums_keep_their_value_and_never_add_operations(seed):
    rng = np.random.default_rng(seed)
    expr = _random_sum(rng)
    plain = sp.sstr(expr, order="none")  # SymPy's own printing: every term multiplied out
    for floats in (False, True):
        token = FLOATS.set(floats)
        try:
            code = to_code(expr)
        finally:
            FLOATS.reset(token)
        assert _binops(code) <= _binops(plain.replace("exp(", "np.exp(")), (code, plain)
        for point in ({n: rng.normal(size=5) for n in "abcxy"},        # random
                      {n: np.array([0.0, -1.0, 300.0, -2.5, 0.5]) for n in "abcxy"}):  # edges
            expected = sp.lambdify(sp.symbols("a b c x y", real=True), expr, "numpy")(
                *(point[n] for n in "abcxy"))
            np.testing.assert_allclose(_value(code, point), expected, rtol=1e-12, atol=1e-9)


def test_a_factor_of_several_terms_is_taken_out_once():
    assert to_code(A * X - B * X * Y + C) == "c + x * (a - b * y)"
    # the factor saving the most multiplications first, then the rest of its terms
    assert to_code(A * X + B * X + C * X * Y + A * Y) == "x * (a + b + c * y) + a * y"
    # a number SymPy distributed over a difference is taken back
    assert to_code(200 * X - 200 * Y**2) == "200 * (x - y**2)"
    # a sum whose terms are all negative inside: the sign goes outside
    assert to_code(-A * X - B * X + C) == "c - x * (a + b)"


def test_nothing_is_factored_where_nothing_is_saved():
    assert to_code(X + X * Y) == "x + x * y"  # x * (1 + y): as many operations
    assert to_code(2 * X + 2) == "2 + 2 * x"
    assert to_code(sp.Rational(1, 2) + X + Y / 2) == "0.5 + x + y / 2"  # a number as before


def test_python_float_printing_factors_too():
    token = FLOATS.set(True)
    try:
        # the chained Rosenbrock's partial: 202 x - 400 t x - 200 s - 2, one product less
        t, s = symbol("t"), symbol("s")
        assert to_code(-2 - 200 * s + 202 * X - 400 * t * X) == \
            "-2.0 - 200.0 * s + x * (202.0 - 400.0 * t)"
    finally:
        FLOATS.reset(token)


def test_numbers_among_the_factors_of_an_unevaluated_product_terminate():
    # forward mode builds products SymPy leaves unevaluated (a number among the factors)
    expr = sp.Add(sp.Mul(sp.Float(1e30), sp.Float(0.1), A, Y, evaluate=False),
                  sp.Mul(sp.Float(1e30), sp.Float(0.1), B, X, evaluate=False),
                  evaluate=False)
    code = to_code(expr)
    point = {"a": 1.5, "b": -0.5, "x": 2.0, "y": 3.0}
    assert _value(code, point) == pytest.approx(1e29 * (1.5 * 3.0 - 0.5 * 2.0), rel=1e-12)


def test_a_sum_goes_first_where_what_is_before_it_would_be_a_temporary():
    # 2 * t would be an array of its own beside 1 - t**2; 2 * (1 - t**2) is made in place
    assert to_code(2 * X * (1 - X**2)) == "2 * (1 - x**2) * x"
    assert to_code(A * B * (X - Y)) == "(x - y) * a * b"
    # a name alone before the sum is no temporary: as people write it
    assert to_code(A * (1 - X**2)) == "a * (1 - x**2)"
    assert to_code(-A * (X - Y)) == "-a * (x - y)"


@pytest.mark.parametrize("seed", range(20))
def test_products_with_sums_keep_their_value_and_operations(seed):
    rng = np.random.default_rng(100 + seed)
    pool = [A, B, X, Y**2, sp.exp(Y)]
    factors = [pool[i] for i in rng.choice(len(pool), size=rng.integers(1, 4), replace=False)]
    expr = [2, -3, sp.Rational(1, 2)][rng.integers(3)] * sp.Mul(*factors) * _random_sum(rng)
    code = to_code(expr)
    for point in ({"a": 0.5, "b": -1.5, "c": 2.0, "x": 0.0, "y": -3.0},
                  {"a": -2.0, "b": 1e3, "c": -1e-3, "x": 1.5, "y": 0.25}):
        values = {symbol(k): v for k, v in point.items()}
        assert _value(code, point) == pytest.approx(float(expr.subs(values)), rel=1e-12)
    plain = sp.StrPrinter().doprint(expr)
    assert _binops(code) <= _binops(plain.replace("exp", "np.exp"))
