"""[rules] Adjoints of structural (linear or selection) ops.

Each rule gets a context ``c`` for one statement ``y = op(args...)``: ``c.dy`` the
adjoint of ``y`` (a name), ``c.y`` the forward result, ``c.x(i)`` the code of operand
``i`` (``c.shape(i)``, ``c.size(i)`` the code of its shape and size), ``c.p(name)`` the code of a static parameter and ``c.v(name)`` its value, and
returns ``{operand index: code of its contribution}``, or ``Multi(code, indices)``
when one expression yields the contributions of several operands as a sequence, or
``Scalar(code)`` for a value (a scalar, or an array with size-1 axes) that stands for
its broadcast to the operand's shape (derive broadcasts it only where something
needs the full array).
Contributions are summed by derive; a rule never accumulates itself.  ``c.refuse``
raises a DifferentiationError at the statement for cases a rule does not cover.
Longer adjoints are helpers in s2s/runtime.py.
"""

from __future__ import annotations

from dataclasses import dataclass

ADJOINTS = {}


@dataclass(frozen=True)
class Multi:
    code: str
    indices: tuple


@dataclass(frozen=True)
class Scalar:
    code: str


def adjoint(*ops):
    def register(rule):
        for op in ops:
            ADJOINTS[op] = rule
        return rule
    return register


@adjoint("matmul", "np.matmul")      # y = a @ b  ->  da = dy @ b^T, db = a^T @ dy
def matmul(c):
    return {0: f"_matmul_adjoint_lhs({c.dy}, {c.x(0)}, {c.x(1)})",
            1: f"_matmul_adjoint_rhs({c.dy}, {c.x(0)}, {c.x(1)})"}


@adjoint("np.dot")                   # as matmul for 1-D and 2-D operands, a product for scalars
def dot(c):
    return {0: f"_dot_adjoint_lhs({c.dy}, {c.x(0)}, {c.x(1)})",
            1: f"_dot_adjoint_rhs({c.dy}, {c.x(0)}, {c.x(1)})"}


def _kept(c, dy):
    # dy with the reduced axes put back (size 1): it broadcasts to the operand's shape
    if c.v("axis") is not None and not c.v("keepdims"):
        return f"np.expand_dims({dy}, {c.p('axis')})"
    return dy


@adjoint("np.sum")                     # y = sum(x, axis)  ->  dx = dy broadcast along axis
def sum_(c):
    return {0: Scalar(_kept(c, c.dy))}


@adjoint("np.mean")                   # y = mean(x, axis)  ->  dx = dy / n broadcast along axis
def mean(c):
    n = c.size(0) if c.v("axis") is None else f"_count({c.x(0)}, {c.p('axis')})"
    return {0: Scalar(_kept(c, f"{c.dy} / {n}"))}


@adjoint("np.prod")                  # dx_i = dy * prod of the other x_j (exact at zeros)
def prod(c):
    return {0: f"_prod_adjoint({c.dy}, {c.x(0)}, {c.p('axis')}, {c.p('keepdims')})"}


@adjoint("np.max", "np.min")         # dy shared equally among the tied extrema
def extremum(c):
    return {0: f"_extremum_adjoint({c.dy}, {c.x(0)}, {c.y}, {c.p('axis')}, {c.p('keepdims')})"}


@adjoint("np.var")                   # dx = dy * 2 (x - mean) / (n - ddof)
def var(c):
    return {0: f"_var_adjoint({c.dy}, {c.x(0)}, {c.p('axis')}, {c.p('ddof')}, {c.p('keepdims')})"}


@adjoint("np.std")                   # std = sqrt(var)  ->  dvar = dy / (2 std), 0 where
def std(c):                          # std == 0 (constant data: 0 is a subgradient, as |x|'s)
    return {0: f"_var_adjoint(np.where({c.y} == 0, 0, {c.dy} / (2 * {c.y})), {c.x(0)}, "
               f"{c.p('axis')}, {c.p('ddof')}, {c.p('keepdims')})"}


