"""Random-program fuzzing: generate programs in the subset s2s accepts and check every
derivative mode against finite differences and against the other modes.

    python -m tests.fuzz --count 2000 --seed 0 --modes grad,jvp,jacobian,hessian --out DIR
    python -m tests.fuzz --replay DIR/seed_17_jvp.py        # re-check one written program

Program ``k`` of a run is generated from the integer seed ``seed + k`` alone, so a run
can be split into chunks (``--seed 0 --count 500``, ``--seed 500 --count 500``, ...) and
any program regenerated from its seed.

Generation.  A program is a function ``f`` of one to three float arguments (Python
floats, NumPy scalars or arrays of shapes that broadcast against each other; sometimes
``x: float``, sometimes an ``n=2`` loop bound), up to three helper functions it calls
(keyword arguments, defaults, early returns, tuple results) and module-level constants.
Its statements are assignments (re-binding names, to other shapes outside loops;
some the difference of a value and a smaller one broadcast along it, x - mu),
augmented assignments, tuple assignments and unpacking, ``if``/``elif``/``else``,
``for`` over ``range`` or over a tuple of arrays, ``while`` with counter and value
conditions, ``break``/``continue``, early ``return``; its expressions use elementwise
NumPy and ``math`` functions, operators with broadcasting, ``np.where``/``maximum``/
``clip``, reductions with ``axis``/``keepdims``/``ddof``, ``@``/``np.dot``, indexing
(loop variables, integer lists, slices, ``None``, ``...``), reshapes, concatenation
and conditional expressions.  Every expression carries its shape and an interval
function: given
intervals for the variables it gives an interval for the value.  Each statement is
interpreted over intervals when it is generated (loops for their largest trip count,
joining states after every statement, so ``break`` and ``continue`` are covered), and
one that could overflow, take the log of a number near 0 or divide by a number near 0
is dropped.  So the programs are defined, finite and of moderate size at every input
in the argument ranges.

Checks (one mode, one argument at a time; ``v`` is a random direction):
    grad      <s2s.grad(f), v> against the central difference of f along v (s2s.vjp
              with a random cotangent u and <u, difference> when f returns an array);
              the gradient's shape and dtype (float64, and float32 for float32
              arguments); s2s.value_and_grad against f and s2s.grad
    jvp       s2s.jvp: the value against f, the tangent against the difference
    jacobian  s2s.jacobian(mode="forward") against mode="reverse", both shaped
              out.shape + in.shape
    hessian   (scalar f) s2s.hessian: shape in.shape * 2, symmetry, H v against the
              central difference of s2s.grad along v, s2s.hvp against H v; then the
              Hessian again after the gradients with respect to every argument were
              compiled ("hessian after grads")
A difference is only trusted where f is smooth: two estimates (a two-point difference
with step 1e-5 and a five-point one with step 1e-3) must agree to 1e-6 relative;
where they do not, the point is next to a kink or a branch boundary and the check is
counted as "kink", not run.  Tolerances: 1e-6 relative plus 1e-8 times the size of f's
values, plus ten times the disagreement of the two estimates.  A NaN or infinite
derivative of a program that takes np.std or np.linalg.norm also counts as "kink":
the std of equal values (``np.std(x[[1, 1]])``) is constant, but the chain rule gives
0 * inf there (sqrt'(0) = inf, the convention s2s shares with JAX).

Outcome of a mode for a program: pass; refused (s2s raised DifferentiationError: not a
failure); suspect (a refusal that is s2s's own fault: an InternalError, or a refusal
pointing into code s2s generated, as when a Hessian cannot differentiate its own
gradient; not a failure either, but listed); fail (a wrong number or shape, another
exception, or a timeout); kink (every check skipped as above); n/a (hessian of a
vector-valued f).
"""

from __future__ import annotations

import argparse
import ast
import collections
import contextlib
import copy
import dataclasses
import importlib.util
import itertools
import json
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

import s2s

MODES = ("grad", "jvp", "jacobian", "hessian")

# ---------------------------------------------------------------------- intervals

LIMIT = 1e3  # every value a program computes stays within [-LIMIT, LIMIT]


class Unsafe(Exception):
    """A value might leave the safe range: overflow, log or sqrt near 0, division by ~0."""


def checked(iv):
    lo, hi = float(iv[0]), float(iv[1])
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi or max(-lo, hi) > LIMIT:
        raise Unsafe
    return lo, hi


def i_add(a, b):
    return a[0] + b[0], a[1] + b[1]


def i_sub(a, b):
    return a[0] - b[1], a[1] - b[0]


def i_neg(a):
    return -a[1], -a[0]


def i_mul(a, b):
    p = (a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1])
    return min(p), max(p)


def i_div(a, b):
    if b[0] <= 0.2 and b[1] >= -0.2:
        raise Unsafe
    return i_mul(a, (1 / b[1], 1 / b[0]))


def i_abs(a):
    if a[0] <= 0 <= a[1]:
        return 0.0, max(-a[0], a[1])
    return min(abs(a[0]), abs(a[1])), max(abs(a[0]), abs(a[1]))


def i_square(a):
    lo, hi = i_abs(a)
    return lo * lo, hi * hi


def i_power(a, p):
    """a ** p for a > 0."""
    if a[0] <= 0.05:
        raise Unsafe
    v = sorted((a[0] ** p, a[1] ** p))
    return v[0], v[1]


def i_join(a, b):
    return min(a[0], b[0]), max(a[1], b[1])


def i_sum(a, n):
    """The sum of n numbers in a."""
    return min(n * a[0], a[0]), max(n * a[1], a[1])


def increasing(fn):
    return lambda a: (fn(a[0]), fn(a[1]))


def within(e, iv):
    """The bound `iv` for a value computed from e, once e is checked to be safe."""
    return lambda env: (e.at(env), iv)[1]


def join_envs(envs):
    common = set.intersection(*(set(e) for e in envs))
    return {k: v for k, v in envs[0].items() if k in common} | {
        k: (min(e[k][0] for e in envs), max(e[k][1] for e in envs)) for k in common}


# -------------------------------------------------------------------- expressions

# Python precedences, to parenthesise only where needed
TERNARY, COMPARE, SUM, PRODUCT, UNARY, POWER, ATOM = 1, 5, 10, 11, 12, 13, 100


@dataclasses.dataclass
class Expr:
    code: str
    shape: tuple
    bound: object  # env (name -> interval) -> interval of the values
    prec: int = ATOM
    fresh: bool = False  # a new array, never a view of a variable (so `+=` on it is safe)

    def at(self, env):
        try:
            return checked(self.bound(env))
        except (OverflowError, ValueError, ZeroDivisionError):
            raise Unsafe from None

    def p(self, prec):
        """The code, parenthesised unless it binds at least as tightly as `prec`."""
        return self.code if self.prec >= prec else f"({self.code})"


def bshape(*shapes):
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def size(shape):
    return math.prod(shape)


# --------------------------------------------------------------------- statements
# Each statement has lines(indent) and run(env, returns): its interval semantics,
# returning the environment after it (None when every path returned) and adding the
# interval of any value returned to `returns`.


def run_block(stmts, env, returns):
    for st in stmts:
        env = st.run(env, returns)
        if env is None:
            return None
    return env


def block_lines(stmts, indent):
    lines = [line for st in stmts for line in st.lines(indent)]
    return lines or [indent + "pass"]


@dataclasses.dataclass
class Assign:
    targets: list
    exprs: list

    def lines(self, indent):
        return [indent + ", ".join(self.targets) + " = " + ", ".join(e.code for e in self.exprs)]

    def run(self, env, returns):
        values = [e.at(env) for e in self.exprs]
        return env | dict(zip(self.targets, values))


@dataclasses.dataclass
class Unpack:
    """p, q = v for an array v of two rows."""
    targets: list
    expr: Expr

    def lines(self, indent):
        return [indent + ", ".join(self.targets) + " = " + self.expr.code]

    def run(self, env, returns):
        return env | dict.fromkeys(self.targets, self.expr.at(env))


@dataclasses.dataclass
class CallAssign:
    """p, q = helper(...) for a helper returning a tuple."""
    targets: list
    call: object

    def lines(self, indent):
        return [indent + ", ".join(self.targets) + " = " + self.call.code]

    def run(self, env, returns):
        return env | dict(zip(self.targets, self.call.bounds(env)))


@dataclasses.dataclass
class AugAssign:
    target: str
    op: str
    expr: Expr

    def lines(self, indent):
        return [indent + f"{self.target} {self.op}= {self.expr.code}"]

    def run(self, env, returns):
        combine = {"+": i_add, "-": i_sub, "*": i_mul}[self.op]
        return env | {self.target: checked(combine(env[self.target], self.expr.at(env)))}


@dataclasses.dataclass
class Return:
    expr: Expr

    def lines(self, indent):
        return [indent + f"return {self.expr.code}"]

    def run(self, env, returns):
        returns.append(self.expr.at(env))
        return None


@dataclasses.dataclass
class Jump:
    """if cond: break (or continue), at the top level of a loop body."""
    cond: Expr
    kind: str

    def lines(self, indent):
        return [indent + f"if {self.cond.code}:", indent + "    " + self.kind]

    def run(self, env, returns):
        self.cond.at(env)
        return env  # the loop joins the state after every statement


@dataclasses.dataclass
class Raw:
    """A line with no effect on values (a while loop's counter)."""
    text: str

    def lines(self, indent):
        return [indent + self.text]

    def run(self, env, returns):
        return env


@dataclasses.dataclass
class If:
    conds: list
    blocks: list  # one per condition, plus the else block if there is one

    def lines(self, indent):
        out = []
        for k, block in enumerate(self.blocks):
            head = "else:" if k == len(self.conds) else \
                ("if " if k == 0 else "elif ") + self.conds[k].code + ":"
            out += [indent + head] + block_lines(block, indent + "    ")
        return out

    def run(self, env, returns):
        for c in self.conds:
            c.at(env)
        outs = [r for b in self.blocks if (r := run_block(b, dict(env), returns)) is not None]
        if len(self.blocks) == len(self.conds):  # no else: the fall-through path
            outs.append(env)
        return join_envs(outs) if outs else None


