"""[rules] Elementwise ops -> SymPy.

One line per op.  Derivatives are never written here: ``sympy.diff`` computes them
from these expressions, and the tests draw random points from ``domain`` (one
``(lo, hi)`` per operand, or one for all).  Conventions at kinks live in the few
custom SymPy functions below, whose derivatives encode them:
``abs'(0) = 0`` (SymPy's ``sign(0) = 0``), ``sign' = 0``, ties of maximum/minimum
split the gradient half and half, and ``where`` differentiates only the branch taken.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p


class Where(sp.Function):
    """np.where(c, a, b); its derivative is the derivative of the branch taken."""
    nargs = 3
    is_real = True

    @classmethod
    def eval(cls, c, a, b):
        if c is sp.true:
            return a
        if c is sp.false:
            return b
        if a == b:
            return a

    def _eval_derivative(self, s):
        c, a, b = self.args
        return Where(c, sp.diff(a, s), sp.diff(b, s))


def _tie(x, y):
    # d maximum(x, y) / dx: 1 where x wins, 1/2 at a tie, 0 where y wins
    return Where(x > y, sp.Integer(1), Where(sp.Eq(x, y), sp.Rational(1, 2), sp.Integer(0)))


class Maximum(sp.Function):
    nargs = 2
    is_real = True

    def fdiff(self, argindex=1):
        x, y = self.args
        return _tie(x, y) if argindex == 1 else _tie(y, x)


class Minimum(sp.Function):
    is_real = True
    nargs = 2

    def fdiff(self, argindex=1):
        x, y = self.args
        return _tie(y, x) if argindex == 1 else _tie(x, y)


class Clip(sp.Function):
    """np.clip(x, lo, hi): the gradient goes to x inside the bounds, to the bound that
    is active outside them, and half and half at a tie."""
    is_real = True
    nargs = 3

    def fdiff(self, argindex=1):
        x, lo, hi = self.args
        half = sp.Rational(1, 2)
        if argindex == 1:
            return Where(sp.And(x > lo, x < hi), sp.Integer(1),
                         Where(sp.Or(sp.Eq(x, lo), sp.Eq(x, hi)), half, sp.Integer(0)))
        if argindex == 2:
            return Where(x < lo, sp.Integer(1), Where(sp.Eq(x, lo), half, sp.Integer(0)))
        return Where(x > hi, sp.Integer(1), Where(sp.Eq(x, hi), half, sp.Integer(0)))


class Absolute(sp.Function):
    """np.abs on real values: derivative sign(x), 0 at 0 (SymPy's Abs of an expression
    it cannot prove real differentiates through complex arg())."""
    nargs = 1
    is_real = True

    def fdiff(self, argindex=1):
        return sp.sign(self.args[0])


class Sign(sp.Function):
    """np.sign: derivative 0 everywhere (PyTorch's and JAX's convention)."""
    nargs = 1
    is_real = True

    def fdiff(self, argindex=1):
        return sp.Integer(0)


class Power(sp.Function):
    """x ** y with a variable exponent: d/dy is 0 at x == 0 (as JAX and PyTorch), and
    d/dx is y * x**(y - 1), which SymPy's y * x**y / x would make 0/0 at x == 0."""
    is_real = True
    nargs = 2

    def fdiff(self, argindex=1):
        x, y = self.args
        if argindex == 1:
            return y * sp.Pow(x, y - 1)
        return Where(sp.Eq(x, 0), sp.Integer(0), self * sp.log(x))


def power(x, y):
    return x**y if y.is_Number else Power(x, y)


@dataclass(frozen=True)
class Elementwise:
    fn: object
    domain: object = (-2.0, 2.0)  # (lo, hi) for every operand, or one pair per operand

    @property
    def arity(self):
        if isinstance(self.fn, type) and issubclass(self.fn, sp.Function):
            return self.fn.nargs.args[0] if hasattr(self.fn.nargs, "args") else 1
        return sum(p.default is inspect.Parameter.empty
                   for p in inspect.signature(self.fn).parameters.values())

    def __call__(self, *args):
        return self.fn(*args)

    def domains(self):
        if isinstance(self.domain[0], tuple):
            return self.domain
        return (self.domain,) * self.arity