@adjoint("np.transpose")             # dx = dy transposed by the inverse permutation
def transpose(c):
    axes = c.v("axes")
    if axes is None:
        return {0: f"np.transpose({c.dy})"}
    if all(isinstance(a, int) for a in axes):
        n = len(axes)
        inverse = [0] * n
        for i, a in enumerate(axes):
            inverse[a % n] = i
        return {0: f"np.transpose({c.dy}, {tuple(inverse)!r})"}
    return {0: f"np.transpose({c.dy}, np.argsort({c.p('axes')}))"}


# ops that give their operand's values in another shape (usually a view of it)
RESHAPES = ("np.reshape", "np.expand_dims", "np.squeeze", "np.ravel")


@adjoint(*RESHAPES)                  # dx = dy in x's shape
def reshape(c):
    return {0: f"np.reshape({c.dy}, np.shape({c.x(0)}))"}


@adjoint("getitem")                  # dx = zeros like x, with dy added at the index
def getitem(c):
    index = c.v("index")
    parts = index if isinstance(index, tuple) else (index,)
    if all(p is None or p == slice(None) for p in parts) and any(p is None for p in parts):
        return {0: f"np.reshape({c.dy}, np.shape({c.x(0)}))"}  # x[:, None]: new axes only
    return {0: f"_getitem_adjoint({c.dy}, {c.x(0)}, {c.p('index', subscript=True)})"}


@adjoint("np.concatenate")           # the parts' adjoints are dy split along axis
def concatenate(c):
    if c.v("axis") is None:
        c.refuse("cannot differentiate np.concatenate with axis=None",
                 "flatten the parts first: np.concatenate([np.ravel(a), np.ravel(b)]).")
    parts = ", ".join(c.x(i) for i in range(c.n)) + ("," if c.n == 1 else "")
    return Multi(f"_split_adjoint({c.dy}, ({parts}), {c.p('axis')})", tuple(range(c.n)))


@adjoint("np.stack")                 # the parts' adjoints are the slices of dy along axis
def stack(c):
    axis = c.v("axis")
    code = c.dy if axis == 0 else f"np.moveaxis({c.dy}, {c.p('axis')}, 0)"
    return Multi(code, tuple(range(c.n)))


@adjoint("tuple", "list")            # y = (a, b, ...)  ->  da, db, ... = dy
def tuple_(c):
    return Multi(c.dy, tuple(range(c.n)))


@adjoint("np.outer")                 # y = outer(a, b)  ->  da = dy @ b, db = a @ dy
def outer(c):
    return {0: f"_outer_adjoint_lhs({c.dy}, {c.x(0)}, {c.x(1)})",
            1: f"_outer_adjoint_rhs({c.dy}, {c.x(0)}, {c.x(1)})"}


@adjoint("np.trace")                 # dx = dy * identity
def trace(c):
    return {0: f"_trace_adjoint({c.dy}, {c.x(0)})"}


@adjoint("np.diag")                  # dx = diag(dy), or dy placed on the diagonal
def diag(c):
    if c.v("k") != 0:
        c.refuse("cannot differentiate np.diag with an offset k", "use k=0.")
    return {0: f"_diag_adjoint({c.dy}, {c.x(0)})"}


@adjoint("np.linalg.norm")           # y = ||x||  ->  dx = dy * x / y (0 where y == 0)
def norm(c):
    if c.v("ord") not in (None, 2, "fro") or c.v("axis") is not None or c.v("keepdims"):
        c.refuse("s2s differentiates np.linalg.norm only as the 2-norm or Frobenius norm "
                 "of the whole array",
                 "write it out: np.sqrt(np.sum(x**2, axis=...)).")
    if c.v("ord") == 2:  # the 2-norm of a vector; of a matrix it is the spectral norm
        return {0: f"_norm_adjoint({c.dy}, {c.x(0)}, {c.y}, vectors_only=True)"}
    return {0: f"_norm_adjoint({c.dy}, {c.x(0)}, {c.y})"}