@dataclasses.dataclass
class Loop:
    """for/while.  Interval semantics: `trips` iterations, each starting from the
    join of every state seen so far (which covers break and continue)."""
    head: list  # lines before the body: ["j = 0", "while j < 3:"]
    body: list
    trips: int
    bind: object = None  # state -> {loop variable: interval}
    cond: Expr = None  # a while loop's value condition

    def lines(self, indent):
        return [indent + h for h in self.head] + block_lines(self.body, indent + "    ")

    def run(self, env, returns):
        acc = dict(env)
        for _ in range(self.trips):
            state = dict(acc) | (self.bind(acc) if self.bind else {})
            if self.cond is not None:
                self.cond.at(state)
            for st in self.body:
                state = st.run(state, returns)
                if state is None:
                    break
                acc = {k: i_join(v, checked(state[k])) for k, v in acc.items()}
        return acc


# ------------------------------------------------------------------------ helpers


@dataclasses.dataclass
class Helper:
    name: str
    params: list
    shapes: list
    defaults: list  # (name, default, kind): kind "float" (in [0.1, 2]) or "int" (0..3)
    body: list
    rets: list  # returned expressions (two for a tuple-returning helper)

    def source(self):
        sig = ", ".join(self.params + [f"{n}={v!r}" for n, v, _ in self.defaults])
        ret = "    return " + ", ".join(e.code for e in self.rets)
        return "\n".join([f"def {self.name}({sig}):"] + block_lines(self.body, "    ") + [ret])

    def bounds(self, args, keywords):
        env = dict(zip(self.params, args))
        for name, default, kind in self.defaults:
            if kind == "float":
                env[name] = keywords.get(name, (default, default))
        returns = []
        env = run_block(self.body, env, returns)
        values = [e.at(env) for e in self.rets] if env is not None else []
        for r in returns:  # an early return gives the first value
            values = [i_join(values[0], r)] + values[1:] if values else [r]
        return values


@dataclasses.dataclass
class Call:
    helper: Helper
    args: list
    keywords: dict  # name -> (code, interval or None for an int)

    @property
    def code(self):
        parts = [a.code for a in self.args] + [f"{k}={c}" for k, (c, _) in self.keywords.items()]
        return f"{self.helper.name}({', '.join(parts)})"

    def bounds(self, env):
        keywords = {k: iv for k, (_, iv) in self.keywords.items() if iv is not None}
        return [checked(v) for v in self.helper.bounds([a.at(env) for a in self.args], keywords)]


# ---------------------------------------------------------------------- generator

MATH = {"tanh": "tanh", "sin": "sin", "cos": "cos", "arctan": "atan", "exp": "exp"}
SHAPES = [(), (3,), (2, 3), (2, 1), (1, 3), (3, 2)]
SHAPE_WEIGHTS = [0.1, 0.25, 0.25, 0.13, 0.12, 0.15]
RANGES = [(0.2, 1.5), (-1.5, 1.5)]  # where an argument's entries are drawn
CONSTANTS = [0.5, 2.0, 1.5, 0.3, 3.0, 0.1, 1.2, 0.7, 0.25, 4.0]