POS = (0.1, 4.0)
UNIT = (-0.9, 0.9)

ELEMENTWISE = {
    # Python operators
    "add":           Elementwise(lambda x, y: x + y),
    "sub":           Elementwise(lambda x, y: x - y),
    "mul":           Elementwise(lambda x, y: x * y),
    "div":           Elementwise(lambda x, y: x / y, domain=((-2.0, 2.0), (0.5, 2.0))),
    "pow":           Elementwise(power, domain=((0.1, 3.0), (-2.0, 2.0))),
    "neg":           Elementwise(lambda x: -x),
    "pos":           Elementwise(lambda x: x),
    # NumPy
    "np.exp":        Elementwise(sp.exp),
    "np.log":        Elementwise(sp.log, domain=POS),
    "np.log1p":      Elementwise(log1p, domain=(-0.5, 3.0)),
    "np.expm1":      Elementwise(expm1),
    "np.log2":       Elementwise(lambda x: sp.log(x) / sp.log(2), domain=POS),
    "np.log10":      Elementwise(lambda x: sp.log(x) / sp.log(10), domain=POS),
    "np.sqrt":       Elementwise(sp.sqrt, domain=POS),  # gradient +inf at x == 0
    "np.square":     Elementwise(lambda x: x**2),
    "np.sin":        Elementwise(sp.sin),
    "np.cos":        Elementwise(sp.cos),
    "np.tan":        Elementwise(sp.tan, domain=(-1.2, 1.2)),
    "np.arcsin":     Elementwise(sp.asin, domain=UNIT),
    "np.arccos":     Elementwise(sp.acos, domain=UNIT),
    "np.arctan":     Elementwise(sp.atan),
    "np.arctan2":    Elementwise(sp.atan2, domain=((0.2, 2.0), (0.2, 2.0))),
    "np.sinh":       Elementwise(sp.sinh),
    "np.cosh":       Elementwise(sp.cosh),
    "np.tanh":       Elementwise(sp.tanh),
    "np.abs":        Elementwise(Absolute),  # abs'(0) = 0
    "np.negative":   Elementwise(lambda x: -x),
    "np.reciprocal": Elementwise(lambda x: 1 / x, domain=(0.5, 2.0)),
    "np.power":      Elementwise(power, domain=((0.1, 3.0), (-2.0, 2.0))),
    "np.sign":       Elementwise(Sign),
    "np.maximum":    Elementwise(Maximum),
    "np.minimum":    Elementwise(Minimum),
    "np.where":      Elementwise(Where),
    "np.clip":       Elementwise(Clip),
    # math (on Python floats)
    "math.exp":      Elementwise(sp.exp),
    "math.log":      Elementwise(sp.log, domain=POS),
    "math.sqrt":     Elementwise(sp.sqrt, domain=POS),
    "math.sin":      Elementwise(sp.sin),
    "math.cos":      Elementwise(sp.cos),
    "math.tan":      Elementwise(sp.tan, domain=(-1.2, 1.2)),
    "math.asin":     Elementwise(sp.asin, domain=UNIT),
    "math.acos":     Elementwise(sp.acos, domain=UNIT),
    "math.atan":     Elementwise(sp.atan),
    "math.atan2":    Elementwise(sp.atan2, domain=((0.2, 2.0), (0.2, 2.0))),
    "math.sinh":     Elementwise(sp.sinh),
    "math.cosh":     Elementwise(sp.cosh),
    "math.tanh":     Elementwise(sp.tanh),
    "math.log1p":    Elementwise(log1p, domain=(-0.5, 3.0)),
    "math.expm1":    Elementwise(expm1),
    "math.pow":      Elementwise(power, domain=((0.1, 3.0), (-2.0, 2.0))),
}