# ---- forward mode -------------------------------------------------------------------
# TANGENTS[op](c) -> code of the result's tangent, from the operands' tangents c.dx(i)
# (None where an operand is not differentiated).  Linear ops apply themselves to the
# tangents; bilinear ops use the product rule; reductions weight the tangent by their
# reverse rule's weights (the adjoint of a ones cotangent), so both modes share one rule.
TANGENTS = {}


def tangent(*ops):
    def register(rule):
        for op in ops:
            TANGENTS[op] = rule
        return rule
    return register


@tangent("np.sum", "np.mean", "np.transpose", *RESHAPES, "getitem", "np.trace", "np.diag",
         "np.concatenate", "np.stack", "tuple", "list")
def linear(c):                       # y = L(x)  ->  y_dot = L(x_dot)
    dx = [c.dx(i) or c.zeros(i) for i in range(c.n)]
    if not c.batched:
        return c.same_op(dx)
    return _batched_linear(c, c.stmt.op, dx)


def _batch_axis(c, axis, t):
    """Code of the axis of a batch of tangents t (a leading batch axis) that is `axis`
    of the value (every axis but the batch axis for None)."""
    if axis is None:
        return f"tuple(range(1, np.ndim({t})))"
    if isinstance(axis, tuple) and all(type(a) is int for a in axis):
        return repr(tuple(a + 1 if a >= 0 else a for a in axis))
    if type(axis) is int:
        return repr(axis + 1 if axis >= 0 else axis)
    c.unbatchable()


def _batched_linear(c, op, dx):
    t = dx[0]
    if op in ("tuple", "list"):
        return c.same_op(dx)
    if op in ("np.sum", "np.mean"):
        return c.same_op(dx, axis=_batch_axis(c, c.v("axis"), t))
    if op in ("np.concatenate", "np.stack"):
        return c.same_op(dx, axis=_batch_axis(c, c.v("axis"), t))
    if op in RESHAPES:
        return f"np.reshape({t}, np.shape({t})[:1] + np.shape({c.y}))"
    if op == "np.transpose":
        axes = c.v("axes")
        if axes is None:
            return f"np.transpose({t}, (0, *range(np.ndim({c.y}), 0, -1)))"
        if all(type(a) is int for a in axes):
            return f"np.transpose({t}, {(0,) + tuple(a % len(axes) + 1 for a in axes)!r})"
        c.unbatchable()
    if op == "np.trace":
        return f"np.trace({t}, axis1=1, axis2=2)"
    if op == "np.diag" and c.v("k") == 0:
        return f"_over_batch(np.diag, 0, {t})"
    if op == "getitem":
        return c.batch_getitem(t)
    c.unbatchable()


@tangent("matmul", "np.matmul", "np.dot", "np.outer")   # product rule
def bilinear(c):
    terms = []
    if c.batched:
        helper = {"np.dot": "_dot_batch", "np.outer": "_outer_batch"}.get(
            c.stmt.op, "_matmul_batch")
        for i in (0, 1):
            if c.dx(i):
                pair = [c.dx(0), c.x(1)] if i == 0 else [c.x(0), c.dx(1)]
                terms.append(f"{helper}({pair[0]}, {pair[1]}, {i})")
        return " + ".join(terms)
    if c.dx(0):
        terms.append(c.same_op([c.dx(0), c.x(1)]))
    if c.dx(1):
        terms.append(c.same_op([c.x(0), c.dx(1)]))
    return " + ".join(terms)


@tangent("np.prod", "np.max", "np.min", "np.var", "np.std", "np.linalg.norm")
def weighted(c):                     # y = r(x)  ->  y_dot = sum(dy/dx * x_dot) over the reduced axes
    weights = ADJOINTS[c.stmt.op](c.with_dy(f"np.ones_like({c.y})"))[0]
    axis = c.v("axis")
    if c.batched:
        extra = f", axis={_batch_axis(c, axis, c.dx(0))}"
    else:
        extra = "" if axis is None else f", axis={c.p('axis')}"
    if c.v("keepdims"):
        extra += ", keepdims=True"
    return f"np.sum({weights} * {c.dx(0)}{extra})"


