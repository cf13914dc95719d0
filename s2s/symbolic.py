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


class Batched(sp.Symbol):
    """A value with a leading batch axis the other factors of its products lack (a
    batch of tangents): printed last in a product, so that the others are multiplied
    together first and the batch is gone over once (2 * x * t_batch, not 2 * t_batch * x)."""


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
        return self._product(*expr.as_coeff_mul())

    def _product(self, coeff, factors, inner=None):
        # like StrPrinter's Mul, with spaces around * and / as people write NumPy code;
        # `inner`: a sum already printed, the last factor
        if not factors and inner is None:
            return self._print(coeff)
        sign = ""
        if _negative(coeff):
            coeff, sign = -coeff, "-"
        num, den = [], []
        if coeff.is_Rational and not coeff.is_Integer:
            if coeff.p != 1:
                num.append(sp.Integer(coeff.p))
            den.append(sp.Integer(coeff.q))
        elif coeff != 1:
            num.append(coeff)
        for item in sorted(factors, key=lambda f: isinstance(f, Batched)):
            if item.is_Pow and item.exp.is_Rational and item.exp < 0:
                den.append(item.base if item.exp == -1 else
                           sp.Pow(item.base, -item.exp, evaluate=False))
            else:
                num.append(item)
        prec = PRECEDENCE["Mul"]
        text = [self.parenthesize(x, prec, strict=False) for x in num]
        if inner is not None:
            text.append(f"({inner})")
        # a sum goes first where what is before it would be a temporary (2 * (1 - t**2) * t,
        # not 2 * t * (1 - t**2)): NumPy then multiplies into the sum's array in place, one
        # array fewer alive at once (Sethi-Ullman order)
        sums = [i for i, x in enumerate(num) if x.is_Add] + ([len(num)] if inner else [])
        start = 1 if num and num[0].is_Number else 0
        if sums and sum(i not in sums for i in range(len(text))) >= 2 and sums[0] > start:
            text = text[:start] + [text[i] for i in sums] + [
                t for i, t in enumerate(text[start:], start) if i not in sums]
        text = " * ".join(text) or "1"
        if len(den) == 1:
            text += " / " + self.parenthesize(den[0], prec, strict=True)
        elif den:
            text += " / (" + " * ".join(self.parenthesize(x, prec, strict=False)
                                        for x in den) + ")"
        return sign + text

    def _print_Add(self, expr, order=None):
        return self._sum([t.as_coeff_mul() for t in self._as_ordered_terms(expr, order=order)])

    def _sum(self, terms, lead=False):
        """A sum of (coefficient, factors) terms with a factor common to several taken
        out once, greedily (Horner's rule): a*x - b*x*y + c -> x * (a - b*y) + c, and
        200*a - 200*b -> 200 * (a - b) (which SymPy distributes). Each multiplication
        saved is a pass less over the arrays."""
        common = _common_factor(terms)
        if common is None:
            pieces = [self._product(c, fs) for c, fs in terms]
        else:
            factor, members = common
            if isinstance(factor, tuple):  # a coefficient, up to sign
                coeff, factors = factor[1], ()
                inner = [(terms[i][0] / coeff, terms[i][1]) for i in members]
            else:
                coeff, factors = sp.S.One, (factor,)
                inner = [(terms[i][0], _without(terms[i][1], factor)) for i in members]
            if all(_negative(c) for c, _ in inner):
                coeff, inner = -coeff, [(-c, fs) for c, fs in inner]
            grouped = self._product(coeff, factors, self._sum(inner, lead=True))
            pieces = [grouped if i == members[0] else self._product(*t)
                      for i, t in enumerate(terms) if i == members[0] or i not in members]
        if lead and pieces[0].startswith("-"):  # (b - a), not (-a + b)
            first = next((p for p in pieces if not p.startswith("-")), None)
            if first is not None:
                pieces.remove(first)
                pieces.insert(0, first)
        text = pieces[0]
        for piece in pieces[1:]:
            text += f" - {piece[1:]}" if piece.startswith("-") else f" + {piece}"
        return text

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


def _common_factor(terms):
    """(factor, indices of the terms that have it) for the factor whose taking out saves
    the most multiplications, or None. A factor is one of a term's factors, or
    ("coefficient", c) for a coefficient c several terms share up to sign (terms with
    factors: 2 * x, not 2)."""
    having = {}  # first appearance first: deterministic
    for i, (c, fs) in enumerate(terms):
        for f in dict.fromkeys(fs):
            having.setdefault(f, []).append(i)
        if fs and (c.is_Rational or c.is_Float) and abs(c) != 1:
            having.setdefault(("coefficient", abs(c)), []).append(i)
    best, saved = None, 0
    for f, members in having.items():
        # x (or -x) alone becomes 1 inside: its term saves nothing
        n = len(members) - 1 - sum(terms[i][1] == (f,) and abs(terms[i][0]) == 1
                                   for i in members)
        if n > saved:
            best, saved = f, n
    return None if best is None else (best, having[best])


def _negative(c):
    return (c.is_Rational or c.is_Float) and c < 0


def _without(factors, f):
    i = factors.index(f)
    return factors[:i] + factors[i + 1:]


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


__all__ = ["symbol", "Batched", "const_to_sympy", "operand_to_sympy", "statement_to_sympy",
           "to_code", "Where", "Maximum", "Minimum", "Sign", "log1p", "expm1"]
