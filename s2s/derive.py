"""[derivation] Reverse mode over the IR.

Input: an ``ir.Function``, the names to differentiate with respect to, and the kind
of derivative.  Output: a ``Derivative``: the forward statements, the reverse sweep
as ``ir.Line``s, and the code of each gradient.

1. Activity: a value is active when it depends on a ``wrt`` argument through ops
   with a derivative.  An active operand of an op with no rule is refused here.
2. Clusters: maximal groups of elementwise statements whose values are used only
   inside the group.  Each cluster is one SymPy expression of its leaves; its
   partial derivatives come from ``sympy.diff``, are rewritten in forward values
   (simplify.in_forward_values) and share a CSE.  A cluster too large for SymPy is
   differentiated one statement at a time instead.
3. Structural ops apply their adjoint rule (rules/structural.py).
4. Contributions to one adjoint: the first assigns (or just names an existing
   value), later ones add.  A contribution to an operand that may have been
   broadcast goes through ``_unbroadcast``, unless the shape analysis below proves
   the shapes equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from . import runtime
from .errors import InternalError, NoRuleError
from .ir import Assign, Const, Function, Line, Var, static_code
from .names import NameTable
from .rules import ADJOINTS, ELEMENTWISE, NONDIFF, kind
from .rules.structural import VIEWS, Multi, Scalar
from .simplify import cse, in_forward_values, into_where
from .symbolic import const_to_sympy, statement_to_sympy, symbol, to_code

CLUSTER_MAX_STATEMENTS = 16
CLUSTER_MAX_OPS = 150

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
    def __init__(self, func: Function, wrt, kind_):
        self.func = func
        self.wrt = tuple(wrt)
        self.kind = kind_
        self.body = [s for s in func.body if isinstance(s, Assign)]
        taken = set(func.params) | {s.target for s in self.body} | set(func.constants)
        taken |= HELPERS
        self.names = NameTable(taken)
        self.lines = []
        self.adj = {}  # var -> code holding its adjoint so far
        self.adj_name = {}  # var -> the name its adjoint is assigned to
        self.views = set()
        self.blocks = {}
        self.reads_of = {}
        self.lazy = set()  # vars whose adjoint code is a scalar standing for a full array

    # ---- analyses ------------------------------------------------------------------
    def activity(self):
        active = set(self.wrt)
        for s in self.body:
            if not any(isinstance(a, Var) and a.name in active for a in s.args):
                continue
            k = kind(s.op)
            if k == "nondiff":
                continue
            if k is None:
                raise _refuse_call(s)
            active.add(s.target)
        self.active = active

    def shapes(self):
        """Each value's shape as the set of atoms it is a broadcast of.

        Equal sets mean provably equal shapes; the empty set is a scalar.  Atoms are
        arguments, array constants and results of ops that are not elementwise."""
        base = {p: frozenset({p}) for p in self.func.params}

        def of(a):
            if isinstance(a, Var):
                return base.get(a.name, frozenset({a.name}))
            return frozenset() if isinstance(a.value, (int, float, bool)) else frozenset({a.text})

        for s in self.body:
            if s.op in SHAPE_ELEMENTWISE:
                base[s.target] = frozenset().union(*(of(a) for a in s.args))
            elif (s.op in REDUCTIONS and s.param("axis") is None and not s.param("keepdims")) \
                    or s.op in ("np.trace", "np.linalg.norm"):
                base[s.target] = frozenset()
            else:
                base[s.target] = frozenset({s.target})
        self.base = base
        self.order = {n: i for i, n in enumerate(list(self.func.params) +
                                                  [s.target for s in self.body])}

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
        """Map each active elementwise statement's target to its cluster's root target."""
        users = {}
        for i, s in enumerate(self.body):
            for a in s.args:
                if isinstance(a, Var):
                    users.setdefault(a.name, set()).add(i)
        ret = self.func.ret.value
        root_of = {}
        members = {}
        for i in range(len(self.body) - 1, -1, -1):
            s = self.body[i]
            if s.op not in ELEMENTWISE:
                continue
            if s.target not in self.active and not self._expandable(s):
                continue
            roots = {root_of.get(self.body[u].target) for u in users.get(s.target, ())}
            root = roots.pop() if len(roots) == 1 else None
            joins = (root is not None and not (isinstance(ret, Var) and ret.name == s.target)
                     and len(members[root]) < CLUSTER_MAX_STATEMENTS)
            if joins:
                root_of[s.target] = root
                members[root].append(s)
            elif s.target in self.active:
                root_of[s.target] = s.target
                members[s.target] = [s]
        self.root_of = root_of
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
        self.reads_of[var] = frozenset(reads if reads is not None else code_reads(code))

    def contribute(self, var, code, reads, block, view=False, lazy=False):
        if var not in self.active:
            return
        current = self.adj.get(var)
        self.blocks.setdefault(var, block)
        if current is not None and not (lazy and var in self.lazy):
            self.lazy.discard(var)
        elif current is None and lazy:
            self.lazy.add(var)
        if current is None:
            if _NAME.fullmatch(code) or _NUMBER.fullmatch(code) or var in self.lazy:
                self.set_adj(var, code, reads)  # a lazy scalar is written out where used
                return
            name = self.adjoint_name(var)
            self.lines.append(Line((name,), code, frozenset(reads), block, view))
            if view:
                self.views.add(name)
        else:
            name = self.adjoint_name(var)
            self.lines.append(Line((name,), f"{current} + {code}",
                                   frozenset(reads) | self.reads_of.get(var, code_reads(current)),
                                   block))
            self.views.discard(name)
        self.set_adj(var, name)

    # ---- the sweep ---------------------------------------------------------------------
    def run(self):
        self.activity()
        self.shapes()
        self.clusters()
        ret = self.func.ret
        out = ret.value
        if isinstance(out, Var) and out.name in self.active:
            self.set_adj(out.name, "1")
        for s in reversed(self.body):
            if s.target not in self.active or s.target not in self.adj:
                continue
            if s.op in ELEMENTWISE:
                if self.root_of.get(s.target) == s.target:
                    self.cluster(self.members[s.target])
            elif s.op in ADJOINTS:
                self.structural(s)
            else:
                raise InternalError(f"internal error in s2s: active {s.op} has no rule; "
                                    "please report this")
        grads = []
        for w in self.wrt:
            code = self.adj.get(w)
            if code is None:
                code = f"np.zeros_like({w})"
            elif _NUMBER.fullmatch(code) or w in self.lazy:
                code = f"np.zeros_like({w}) + {code}"
            elif code in self.views:
                code = f"np.array({code})"
            grads.append(code)
        value = out.name if isinstance(out, Var) else out.text
        return Derivative(self.func, self.wrt, self.kind, list(self.body), self.lines, grads,
                          value, self.names)

    def structural(self, s):
        self.materialize(s.target)
        dy = self.adj[s.target]
        block = ((s.span.lineno, s.span.statement),)
        result = ADJOINTS[s.op](_Context(s, dy, self))
        if isinstance(result, Multi):
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
            self.lines.append(Line(tuple(targets), result.code, code_reads(result.code), block))
            for var, name, direct in post:
                if direct:
                    self.set_adj(var, name)
                else:
                    self.contribute(var, name, {name}, block)
            return
        for i, code in sorted(result.items()):
            a = s.args[i]
            if isinstance(a, Var):
                lazy = isinstance(code, Scalar)
                code = code.code if lazy else code
                self.contribute(a.name, code, code_reads(code), block,
                                view=s.op in VIEWS and not lazy, lazy=lazy)

    def cluster(self, members):
        root = members[-1]
        exprs, definitions = {}, []
        for m in members:
            full = statement_to_sympy(m, exprs)
            exprs[m.target] = full
            definitions.append((symbol(m.target), full, statement_to_sympy(m, {})))
        root_expr = exprs[root.target]
        if len(members) > 1 and sp.count_ops(root_expr) > CLUSTER_MAX_OPS:
            for m in reversed(members):  # too big for SymPy: one statement at a time
                if m.target in self.adj and m.target in self.active:
                    self.cluster([m])
            return
        member_names = {m.target for m in members}
        leaves = []
        for m in members:
            for a in m.args:
                if isinstance(a, Var) and a.name in self.active and \
                        a.name not in member_names and a.name not in leaves:
                    leaves.append(a.name)
        partials = []
        for leaf in leaves:
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
        contributions = [(leaf, into_where(dsym * partial)) for leaf, partial in partials]
        block = tuple(sorted({(m.span.lineno, m.span.statement) for m in members},
                             key=lambda b: -b[0]))
        replacements, reduced = cse([c for _, c in contributions], self.names)
        for sym, expr in replacements:
            self.lines.append(Line((sym.name,), to_code(expr), _sym_reads(expr), block))
        for (leaf, _), expr in zip(contributions, reduced):
            code = to_code(expr)
            reads = _sym_reads(expr)
            if not self.same_shape(leaf, root.target):
                code = f"_unbroadcast({code}, {leaf})"
                reads = reads | {leaf}
            self.contribute(leaf, code, reads, block, lazy=leaf in lazy)


def _sym_reads(expr):
    return frozenset(s.name for s in expr.free_symbols)


def derive(func: Function, wrt, kind_="grad") -> Derivative:
    return _Reverse(func, wrt, kind_).run()
