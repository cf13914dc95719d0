"""[derivation] Reverse mode over the IR.

Input: an ``ir.Function``, the names to differentiate with respect to, and the kind
of derivative.  Output: a ``Derivative``: the forward statements, the reverse sweep
as ``ir.Line``s, and the code of each gradient.

1. Activity: a value is active when it depends on a ``wrt`` argument through ops
   with a derivative.  An active operand of an op with no rule is refused here.
2. Clusters: maximal groups of elementwise statements whose values are used only
   inside the group.  Each cluster is one SymPy expression of its leaves; its
   partial derivatives come from ``sympy.diff``, are rewritten in forward values
   (simplify.in_forward_values) and share a CSE; the terms of a sum that read a
   value of the cluster for the last time are named first, so the emitter releases
   the value before the other terms are made (``release_first``).  A cluster too
   large for SymPy is differentiated one statement at a time instead.
3. Structural ops apply their adjoint rule (rules/structural.py); calls of user
   functions get a VJP function of their own (``f_vjp``), generated once.
4. Contributions to one adjoint: the first assigns (or just names an existing
   value), later ones add.  A contribution to an operand that may have been
   broadcast goes through ``_unbroadcast``, unless the shape analysis (sets of
   broadcast atoms) proves the shapes equal.  Reductions hand back "lazy" adjoints
   (size-1 axes) that are broadcast only where something needs the full array.
   An adjoint whose one use is its sum back to a broadcast operand (``x - m[:, None]``
   with x inactive) is never formed: its terms are summed one by one, each axis in
   the one factor varying along it (``distribute``, ``_unbroadcast_mul``,
   ``_sum_first``).
5. Control flow: a branch is reversed under its recorded condition, each side
   syncing the adjoints it touched to one name.  A loop's forward pass pushes its
   carried values on stacks; the reverse loop pops them, reuses the carried update,
   recomputes the iteration's temporaries and reverses the body; loop-invariant
   weight gradients are added up with one product after the loop.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from dataclasses import dataclass, field

import sympy as sp

from . import runtime
from .errors import InternalError, NoRuleError, UnsupportedSyntaxError
from .ir import (Assign, Block, Const, Function, If, Line, Loop, Return, Var, blocks,
                 defined, operand_reads, reads, static_code, static_vars, walk)
from .names import NameTable
from .rules import ADJOINTS, ELEMENTWISE, NONDIFF, kind_of
from .normalize import ATTRIBUTES
from .rules.nondiff import STACK_OPS
from .rules.structural import (HELPER_JVPS, HELPER_SHAPES, HELPER_SUMMED_TO, HELPER_TANGENTS,
                               Multi, Scalar)
from .simplify import common_factors, cse, in_forward_values, into_where, numbers_only
from .simplify import _substitute as substitute
from .symbolic import FLOATS, statement_to_sympy, symbol, to_code

CLUSTER_MAX_STATEMENTS = 16
CLUSTER_MAX_OPS = 150

_ACCUMULATED_PRODUCT = re.compile(
    r"([A-Za-z_]\w*) \+ _matmul_adjoint_lhs\(([A-Za-z_]\w*), ([A-Za-z_]\w*), ([A-Za-z_]\w*)\)")
_ACCUMULATED_SUM = re.compile(
    r"([A-Za-z_]\w*) \+ _unbroadcast\(([A-Za-z_]\w*), ([A-Za-z_]\w*)\)")
_ACCUMULATED_INDEX = re.compile(
    r"([A-Za-z_]\w*) \+ _getitem_adjoint\(([A-Za-z_]\w*), ([A-Za-z_]\w*), (.+)\)")
_NEW_INDEX_ADJOINT = re.compile(r"_getitem_adjoint\(([A-Za-z_]\w*), ([A-Za-z_]\w*), (.+)\)")
_IDENT = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
_NAME = re.compile(r"[A-Za-z_]\w*")
_NUMBER = re.compile(r"-?\d+(\.\d*)?([eE][-+]?\d+)?")
HELPERS = frozenset(n for n in vars(runtime) if n.startswith("_") and not n.startswith("__"))
REDUCTIONS = {"np.sum", "np.mean", "np.prod", "np.max", "np.min", "np.var", "np.std"}
SHAPE_ELEMENTWISE = set(ELEMENTWISE) | (set(NONDIFF) - {"attr"})


def code_reads(code):
    return frozenset(_IDENT.findall(code))


@dataclass
class Derivative:
    func: Function
    wrt: tuple
    kind: str  # "grad" | "value_and_grad"
    forward: list
    reverse: list
    grads: list  # code of each gradient, in wrt order
    value: str  # code of the function's value
    names: NameTable = None
    single: bool = True  # wrt named one argument (not a tuple): return a bare gradient
    name: str = ""  # the generated function's name
    seed: str = None  # kind "vjp": the parameter holding the adjoint of the result
    children: list = field(default_factory=list)  # VJPs of the user functions it calls
    session: object = None
    tangent_params: list = field(default_factory=list)  # kind "jvp": the tangent arguments
    fast: "Derivative" = None  # the same derivative for Python-float arguments, if worth it
    # each value's shape as the set of atoms it is a broadcast of (equal sets: equal
    # shapes; empty: a scalar), and the atoms that are reductions of others' shapes
    # (see broadcast): what the emitter releases values by
    shapes: dict = field(default_factory=dict)
    reduced: dict = field(default_factory=dict)


class Session:
    """What the derivatives of one module share: the VJPs of called user functions
    (one per function and set of differentiated arguments), module-level names, and
    the chain of functions being differentiated (to refuse recursion)."""

    def __init__(self, taken=()):
        self.vjps = {}
        self.primals = {}  # user function -> its forward code, for standalone modules
        self.order = []
        self.stack = []
        self.names = NameTable(set(taken) | HELPERS)


class _Context:
    """What a structural rule sees of one statement."""

    def __init__(self, stmt, dy, sweep):
        self.stmt = stmt
        self.dy = dy
        self._sweep = sweep
        self.y = stmt.target
        self.n = len(stmt.args)

    def x(self, i):
        a = self.stmt.args[i]
        return a.name if isinstance(a, Var) else a.text

    def v(self, name):
        return self.stmt.param(name)

    def shape(self, i):
        """Code of np.shape(operand i), from the cheapest value that has it."""
        a = self.stmt.args[i]
        return self._sweep.shape_code(a.name) if isinstance(a, Var) else f"np.shape({a.text})"

    def size(self, i):
        a = self.stmt.args[i]
        return self._sweep.size_code(a.name) if isinstance(a, Var) else f"np.size({a.text})"

    def p(self, name, subscript=False):
        return static_code(self.stmt.param(name))

    def refuse(self, message, hint=None):
        span = self.stmt.span
        raise NoRuleError(message, span.filename, span.lineno, span.col_offset, span.line, hint)


def _refuse_call(stmt):
    span = stmt.span
    if stmt.op in STACK_OPS:
        return NoRuleError(
            "cannot take reverse mode of a gradient that saves loop values on a stack",
            span.filename, span.lineno, span.col_offset, span.line,
            "for second derivatives use s2s.hessian or s2s.hvp (forward mode over the "
            "gradient), which follow the stack.")
    if stmt.op == "call" and stmt.param("func") in HELPERS:
        return NoRuleError(
            f"no rule to differentiate s2s's own {stmt.param('func')} again",
            span.filename, span.lineno, span.col_offset, span.line,
            "second derivatives through np.prod, np.linalg.norm, np.var, np.std, "
            "np.max/np.min ties and np.dot are not supported yet; forward mode over the "
            "gradient (s2s.hessian) covers the other operations.")
    if stmt.op == "call":
        what = stmt.param("func")
        hint = (f"s2s differentiates arithmetic and the NumPy functions in its tables; "
                f"{what} is not one of them. Write it with those, or keep it off the "
                f"path from the differentiated arguments to the result.")
        message = f"no derivative rule for {what}()"
    elif stmt.op == "method":
        what = stmt.param("name")
        message = f"no derivative rule for the method .{what}()"
        hint = ("s2s differentiates the methods sum, mean, prod, max, min, var, std, "
                "reshape, transpose, squeeze, ravel, dot and clip; write this one with "
                "NumPy functions s2s differentiates.")
    elif stmt.op == "mod":
        message = "no derivative rule for %"
        hint = "write it as x - y * np.floor(x / y), which s2s differentiates."
    else:
        shown = {"mod": "%", "floordiv": "//"}.get(stmt.op, stmt.op)
        message = f"no derivative rule for {shown}"
        hint = "rewrite it with operations s2s differentiates (see the README)."
    return NoRuleError(message, span.filename, span.lineno, span.col_offset, span.line, hint)


class _Reverse:
    float_path = False  # deriving the path for Python floats (type-checked arguments)

    def __init__(self, func: Function, wrt, kind_, session):
        self.func = func
        self.wrt = tuple(wrt)
        self.kind = kind_
        self.session = session
        self.all = list(walk(func.body))
        self.assigns = [x for x in self.all if isinstance(x, Assign)]
        self.tuples = {x.target for x in self.assigns if x.op in ("tuple", "list")}
        self.defs = {}  # name -> number of statements assigning it (branches share names)
        for x in self.assigns:
            self.defs[x.target] = self.defs.get(x.target, 0) + 1
        # matrix products: name -> the names of its factors (for shapes without values)
        merged = {p.target for y in self.all if isinstance(y, If) for p in y.phis} | {
            c.name for y in self.all if isinstance(y, Loop) for c in y.carried}
        self.products = {x.target: tuple(_code(a) for a in x.args) for x in self.assigns
                         if x.op in ("matmul", "np.matmul") and x.target not in merged
                         and self.defs[x.target] == 1 and all(isinstance(a, Var) for a in x.args)}
        # products whose one reader is a statement beside them: their adjoint comes in
        # one contribution, which the matmul adjoint helpers sum to their shape
        self.uses = _uses(func.body)
        self.summed_by_helper = _read_once_beside(func.body, set(self.products), self.uses)
        self.names = NameTable(set(func.params) | set(func.constants) | HELPERS |
                               defined(func.body))
        self.lines = self.top_lines = []
        self.adj = {}  # var -> code holding its adjoint so far
        # var -> the contributions its adjoint adds up so far, while each came through
        # contribute: [(its line or None, code, reads, its _Summed form or None)]
        self.terms = {}
        self.adj_name = {}  # var -> the name its adjoint is assigned to
        self.views = set()
        self.blocks = {}
        self.reads_of = {}
        self.lazy = set()  # vars whose adjoint code is a scalar standing for a full array
        self.stacks = {}  # (id(loop), carried name) -> stack name
        self.counters = {}  # id(loop) -> name of its iteration count

    # ---- analyses ------------------------------------------------------------------
    def activity(self):
        """Active values: those depending on a wrt argument through differentiable ops
        (a fixpoint: loops carry activity from one iteration to the next)."""
        active = set(self.wrt)
        shifts = _logsumexp_shifts(self.func.body, self.defs, self.uses)
        while True:
            size = len(active)
            for x in self.all:
                if isinstance(x, Assign) and x.target in shifts:
                    continue  # the shift of a log-sum-exp: no gradient through it
                if isinstance(x, Assign) and x.op == "stack_push":
                    if isinstance(x.args[1], Var) and x.args[1].name in active:
                        active.add(x.args[0].name)  # the stack holds an active value
                elif isinstance(x, Assign):
                    if any(isinstance(a, Var) and a.name in active for a in x.args) and \
                            kind_of(x) != "nondiff":
                        active.add(x.target)
                elif isinstance(x, If):
                    for p in x.phis:
                        if any(isinstance(v, Var) and v.name in active for v in (p.then, p.orelse)):
                            active.add(p.target)
                elif isinstance(x, Loop):
                    for c in x.carried:
                        if any(isinstance(v, Var) and v.name in active for v in (c.init, c.update)):
                            active.add(c.name)
            if len(active) == size:
                break
        for x in self.assigns:
            if self.kind == "jvp" and x.op in STACK_OPS:
                continue
            if x.op == "attr" and x.param("name") not in ATTRIBUTES and \
                    isinstance(x.args[0], Var) and x.args[0].name in active:
                span = x.span
                raise UnsupportedSyntaxError(
                    f"unsupported attribute .{x.param('name')}", span.filename, span.lineno,
                    span.col_offset, span.line,
                    "s2s knows .T, .shape, .ndim, .size and .dtype of arrays.")
            if self.kind == "jvp" and x.op == "call" and (x.param("func") in HELPER_TANGENTS
                                                          or x.param("func") in HELPER_JVPS):
                continue
            if any(isinstance(a, Var) and a.name in active for a in x.args) and \
                    kind_of(x) is None and self.user_callee(x) is None:
                raise _refuse_call(x)
        self.active = active

    def shapes(self):
        """Each value's shape as the set of atoms it is a broadcast of.

        Equal sets mean provably equal shapes; the empty set is a scalar.  Atoms are
        arguments, array constants and results of ops that are not elementwise."""
        # name -> [(kind, value, the names computed where it takes the value, or None)]
        self.merges = merges = {}
        for x in self.all:
            if isinstance(x, Loop):
                inside = defined(x.body)
                for c in x.carried:
                    merges.setdefault(c.name, []).extend(
                        (("start", c.init, None), ("update", c.update, inside)))
            elif isinstance(x, If):
                then, orelse = defined(x.body), defined(x.orelse)
                for p in x.phis:
                    merges.setdefault(p.target, []).extend(
                        (("branch", p.then, then), ("branch", p.orelse, orelse)))
        merged = {name for name, takes in merges.items()  # (a branch may leave it as it is)
                  if any(kind != "branch" or v != Var(name) for kind, v, _ in takes)}

        def sweep(scalars):
            """The shapes, with the merging names in `scalars` taken for scalars."""
            base = {p: frozenset() if p in self.func.scalars else frozenset({p})
                    for p in self.func.params}

            def of(a):
                if isinstance(a, Var):
                    return base.get(a.name, frozenset({a.name}))
                if isinstance(a.value, (int, float, bool)):
                    return frozenset()
                return frozenset({a.text})

            # Names that merge values (loop-carried, or set by a branch's copy) are atoms;
            # a name every branch assigns with an op keeps the shape they agree on.
            for name in merged:
                base[name] = frozenset() if name in scalars else frozenset({name})
            for x in self.all:  # for i in range(...): i is a Python int
                if isinstance(x, Loop) and x.index is not None:
                    base[x.index] = frozenset()
            found = {}  # name -> the shapes of its definitions (branches may share a name)
            # reductions: (operand's shape, axis, keepdims) -> the atom standing for the
            # result's shape (the first such reduction at the top level of the function)
            reductions = {}
            self.reduced = reduced = {}  # atom -> the shape it is a reduction of
            top_level = {id(x) for x in self.func.body}

            def absorb(shape):
                return broadcast(shape, reduced)
            metadata = {x.target for x in self.assigns  # tuples of ints: x.shape, np.shape(x)
                        if x.op == "attr" and x.param("name") == "shape" or
                        x.op == "call" and x.param("func") == "np.shape"}
            for x in self.assigns:
                if x.target in merged:
                    continue
                axis, keepdims = x.param("axis"), x.param("keepdims")
                if x.op in SHAPE_ELEMENTWISE:
                    shape = absorb(frozenset().union(*(of(a) for a in x.args)))
                elif (x.op in REDUCTIONS and axis is None and not keepdims) \
                        or x.op in ("np.trace", "np.linalg.norm"):
                    shape = frozenset()
                elif x.op in REDUCTIONS and isinstance(x.args[0], Var) and _static_axis(axis):
                    atom = x.target
                    if id(x) in top_level:
                        atom = reductions.setdefault((of(x.args[0]), axis, bool(keepdims)), atom)
                    shape = frozenset({atom})
                    if keepdims or axis == 0 or isinstance(axis, tuple) and axis and \
                            axis == tuple(range(len(axis))):
                        reduced[atom] = of(x.args[0])  # leading axes, or kept: aligned
                elif x.op == "attr" and x.param("name") in ("ndim", "size") or \
                        x.op == "call" and x.param("func") in (
                            "len", "int", "np.ndim", "np.size") or \
                        x.op == "getitem" and isinstance(x.args[0], Var) and \
                        x.args[0].name in metadata and type(x.param("index")) is int:
                    shape = frozenset()  # a Python int (n, d = x.shape)
                elif x.op == "call" and x.param("func") in HELPER_SHAPES and \
                        not x.param("kwnames") and \
                        not any(isinstance(a, Var) and a.name in self.tuples for a in x.args):
                    at = HELPER_SHAPES[x.param("func")]
                    if at[-1] is ...:
                        at = range(at[0], len(x.args))
                    shape = frozenset().union(*(of(x.args[i]) for i in at if i < len(x.args)))
                else:
                    shape = frozenset({x.target})
                found.setdefault(x.target, set()).add(shape)
                base[x.target] = shape if len(found[x.target]) == 1 else frozenset({x.target})
            return base, of

        # A merging name is an atom, unless every value it takes is a scalar given
        # the others: a loop-carried name that starts scalar and whose update is a
        # broadcast of it and scalars (out = out + x * y with x, y floats) is one in
        # every iteration, whether or not any runs (then its forward loop, which only
        # computed it for _check_scalar, is dead code).
        scalars = set()
        while True:
            base, of = sweep(scalars)
            # a scalar start or branch value (not the name itself, or a value of it:
            # what it held before), an update of it and scalars
            grown = {name for name, takes in merges.items() if name in merged and
                     name not in scalars and all(
                         of(v) <= {name} if kind == "update" else v != Var(name) and not of(v)
                         for kind, v, _ in takes)}
            if not grown:
                break
            scalars |= grown
        if self.float_path:  # every argument a Python float, every op elementwise
            names = {x.target for x in self.assigns} | {
                p.target for x in self.all if isinstance(x, If) for p in x.phis}
            base = {name: frozenset() for name in names | set(base)}
        self.base = base
        # values a shape may be read from anywhere in the reverse sweep
        top = [x.target for x in self.func.body if isinstance(x, Assign)]
        self.order = {n: i for i, n in enumerate(list(self.func.params) + top)}

    def scalar_atoms(self, atoms):
        """The atoms of a value found to be a scalar (ndim 0), and more: a broadcast has
        no fewer dimensions than any operand, so where a name that merges values is
        among them, so are the atoms of what it takes: a loop-carried name's start, and
        those of its update computed in the loop (out = out + f(x[i]): x[i] was a scalar
        in every iteration that ran; a value from before the loop, in none if none ran),
        an if's result's branch values computed in their branch."""
        atoms, todo = set(atoms), list(atoms)
        while todo:
            for _, v, inside in self.merges.get(todo.pop(), ()):
                if isinstance(v, Var):
                    new = self.base.get(v.name, frozenset({v.name})) - atoms
                    new = new if inside is None else new & inside
                    atoms |= new
                    todo.extend(new)
        return frozenset(atoms)

    def same_shape(self, a, b):
        return self.base.get(a, frozenset({a})) == self.base.get(b, frozenset({b}))

    def like(self, var):
        """Names whose broadcast has var's shape: an argument or user variable that has
        it (values the gradient reads anyway, not a temporary kept alive for its
        shape), else the atoms of its shape."""
        target = self.base.get(var, frozenset({var}))
        for name in sorted(self.order, key=self.order.get):
            if self.base.get(name) == target and not name.startswith("_"):
                return [name]
        return sorted(target, key=lambda n: (self.order.get(n, -1), n)) or [var]

    def shape_code(self, var):
        names = self.like(var)
        if len(names) == 1:
            return f"np.shape({names[0]})"
        return "np.broadcast_shapes(" + ", ".join(f"np.shape({n})" for n in names) + ")"

    def size_code(self, var):
        names = self.like(var)
        if len(names) == 1:
            return f"np.size({names[0]})"
        return f"np.broadcast({', '.join(names)}).size"

    def clusters(self):
        """Map each active elementwise statement (by id) to its cluster's root.

        A cluster lies within one statement list: a value used by a statement of
        another list (inside or around a loop or branch) is a root."""
        users = self.uses
        self.root_of, members = {}, {}

        segment = {}  # cluster root id -> the stretch of straight-line code it is in

        def group(stmts):
            # A loop or branch may re-assign a name (a carried name keeps the name of
            # its value before the loop), so a cluster never spans one.
            stretch = 0
            for i in range(len(stmts) - 1, -1, -1):
                x = stmts[i]
                if isinstance(x, If):
                    group(x.body)
                    group(x.orelse)
                    stretch += 1
                    continue
                if isinstance(x, Loop):
                    group(x.body)
                    stretch += 1
                    continue
                if not isinstance(x, Assign) or x.op not in ELEMENTWISE:
                    continue
                if x.target not in self.active and not self._expandable(x):
                    continue
                roots = {self.root_of.get(id(y)) if where == id(stmts) else None
                         for y, where in users.get(x.target, [])}
                root = roots.pop() if len(roots) == 1 else None
                if root is not None and len(members[root]) < CLUSTER_MAX_STATEMENTS and \
                        self.defs.get(x.target, 1) == 1 and segment[root] == (id(stmts), stretch):
                    self.root_of[id(x)] = root
                    members[root].append(x)
                elif x.target in self.active:
                    self.root_of[id(x)] = id(x)
                    members[id(x)] = [x]
                    segment[id(x)] = (id(stmts), stretch)

        group(self.func.body)
        self.members = {r: m[::-1] for r, m in members.items()}

    def _expandable(self, s):
        # an inactive elementwise value (1 - y) folded into the expression using it
        return all(isinstance(a, Const) or a.name not in self.active for a in s.args)

    # ---- accumulation ----------------------------------------------------------------
    def adjoint_name(self, var):
        if var not in self.adj_name:
            self.adj_name[var] = self.names.derived(var)
        return self.adj_name[var]

    def materialize(self, var):
        """Turn a lazy scalar adjoint into the array it stands for."""
        if var in self.lazy:
            self.lazy.discard(var)
            code = self.adj[var]
            name = self.adjoint_name(var)
            like = self.like(var)
            self.lines.append(Line((name,), f"_fill({code}, {', '.join(like)})",
                                   self.reads_of.get(var, code_reads(code)) | set(like),
                                   self.blocks.get(var, ()), True))
            self.views.add(name)
            self.set_adj(var, name)

    def set_adj(self, var, code, reads=None):
        self.adj[var] = code
        self.terms.pop(var, None)
        self.reads_of[var] = frozenset(reads if reads is not None else code_reads(code))

    def contribute(self, var, code, reads, block, lazy=False, summed=None):
        """Add `code` to var's adjoint.  `summed` (a _Summed), if given, is a form of
        the contribution summed to the shape of a value var is a broadcast of that
        does better than _unbroadcast(code, x) (see distribute)."""
        if var not in self.active:
            return
        current = self.adj.get(var)
        terms = None if lazy or var in self.lazy else \
            [] if current is None else self.terms.get(var)
        self.blocks[var] = block
        if current is not None and not (lazy and var in self.lazy):
            self.lazy.discard(var)
        elif current is None and lazy:
            self.lazy.add(var)
        if current is None:
            if _NAME.fullmatch(code) or _NUMBER.fullmatch(code) or var in self.lazy:
                self.set_adj(var, code, reads)  # a lazy scalar is written out where used
                if terms is not None and _NAME.fullmatch(code):
                    self.terms[var] = [(None, code, frozenset(reads), summed)]
                return
            name = self.adjoint_name(var)
            line = Line((name,), code, frozenset(reads), block)
            self.lines.append(line)
            self.views.discard(name)  # the name now holds a fresh array
        else:
            name = self.adjoint_name(var)
            if var in self.tuples:
                total = f"_add_tuples({current}, {code})"
            elif code.startswith("-") and _single_term(code[1:]):
                total = f"{current} - {code[1:]}"
            else:
                total = f"{current} + {code}"
            line = Line((name,), total,
                        frozenset(reads) | self.reads_of.get(var, code_reads(current)), block)
            self.lines.append(line)
            self.views.discard(name)
        self.set_adj(var, name)
        if terms is not None:
            self.terms[var] = terms + [(line, code, frozenset(reads), summed)]

    def distribute(self, var, x, block):
        """The terms of var's adjoint, each summed to the shape of x, in place of the
        lines that add them up, when x's adjoint is its only use and a term sums
        better on its own (_unbroadcast_mul: sum_i a * g_i = a * sum_i g_i where a does
        not vary along i).  Terms linear in one adjoint g through a matrix product
        take it summed once (_sum_first).  None if that does not apply."""
        terms = self.terms.get(var)
        name = self.adj.get(var)
        if not terms or not any(t[3] for t in terms) or self.lines is not self.top_lines \
                or var not in self.order or self.defs.get(var) != 1:
            return None
        mine = {id(t[0]) for t in terms if t[0] is not None}
        at = {id(line): i for i, line in enumerate(self.lines) if id(line) in mine}
        if len(at) != len(mine):
            return None
        if any(name in _line_reads(y) or name in _line_targets(y)
               for y in self.lines if id(y) not in mine):
            return None  # the adjoint is read (or kept) elsewhere
        first = min(at.values(), default=len(self.lines))
        if any(isinstance(y, Block) for y in self.lines[first:]):
            return None  # (a loop's header assigns names too)
        for line, _, term_reads, _ in terms:
            # the term moves down to here: nothing after it may change what it reads
            start = first if line is None else at[id(line)]
            if any(_line_targets(y) & term_reads for y in self.lines[start + 1:]
                   if id(y) not in mine):
                return None
        self.lines[:] = [y for y in self.lines if id(y) not in mine]
        reads = {x}.union(*(t[2] for t in terms))
        summed = [t[3] for t in terms if t[3] is not None]
        g = _Summed.shared(summed)
        gs = None
        if g is not None:
            gs = self.names.temp("t")
            call = ", ".join([g, x] + [p for t in summed for p in t.partners(g)])
            self.lines.append(Line((gs,), f"_sum_first({call})", frozenset(reads), block))
            reads = {gs} | reads
        codes = []
        for _, code, _, term in terms:
            if term is not None:
                codes.append(term.code(x, g, gs))
            elif code.startswith("-") and _single_term(code[1:]):
                codes.append(f"-_unbroadcast({code[1:]}, {x})")
            else:
                codes.append(f"_unbroadcast({code}, {x})")
        return codes, reads

    # ---- state, for branches ----------------------------------------------------------
    def snapshot(self):
        return (dict(self.adj), set(self.lazy), set(self.views), dict(self.reads_of),
                dict(self.blocks))

    def restore(self, state):
        self.adj, self.lazy, self.views, self.reads_of, self.blocks = (
            dict(state[0]), set(state[1]), set(state[2]), dict(state[3]), dict(state[4]))

    def collect(self, build):
        """Run `build` with a fresh list of reverse lines; return that list."""
        outer, self.lines = self.lines, []
        try:
            build()
            return self.lines
        finally:
            self.lines = outer

    def sync(self, var, block=()):
        """Make `var`'s adjoint live under its own name (dx), as code after a branch
        or loop iteration expects: zeros if nothing reached it, a copy of an alias."""
        name = self.adjoint_name(var)
        code = self.adj.get(var)
        if var in self.lazy:  # a value standing for a broadcast: make it the array
            self.materialize(var)
            return
        if code == name:
            return
        if code is None:
            self.lines.append(Line((name,), f"np.zeros_like({var})", frozenset({var}), block))
        elif var in self.lazy:
            self.materialize(var)
            return
        else:
            if self.float_path and _NUMBER.fullmatch(code):
                code = repr(float(code))  # a number on the float path is a float
            self.lines.append(Line((name,), code, self.reads_of.get(var, code_reads(code)),
                                   self.blocks.get(var, block), code in self.views))
            if code in self.views:
                self.views.add(name)
        self.lazy.discard(var)
        self.set_adj(var, name)

    # ---- the sweep ---------------------------------------------------------------------
    def run(self):
        out = self.func.ret.value
        if self.kind != "primal" and isinstance(out, Var):
            for x in self.func.body:
                if isinstance(x, Assign) and x.target == out.name and x.op == "tuple":
                    span = x.span
                    raise UnsupportedSyntaxError(
                        "cannot differentiate a function returning a tuple", span.filename,
                        span.lineno, span.col_offset, span.line,
                        "s2s differentiates a function with one result; return one value, "
                        "e.g. the sum of the parts (forward mode, s2s.jvp, takes tuples).")
        self.activity()
        self.shapes()
        self.clusters()
        if self.kind == "primal":
            forward = self.forward_block(self.func.body[:-1], tape=False)
            return Derivative(self.func, (), "primal", forward, [], [], _code(out), self.names,
                              name=self.func.name, session=self.session)
        forward = self.forward_block(self.func.body[:-1], tape=True)
        value = out.name if isinstance(out, Var) else out.text
        if isinstance(out, Var) and any(isinstance(x, Loop) for x in self.all):
            # the reverse sweep restores loop-carried names to their first values
            keep = self.names.temp("value")
            forward.append(Line((keep,), value, frozenset({value})))
            value = keep
        seed = "1"
        if self.kind == "vjp":
            seed = self.names.claim(_free_in(self.names, "d_out"))
        if isinstance(out, Var) and out.name in self.active:
            self.set_adj(out.name, seed)
            if self.kind in ("grad", "value_and_grad") and self.base.get(out.name, {out.name}):
                # not provably a scalar: refuse arrays instead of differentiating their sum
                # (from the values the result is a broadcast of: it need not be computed)
                atoms = self.like(out.name)
                forward.append(Line((), f'_check_scalar("{self.func.name}", {", ".join(atoms)})',
                                    frozenset(atoms)))
                # past the check the result is a scalar, and so is each value whose
                # shape is a broadcast of some of the result's atoms
                atoms_out = self.scalar_atoms(self.base[out.name])
                for name, shape in self.base.items():
                    if shape <= atoms_out:
                        self.base[name] = frozenset()
        self.reverse_block(self.func.body[:-1])
        self.lines = self.add_in_place_after_index(self.lines)
        grads = []
        for w in self.wrt:
            code = self.adj.get(w)
            if code is None:
                code = f"np.zeros_like({w})"
            elif _NUMBER.fullmatch(code) and self.float_path:
                code = repr(float(code))
            elif _NUMBER.fullmatch(code):
                code = f"np.zeros_like({w}) + {code}"
            elif w in self.lazy:  # (float64 weights, np.where(c, 1, 0.5), must not widen float32)
                code = f"_like(np.zeros_like({w}) + {code}, {w})"
            elif code in self.views:  # a broadcast view: the caller gets its own array
                code = f"np.array({code})" if self.float_path else \
                    f"_like(np.array({code}), {w})"
            elif not self.float_path:  # Python-float weights (np.where(c, d / 2, 0))
                code = f"_like({code}, {w})"  # must not widen float32
            grads.append(code)
        return Derivative(self.func, self.wrt, self.kind, forward, self.lines, grads,
                          value, self.names, seed=seed if self.kind == "vjp" else None,
                          children=self.session.order, session=self.session,
                          shapes=dict(self.base), reduced=self.reduced)

    def user_callee(self, x):
        return user_callee(self.func, x)

    def user_call(self, x):
        """y = f(args) for a user function f: dargs = f_vjp(dy, args) -- a derivative
        function of its own, generated once per set of differentiated arguments."""
        from .normalize import to_ir
        callee = self.user_callee(x)
        span = x.span
        if callee in self.session.stack:
            chain = " -> ".join(f.__name__ for f in self.session.stack + [callee])
            raise UnsupportedSyntaxError(
                f"cannot differentiate a recursive call ({chain})", span.filename, span.lineno,
                span.col_offset, span.line,
                "write the recursion as a loop (for/while) in one function.")
        kwnames = x.param("kwnames")
        npos = len(x.args) - len(kwnames)
        try:
            bound = inspect.signature(callee).bind(
                *range(npos), **{k: npos + j for j, k in enumerate(kwnames)})
        except TypeError as exc:
            raise UnsupportedSyntaxError(
                f"this call does not match {callee.__name__}'s arguments ({exc})",
                span.filename, span.lineno, span.col_offset, span.line,
                f"pass the arguments {callee.__name__} takes.") from None
        positions = dict(bound.arguments)
        wrt = tuple(p for p, i in positions.items()
                    if isinstance(i, int) and isinstance(x.args[i], Var)
                    and x.args[i].name in self.active)
        key = (callee, wrt)
        if key not in self.session.vjps:
            self.session.stack.append(callee)
            try:
                child = _Reverse(to_ir(callee), wrt, "vjp", self.session).run()
            finally:
                self.session.stack.pop()
            child.single = len(wrt) == 1
            child.name = self.session.names.claim(_free_in(self.session.names,
                                                           f"{callee.__name__}_vjp"))
            self.session.vjps[key] = child
            self.session.order.append(child)
        child = self.session.vjps[key]
        self.materialize(x.target)
        dy = self.adj[x.target]
        texts = [_code(a) for a in x.args]
        args = texts[:npos] + [f"{k}={t}" for k, t in zip(kwnames, texts[npos:])]
        call = f"{child.name}({', '.join([dy] + args)})"
        block = _key(span)
        if len(wrt) == 1:
            a = x.args[positions[wrt[0]]]
            self.contribute(a.name, call, code_reads(call), block)
        else:
            self.apply_multi(x, Multi(call, tuple(positions[p] for p in wrt)), block)

    def loop_active(self, loop):
        return any(c.name in self.active for c in loop.carried) or any(
            isinstance(x, Assign) and x.target in self.active for x in walk(loop.body))

    def stack(self, loop, name):
        key = (id(loop), name)
        if key not in self.stacks:
            self.stacks[key] = self.names.claim(_free_in(self.names, f"_{name}_stack"))
        return self.stacks[key]

    def saved_name(self, loop, name):
        key = (id(loop), "saved", name)
        if key not in self.stacks:
            self.stacks[key] = self.names.claim(_free_in(self.names, f"_{name}_before"))
        return self.stacks[key]

    def counter(self, loop):
        if id(loop) not in self.counters:
            self.counters[id(loop)] = self.names.temp("n")
        return self.counters[id(loop)]

    def forward_block(self, stmts, tape):
        """Forward code for `stmts`: Assigns, Lines and Blocks.  With `tape`, loops
        directly in `stmts` (or in its branches) save their carried values for the
        reverse sweep."""
        out = []
        for x in stmts:
            if isinstance(x, Assign):
                out.append(x)
            elif isinstance(x, If):
                branches = []
                for body, pick in ((x.body, "then"), (x.orelse, "orelse")):
                    code = self.forward_block(body, tape)
                    moves = [Line((p.target,), _code(getattr(p, pick)),
                                  frozenset(_var_names([getattr(p, pick)])))
                             for p in x.phis if getattr(p, pick) != Var(p.target)]
                    branches.append(code + moves)
                out.append(Block(f"if {_code(x.cond)}:", branches[0], branches[1],
                                 frozenset(_var_names([x.cond])), _key(x.span)))
            elif isinstance(x, Loop):
                out.extend(self.forward_loop(x, tape and self.loop_active(x)))
        return out

    def forward_loop(self, loop, tape):
        out = []
        for c in loop.carried:
            if c.init != Var(c.name):
                out.append(Line((c.name,), _code(c.init), frozenset(_var_names([c.init])),
                                _key(loop.span)))
            elif not tape:  # a loop not reversed keeps the name's value from before it
                saved = self.saved_name(loop, c.name)
                out.append(Line((saved,), c.name, frozenset({c.name}), _key(loop.span)))
        body = []
        if tape:
            for c in loop.carried:
                stack = self.stack(loop, c.name)
                out.append(Line((stack,), "[]", frozenset(), _key(loop.span)))
                body.append(Line((), f"{stack}.append({c.name})", frozenset({stack, c.name})))
            if loop.counted:
                n = self.counter(loop)
                out.append(Line((n,), "0", frozenset(), _key(loop.span)))
                body.append(Line((n,), f"{n} + 1", frozenset({n})))
        body += self.forward_block(loop.body, tape=False)
        body += [Line((c.name,), _code(c.update), frozenset(_var_names([c.update])))
                 for c in loop.carried if c.update != Var(c.name)]
        if loop.stop is not None and loop.stop != Const(False, "False"):
            body.append(Line((), f"if {_code(loop.stop)}: break",
                             frozenset(_var_names([loop.stop]))))
        if loop.kind == "for":
            header = f"for {loop.index} in {_range(loop.bounds)}:"
            reads = frozenset(_var_names(loop.bounds))
            out.append(Block(header, body, None, reads, _key(loop.span)))
        else:
            test = self.forward_block(loop.test, tape=False)
            out.append(Block("while True:", test + [Line((), f"if not {_code(loop.cond)}: break",
                                                         frozenset(_var_names([loop.cond])))]
                             + body, None, frozenset(), _key(loop.span), while_test=len(test)))
        return out

    def reverse_block(self, stmts):
        for x in reversed(stmts):
            if isinstance(x, Assign):
                if x.target not in self.active or x.target not in self.adj or not any(
                        isinstance(a, Var) and a.name in self.active for a in x.args):
                    continue
                if x.op in ELEMENTWISE:
                    if self.root_of.get(id(x)) == id(x):
                        self.cluster(self.members[id(x)])
                elif x.op in ADJOINTS:
                    self.structural(x)
                elif self.user_callee(x) is not None:
                    self.user_call(x)
                else:
                    raise InternalError(f"internal error in s2s: active {x.op} has no rule; "
                                        "please report this")
            elif isinstance(x, If):
                self.reverse_if(x)
            elif isinstance(x, Loop):
                if self.loop_active(x):
                    self.reverse_loop(x)
                else:  # values from before the loop, for the statements reversed next
                    for c in x.carried:
                        if c.init == Var(c.name):
                            saved = self.saved_name(x, c.name)
                            self.lines.append(Line((c.name,), saved, frozenset({saved}),
                                                   _key(x.span)))

    def reverse_if(self, x):
        phis = [p for p in x.phis if p.target in self.active and p.target in self.adj]
        # names first defined in the branches (a loop inside may carry an outer name)
        inner = (defined(x.body) | defined(x.orelse)) - self.defined_outside(x)
        for p in phis:
            self.materialize(p.target)
        before = self.snapshot()
        states, bodies = [], []
        for body, pick in ((x.body, "then"), (x.orelse, "orelse")):
            self.restore(before)

            def build(body=body, pick=pick):
                for p in phis:
                    v = getattr(p, pick)
                    if isinstance(v, Var) and v.name != p.target:
                        self.contribute(v.name, self.adj[p.target],
                                        {self.adj[p.target]}, _key(x.span))
                self.reverse_block(body)
            bodies.append(self.collect(build))
            states.append(self.snapshot())
        merged_here = {p.target for p in phis} - self.defined_outside(x)
        outer = sorted({v for st in states for v in st[0]
                        if v not in inner and v not in merged_here},
                       key=lambda v: (self.order.get(v, len(self.order)), v))
        for i, st in enumerate(states):
            self.restore(st)
            # an adjoint differs between the branches in its code, or in standing for a
            # broadcast in one of them only
            changed = [v for v in outer if any(other[0].get(v) != st[0].get(v) or
                                               (v in other[1]) != (v in st[1])
                                               for other in states)]

            def build(changed=changed):
                for v in changed:
                    if any(other[0].get(v) is not None for other in states):
                        self.sync(v, _key(x.span))
            bodies[i] = bodies[i] + self.collect(build)
            states[i] = self.snapshot()
        self.restore(states[0])
        for v in outer:  # after the sync both branches agree
            if states[1][0].get(v) is not None:
                self.adj[v] = states[1][0][v]
        if any(bodies):
            self.lines.append(Block(f"if {_code(x.cond)}:", bodies[0], bodies[1],
                                    frozenset(_var_names([x.cond])), _key(x.span)))

    def defined_outside(self, node):
        """Names the function defines (arguments included) outside statement `node`."""
        return set(self.func.params) | defined(self.func.body, skip=node)

    def reverse_loop(self, loop):
        block = _key(loop.span)
        inner = defined(loop.body) | {c.name for c in loop.carried}
        used = set()
        for y in walk(loop.body):
            for n in (y.args if isinstance(y, Assign) else []):
                if isinstance(n, Var):
                    used.add(n.name)
            if isinstance(y, (If, Loop)):
                used.update(operand_reads(y))
        used.update(c.update.name for c in loop.carried if isinstance(c.update, Var))
        outer = sorted((v for v in used if v in self.active and v not in inner),
                       key=lambda v: (self.order.get(v, len(self.order)), v))
        carried = [c for c in loop.carried if c.name in self.active]
        constant = self.constant_adjoints(loop, carried)
        for c in carried:
            if c.name not in constant:
                self.sync(c.name, block)
        start = len(self.lines)
        for v in outer:
            self.sync(v, block)
        zeros = {line.targets[0]: line for line in self.lines[start:]
                 if isinstance(line, Line) and line.code.startswith("np.zeros_like(")}

        def build():
            # A carried value's update at the end of an iteration is what the name holds
            # before the pop that restores the iteration's start: reuse it, do not
            # recompute it.
            defined = {y.target for y in loop.body if isinstance(y, Assign)}
            for y in walk(loop.body):  # names a nested loop or branch sets again
                if isinstance(y, Loop):
                    defined -= {c.name for c in y.carried}
                elif isinstance(y, If):
                    defined -= {p.target for p in y.phis}
            reused = set()
            for c in loop.carried:
                if isinstance(c.update, Var) and c.update.name in defined and \
                        self.defs.get(c.update.name, 1) == 1:
                    reused.add(c.update.name)
                    self.lines.append(Line((c.update.name,), c.name, frozenset({c.name})))
            for c in loop.carried:
                self.lines.append(Line((c.name,), f"{self.stack(loop, c.name)}.pop()",
                                       frozenset({self.stack(loop, c.name)})))
            self.lines.extend(self.forward_block(
                [y for y in loop.body if not (isinstance(y, Assign) and y.target in reused)],
                tape=True))
            for c in carried:
                if c.update == Var(c.name):
                    continue
                dh = self.adj[c.name]
                if c.name in constant:
                    self.set_adj(c.update.name, dh)
                elif isinstance(c.update, Var) and c.update.name in self.active:
                    if c.update.name in inner:
                        name = self.adjoint_name(c.update.name)
                        self.lines.append(Line((name,), dh, frozenset({dh}), block))
                        self.set_adj(c.update.name, name)
                    else:
                        self.contribute(c.update.name, dh, {dh}, block)
                self.adj.pop(c.name, None)
                self.lazy.discard(c.name)
            self.reverse_block(loop.body)
            for c in carried:
                if c.name not in constant:
                    self.sync(c.name, block)
                elif not _NUMBER.fullmatch(self.adj.get(c.name) or "") or \
                        float(self.adj[c.name]) != float(constant[c.name]):
                    raise InternalError(f"internal error in s2s: the adjoint of {c.name} "
                                        "changed in a loop; please report this")
            for v in outer:
                self.sync(v, block)
        body = self.collect(build)
        body, before, after = self.batch_products(body, outer, block)
        # an adjoint the loop only adds a sum to after it: that sum, not zeros plus it
        inside = set().union(*(_line_reads(y) | _line_targets(y) for y in body + before))
        for i, line in enumerate(after):
            total = line.targets[0]
            if total in zeros and total not in inside:
                dropped = zeros.pop(total)
                self.lines[:] = [y for y in self.lines if y is not dropped]
                after[i] = dataclasses.replace(line, code=line.code[len(f"{total} + "):],
                                               reads=line.reads - {total})
        body = self.add_in_place(body, outer, zeros)
        self.lines.extend(before)
        if loop.kind == "for":
            rng = _range(loop.bounds)
            if loop.counted:
                rng = f"{rng}[:{self.counter(loop)}]"
            header = f"for {loop.index} in reversed({rng}):"
            reads = frozenset(_var_names(loop.bounds)) | (
                {self.counter(loop)} if loop.counted else frozenset())
        else:
            header = f"for _ in range({self.counter(loop)}):"
            reads = frozenset({self.counter(loop)})
        self.lines.append(Block(header, body, None, reads, block))
        self.lines.extend(after)
        for c in carried:
            if c.init != Var(c.name) and isinstance(c.init, Var):
                self.contribute(c.init.name, self.adj[c.name], {self.adj[c.name]}, block)

    def constant_adjoints(self, loop, carried):
        """{carried name: its adjoint} for the accumulators whose adjoint is a number
        before the reverse loop (the seed 1) and that an iteration passes on unchanged:
        out = out + f(x[i]), out read by nothing else in the loop and the update by
        nothing but the next iteration. The adjoint stays that number in every
        iteration: no alias lines, no products by it."""
        inside = {id(y) for y in walk(loop.body)}
        found = {}
        for c in carried:
            dy = self.adj.get(c.name)
            if dy is None or not _NUMBER.fullmatch(dy) or c.name in self.lazy or \
                    not isinstance(c.update, Var):
                continue
            root = next((y for y in loop.body if isinstance(y, Assign) and
                         y.target == c.update.name), None)
            if root is None or self.root_of.get(id(root)) != id(root) or \
                    not self.same_shape(c.name, root.target):
                continue
            members = {id(m) for m in self.members[id(root)]}
            if any(id(y) in inside and (id(y) not in members or where is None)
                   for y, where in self.uses.get(c.name, ())) or \
                    any(y is not loop for y, _ in self.uses.get(c.update.name, ())):
                continue
            expr, _ = cluster_expression(self.members[id(root)])
            if sp.diff(expr, symbol(c.name)) == 1:
                found[c.name] = dy
        return found

    def add_in_place(self, body, outer, zeros):
        """`dx = dx + _getitem_adjoint(d, x, i)` in every iteration of a reverse loop
        allocates an array of x's size a step: add d at i into dx itself instead
        (_add_at), when dx holds the zeros made for it before the loop and the loop
        reads and sets dx only so (or in `dx = dx + ...`, a new array it owns too)."""
        names = {self.adjoint_name(v): v for v in outer if v not in self.tuples}
        steps = {}
        for k, line in enumerate(body):
            m = _ACCUMULATED_INDEX.fullmatch(line.code) if isinstance(line, Line) else None
            if m and line.targets == (m.group(1),) and m.group(1) in names and \
                    m.group(3) == names[m.group(1)] and m.group(1) in zeros:
                steps.setdefault(m.group(1), []).append(k)
        for total, at in steps.items():
            others = [y for k, y in enumerate(body) if k not in at and not (
                isinstance(y, Line) and y.targets == (total,) and
                y.code.startswith((f"{total} + ", f"{total} - ")))]
            if any(total in _line_reads(y) or total in _line_targets(y) for y in others):
                continue
            for k in at:
                body[k] = dataclasses.replace(
                    body[k], code=_in_place(_ACCUMULATED_INDEX.fullmatch(body[k].code)))
        return body

    def add_in_place_after_index(self, lines):
        """Straight-line code: `dx = dx + _getitem_adjoint(d, x, i)` where dx holds the
        array an earlier `_getitem_adjoint(d0, x, i0)` made (x's shape, owned by the
        gradient) and nothing has read it since: d added at i into it (_add_at), one
        pass over the slice for three over x (zeros, filling, the sum): stencils such
        as x[1:] - x[:-1] have one adjoint per slice."""
        fresh = {}  # adjoint -> the value whose shape its new array of zeros has
        for k, line in enumerate(lines):
            m = _ACCUMULATED_INDEX.fullmatch(line.code) if isinstance(line, Line) else None
            if m and line.targets == (m.group(1),) and fresh.get(m.group(1)) == m.group(3):
                lines[k] = dataclasses.replace(line, code=_in_place(m))
                continue
            for name in _line_reads(line) | _line_targets(line):
                fresh.pop(name, None)
            m = _NEW_INDEX_ADJOINT.fullmatch(line.code) if isinstance(line, Line) else None
            if m and len(line.targets) == 1 and m.group(2) not in self.tuples:
                fresh[line.targets[0]] = m.group(2)
        return lines

    def batch_products(self, body, outer, block):
        """`dW = dW + _matmul_adjoint_lhs(d, W, h)` in every iteration of a reverse loop,
        W defined outside it, sums outer products one at a time: save the (d, h) pairs
        instead and add them up after the loop as one matrix product (what a person
        writes for an RNN's weight gradient)."""
        names = {self.adjoint_name(v): v for v in outer}
        before, after, kept = [], [], []
        saved = {}  # name -> the list its values are saved in (one list per name)

        def save(value, block_=()):
            if value not in saved:
                saved[value] = self.names.claim(_free_in(self.names, f"_{value.lstrip('_')}s"))
                before.append(Line((saved[value],), "[]", frozenset(), block))
                kept.append(Line((), f"{saved[value]}.append({value})",
                                 frozenset({saved[value], value}), block_))
            return saved[value]
        for line in body:
            s = _ACCUMULATED_SUM.fullmatch(line.code) if isinstance(line, Line) else None
            if s and line.targets == (s.group(1),) and s.group(1) in names and \
                    s.group(3) == names[s.group(1)] and s.group(1) != s.group(2):
                total, term, var = s.groups()  # db = db + _unbroadcast(t, b): sum once
                terms = save(term, line.block)
                after.append(Line((total,), f"{total} + _unbroadcast_sum({terms}, {var})",
                                  frozenset({total, terms, var}), block))
                continue
            m = _ACCUMULATED_PRODUCT.fullmatch(line.code) if isinstance(line, Line) else None
            if not (m and line.targets == (m.group(1),) and m.group(1) in names
                    and m.group(3) == names[m.group(1)]
                    and m.group(1) not in (m.group(2), m.group(4))):
                kept.append(line)
                continue
            total, dy, weight, x = m.groups()
            dys = save(dy, line.block)
            xs = save(x)
            after.append(Line((total,), f"{total} + _matmul_adjoint_lhs_sum({dys}, {weight}, {xs})",
                              frozenset({total, dys, weight, xs}), block))
        return kept, before, after

    def structural(self, s):
        self.materialize(s.target)
        dy = self.adj[s.target]
        block = _key(s.span)
        result = ADJOINTS[s.op](_Context(s, dy, self))
        if isinstance(result, Multi):
            self.apply_multi(s, result, block)
            return
        for i, code in sorted(result.items()):
            a = s.args[i]
            if isinstance(a, Var):
                lazy = isinstance(code, Scalar)
                code = code.code if lazy else code
                call = _call_parts(code)
                summed = None
                if call is not None and call[0] in HELPER_SUMMED_TO:
                    summed = _Summed(HELPER_SUMMED_TO[call[0]], call[1])
                self.contribute(a.name, code, code_reads(code), block, lazy=lazy,
                                summed=summed)

    def apply_multi(self, s, result, block):
        """Unpack one expression into the contributions of several operands."""
        targets, post = [], []
        counts = {}
        for i in result.indices:
            a = s.args[i]
            if isinstance(a, Var):
                counts[a.name] = counts.get(a.name, 0) + 1
        for i in result.indices:
            a = s.args[i]
            if not (isinstance(a, Var) and a.name in self.active):
                targets.append("_")
            elif self.adj.get(a.name) is None and counts[a.name] == 1:
                name = self.adjoint_name(a.name)
                targets.append(name)
                post.append((a.name, name, True))
            else:
                tmp = self.names.temp("g")
                targets.append(tmp)
                post.append((a.name, tmp, False))
        code = result.code
        if len(targets) == 1:  # one part: take it, do not bind the 1-tuple
            code = f"{code}[0]"
        self.lines.append(Line(tuple(targets), code, code_reads(result.code), block))
        for var, name, direct in post:
            if direct:
                self.set_adj(var, name)
            else:
                self.contribute(var, name, {name}, block)

    def differentiated(self, name):
        """Whether derivatives flow through `name` (in reverse mode: it is active)."""
        return name in self.active

    def cluster_leaves(self, members):
        """Operands of a cluster's statements from outside it that derivatives flow
        through, in order of first use."""
        inside = {m.target for m in members}
        return list(dict.fromkeys(a.name for m in members for a in m.args
                                  if isinstance(a, Var) and a.name not in inside
                                  and self.differentiated(a.name)))

    def cluster(self, members):
        root = members[-1]
        root_expr, definitions = cluster_expression(members)
        if len(members) > 1 and sp.count_ops(root_expr) > CLUSTER_MAX_OPS:
            for m in reversed(members):  # too big for SymPy: one statement at a time
                if m.target in self.adj and m.target in self.active:
                    self.cluster([m])
            return
        partials = []
        for leaf in self.cluster_leaves(members):
            partial = sp.diff(root_expr, symbol(leaf))
            if partial != 0:
                partials.append((leaf, in_forward_values(partial, definitions)))
        if not partials:
            return
        rbase = self.base[root.target]
        lazy = set()
        if root.target in self.lazy:
            # dy is a scalar standing for an array of the root's shape: keep it scalar
            # where the partial has the root's shape anyway or the leaf has it too
            for leaf, partial in partials:
                covers = frozenset().union(*(self.base.get(v.name, frozenset())
                                             for v in partial.free_symbols))
                if covers == rbase:
                    continue
                if self.same_shape(leaf, root.target):
                    lazy.add(leaf)
                else:
                    self.materialize(root.target)
                    lazy.clear()
                    break
        dy = self.adj[root.target]
        if not (_NAME.fullmatch(dy) or _NUMBER.fullmatch(dy)):  # a lazy scalar expression
            name = self.adjoint_name(root.target)
            self.lines.append(Line((name,), dy, self.reads_of[root.target],
                                   self.blocks.get(root.target, ())))
            self.set_adj(root.target, name)
            dy = name
        dsym = sp.sympify(dy) if _NUMBER.fullmatch(dy) else symbol(dy)
        # factoring can bring back a forward value's expression (2*(a + b) for a + b)
        contributions = [(leaf, into_where(substitute(common_factors(dsym * partial),
                                                      definitions)))
                         for leaf, partial in partials]
        block = tuple(sorted({_key(m.span)[0] for m in members}, key=lambda b: -b[0]))
        replacements, reduced = cse([c for _, c in contributions], self.names)
        reduced = self.release_first(reduced, replacements, members)
        for sym, expr in replacements:
            self.lines.append(Line((sym.name,), to_code(expr), _sym_reads(expr), block))
        for (leaf, _), expr in zip(contributions, reduced):
            code = to_code(expr)
            reads = _sym_reads(expr)
            if not expr.is_Number and numbers_only(expr):  # keep the leaf's precision
                code = f"_like({code}, {leaf})"
                reads = reads | {leaf}
            coeff, rest = expr.as_coeff_Mul()
            summed = None
            if rest.is_Mul and not numbers_only(expr):  # summed: a factor at a time
                summed = _Summed("_unbroadcast_mul", [to_code(f) for f in rest.args], coeff)
            # leaf = a @ b read here only: the adjoints of a and b take its adjoint as is
            unsummed = leaf in self.summed_by_helper and leaf not in lazy
            if not self.same_shape(leaf, root.target) and not unsummed:
                # a number factor applies after the sum: -_unbroadcast(g, x), one pass less
                if coeff != 1 and not rest.is_Number:
                    code = to_code(rest)
                product = self.products.get(leaf)
                spread = None
                if rest == dsym and len(contributions) == 1 and not replacements:
                    spread = self.distribute(root.target, leaf, block)
                if spread is not None:  # dy's terms summed to the leaf one by one
                    codes, reads = spread
                    if coeff == -1:  # flip their signs
                        codes = [c[1:] if c.startswith("-") else "-" + c for c in codes]
                        coeff = 1
                    code = codes[0] + "".join(f" - {c[1:]}" if c.startswith("-") else f" + {c}"
                                              for c in codes[1:])
                    if coeff != 1 and len(codes) > 1:
                        code = f"({code})"
                    summed = None
                elif product is not None:  # leaf = a @ b: its shape from a and b
                    code = f"_unbroadcast_matmul({code}, {product[0]}, {product[1]})"
                    reads = reads | set(product)
                else:
                    code = f"_unbroadcast({code}, {leaf})"
                    reads = reads | {leaf}
                if coeff != 1 and not rest.is_Number:
                    code = _times(coeff, code)
            self.contribute(leaf, code, reads, block, lazy=leaf in lazy, summed=summed)

    def release_first(self, reduced, replacements, members):
        """Contributions where the terms of a sum that read a value of the cluster for the
        last time are computed first, under a name of their own (appended to
        `replacements`): the emitter releases the value before the other terms are made
        (_t0 = 2 * (1 - t**2) * t, del t, dx = _unbroadcast(_t0 - y / (1 + np.exp(x *
        y)), x): the sum needs t and its own arrays, never both at once). Top-level code
        only: nothing is released inside a loop or a branch."""
        if self.lines is not self.top_lines:
            return reduced
        inner = {m.target for m in members[:-1]}  # read by this cluster's adjoints only
        out = list(reduced)
        for i, expr in enumerate(out):
            if not expr.is_Add:
                continue
            later = set().union(*(_sym_reads(e) for e in out[i + 1:]))
            dying = {n for n in _sym_reads(expr) & inner - later if self.base.get(n)}
            first = [t for t in expr.args if _sym_reads(t) & dying]
            rest = [t for t in expr.args if not _sym_reads(t) & dying]
            bare = [t.as_coeff_Mul()[1].is_Symbol for t in first], \
                [t.as_coeff_Mul()[1].is_Symbol for t in rest]
            if not first or not rest or bare[0] == [True] or all(bare[1]) or \
                    any(numbers_only(t) for t in rest):
                continue  # (nothing to compute first, or after: one array either way)
            sym = symbol(self.names.temp("t"))
            replacements.append((sym, sp.Add(*first)))
            out[i] = sym + sp.Add(*rest)
        return out


def broadcast(shape, reduced):
    """The shape of a broadcast of values of shapes whose atoms are `shape`: an atom r
    that is a reduction of a shape among the others (reduced[r]) broadcasts into it."""
    return frozenset(r for r in shape if not (r in reduced and reduced[r] <= shape - {r}))


def cluster_expression(members):
    """(the last member's value as one SymPy expression of the cluster's leaves, the
    definitions in_forward_values takes: [(symbol, full expression, local expression)])."""
    exprs, definitions = {}, []
    for m in members:
        full = statement_to_sympy(m, exprs)
        exprs[m.target] = full
        definitions.append((symbol(m.target), full, statement_to_sympy(m, {})))
    return exprs[members[-1].target], definitions


def _static_axis(axis):
    return type(axis) is int or isinstance(axis, tuple) and all(type(a) is int for a in axis)


def _uses(body):
    """name -> [(statement, id(its statement list)) for each operand of an Assign that
    reads the name, and (statement, None) for any other use (a condition, a loop
    bound, a merge, a static parameter, the returned value)], in program order."""
    users = {}
    for stmts in blocks(body):
        for x in stmts:
            if isinstance(x, Assign):
                for a in x.args:
                    if isinstance(a, Var):
                        users.setdefault(a.name, []).append((x, id(stmts)))
                for _, value in x.params:
                    for v in static_vars(value):
                        users.setdefault(v.name, []).append((x, None))
            else:
                names = [x.value.name] if isinstance(x, Return) and \
                    isinstance(x.value, Var) else operand_reads(x)
                for n in names:
                    users.setdefault(n, []).append((x, None))
    return users


def _readers(uses, name):
    """The statements that read `name`, each once."""
    return list({id(x): x for x, _ in uses.get(name, ())}.values())


def _read_once_beside(body, names, uses):
    """The names among `names` that exactly one statement reads, a statement in the
    same statement list as their definition (not in a loop or branch apart from it)."""
    found = set()
    for stmts in blocks(body):
        for x in stmts:
            readers = {(id(y), where) for y, where in uses.get(x.target, ())} \
                if isinstance(x, Assign) else ()
            if isinstance(x, Assign) and x.target in names and len(readers) == 1 and \
                    next(iter(readers))[1] == id(stmts):
                found.add(x.target)
    return found


def _logsumexp_shifts(body, defs, uses):
    """Names m = np.max(a, axis) (or np.min) whose only use is to shift a log-sum-exp,
    y = m + np.log(np.sum(np.exp(a - m), axis)), or a log-softmax, y = (a - m) -
    np.log(np.sum(np.exp(a - m), axis)): y does not depend on m's value, so m carries
    no gradient (as in JAX's logsumexp), and its extremum adjoint, which would only
    add up to zero, is never computed."""
    assigns = {x.target: x for x in walk(body) if isinstance(x, Assign) and defs.get(x.target) == 1}

    def only_reader(name, op):
        found = _readers(uses, name)
        if len(found) == 1 and isinstance(found[0], Assign) and found[0].op == op and \
                found[0].target in assigns:
            return found[0]
        return None
    shifts = set()
    for m in assigns.values():
        if m.op not in ("np.max", "np.min") or not isinstance(m.args[0], Var):
            continue
        axis, keepdims = m.param("axis"), m.param("keepdims")
        if not (axis is None or keepdims is True or axis == 0 and type(axis) is int):
            continue  # a - m would not subtract each group's own shift
        users = _readers(uses, m.target)
        shift = [u for u in users if isinstance(u, Assign) and u.op == "sub"
                 and u.args == (m.args[0], Var(m.target)) and u.target in assigns]
        if not shift:
            continue
        u = shift[0].target
        of_u = _readers(uses, u)
        if len(users) == 2:  # m + log(sum(exp(a - m)))
            outer = [x for x in users if isinstance(x, Assign) and x.op == "add"]
            first, rest = Var(m.target), None
        elif len(users) == 1:  # (a - m) - log(sum(exp(a - m))): log-softmax
            outer = [x for x in of_u if isinstance(x, Assign) and x.op == "sub"
                     and x.args[0] == Var(u)]
            first, rest = Var(u), of_u
            if len(rest) != 2:
                continue
        else:
            continue
        e = [x for x in of_u if isinstance(x, Assign) and x.op == "np.exp"]
        if len(outer) != 1 or len(e) != 1 or rest is None and len(of_u) != 1:
            continue
        total = only_reader(e[0].target, "np.sum")
        log = total and only_reader(total.target, "np.log")
        if log and total.param("axis") == axis and total.param("keepdims") == keepdims and \
                only_reader(log.target, outer[0].op) is outer[0] and \
                set(outer[0].args) == {first, Var(log.target)}:
            shifts.add(m.target)
    return shifts


def _times(coeff, code):
    """coeff * code, for a SymPy number coeff and code with no + or - outside brackets."""
    if coeff == 1:
        return code
    return "-" + code if coeff == -1 else f"{to_code(coeff)} * {code}"


def _call_parts(code):
    """(function name, [argument code]) if code is one call f(a, b) of a plain name
    with positional arguments, else None."""
    try:
        call = ast.parse(code, mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or \
            call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    return call.func.id, [ast.get_source_segment(code, a) for a in call.args]


@dataclass
class _Summed:
    """A contribution with a form summed to the shape of a value x better than
    _unbroadcast of it: coeff * _unbroadcast_mul(x, *args) (args: the factors of a
    product), or helper(*args, x) for a HELPER_SUMMED_TO helper (args[0]: the adjoint
    it takes, args[1:]: the product's operands)."""
    helper: str
    args: list
    coeff: object = 1

    def linear_in(self):
        """The names the term is linear in (a factor, or the adjoint a helper takes)."""
        args = self.args if self.helper == "_unbroadcast_mul" else self.args[:1]
        return {a for a in args if _NAME.fullmatch(a) and self.args.count(a) == 1}

    def partners(self, g):
        """What g meets in the term, as _sum_first's arguments."""
        if self.helper == "_unbroadcast_mul":
            return [a for a in self.args if a != g]
        side = "lhs" if self.helper == "_matmul_adjoint_lhs_to" else "rhs"
        return [f"{side}=({self.args[1]}, {self.args[2]})"]

    def code(self, x, g=None, gs=None):
        args = [gs if a == g and gs is not None else a for a in self.args]
        if self.helper == "_unbroadcast_mul":
            return _times(self.coeff, f"_unbroadcast_mul({x}, {', '.join(args)})")
        return f"{self.helper}({', '.join(args + [x])})"

    @staticmethod
    def shared(terms):
        """The one name all terms are linear in, if a matrix product is among them (at
        most one of each side) and there are two terms or more: else None."""
        sides = [t.helper for t in terms if t.helper != "_unbroadcast_mul"]
        if len(terms) < 2 or not sides or len(set(sides)) != len(sides):
            return None
        common = set.intersection(*(t.linear_in() for t in terms))
        return min(common) if len(common) == 1 else None


def _line_reads(line):
    """The names a generated line, or a block with everything in it, reads (or a
    forward statement among them)."""
    if isinstance(line, Line):
        return line.reads
    if isinstance(line, Block):
        return line.reads.union(*(_line_reads(y) for y in line.body + (line.orelse or [])))
    return {n for y in walk([line]) for n in reads(y)}


def _line_targets(line):
    """The names a generated line, or a block with everything in it, assigns (or a
    forward statement among them)."""
    if isinstance(line, Line):
        return set(line.targets)
    if isinstance(line, Block):
        return set().union(*(_line_targets(y) for y in line.body + (line.orelse or [])))
    return defined([line])


def _in_place(accumulated):
    """`dx = _add_at(dx, d, i)` for the match of `dx + _getitem_adjoint(d, x, i)`."""
    total, dy, _, index = accumulated.groups()
    return f"_add_at({total}, {dy}, {index})"


def _single_term(code):
    """Whether code has no + or - outside brackets (so `a - code` needs none)."""
    depth = 0
    for i, ch in enumerate(code):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and code[i:i + 3] in (" + ", " - "):
            return False
    return True


def _code(a):
    return a.name if isinstance(a, Var) else a.text


def _var_names(operands):
    return [a.name for a in operands if isinstance(a, Var)]


def _key(span):
    return ((span.first or span.lineno, span.statement),) if span is not None else ()


def _range(bounds):
    start, stop, step = (_code(b) for b in bounds)
    if step == "1":
        return f"range({stop})" if start == "0" else f"range({start}, {stop})"
    return f"range({start}, {stop}, {step})"


def _sym_reads(expr):
    return frozenset(s.name for s in expr.free_symbols)


def user_callee(func, x):
    """The user function statement `x` of `func` calls, if it is a "call" of one s2s
    can differentiate."""
    if x.op != "call":
        return None
    path = x.param("func").split(".")
    obj = func.constants.get(path[0])
    for part in path[1:]:
        obj = getattr(obj, part, None)
    obj = getattr(obj, "__s2s_function__", obj)  # @s2s.differentiate
    if not inspect.isfunction(obj) or path[-1] in HELPERS:
        return None
    module = (getattr(obj, "__module__", "") or "").split(".")[0]
    if module in ("numpy", "math", "sympy", "scipy", "s2s"):
        return None
    return obj


def primals(session, derivatives):
    """The forward code of every user function the derivatives' code calls, for a
    module that must run without the user's source."""
    from .normalize import to_ir
    out = []
    todo = list(derivatives) + list(session.order)
    seen = {id(d) for d in todo}
    while todo:
        d = todo.pop(0)
        sweep = _Reverse(d.func, (), "primal", session)
        for x in walk(d.func.body):
            if not isinstance(x, Assign) or x.op != "call":
                continue
            callee = sweep.user_callee(x)
            if callee is None or callee in session.primals:
                continue
            if "." in x.param("func"):
                span = x.span
                raise UnsupportedSyntaxError(
                    f"a standalone module cannot call {x.param('func')}", span.filename,
                    span.lineno, span.col_offset, span.line,
                    "import the function by name (from module import f) and call f(...).")
            primal = _Reverse(to_ir(callee), (), "primal", session).run()
            session.primals[callee] = primal
            out.append(primal)
            if id(primal) not in seen:
                seen.add(id(primal))
                todo.append(primal)
    return out


def _free_in(names, base):
    name, n = base, 0
    while not names.is_free(name):
        n += 1
        name = f"{base}_{n}"
    return name


def derive(func: Function, wrt, kind_="grad", session=None, callee=None) -> Derivative:
    """The reverse-mode derivative of `func` with respect to the arguments `wrt`."""
    taken = set(func.constants) | {func.name}
    session = session or Session(taken)
    if callee is not None and not session.stack:
        session.stack.append(callee)
    # arguments all annotated float: number literals print as floats (faster on floats)
    token = FLOATS.set(bool(func.params) and set(func.params) <= set(func.scalars))
    try:
        d = _Reverse(func, wrt, kind_, session).run()
    finally:
        FLOATS.reset(token)
    if kind_ in ("grad", "value_and_grad") and _scalar_formula(func):
        # the same function on Python floats: no shapes to reconcile, no helpers
        floats = dataclasses.replace(func, scalars=frozenset(func.params))
        token = FLOATS.set(True)
        try:
            sweep = _Reverse(floats, wrt, kind_, Session(taken))
            sweep.float_path = True  # the arguments are Python floats: no precision to keep
            d.fast = sweep.run()
        finally:
            FLOATS.reset(token)
    return d


def _scalar_formula(func):
    """Whether `func` is a formula of its arguments (elementwise ops and branches only,
    none annotated otherwise than `float`), which callers may well call with Python
    floats: its derivative gets a path for them without shape bookkeeping."""
    if set(func.params) <= set(func.scalars) or func.kwonly:
        return False
    statements = list(walk(func.body))
    if len(statements) > _FLOAT_PATH_LIMIT:
        return False  # a long formula: not derived (and written) twice
    for x in statements:
        if isinstance(x, Loop) or isinstance(x, Assign) and x.op not in SHAPE_ELEMENTWISE:
            return False
        if isinstance(x, Assign) and any(isinstance(a, Const) and not isinstance(
                a.value, (int, float)) for a in x.args):
            return False  # an array constant: the values are not all numbers
    return True


_FLOAT_PATH_LIMIT = 80  # IR statements
