"""[derivation] IR <-> SymPy.

- ``to_sympy``: the expression of a chain of elementwise statements in terms of
  its leaves (real symbols named like the IR variables);
- ``NumPyPrinter``: SymPy -> NumPy source (``np.sqrt``, ``np.where``, ``1/x**2``),
  deterministic, with floats written as Python writes them.
"""

from __future__ import annotations

import contextvars
import math
from fractions import Fraction

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from .errors import InternalError
from .ir import Const, Var
from .rules.elementwise import ELEMENTWISE, Maximum, Minimum, Sign, Where  # noqa: F401

NAMED = {"np.pi": sp.pi, "math.pi": sp.pi, "np.e": sp.E, "math.e": sp.E}


def symbol(name):
    return sp.Symbol(name, real=True)


def const_to_sympy(c: Const):
    if c.text in NAMED:
        return NAMED[c.text]
    value = c.value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            c.text != repr(value):
        return symbol(c.text)  # a named constant, an array, inf, nan: kept by name
    if isinstance(value, int) or (math.isfinite(value) and value == int(value)):
        return sp.Integer(int(value))
    exact = Fraction(value) if math.isfinite(value) else None
    if exact is not None and exact.denominator <= 1024:  # 0.5, 0.25: exact as rationals
        return sp.Rational(exact.numerator, exact.denominator)
    return sp.Float(value)


def operand_to_sympy(a, exprs):
    """A symbol for a variable (or its expression when in `exprs`), a number for a constant."""
    if isinstance(a, Var):
        return exprs.get(a.name) or symbol(a.name)
    return const_to_sympy(a)


def statement_to_sympy(stmt, exprs):
    rule = ELEMENTWISE[stmt.op]
    return rule(*[operand_to_sympy(a, exprs) for a in stmt.args])


FUNCTIONS = {
    "exp": "np.exp", "log": "np.log", "sin": "np.sin", "cos": "np.cos", "tan": "np.tan",
    "asin": "np.arcsin", "acos": "np.arccos", "atan": "np.arctan", "atan2": "np.arctan2",
    "sinh": "np.sinh", "cosh": "np.cosh", "tanh": "np.tanh", "Abs": "np.abs",
    "Absolute": "np.abs",
    "sign": "np.sign", "Sign": "np.sign", "log1p": "np.log1p", "expm1": "np.expm1",
    "Maximum": "np.maximum", "Minimum": "np.minimum", "Where": "np.where", "Clip": "np.clip",
}


MATH = {"exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan",
        "asin": "asin", "acos": "acos", "atan": "atan", "sinh": "sinh", "cosh": "cosh",
        "tanh": "tanh", "log1p": "log1p", "expm1": "expm1", "atan2": "atan2"}


class NumPyPrinter(StrPrinter):
    printmethod = "_s2s_numpy"

    def _print_Symbol(self, expr):
        return expr.name

    def _print_Function(self, expr):
        name = type(expr).__name__
        if expr.args and all(a.is_Number for a in expr.args) and name in MATH:
            # log(2): a Python float (math.log), which keeps float32 arrays float32
            return f"math.{MATH[name]}({', '.join(self._print(a) for a in expr.args)})"
        if name not in FUNCTIONS:
            raise InternalError(f"internal error in s2s: no NumPy spelling for {name}; "
                                "please report this")
        return f"{FUNCTIONS[name]}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Power(self, expr):
        return self._print(sp.Pow(*expr.args, evaluate=False))

    def _print_Rational(self, expr):
        if expr.q & (expr.q - 1) == 0:  # a power of two: exact as a float literal
            return repr(expr.p / expr.q)
        return f"{expr.p} / {expr.q}"

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Pi(self, expr):
        return "np.pi"

    def _print_Exp1(self, expr):
        return "np.e"

    def _print_Infinity(self, expr):
        return "np.inf"

    def _print_NegativeInfinity(self, expr):
        return "-np.inf"

    def _print_NaN(self, expr):
        return "np.nan"

    def _print_BooleanTrue(self, expr):
        return "True"

    def _print_BooleanFalse(self, expr):
        return "False"

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.as_base_exp()
        if exp == sp.S.Half:
            if base.is_Number:
                return f"math.sqrt({self._print(base)})"
            return f"np.sqrt({self._print(base)})"
        if exp == -sp.S.Half:
            return f"1 / np.sqrt({self._print(base)})"
        if exp.is_Integer and exp < 0:  # 1/x**2: no negative integer powers (int arrays)
            if exp == -1:
                return "1 / " + self.parenthesize(base, PRECEDENCE["Pow"])
            return "1 / " + self._print(sp.Pow(base, -exp, evaluate=False))
        return super()._print_Pow(expr, rational)

    def _print_Mul(self, expr):
        # like StrPrinter's, with spaces around * and / as people write NumPy code
        coeff, rest = expr.as_coeff_Mul()
        sign = ""
        if coeff < 0:
            expr = sp.Mul(-coeff, rest)
            sign = "-"
        num, den = [], []
        for item in sp.Mul.make_args(expr):
            if item.is_Pow and item.exp.is_Rational and item.exp < 0:
                den.append(item.base if item.exp == -1 else
                           sp.Pow(item.base, -item.exp, evaluate=False))
            elif item.is_Rational and not item.is_Integer:
                if item.p != 1:
                    num.append(sp.Integer(item.p))
                den.append(sp.Integer(item.q))
            else:
                num.append(item)
        prec = PRECEDENCE["Mul"]
        text = " * ".join(self.parenthesize(x, prec, strict=False) for x in num) or "1"
        if len(den) == 1:
            text += " / " + self.parenthesize(den[0], prec, strict=True)
        elif den:
            text += " / (" + " * ".join(self.parenthesize(x, prec, strict=False)
                                        for x in den) + ")"
        return sign + text

    def _print_Relational(self, expr):
        ops = {"==": "==", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
        op = ops[expr.rel_op]
        return f"{self._print(expr.lhs)} {op} {self._print(expr.rhs)}"

    def _print_And(self, expr):
        return " & ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Or(self, expr):
        return " | ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Not(self, expr):
        return f"~({self._print(expr.args[0])})"


class FloatPrinter(NumPyPrinter):
    """For code on Python floats: number literals as floats (float * int converts at
    every operation) and squares of names as products (x * x beats x ** 2)."""

    def _print_Integer(self, expr):
        return f"{int(expr)}.0"

    def parenthesize(self, item, level, strict=False):
        # x * x binds as a product, not as the power it prints
        if item.is_Pow and item.exp == 2 and item.base.is_Symbol and \
                (level > PRECEDENCE["Mul"] or strict and level == PRECEDENCE["Mul"]):
            return f"({self._print(item)})"
        return super().parenthesize(item, level, strict)

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.as_base_exp()
        if exp == 2 and base.is_Symbol:
            return f"{self._print(base)} * {self._print(base)}"
        if exp.is_Integer and exp > 0:
            return f"{self.parenthesize(base, PRECEDENCE['Pow'], strict=False)}**{int(exp)}"
        return super()._print_Pow(expr, rational)


_PRINTER = NumPyPrinter({"order": "none"})
_FLOAT_PRINTER = FloatPrinter({"order": "none"})
FLOATS = contextvars.ContextVar("s2s_floats", default=False)  # printing for Python floats


def to_code(expr):
    return (_FLOAT_PRINTER if FLOATS.get() else _PRINTER).doprint(expr)


__all__ = ["symbol", "const_to_sympy", "operand_to_sympy", "statement_to_sympy",
           "to_code", "Where", "Maximum", "Minimum", "Sign", "log1p", "expm1"]