class Generator:
    """Random statements and expressions over a scope of named, shaped values."""

    def __init__(self, rng, helpers, depth=0):
        self.rng = rng
        self.helpers = helpers  # shared by f and its helpers (a helper calls earlier ones)
        self.depth = depth  # 0 in f, 1 in a helper, 2 in a helper's helper
        self.scope = {}  # name -> shape
        self.env = {}  # name -> interval
        self.loop_vars = {}  # name -> (lo, hi) of an int loop variable in scope
        self.int_params = {}  # name -> largest value
        self.loop_depth = 0
        self.nesting = 0  # if/loop nesting
        self.carried = []  # names the innermost loop body updates
        self.last_fresh = None  # the name the last statement bound to a new array
        self.counter = itertools.count(1)
        self.returns = None  # shape of f's early returns, if they are allowed here
        self.budget = [0]  # statements left to generate, shared with the helpers
        self.constants = {}  # module-level constants: name -> (shape, code, interval)

    # -- random choices
    def choice(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def coin(self, p):
        return self.rng.random() < p

    def randint(self, lo, hi):
        return int(self.rng.integers(lo, hi + 1))

    def fresh(self, base="v"):
        return f"{base}{next(self.counter)}"

    def snapshot(self):
        return dict(self.scope), dict(self.env), dict(self.loop_vars), self.last_fresh

    def restore(self, snap):
        self.scope, self.env, self.loop_vars = dict(snap[0]), dict(snap[1]), dict(snap[2])
        self.last_fresh = snap[3]

    # -- leaves
    def var(self, name):
        return Expr(name, self.scope[name], lambda env: env[name])

    def leaf(self, pred=None):
        """A variable (recent ones more likely) whose shape satisfies pred, or now and
        then a module-level constant."""
        constants = [n for n, (s, _, _) in self.constants.items() if pred is None or pred(s)]
        if constants and self.coin(0.1):
            name = self.choice(constants)
            shape, _, iv = self.constants[name]
            return Expr(name, shape, lambda env: iv)
        names = [n for n, s in self.scope.items() if pred is None or pred(s)]
        return self.var(self.recent(names)) if names else None

    def name(self):
        """A variable in scope."""
        return self.recent(list(self.scope))

    def recent(self, names):
        """One of `names`, the later (more recently defined) ones more likely."""
        w = np.arange(1, len(names) + 1, dtype=float)
        return names[self.rng.choice(len(names), p=w / w.sum())]

    def const(self):
        if self.loop_vars and self.coin(0.25):
            name, (lo, hi) = self.choice(list(self.loop_vars.items()))
            return Expr(f"0.1 * {name}", (), lambda env: (0.1 * lo, 0.1 * hi), PRODUCT)
        c = self.choice(CONSTANTS)
        return Expr(repr(c), (), lambda env: (c, c))

    # -- expressions
    def expr(self, depth=2, pred=None):
        """A random expression safe in the current environment (None after 30 tries)."""
        for _ in range(30):
            try:
                e = self._expr(depth)
                if e is not None and (pred is None or pred(e.shape)):
                    e.at(self.env)
                    return e
            except Unsafe:
                pass
        return None

    def _expr(self, depth):
        if depth <= 0:
            return (self.leaf() or self.const()) if self.coin(0.9) else self.const()
        k = self.rng.random()
        if k < 0.30:
            return self.unary(self.sub(depth))
        if k < 0.60:
            return self.binary(depth)
        if k < 0.72:
            return self.reduction(depth)
        if k < 0.85:
            return self.structural(depth)
        if k < 0.93:
            return self.matmul(depth)
        if k < 0.97 and self.depth < 2:
            return self.call(depth)
        return self.ifexp(depth)

    def sub(self, depth):
        return self._expr(depth - 1) if self.coin(0.6) else (self.leaf() or self.const())

    def unary(self, a):
        if a is None:
            return None
        lo, hi = a.at(self.env)
        A, s = a.code, a.shape

        def ufunc(code, bound):  # a new array, of a's shape
            return Expr(code, s, bound, ATOM, True)

        op = self.choice(["tanh", "sin", "cos", "abs", "neg", "square", "exp", "log", "sqrt",
                          "pow", "recip", "clip", "log1p", "expm1", "arctan", "sigmoid",
                          "cube", "sinh", "tan", "arcsin", "sign"])
        if s == () and op in MATH and self.coin(0.3) and not (op == "exp" and hi > 4):
            fn = {"tanh": math.tanh, "arctan": math.atan, "exp": math.exp}.get(op)  # math.sin(a)
            bound = (lambda env: increasing(fn)(a.at(env))) if fn else \
                within(a, (-1.0, 1.0))
            return ufunc(f"math.{MATH[op]}({A})", bound)
        if op == "tanh":
            return ufunc(f"np.tanh({A})", lambda env: increasing(math.tanh)(a.at(env)))
        if op == "arctan":
            return ufunc(f"np.arctan({A})", lambda env: increasing(math.atan)(a.at(env)))
        if op in ("sin", "cos"):
            return ufunc(f"np.{op}({A})", within(a, (-1.0, 1.0)))
        if op == "tan":  # of a number in [-1, 1]
            return ufunc(f"np.tan(np.tanh({A}))", within(a, (-1.56, 1.56)))
        if op == "arcsin":
            fn = self.choice(["np.arcsin", "np.arccos"])
            return ufunc(f"{fn}(0.9 * np.tanh({A}))", within(a, (-1.6, 3.0)))
        if op == "sign":
            fn = self.choice(["np.sign", "np.negative"])
            return ufunc(f"{fn}({A})", within(a, (-1.0, 1.0)) if fn == "np.sign" else
                        lambda env: i_neg(a.at(env)))
        if op == "abs":
            fn = self.choice(["np.abs", "np.abs", "np.absolute"])
            return ufunc(f"{fn}({A})", lambda env: i_abs(a.at(env)))
        if op == "neg":
            return Expr(f"-{a.p(UNARY)}", s, lambda env: i_neg(a.at(env)), UNARY, True)
        if op == "square":
            if self.coin(0.5):
                return ufunc(f"np.square({A})", lambda env: i_square(a.at(env)))
            return Expr(f"{a.p(ATOM)} ** 2", s, lambda env: i_square(a.at(env)), POWER, True)
        if op == "cube":
            return Expr(f"{a.p(ATOM)} ** 3", s,
                        lambda env: increasing(lambda t: t ** 3)(a.at(env)), POWER, True)
        if op == "exp":
            if hi > 4:
                return ufunc(f"np.exp(np.tanh({A}))",
                            lambda env: increasing(lambda t: math.exp(math.tanh(t)))(a.at(env)))
            return ufunc(f"np.exp({A})", lambda env: increasing(math.exp)(a.at(env)))
        if op == "sinh":
            if self.coin(0.5):
                return ufunc(f"np.cosh({A})", lambda env: (1.0, math.cosh(i_abs(a.at(env))[1])))
            return ufunc(f"np.sinh({A})", lambda env: increasing(math.sinh)(a.at(env)))
        if op == "expm1":
            return ufunc(f"np.expm1({A})", lambda env: increasing(math.expm1)(a.at(env)))
        if op == "log1p":
            if lo > -0.8:
                def bound(env):
                    iv = a.at(env)
                    if iv[0] <= -0.85:
                        raise Unsafe
                    return increasing(math.log1p)(iv)
                return ufunc(f"np.log1p({A})", bound)
            return ufunc(f"np.log1p({a.p(ATOM)} ** 2)",
                        lambda env: increasing(math.log1p)(i_square(a.at(env))))
        if op == "log":
            if lo > 0.1:
                fn, scale = self.choice([("np.log", 1.0), ("np.log", 1.0),
                                         ("np.log2", 1 / math.log(2)),
                                         ("np.log10", 1 / math.log(10))])

                def bound(env):
                    iv = a.at(env)
                    if iv[0] <= 0.05:
                        raise Unsafe
                    return math.log(iv[0]) * scale, math.log(iv[1]) * scale
                return ufunc(f"{fn}({A})", bound)
            if self.coin(0.5):
                return ufunc(f"np.log(1.0 + {a.p(ATOM)} ** 2)",
                            lambda env: increasing(math.log1p)(i_square(a.at(env))))
            return ufunc(f"np.log(np.abs({A}) + 0.5)",
                        lambda env: increasing(lambda t: math.log(t + 0.5))(i_abs(a.at(env))))
        if op == "sqrt":
            if lo > 0.1:
                def bound(env):
                    iv = a.at(env)
                    if iv[0] <= 0.05:
                        raise Unsafe
                    return increasing(math.sqrt)(iv)
                return ufunc(f"np.sqrt({A})", bound)
            return ufunc(f"np.sqrt({a.p(ATOM)} ** 2 + 0.5)",
                        lambda env: increasing(lambda t: math.sqrt(t + 0.5))(i_square(a.at(env))))
        if op == "pow":
            if lo > 0.1:
                p = self.choice([0.5, 1.5, -0.5, 2.5, -1.0])
                if self.coin(0.3):
                    return ufunc(f"np.power({A}, {p})", lambda env: i_power(a.at(env), p))
                exponent = repr(p) if p > 0 else f"({p})"
                return Expr(f"{a.p(ATOM)} ** {exponent}", s, lambda env: i_power(a.at(env), p),
                            POWER, True)
            return Expr(f"2.0 ** {a.p(UNARY)}", s,
                        lambda env: increasing(lambda t: 2.0 ** t)(a.at(env)), POWER, True)
        if op == "recip":
            if lo > 0.2 or hi < -0.2:
                if self.coin(0.3):
                    return ufunc(f"np.reciprocal({A})", lambda env: i_div((1.0, 1.0), a.at(env)))
                return Expr(f"1.0 / {a.p(POWER)}", s, lambda env: i_div((1.0, 1.0), a.at(env)),
                            PRODUCT, True)
            return Expr(f"1.0 / (1.0 + {a.p(ATOM)} ** 2)", s,
                        lambda env: i_div((1.0, 1.0), i_add((1.0, 1.0), i_square(a.at(env)))),
                        PRODUCT, True)
        if op == "sigmoid":
            return Expr(f"1.0 / (1.0 + np.exp(-{a.p(UNARY)}))", s,
                        lambda env: increasing(lambda t: 1 / (1 + math.exp(-t)))(a.at(env)),
                        PRODUCT, True)
        # clip between two bounds inside the current range, so that it clips sometimes
        c1 = round(lo + (hi - lo) * self.rng.uniform(0.0, 0.4), 2)
        c2 = round(lo + (hi - lo) * self.rng.uniform(0.6, 1.0), 2)
        c2 = c2 if c2 > c1 else c1 + 0.5
        def clipped(env):
            lo, hi = a.at(env)
            return min(max(lo, c1), c2), max(min(hi, c2), c1)
        return ufunc(f"np.clip({A}, {c1}, {c2})", clipped)

    def binary(self, depth):
        a = self.sub(depth)
        if a is None:
            return None
        b = None
        for _ in range(5):
            b = self.sub(depth) if self.coin(0.5) else \
                (self.leaf(lambda s: bshape(a.shape, s) is not None) or self.const())
            if b is not None and bshape(a.shape, b.shape) is not None:
                break
            b = None
        b = b or self.const()
        if self.coin(0.5):
            a, b = b, a
        shape = bshape(a.shape, b.shape)
        op = self.choice(["+", "-", "*", "/", "**", "max", "min", "where", "+", "*", "-"])
        if op == "+":
            return Expr(f"{a.p(SUM)} + {b.p(SUM + 1)}", shape,
                        lambda env: i_add(a.at(env), b.at(env)), SUM, True)
        if op == "-":
            return Expr(f"{a.p(SUM)} - {b.p(SUM + 1)}", shape,
                        lambda env: i_sub(a.at(env), b.at(env)), SUM, True)
        if op == "/":
            blo, bhi = b.at(self.env)
            if blo > 0.2 or bhi < -0.2:
                return Expr(f"{a.p(PRODUCT)} / {b.p(UNARY)}", shape,
                            lambda env: i_div(a.at(env), b.at(env)), PRODUCT, True)
            return Expr(f"{a.p(PRODUCT)} / (1.0 + {b.p(ATOM)} ** 2)", shape,
                        lambda env: i_div(a.at(env), i_add((1.0, 1.0), i_square(b.at(env)))),
                        PRODUCT, True)
        if op == "**":
            (alo, ahi), (blo, bhi) = a.at(self.env), b.at(self.env)
            if alo > 0.1 and max(-blo, bhi) <= 3 and ahi < 20:
                def bound(env):
                    (l, h), (bl, bh) = a.at(env), b.at(env)
                    if l <= 0.05 or max(-bl, bh) > 4 or h > 30:
                        raise Unsafe
                    v = (l ** bl, l ** bh, h ** bl, h ** bh)
                    return min(v), max(v)
                if self.coin(0.3):
                    return Expr(f"np.power({a.code}, {b.code})", shape, bound, ATOM, True)
                return Expr(f"{a.p(ATOM)} ** {b.p(UNARY)}", shape, bound, POWER, True)
            op = "*"
        if op == "*":
            return Expr(f"{a.p(PRODUCT)} * {b.p(UNARY)}", shape,
                        lambda env: i_mul(a.at(env), b.at(env)), PRODUCT, True)
        if op in ("max", "min"):
            pick = max if op == "max" else min
            return Expr(f"np.{op}imum({a.code}, {b.code})", shape,
                        lambda env: (lambda x, y: (pick(x[0], y[0]), pick(x[1], y[1])))(
                            a.at(env), b.at(env)), ATOM, True)
        # where: on a comparison of a variable with a threshold in its range, or of a and b
        c = self.leaf(lambda s: bshape(s, shape) is not None) or a
        clo, chi = c.at(self.env)
        cond = f"{c.p(SUM)} {self.choice(['>', '<', '>='])} {round(self.rng.uniform(clo, chi), 2)}"
        if self.coin(0.3):
            cond, c = f"{a.p(SUM)} > {b.p(SUM)}", a
        return Expr(f"np.where({cond}, {a.code}, {b.code})", bshape(shape, c.shape),
                    lambda env: (c.at(env), i_join(a.at(env), b.at(env)))[1], ATOM, True)

    def reduction(self, depth):
        a = self.sub(depth)
        if a is None or not a.shape:
            a = self.leaf(lambda s: len(s) > 0)
            if a is None:
                return None
        nd = len(a.shape)
        op = self.choice(["sum", "sum", "mean", "mean", "prod", "max", "min", "var", "std", "norm"])
        if op == "norm":
            if nd > 2:
                return None
            n = size(a.shape)
            return Expr(f"np.linalg.norm({a.code})", (),
                        lambda env: (0.0, math.sqrt(n) * max(map(abs, a.at(env)))), ATOM, True)
        axis, keep = None, False
        if self.coin(0.6):
            axis = self.choice([(0, 1), (1, 0), (0, -1)]) if nd == 2 and self.coin(0.2) \
                else self.choice(list(range(nd)) + [-1])
            keep = self.coin(0.4)
        axes = range(nd) if axis is None else [x % nd for x in np.atleast_1d(axis)]
        n = size([a.shape[i] for i in axes])
        shape = tuple(1 if i in axes else s for i, s in enumerate(a.shape)) if keep else \
            tuple(s for i, s in enumerate(a.shape) if i not in axes)
        options = "" if axis is None else f"axis={axis}"
        options += ", keepdims=True" if keep else ""
        if op == "sum":
            bound = lambda env: i_sum(a.at(env), n)  # noqa: E731
        elif op in ("mean", "max", "min"):
            bound = a.at
        elif op == "prod":
            def bound(env):
                lo, hi = a.at(env)
                if lo >= 0:
                    return lo ** n, hi ** n
                m = max(-lo, hi) ** n
                return -m, m
        else:  # var, std
            if n < 2:
                return None
            ddof = 1 if self.coin(0.3) else 0
            options += ", ddof=1" if ddof else ""
            factor = n / (n - ddof)
            root = 0.5 if op == "std" else 1.0

            def bound(env):
                lo, hi = a.at(env)
                return 0.0, ((hi - lo) ** 2 * factor) ** root
        options = options.lstrip(", ")
        if op not in ("var", "std") and a.prec == ATOM and self.coin(0.2):
            return Expr(f"{a.code}.{op}({options})", shape, bound, ATOM, True)
        arguments = ", ".join(filter(None, [a.code, options]))
        return Expr(f"np.{op}({arguments})", shape, bound, ATOM, True)

    def structural(self, depth):
        a = self.sub(depth) if self.coin(0.5) else self.leaf(lambda s: len(s) > 0)
        if a is None:
            return None
        s, A = a.shape, a.p(ATOM)
        ops = {0: ["reshape0"],
               1: ["reshape", "index", "slice1", "fancy", "expand", "outer", "diag1", "concat",
                   "stack", "none_index"],
               2: ["T", "transpose", "reshape", "index", "slice2", "column", "ravel", "trace",
                   "squeeze", "fancy", "expand", "ellipsis", "diag2", "concat", "stack",
                   "fancy2"]}.get(len(s), ["T", "transpose", "reshape", "index", "ravel",
                                           "squeeze", "ellipsis", "fancy"])
        op = self.choice(ops)

        def view(code, shape):  # same values as a
            return Expr(code, shape, a.at)

        if op == "T":
            return view(f"{A}.T", s[::-1])
        if op == "transpose":
            return view(f"np.transpose({a.code})", s[::-1])
        if op == "reshape":
            n = size(s)
            t = self.choice([(n,), (-1,), (1, n), (n, 1)] +
                            [(d, n // d) for d in range(2, n) if n % d == 0])
            shape = (n,) if t == (-1,) else t
            if self.coin(0.5):
                return view(f"{A}.reshape({t if len(t) > 1 else t[0]})", shape)
            return view(f"np.reshape({a.code}, {t if len(t) > 1 else t[0]})", shape)
        if op == "reshape0":
            return view(f"np.reshape({a.code}, (1,))", (1,))
        if op == "index":
            loop_vars = [v for v, (_, hi) in self.loop_vars.items() if hi < s[0]]
            if loop_vars and self.coin(0.5):
                return view(f"{A}[{self.choice(loop_vars)}]", s[1:])
            i = self.randint(-s[0], s[0] - 1)
            if len(s) == 2 and self.coin(0.3):
                return view(f"{A}[{i}, {self.randint(0, s[1] - 1)}]", ())
            return view(f"{A}[{i}]", s[1:])
        if op in ("slice1", "slice2"):
            sl = self.choice(["1:", ":2", "1:3", "::2", "::-1", "-2:"] if op == "slice1" else
                             [":, 1:", "1:, :", ":, :2", ":1", ":, ::-1", "-1:, 1:", ":, -1"])
            shape = np.zeros(s)[eval(f"np.s_[{sl}]")].shape
            return None if 0 in shape else view(f"{A}[{sl}]", shape)
        if op == "column":
            return view(f"{A}[:, {self.randint(-s[1], s[1] - 1)}]", (s[0],))
        if op == "ellipsis":
            return view(f"{A}[..., {self.randint(0, s[-1] - 1)}]", s[:-1])
        if op == "none_index":
            return view(f"{A}[:, None]", (s[0], 1)) if self.coin(0.5) else \
                view(f"{A}[None, :]", (1, s[0]))
        if op == "ravel":
            return view(f"np.ravel({a.code})", (size(s),))
        if op == "trace":
            k = min(s)
            return Expr(f"np.trace({a.code})", (), lambda env: i_sum(a.at(env), k), ATOM, True)
        if op == "diag2":
            return view(f"np.diag({a.code})", (min(s),))
        if op == "diag1":
            return Expr(f"np.diag({a.code})", (s[0], s[0]),
                        lambda env: i_join(a.at(env), (0.0, 0.0)), ATOM, True)
        if op == "squeeze":
            if 1 not in s:
                return None
            if self.coin(0.5):
                ax = s.index(1)
                return view(f"np.squeeze({a.code}, axis={ax})", s[:ax] + s[ax + 1:])
            return view(f"np.squeeze({a.code})", tuple(x for x in s if x != 1))
        if op == "expand":
            ax = self.randint(0, len(s))
            return view(f"np.expand_dims({a.code}, {ax})", s[:ax] + (1,) + s[ax:])
        if op == "fancy":
            idx = [self.randint(0, s[0] - 1) for _ in range(self.randint(1, 3))]
            code = f"{A}[{idx}]" if self.coin(0.5) else f"{A}[np.array({idx})]"
            return Expr(code, (len(idx),) + s[1:], a.at, ATOM, True)
        if op == "fancy2":
            k = self.randint(1, 3)
            rows = [self.randint(0, s[0] - 1) for _ in range(k)]
            cols = [self.randint(0, s[1] - 1) for _ in range(k)]
            return Expr(f"{A}[{rows}, {cols}]", (k,), a.at, ATOM, True)
        if op == "outer":
            b = self.leaf(lambda t: len(t) == 1)
            if b is None:
                return None
            return Expr(f"np.outer({a.code}, {b.code})", (s[0], b.shape[0]),
                        lambda env: i_mul(a.at(env), b.at(env)), ATOM, True)
        b = (self.leaf(lambda t: t == s) if self.coin(0.7) else None) or a
        if op == "concat":
            ax = self.randint(0, len(s) - 1)
            shape = tuple(x * 2 if i == ax else x for i, x in enumerate(s))
            return Expr(f"np.concatenate([{a.code}, {b.code}], axis={ax})", shape,
                        lambda env: i_join(a.at(env), b.at(env)), ATOM, True)
        ax = self.randint(0, len(s))
        return Expr(f"np.stack([{a.code}, {b.code}], axis={ax})", s[:ax] + (2,) + s[ax:],
                    lambda env: i_join(a.at(env), b.at(env)), ATOM, True)

    def matmul(self, depth):
        a = self.sub(depth) if self.coin(0.4) else self.leaf(lambda s: len(s) in (1, 2))
        if a is None or len(a.shape) not in (1, 2):
            return None
        k = a.shape[-1]
        b = self.leaf(lambda s: len(s) in (1, 2) and s[0] == k)
        if b is None:
            b = self.leaf(lambda s: len(s) == 2 and s[1] == k)
            if b is None:
                return None
            b = Expr(f"{b.code}.T", b.shape[::-1], b.at)
        shape = a.shape[:-1] + b.shape[1:]
        form = self.choice(["@", "@", "np.matmul", "np.dot"])
        bound = lambda env: i_sum(i_mul(a.at(env), b.at(env)), k)  # noqa: E731
        if form == "@":
            return Expr(f"{a.p(PRODUCT)} @ {b.p(UNARY)}", shape, bound, PRODUCT, True)
        return Expr(f"{form}({a.code}, {b.code})", shape, bound, ATOM, True)

    def cond(self):
        """A scalar condition: a reduction of a variable against a threshold in its range."""
        a = self.leaf()
        if a is None:
            return None
        n = size(a.shape)
        form = "" if not a.shape else \
            self.choice(["np.sum", "np.mean", "np.max", "np.min", "sum", "method"])
        if form == "":
            code, bound = a.code, a.at
        elif form in ("sum", "method"):
            code = f"np.sum({a.code})" if form == "sum" else f"{a.code}.sum()"
            bound = lambda env: i_sum(a.at(env), n)  # noqa: E731
        else:
            code, bound = f"{form}({a.code})", a.at
        lo, hi = bound(self.env)
        code = f"{code} {self.choice(['>', '<', '>=', '<='])} {self.threshold(lo, hi)}"
        other = self.leaf() if self.coin(0.15) else None
        if other is not None:
            olo, ohi = other.at(self.env)
            ocode = f"np.mean({other.code})" if other.shape else other.code
            code = f"({code}) {self.choice(['&', '|'])} ({ocode} > {self.threshold(olo, ohi)})"
        return Expr(code, (), lambda env: (bound(env), (0.0, 1.0))[1], COMPARE)

    def threshold(self, lo, hi):
        return round(float(self.rng.uniform(lo, hi)), 2)

    def ifexp(self, depth):
        a = self.sub(depth)
        if a is None:
            return None
        b = self.leaf(lambda s: s == a.shape)
        if b is None or self.coin(0.3):
            b = Expr(f"np.tanh({a.code})", a.shape, lambda env: increasing(math.tanh)(a.at(env)))
        c = self.cond()
        if c is None:
            return None
        return Expr(f"{a.p(TERNARY + 1)} if {c.code} else {b.p(TERNARY)}", a.shape,
                    lambda env: (c.at(env), i_join(a.at(env), b.at(env)))[1], TERNARY)

    def call(self, depth):
        """A call of a (new or earlier) helper returning one value."""
        helpers = [h for h in self.helpers if len(h.rets) == 1]
        h = self.choice(helpers) if helpers and self.coin(0.5) else self.make_helper()
        if h is None or len(h.rets) != 1:
            return None
        call = self.call_of(h, depth)
        if call is None:
            return None
        call.bounds(self.env)
        # fresh only if the helper returns a new array: `return a.T` is a view of an argument
        return Expr(call.code, h.rets[0].shape, lambda env: call.bounds(env)[0], ATOM,
                    h.rets[0].fresh)

    def call_of(self, h, depth=1):
        args = []
        for s in h.shapes:
            a = (self.expr(depth - 1, lambda t: t == s) if self.coin(0.3) else None) or \
                self.leaf(lambda t: t == s)
            if a is None:
                return None
            args.append(a)
        keywords = {}
        for name, _, kind in h.defaults:
            if self.coin(0.5):
                value = self.randint(0, 3) if kind == "int" else self.threshold(0.1, 2.0)
                keywords[name] = (repr(value), None if kind == "int" else (value, value))
        return Call(h, args, keywords)

    def make_helper(self, tuple_return=False):
        if len(self.helpers) >= 3 or not self.scope:
            return None
        chosen = [self.choice(list(self.scope)) for _ in range(self.randint(1, 2))]
        g = Generator(self.rng, self.helpers, self.depth + 1)
        g.budget, g.constants = self.budget, self.constants
        params = ["a", "b"][:len(chosen)]
        for p, c in zip(params, chosen):
            g.scope[p], g.env[p] = self.scope[c], self.env[c]
        defaults = []
        if self.coin(0.7):
            defaults.append(("scale", self.choice([0.5, 0.3, 1.0, 2.0]), "float"))
            g.scope["scale"], g.env["scale"] = (), (0.1, 2.0)
        if self.coin(0.3):
            defaults.append(("n", self.randint(0, 3), "int"))
            g.int_params["n"] = 3
        if not tuple_return and self.coin(0.5):  # early returns of the first argument's shape
            g.returns = g.scope["a"]
        body = g.block(self.randint(1, 3))
        if g.returns is not None:
            rets = [g.coerce(g.returns)]
        else:
            rets = [g.expr(2) for _ in range(2 if tuple_return else 1)]
        if None in rets:
            return None
        h = Helper(f"helper{len(self.helpers)}", params, [self.scope[c] for c in chosen],
                   defaults, body, rets)
        try:  # with the defaults and with the extreme keyword values
            h.bounds([self.env[c] for c in chosen], {})
            h.bounds([self.env[c] for c in chosen],
                     {n: (0.1, 2.0) for n, _, k in defaults if k == "float"})
        except Unsafe:
            return None
        self.helpers.append(h)
        return h

    def coerce(self, shape):
        """An expression of exactly this shape."""
        for _ in range(20):
            e = self.expr(2)
            if e is None:
                continue
            if e.shape == shape:
                return e
            reduced = Expr(f"np.mean({e.code})", (), e.at, ATOM, True) if e.shape else e
            if shape == ():
                return reduced
            base = self.leaf(lambda s: s == shape)
            if base is not None and bshape(e.shape, shape) == shape:
                r = Expr(f"{base.p(PRODUCT)} * 0.5 + {e.p(SUM + 1)}", shape,
                         lambda env, e=e, b=base: i_add(i_mul(b.at(env), (0.5, 0.5)), e.at(env)),
                         SUM, True)
            elif base is not None:
                r = Expr(f"{base.p(PRODUCT)} * {reduced.p(UNARY)}", shape,
                         lambda env, r=reduced, b=base: i_mul(b.at(env), r.at(env)), PRODUCT, True)
            else:
                r = Expr(f"{reduced.p(SUM)} + np.zeros({shape})", shape, reduced.at, SUM, True)
            try:
                r.at(self.env)
                return r
            except Unsafe:
                continue
        return None

    def update(self, name):
        """A new value for `name`, of its shape, in a form that keeps loops bounded."""
        s, v = self.scope[name], self.var(name)
        form = self.choice(["tanh", "contract", "add_small", "free", "mul"])
        for _ in range(10):
            e = self.expr(2, lambda t: t == s) if form == "free" else self.coerce(s)
            if e is None:
                continue
            if form == "tanh":
                r = Expr(f"np.tanh({name} + {e.p(SUM + 1)})", s,
                         lambda env, e=e: increasing(math.tanh)(i_add(v.at(env), e.at(env))),
                         ATOM, True)
            elif form == "contract":
                r = Expr(f"0.5 * {name} + 0.5 * np.sin({e.code})", s,
                         lambda env, e=e: i_add(i_mul((0.5, 0.5), v.at(env)),
                                                within(e, (-0.5, 0.5))(env)), SUM, True)
            elif form == "add_small":
                r = Expr(f"{name} + 0.1 * {e.p(UNARY)}", s,
                         lambda env, e=e: i_add(v.at(env), i_mul((0.1, 0.1), e.at(env))), SUM, True)
            elif form == "mul":
                r = Expr(f"{name} * np.cos({e.code})", s,
                         lambda env, e=e: i_mul(v.at(env), within(e, (-1.0, 1.0))(env)),
                         PRODUCT, True)
            else:
                r = e
            try:
                r.at(self.env)
                return r
            except Unsafe:
                continue
        return None

    # -- statements
    def block(self, n):
        stmts = []
        self.last_fresh = None  # `v += ...` only right after `v = <new array>`, in one block
        for _ in range(n * 6):
            if len(stmts) >= n or self.budget[0] <= 0:
                break
            snap = self.snapshot()
            try:
                st = self.statement()
            except Unsafe:
                st = None
            if st is None:
                self.restore(snap)
                continue
            stmts.append(st)
            self.budget[0] -= 1
            self.last_fresh = st.targets[0] if isinstance(st, Assign) and len(st.targets) == 1 \
                and st.exprs[0].fresh else None
        return stmts

    def bind(self, st):
        """Apply a generated statement to the environment."""
        env = st.run(self.env, [])
        if env is None:
            raise Unsafe  # every path returns: nothing after it would run
        self.env = env
        return st

    def statement(self):
        k = self.rng.random()
        if self.carried and k < 0.5:
            name = self.choice(self.carried)
            e = self.update(name)
            return None if e is None else self.bind(Assign([name], [e]))
        if k < 0.45 or (self.loop_depth >= 2 and k < 0.8):
            e = self.expr(self.randint(1, 3))
            if e is None:
                return None
            # a new name, or (outside loops) an existing one, maybe with another shape
            name = self.name() if self.scope and self.loop_depth == 0 and self.coin(0.12) \
                else self.fresh()
            self.scope[name] = e.shape
            return self.bind(Assign([name], [e]))
        if k < 0.52:
            name = self.last_fresh
            if name is None or name not in self.scope:
                return None
            s = self.scope[name]
            e = self.expr(1, lambda t: bshape(t, s) == s)
            if e is None:
                return None
            op = self.choice(["+", "-", "*"])
            if op == "*":  # keep repeated products bounded
                e = Expr(f"np.cos({e.code})", e.shape, within(e, (-1.0, 1.0)))
            return self.bind(AugAssign(name, op, e))
        if k < 0.54:  # unpack an array along its first axis: p, q = v
            a = self.leaf(lambda s: len(s) >= 1 and s[0] in (2, 3))
            if a is None:
                return None
            names = [self.fresh() for _ in range(a.shape[0])]
            for n in names:
                self.scope[n] = a.shape[1:]
            return self.bind(Unpack(names, a))
        if k < 0.57:
            a, b = self.expr(1), self.expr(1)
            if a is None or b is None:
                return None
            n1, n2 = self.fresh(), self.fresh()
            self.scope[n1], self.scope[n2] = a.shape, b.shape
            return self.bind(Assign([n1, n2], [a, b]))
        if k < 0.575 and self.depth < 2:
            h = self.make_helper(tuple_return=True)
            call = self.call_of(h) if h is not None else None
            if call is None:
                return None
            n1, n2 = self.fresh(), self.fresh()
            self.scope[n1], self.scope[n2] = h.rets[0].shape, h.rets[1].shape
            return self.bind(CallAssign([n1, n2], call))
        if k < 0.61:  # data minus a smaller value broadcast along it (x - mu): differentiated
            # for mu alone, its adjoint is only ever summed back to mu's shape
            a = self.leaf(lambda s: len(s) >= 1)
            small = [n for n, s in self.scope.items() if a is not None and s != a.shape and
                     len(s) >= 1 and bshape(a.shape, s) == a.shape]
            if not small:
                return None
            b = self.var(self.recent(small))
            name = self.fresh()
            self.scope[name] = a.shape
            return self.bind(Assign([name], [Expr(
                f"{a.p(SUM)} - {b.p(SUM + 1)}", a.shape,
                lambda env: i_sub(a.at(env), b.at(env)), SUM, True)]))
        if k < 0.75:
            return self.if_stmt()
        if k < 0.92:
            return self.for_stmt()
        return self.while_stmt()

    def if_stmt(self):
        if self.nesting >= 3 or not self.scope:
            return None
        conds = [self.cond()]
        if self.coin(0.3):
            conds.append(self.cond())
        if None in conds:
            return None
        has_else = self.coin(0.7)
        # names bound in every branch: a new one (needs an else) and an updated one
        outputs = [(self.fresh(), self.choice(list(self.scope.values())))] \
            if has_else and self.coin(0.7) else []
        updated = [self.choice(self.carried or list(self.scope))] if self.coin(0.6) else []
        early = self.returns is not None and self.coin(0.15)
        before = self.snapshot()
        blocks, shapes = [], []  # the statements and the final scope of each branch
        self.nesting += 1
        try:
            for k in range(len(conds) + has_else):
                self.restore(before)
                stmts = self.block(self.randint(0, 2))
                for name in updated:
                    e = self.update(name) if name in self.scope else None
                    if e is None:
                        return None
                    stmts.append(self.bind(Assign([name], [e])))
                for name, shape in outputs:
                    e = self.coerce(shape)
                    if e is None:
                        return None
                    self.scope[name] = shape
                    stmts.append(self.bind(Assign([name], [e])))
                if early and k == 0:
                    e = self.coerce(self.returns)
                    if e is None:
                        return None
                    stmts.append(Return(e))
                blocks.append(stmts)
                shapes.append(dict(self.scope))
        finally:
            self.nesting -= 1
        self.restore(before)
        for name, shape in outputs:
            self.scope[name] = shape
        for name in list(self.scope):  # rebound with another shape in some branch
            if any(s.get(name, self.scope[name]) != self.scope[name] for s in shapes):
                del self.scope[name]
        return self.bind(If(conds, blocks))

    def loop_body(self, carried, n):
        saved = self.carried, self.scope.copy()
        self.carried = carried
        self.loop_depth += 1
        self.nesting += 1
        try:
            return self.block(n)
        finally:
            self.loop_depth -= 1
            self.nesting -= 1
            self.carried = saved[0]
            self.scope = {k: v for k, v in self.scope.items() if k in saved[1]}

    def for_stmt(self):
        if self.loop_depth >= 2 or self.nesting >= 3 or not self.scope:
            return None
        before = self.snapshot()
        carried = list(dict.fromkeys(self.name() for _ in range(self.randint(1, 2))))
        trips = self.randint(0, 4)
        var = "i" if self.loop_depth == 0 else "i1"
        kind = self.rng.random()
        head, bind, seq_var = f"for {var} in range({trips}):", None, None
        lo, hi = 0, trips - 1
        if kind < 0.15 and self.int_params:
            name, trips = next(iter(self.int_params.items()))
            head, hi = f"for {var} in range({name}):", trips - 1
        elif kind < 0.25:
            arrays = [n for n, s in self.scope.items() if s]
            if arrays:
                name = self.choice(arrays)
                trips = self.scope[name][0]
                head, hi = f"for {var} in range({name}.shape[0]):", trips - 1
        elif kind < 0.33 and trips > 0:
            head, lo, hi = f"for {var} in range(1, {trips + 1}):", 1, trips
        elif kind > 0.9:  # over a tuple of same-shape values
            shape = self.scope[carried[0]]
            same = [n for n, s in self.scope.items() if s == shape]
            seq = [self.choice(same) for _ in range(self.randint(1, 3))]
            seq_var = var = "t" if self.loop_depth == 0 else "t1"
            head = f"for {var} in ({', '.join(seq)}{',' if len(seq) == 1 else ''}):"
            trips = len(seq)
            bind = lambda env: join_envs([{var: env[q]} for q in seq])  # noqa: E731
            self.scope[var] = shape
            self.env |= bind(self.env)
        if seq_var is None:
            self.loop_vars[var] = (lo, max(hi, lo))
            bind = lambda env: {}  # noqa: E731
        jump = self.jump() if self.coin(0.3) else None
        body = self.loop_body(carried, self.randint(1, 3))
        if jump is not None:
            body = [jump] + body if self.coin(0.5) else body + [jump]
        self.restore(before)
        if not body:
            return None
        return self.bind(Loop([head], body, trips, bind))

    def while_stmt(self):
        if self.loop_depth >= 2 or self.nesting >= 3 or not self.scope:
            return None
        before = self.snapshot()
        carried = list(dict.fromkeys(self.name() for _ in range(2)))
        trips = self.randint(0, 4)
        counter = "j" if self.loop_depth == 0 else "j1"
        head = f"while {counter} < {trips}:"
        cond = self.cond() if self.coin(0.3) else None
        if cond is not None:
            head = f"while ({counter} < {trips}) & ({cond.code}):"
        jump = self.jump() if self.coin(0.3) else None
        body = [Raw(f"{counter} += 1" if self.coin(0.5) else f"{counter} = {counter} + 1")]
        body += self.loop_body(carried, self.randint(1, 2))
        if jump is not None:  # after the counter's increment: a continue must not skip it
            body.insert(self.randint(1, len(body)), jump)
        self.restore(before)
        return self.bind(Loop([f"{counter} = 0", head], body, trips, None, cond))

    def jump(self):
        c = self.cond()
        return None if c is None else Jump(c, self.choice(["break", "continue"]))


@dataclasses.dataclass
class Program:
    """A generated function `f` (and its helpers) with where to evaluate it."""
    seed: int
    source: str
    shapes: list  # of f's float arguments, in order
    ranges: list  # the interval each argument's entries are drawn from
    scalar: bool  # f returns a scalar

    @property
    def params(self):
        return ["x", "y", "z"][:len(self.shapes)]


def generate(seed, max_statements=16):
    """The program of this seed (deterministic; None in the rare case nothing fits),
    with 3 to `max_statements` statements (counting those in helpers and blocks)."""
    rng = np.random.default_rng(seed)
    helpers = []
    g = Generator(rng, helpers)
    nargs = g.randint(1, 3)
    shapes = [SHAPES[rng.choice(len(SHAPES), p=SHAPE_WEIGHTS)] for _ in range(nargs)]
    ranges = [g.choice(RANGES) for _ in range(nargs)]
    for name, shape, r in zip(["x", "y", "z"], shapes, ranges):
        g.scope[name], g.env[name] = shape, r
    int_param = g.coin(0.15)
    if int_param:
        g.int_params["n"] = 2
    header = ""
    if g.coin(0.3):  # module-level constants
        shape = g.choice(SHAPES[1:])
        values = np.round(rng.uniform(0.2, 1.5, size=shape), 2)
        g.constants["SCALE"] = ((), "0.7", (0.7, 0.7))
        g.constants["W"] = (shape, f"np.array({values.tolist()})", (0.2, 1.5))
        header = "".join(f"{n} = {code}\n" for n, (_, code, _) in g.constants.items()) + "\n\n"
    scalar = g.coin(0.75)
    g.returns = () if scalar else g.choice([s for s in SHAPES if s])
    g.budget = [g.randint(3, max(3, max_statements))]
    stmts = g.block(g.budget[0])
    ret = g.coerce(g.returns)
    if ret is None:
        return None
    other = g.leaf()
    if scalar and other is not None and g.coin(0.5):  # plus the mean of another value
        ocode = f"np.mean({other.code})" if other.shape else other.code
        ret = Expr(f"{ret.p(SUM)} + {ocode}", (),
                   lambda env, r=ret, o=other: i_add(r.at(env), o.at(env)), SUM)
    params = [p + (": float" if s == () and g.coin(0.3) else "")  # x: float is a scalar
              for p, s in zip(["x", "y", "z"], shapes)]
    params = ", ".join(params + (["n=2"] if int_param else []))
    body = block_lines(stmts + [Return(ret)], "    ")
    source = "import math\n\nimport numpy as np\n\n" + header + "\n"
    source += "".join(h.source() + "\n\n\n" for h in helpers)
    source += f"def f({params}):\n" + "\n".join(body) + "\n"
    return Program(seed, source, shapes, ranges, scalar)


# ----------------------------------------------------------------------- checking

_modules = itertools.count()


def load(program, directory):
    """Write the program to a file (s2s reads source) and import its function f."""
    name = f"fuzz_{program.seed}_{next(_modules)}"
    path = Path(directory) / f"{name}.py"
    path.write_text(program.source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module.f


def arguments(program):
    """f's arguments and a direction for each: drawn from the seed and shapes only, so
    a shrunk program is checked at the same point."""
    rng = np.random.default_rng([program.seed, 1])
    args, dirs = [], []
    for shape, (lo, hi) in zip(program.shapes, program.ranges):
        value = rng.uniform(lo, hi, size=shape)
        python_float = rng.random() < 0.6
        args.append((float(value) if python_float else np.float64(value)) if shape == () else value)
        d = rng.standard_normal(shape)
        dirs.append(float(d) if shape == () else d)
    return args, dirs, rng.standard_normal(16)


def _shifted(args, i, v, h):
    out = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    x = args[i]
    out[i] = x + h * v if isinstance(x, np.ndarray) else type(x)(x + h * v)
    return out


def _call(fn, args):
    return fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])


def _difference(fn, args, i, v, h, five_point=False):
    F = lambda t: np.asarray(_call(fn, _shifted(args, i, v, t)), dtype=float)  # noqa: E731
    if five_point:
        return (-F(2 * h) + 8 * F(h) - 8 * F(-h) + F(-2 * h)) / (12 * h)
    return (F(h) - F(-h)) / (2 * h)


def derivative_estimates(fn, args, i, v):
    """Two finite-difference estimates of fn's derivative at args along v (argument i)."""
    return _difference(fn, args, i, v, 1e-5), _difference(fn, args, i, v, 1e-3, five_point=True)


def judge(analytic, fine, coarse, scale):
    """'pass', 'fail', or 'kink' when the two estimates disagree (not smooth here)."""
    a, n, c = (np.asarray(t, dtype=float) for t in (analytic, fine, coarse))
    spread = np.abs(n - c)
    if not np.all(np.isfinite(n)) or np.any(spread > 1e-6 * np.abs(n) + 1e-8 * scale):
        return "kink"
    if a.shape == n.shape and np.all(
            np.abs(a - n) <= 1e-6 * np.maximum(np.abs(a), np.abs(n)) + 1e-8 * scale + 10 * spread):
        return "pass"
    return "fail"


def close(a, b, rtol=1e-7, atol=1e-10):
    """Same shape and values (NaN where the other is NaN too)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return False
    with np.errstate(invalid="ignore"):
        near = np.abs(a - b) <= rtol * np.maximum(np.abs(a), np.abs(b)) + atol
    return bool(np.all(near | (a == b) | (np.isnan(a) & np.isnan(b))))


def show(x):
    return np.array2string(np.asarray(x, dtype=float), precision=8, separator=", ")


SINGULAR = re.compile(r"np\.(std|linalg\.norm)\(")


@dataclasses.dataclass
class Finding:
    mode: str
    wrt: str
    kind: str  # wrong, crash, timeout, refused, suspect, pass, kink
    check: str = ""
    message: str = ""  # one line
    detail: str = ""

    @property
    def signature(self):
        """What two findings of the same bug share: numbers and names blanked out."""
        m = re.sub(r"<s2s [^>]*>", "<s2s>", self.message)
        m = re.sub(r"\S*fuzz_\d+_\d+\.py", "F.py", m)
        m = re.sub(r"'[^']*'", "'_'", m)
        m = re.sub(r"\d+", "#", m)
        return self.mode, self.kind, self.check, m if self.kind != "wrong" else ""


FAILURES = ("wrong", "crash", "timeout")


class Timeout(BaseException):
    """Out of time (a BaseException, so that no `except Exception` in s2s swallows it)."""


@contextlib.contextmanager
def deadline(seconds):
    """Raise Timeout after `seconds` (main thread on Unix; no limit elsewhere)."""
    if not seconds or not hasattr(signal, "SIGALRM"):
        yield
        return

    def handler(signum, frame):
        raise Timeout(f"no result after {seconds} s")
    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Checker:
    """The checks of one program at one point."""

    def __init__(self, program, directory):
        self.program, self.directory = program, directory
        self.f = self.shared = self.fresh()
        self.args, self.dirs, extra = arguments(program)
        self.out = np.asarray(_call(self.f, self.args), dtype=float)
        self.scale = 1.0 + float(np.max(np.abs(self.out)))
        u = np.resize(extra, self.out.shape)
        self.cotangent = float(u) if self.out.ndim == 0 else u

    def fresh(self):
        return load(self.program, self.directory)

    def run(self, mode, i, method=None):
        """Findings of one mode (the checker method of that name, or `method`) for
        argument i."""
        name, method = self.program.params[i], method or mode
        label = "" if method == mode else method.replace("_", " ")
        try:
            return [Finding(mode, name, *r) for r in getattr(self, method)(i)]
        except Timeout as e:
            return [Finding(mode, name, "timeout", label, str(e), _tail())]
        except s2s.DifferentiationError as e:
            kind = "suspect" if isinstance(e, s2s.InternalError) or \
                (e.filename or "").startswith("<s2s") else "refused"
            return [Finding(mode, name, kind, label, _first_line(e), _tail())]
        except Exception as e:  # noqa: BLE001 - any other exception is a failure
            return [Finding(mode, name, "crash", label, f"{type(e).__name__}: {_first_line(e)}",
                            _tail())]

    def _fd(self, fn, i, project=None):
        fine, coarse = derivative_estimates(fn, self.args, i, self.dirs[i])
        if project is not None:
            fine, coarse = project(fine), project(coarse)
        return fine, coarse

    def _compare(self, check, analytic, fine, coarse, scale):
        verdict = judge(analytic, fine, coarse, scale)
        singular = not np.all(np.isfinite(analytic)) and SINGULAR.search(self.program.source)
        if verdict == "fail" and singular:
            # sqrt'(0) = inf by convention: std or norm of equal values (np.std(x[[1, 1]]))
            # is constant, but its derivative by the chain rule is 0 * inf
            return [("kink", check)]
        if verdict == "fail":
            return [("wrong", check, f"{check}: s2s {show(analytic)} vs finite differences "
                                     f"{show(fine)} (five-point {show(coarse)})")]
        return [(verdict, check)]

    def _shape(self, check, got, want):
        if np.shape(got) != tuple(want):
            return [("wrong", check + " shape",
                     f"{check}: shape {np.shape(got)}, expected {tuple(want)}")]
        return []

    def grad(self, i):
        x, v, args = self.args[i], self.dirs[i], self.args
        if not self.program.scalar:  # reverse mode of a vector-valued f: the VJP
            u = self.cotangent
            g = s2s.vjp(self.f, wrt=i)(*args, u)
            bad = self._shape("vjp", g, np.shape(x))
            if bad:
                return bad
            fine, coarse = self._fd(self.f, i, lambda d: np.vdot(u, d))
            return self._compare("vjp", np.vdot(g, v), fine, coarse,
                                 self.scale * float(np.sum(np.abs(u))))
        g = s2s.grad(self.f, wrt=i)(*args)
        bad = self._shape("grad", g, np.shape(x))
        if bad:
            return bad
        fine, coarse = self._fd(self.f, i)
        found = self._compare("grad", np.vdot(g, v), fine, coarse, self.scale)
        # each gradient has its argument's dtype (README): float64, float32 for float32
        if np.asarray(g).dtype != np.float64:
            found.append(("wrong", "grad dtype", f"grad dtype {np.asarray(g).dtype} "
                          f"({type(g).__name__}) for {type(x).__name__} {x!r}"))
        g32 = s2s.grad(self.f, wrt=i)(*[np.float32(a) if np.ndim(a) == 0 else a.astype(np.float32)
                                        for a in args])
        if np.asarray(g32).dtype != np.float32:
            found.append(("wrong", "grad float32 dtype",
                          f"grad dtype {np.asarray(g32).dtype} ({type(g32).__name__}) for float32 "
                          "arguments"))
        value, g2 = s2s.value_and_grad(self.f, wrt=i)(*args)
        if not close(value, self.out, 1e-12, 1e-12):
            found.append(("wrong", "value_and_grad value",
                          f"value_and_grad value {show(value)} vs f {show(self.out)}"))
        if not close(g2, g, 1e-9, 1e-12):
            found.append(("wrong", "value_and_grad gradient",
                          f"value_and_grad gradient {show(g2)} vs grad {show(g)}"))
        return found

    def jvp(self, i):
        value, tangent = s2s.jvp(self.f, wrt=i)(*self.args, self.dirs[i])
        found = []
        if not close(value, self.out, 1e-12, 1e-12):
            found.append(("wrong", "jvp value", f"jvp value {show(value)} vs f {show(self.out)}"))
        bad = self._shape("jvp tangent", tangent, self.out.shape)
        if bad:
            return found + bad
        fine, coarse = self._fd(self.f, i)
        return found + self._compare("jvp", tangent, fine, coarse, self.scale)

    def jacobian(self, i):
        shape = self.out.shape + np.shape(self.args[i])
        forward = s2s.jacobian(self.f, wrt=i, mode="forward")(*self.args)
        bad = self._shape("jacobian forward", forward, shape)
        reverse = s2s.jacobian(self.f, wrt=i, mode="reverse")(*self.args)
        bad += self._shape("jacobian reverse", reverse, shape)
        if bad:
            return bad
        if close(forward, reverse, 1e-7, 1e-10 * (1 + np.max(np.abs(forward), initial=0))):
            return [("pass", "jacobian")]
        finite = np.all(np.isfinite(forward) & np.isfinite(reverse))
        if not finite and SINGULAR.search(self.program.source):
            return [("kink", "jacobian")]  # as in _compare
        # which one is right: both along v against finite differences
        v, nd = self.dirs[i], np.ndim(self.args[i])
        fine, _ = self._fd(self.f, i)
        return [("wrong", "jacobian", f"jacobian forward {show(forward)} vs reverse "
                 f"{show(reverse)}; along v: forward {show(np.tensordot(forward, v, nd))}, "
                 f"reverse {show(np.tensordot(reverse, v, nd))}, finite differences {show(fine)}")]

    def hessian(self, i):
        if not self.program.scalar:
            return [("n/a", "hessian")]
        x, v, args = self.args[i], self.dirs[i], self.args
        nd, n = np.ndim(x), np.size(x)
        H = s2s.hessian(self.f, wrt=i)(*args)
        bad = self._shape("hessian", H, np.shape(x) * 2)
        if bad:
            return bad
        H = np.asarray(H, dtype=float)
        square = H.reshape(n, n)
        found = []
        if not close(square, square.T, 1e-6, 1e-9 * (1 + np.max(np.abs(square)))):
            found.append(("wrong", "hessian symmetry", f"hessian not symmetric: {show(H)}"))
        Hv = np.tensordot(H, v, nd) if nd else H * v
        grad = s2s.grad(self.f, wrt=i)
        g = np.asarray(grad(*args), dtype=float)
        fine, coarse = self._fd(grad, i)
        found += self._compare("hessian", Hv, fine, coarse, 1.0 + float(np.max(np.abs(g))))
        hvp = s2s.hvp(self.f, wrt=i)(*args, v)
        if not close(hvp, Hv, 1e-7, 1e-10 * (1 + np.max(np.abs(Hv)))):
            found.append(("wrong", "hvp", f"hvp {show(hvp)} vs hessian @ v {show(Hv)}"))
        return found

    def hessian_after_grads(self, i):
        """The Hessian again, on a fresh f whose gradients with respect to every
        argument were compiled first (as a user computing grads, then a Hessian)."""
        if not self.program.scalar or len(self.program.shapes) < 2:
            return []
        H = s2s.hessian(self.f, wrt=i)(*self.args)
        for j in range(len(self.program.shapes)):  # compiled already if the grad mode ran
            s2s.grad(self.shared, wrt=j)
        again = s2s.hessian(self.shared, wrt=i)(*self.args)
        if not close(again, H, 1e-9, 1e-12):
            return [("wrong", "hessian after grads",
                     f"hessian after grads with respect to every argument {show(again)} vs "
                     f"hessian alone {show(H)}")]
        return [("pass", "hessian after grads")]


def _first_line(e):
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__


def _tail():
    return "".join(traceback.format_exc(limit=-6))[-2500:]


@dataclasses.dataclass
class Result:
    program: Program
    findings: list
    invalid: str = ""  # why the program could not be checked (f itself failed)
    seconds: float = 0.0

    def status(self, mode):
        kinds = {f.kind for f in self.findings if f.mode == mode}
        for kind, status in (("wrong", "fail"), ("crash", "fail"), ("timeout", "fail"),
                             ("suspect", "suspect"), ("refused", "refused"), ("pass", "pass"),
                             ("kink", "kink"), ("n/a", "n/a")):
            if kind in kinds:
                return status
        return "not run"

    @property
    def failures(self):
        return [f for f in self.findings if f.kind in FAILURES]


def check(program, modes=MODES, wrt=None, directory=None, timeout=60):
    """Check every mode of `program` (for every argument, or argument `wrt` only)."""
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="s2s-fuzz-"))
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        stack.enter_context(np.errstate(all="ignore"))
        try:  # f is small: a few seconds means it does not stop (a shrinking edit did that)
            with deadline(min(timeout, 3) if timeout else None):
                checker = Checker(program, directory)
        except (Exception, Timeout) as e:  # noqa: BLE001 - f itself failed: not s2s's fault
            return Result(program, [], f"{type(e).__name__}: {_first_line(e)}")
        if not np.all(np.isfinite(checker.out)):
            return Result(program, [], "f is not finite")
        findings = []
        for mode in modes:
            # the Hessian reads the source of the generated gradient: a fresh f, whose only
            # gradient is the one it needs (hessian_after_grads checks the shared f)
            checker.f = checker.fresh() if mode == "hessian" and len(program.shapes) > 1 \
                else checker.shared
            with deadline(timeout):
                for i in range(len(program.shapes)) if wrt is None else [wrt]:
                    found = checker.run(mode, i)
                    findings += found
                    if any(f.kind == "timeout" for f in found):
                        break
                if mode == "hessian" and not any(f.kind in FAILURES + ("suspect", "refused")
                                                 for f in findings if f.mode == mode):
                    findings += checker.run(mode, 0 if wrt is None else wrt, "hessian_after_grads")
    return Result(program, findings, seconds=time.perf_counter() - start)


# ---------------------------------------------------------------------- shrinking


def _statement_lists(tree):
    """Every list of statements in the tree (bodies, else blocks)."""
    for node in ast.walk(tree):
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                yield stmts


def _variants(tree):
    """Smaller versions of the program, largest cuts first.  Each is a fresh tree."""
    def edited(edit):
        t = copy.deepcopy(tree)
        edit(t)
        return t

    def nth(t, k):
        return list(_statement_lists(t))[k]

    functions = [k for k, node in enumerate(tree.body)
                 if isinstance(node, ast.FunctionDef) and node.name != "f"]
    for k in functions:
        yield edited(lambda t, k=k: t.body.pop(k))
    for k, stmts in enumerate(_statement_lists(tree)):
        for j, st in enumerate(stmts):
            yield edited(lambda t, k=k, j=j: nth(t, k).pop(j) if len(nth(t, k)) > 1
                         else nth(t, k).__setitem__(j, ast.Pass()))
            if isinstance(st, (ast.If, ast.For, ast.While)):
                for field in ("body", "orelse"):
                    if getattr(st, field):
                        yield edited(lambda t, k=k, j=j, field=field: nth(t, k).__setitem__(
                            slice(j, j + 1), getattr(nth(t, k)[j], field)))
                if isinstance(st, ast.If) and st.orelse:
                    yield edited(lambda t, k=k, j=j: setattr(nth(t, k)[j], "orelse", []))
    # expressions: by one of their operands, or a simpler constant
    sites = [node for node in ast.walk(tree) if isinstance(node, ast.expr)]
    for n, node in enumerate(sites):
        if isinstance(getattr(node, "ctx", None), ast.Store):
            continue
        keep = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == "range"  # `for i in 2` would run only where the loop does not
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr) and not _is_numpy_name(child) and not keep:
                yield _replaced(tree, n, child)
        if isinstance(node, ast.Call):
            for k in range(len(node.keywords)):
                yield _replaced(tree, n, None, drop_keyword=k)
        if isinstance(node, ast.Constant) and type(node.value) is float and node.value != 1.0:
            yield _replaced(tree, n, ast.Constant(1.0))
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value > 1:
            yield _replaced(tree, n, ast.Constant(node.value - 1))


def _is_numpy_name(node):
    if isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in ("np", "math")


def _replaced(tree, n, new, drop_keyword=None):
    t = copy.deepcopy(tree)
    sites = [node for node in ast.walk(t) if isinstance(node, ast.expr)]
    target = sites[n]
    if drop_keyword is not None:
        target.keywords.pop(drop_keyword)
        return t
    for parent in ast.walk(t):
        for field, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, field, copy.deepcopy(new))
                return t
            if isinstance(value, list) and any(v is target for v in value):
                value[[v is target for v in value].index(True)] = copy.deepcopy(new)
                return t
    return t


def shrink(program, reproduces, budget=60.0):
    """A smaller program for which `reproduces(program)` still holds: greedy, first
    successful cut wins, until no cut works or the time budget is spent."""
    start = time.perf_counter()
    best, seen = program, {program.source}
    progress = True
    while progress and time.perf_counter() - start < budget:
        progress = False
        tree = ast.parse(best.source)
        for variant in _variants(tree):
            if time.perf_counter() - start > budget:
                break
            try:
                source = ast.unparse(ast.fix_missing_locations(variant)) + "\n"
            except Exception:  # noqa: BLE001 - an edit that makes no program
                continue
            if source in seen or len(source) >= len(best.source):
                continue
            seen.add(source)
            candidate = dataclasses.replace(best, source=source)
            if reproduces(candidate):
                best, progress = candidate, True
                break
    return best


def reproducer(finding, directory, timeout=10):
    """A test that a program still fails in the way `finding` describes."""
    index = ["x", "y", "z"].index(finding.wrt)

    def reproduces(program):
        result = check(program, [finding.mode], index, directory, timeout)
        return any(f.signature == finding.signature for f in result.findings)
    return reproduces


# ---------------------------------------------------------------------------- CLI


def write_failure(out, finding, program):
    """One file per failure: a header (JSON for --replay, and the finding) and the program."""
    path = Path(out) / f"seed_{program.seed}_{finding.mode}_{finding.wrt}.py"
    meta = {"seed": program.seed, "shapes": program.shapes, "ranges": program.ranges,
            "scalar": program.scalar, "mode": finding.mode, "wrt": finding.wrt}
    args, dirs, _ = arguments(program)
    lines = [f"# s2s fuzz failure, {finding.mode} wrt {finding.wrt}: {finding.kind}",
             f"# fuzz: {json.dumps(meta)}",
             f"# replay: python -m tests.fuzz --replay {path}"]
    values = [f"{p} = {a!r}" for p, a in zip(program.params, args)]
    values += [f"direction {p} = {d!r}" for p, d in zip(program.params, dirs)]
    values += ["  " + line for line in (finding.message + "\n" + finding.detail).splitlines()]
    lines += ["# " + line for text in values for line in text.strip("\n").splitlines()]
    path.write_text("\n".join(lines) + "\n" + program.source)
    return path


def read_failure(path):
    text = Path(path).read_text()
    meta = json.loads(re.search(r"^# fuzz: (.*)$", text, re.M).group(1))
    source = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    source = source.lstrip() + "\n"
    shapes = [tuple(s) for s in meta["shapes"]]
    return Program(meta["seed"], source, shapes, [tuple(r) for r in meta["ranges"]],
                   meta["scalar"]), meta


def summarize(results, modes, seconds):
    lines = [f"{len(results)} programs in {seconds:.0f} s "
             f"({sum(1 for r in results if r.invalid)} invalid)"]
    columns = ["pass", "refused", "suspect", "fail", "kink", "n/a"]
    lines.append(f"{'mode':10}" + "".join(f"{c:>9}" for c in columns))
    for mode in modes:
        counts = collections.Counter(r.status(mode) for r in results if not r.invalid)
        lines.append(f"{mode:10}" + "".join(f"{counts[c]:>9}" for c in columns))
    groups = collections.defaultdict(list)
    for r in results:
        for f in r.findings:
            if f.kind in FAILURES + ("suspect", "refused"):
                groups[f.signature].append(r.program.seed)
    for title, kinds in (("failures", FAILURES), ("suspect refusals", ("suspect",)),
                         ("refusals", ("refused",))):
        items = sorted(((k, sorted(set(v))) for k, v in groups.items() if k[1] in kinds),
                       key=lambda kv: -len(kv[1]))
        if items:
            lines.append(f"\n{title} by signature (programs: seeds):")
            for (mode, kind, chk, message), seeds in items:
                what = " ".join(filter(None, [kind, chk, message]))
                more = ", ..." if len(seeds) > 8 else ""
                lines.append(f"  {mode:9} {len(seeds):4}: {what[:150]}  "
                             f"[{', '.join(map(str, seeds[:8]))}{more}]")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100, help="number of programs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first program")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="comma-separated, from " + ",".join(MODES))
    parser.add_argument("--max-statements", type=int, default=16, help="program size (default 16)")
    parser.add_argument("--out", help="folder for failing programs (shrunk where possible)")
    parser.add_argument("--shrink-budget", type=float, default=30, help="seconds per shrink")
    parser.add_argument("--shrink-per-signature", type=int, default=1,
                        help="shrink this many failures per signature (write the others as "
                             "generated)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per program and mode")
    parser.add_argument("--jsonl", help="append one record per program to this file")
    parser.add_argument("--replay", help="re-check a program written by --out")
    parser.add_argument("--summary", nargs="+", metavar="JSONL",
                        help="print the summary of the runs recorded in these --jsonl files")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per program")
    opts = parser.parse_args(argv)
    modes = [m for m in opts.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            parser.error(f"unknown mode {m!r}")

    if opts.summary:  # of --jsonl files of several runs
        records = [json.loads(line) for path in opts.summary for line in open(path)]
        results = [Result(Program(r["seed"], "", [], [], True),
                          [Finding(**f) for f in r["findings"]], r["invalid"], r["seconds"])
                   for r in records]
        print(summarize(results, records[0]["modes"] if records else modes,
                        sum(r.seconds for r in results)))
        return 1 if any(r.failures for r in results) else 0

    if opts.replay:
        program, meta = read_failure(opts.replay)
        result = check(program, [meta["mode"]], program.params.index(meta["wrt"]),
                       timeout=opts.timeout)
        if result.invalid:
            print(f"cannot check: {result.invalid}")
        for f in result.findings:
            print(f"{f.mode} wrt {f.wrt}: {f.kind} {f.check} {f.message}\n{f.detail}".rstrip())
        return 1 if result.failures else 0

    work = tempfile.mkdtemp(prefix="s2s-fuzz-")
    if opts.out:
        os.makedirs(opts.out, exist_ok=True)
    results, shrunk = [], collections.Counter()
    start = time.perf_counter()
    try:
        for seed in range(opts.seed, opts.seed + opts.count):
            program = generate(seed, opts.max_statements)
            if program is None:
                continue
            result = check(program, modes, directory=work, timeout=opts.timeout)
            results.append(result)
            if opts.verbose:
                print(f"seed {seed}: " + " ".join(f"{m}={result.status(m)}" for m in modes)
                      + (f" invalid: {result.invalid}" if result.invalid else "")
                      + f" ({result.seconds:.1f} s)", flush=True)
            if opts.jsonl:
                record = {"seed": seed, "seconds": round(result.seconds, 2),
                          "invalid": result.invalid, "modes": modes,
                          "findings": [dataclasses.asdict(f) for f in result.findings]}
                with open(opts.jsonl, "a") as fh:
                    fh.write(json.dumps(record) + "\n")
            if opts.out:
                for finding in _distinct(result.findings):
                    small = program
                    key = finding.signature
                    if finding.kind != "timeout" and shrunk[key] < opts.shrink_per_signature:
                        shrunk[key] += 1
                        small = shrink(program, reproducer(finding, work), opts.shrink_budget)
                        finding = _again(small, finding, work)
                    write_failure(opts.out, finding, small)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(summarize(results, modes, time.perf_counter() - start))
    return 1 if any(r.failures for r in results) else 0


def _again(program, finding, directory):
    """The finding of the same signature on a shrunk program (its numbers differ)."""
    index = program.params.index(finding.wrt)
    for f in check(program, [finding.mode], index, directory).findings:
        if f.signature == finding.signature:
            return f
    return finding


def _distinct(findings):
    """The failures and suspect refusals, one per (mode, argument)."""
    seen, out = set(), []
    for f in findings:
        if f.kind in FAILURES + ("suspect",) and (f.mode, f.wrt) not in seen:
            seen.add((f.mode, f.wrt))
            out.append(f)
    return out


if __name__ == "__main__":
    sys.exit(main())