# Forward-mode rules for the runtime helpers that generated reverse code calls, so
# that forward mode differentiates s2s's own gradients (Hessians are forward over
# reverse).  HELPER_TANGENTS[name] = (positions the helper is linear in jointly: each
# tangent term swaps one of them for its tangent, the product rule; a last position
# ... stands for all the arguments after the one before it).
HELPER_TANGENTS = {
    "_unbroadcast": (0,), "_like": (0,), "_unbroadcast_to": (0,), "_unbroadcast_matmul": (0,), "_fill": (0,), "_expand": (0,), "_extremum_adjoint": (0,),
    "_getitem_adjoint": (0,), "_split_adjoint": (0,), "_diag_adjoint": (0,),
    "_trace_adjoint": (0,), "_add_tuples": (0, 1),
    "_matmul_adjoint_lhs": (0, 2), "_matmul_adjoint_rhs": (0, 1),
    "_matmul_adjoint_lhs_to": (0, 2), "_matmul_adjoint_rhs_to": (0, 1), "_sum_first": (0,),
    "_matmul_adjoint_lhs_sum": (0, 2), "_unbroadcast_sum": (0,), "_unbroadcast_mul": (1, ...),
    "_dot_adjoint_lhs": (0, 2), "_dot_adjoint_rhs": (0, 1),
    "_outer_adjoint_lhs": (0, 2), "_outer_adjoint_rhs": (0, 1),
    "_var_adjoint": (0, 1),
    "np.broadcast_to": (0,), "np.array": (0,), "np.moveaxis": (0,),
}
# _add_tuples is linear in each argument separately, not jointly
HELPER_SUMS = {"_add_tuples"}
# For a batch of tangents (a leading axis, forward mode over many directions): the
# helper that takes the batch in place of the tangent, with the same arguments.  Any
# other helper is mapped over the batch (_over_batch).
HELPER_BATCHED = {
    "_unbroadcast": "_unbroadcast_batch", "_like": "_like", "_fill": "_fill_batch",
    "np.broadcast_to": "_broadcast_to_batch", "np.array": "_array_batch",
    "_getitem_adjoint": "_getitem_adjoint_batch", "_add_tuples": "_add_tuples_batch",
}
# Helpers that are not linear in their arguments have a tangent helper of their own:
# HELPER_JVPS[name] = (its tangent helper, the positions with tangents).  It is
# called as helper_jvp((tangent or None for each position), *the call's arguments,
# batched=...).
HELPER_JVPS = {
    "_norm_adjoint": ("_norm_adjoint_jvp", (0, 1, 2)),
    "_prod_adjoint": ("_prod_adjoint_jvp", (0, 1)),
    "_add_at": ("_add_at_jvp", (0, 1)),
}

# The result of each helper has the shape of its arguments at these positions (their
# broadcast): shape analysis reads it so that it can prove shapes equal through the
# helpers in generated gradients (forward mode over them needs no realignment then).
# A position past the end of the call stands for all the remaining arguments.
HELPER_SHAPES = {
    "_unbroadcast": (1,), "_like": (0,), "_expand": (1,), "_getitem_adjoint": (1,),
    "_extremum_adjoint": (1,), "_prod_adjoint": (1,), "_var_adjoint": (1,),
    "_diag_adjoint": (1,), "_trace_adjoint": (1,), "_matmul_adjoint_lhs": (1,),
    "_matmul_adjoint_rhs": (2,), "_dot_adjoint_lhs": (1,), "_dot_adjoint_rhs": (2,),
    "_outer_adjoint_lhs": (1,), "_outer_adjoint_rhs": (2,), "_fill": (1, ...),
    "_unbroadcast_mul": (0,), "_matmul_adjoint_lhs_to": (3,), "_matmul_adjoint_rhs_to": (3,),
    "_add_at": (0,),
}
# Adjoint helpers with a form summed to the shape of one more argument x (a value the
# operand is a broadcast of) that does better than _unbroadcast(helper(...), x)
# (derive.distribute).
HELPER_SUMMED_TO = {"_matmul_adjoint_lhs": "_matmul_adjoint_lhs_to",
                    "_matmul_adjoint_rhs": "_matmul_adjoint_rhs_to"}

