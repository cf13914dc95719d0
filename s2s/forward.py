"""[derivation] Forward mode: tangents carried along the forward pass.

Input: an ``ir.Function``, the arguments with tangents (``wrt``).  Output: a
``Derivative`` of kind "jvp" whose forward code computes every value and, after each
active statement, its tangent ``x_dot``; it returns ``(value, value_dot)``.

The calculus is the reverse mode's: elementwise partial derivatives from the SymPy
table (written in forward values, as in reverse mode), structural ops from
``rules.structural.TANGENTS`` (the op itself for linear ops, the product rule, and
reductions weighted by their reverse rule), calls to user functions through their
own ``f_jvp``.  Loops carry tangents beside values, so no stack is needed; branches
compute the tangents of the branch taken.  A tangent may be a scalar standing for an
array of its value's shape (``x + c`` with scalar x); it is broadcast where an op
needs the full array and before it leaves a block.

Batched (``forward(..., batched=True)``, for Jacobians and Hessians): every tangent
carries a leading axis, one entry per direction, so one sweep computes all the
columns.  Elementwise terms line that axis up with ``_lift`` where shapes are not
provably equal; structural rules shift their axes (``c.batched``); runtime helpers
use batched forms or ``_over_batch``.  A rule with no batched form raises
NotBatchable, and the caller falls back to one sweep per direction.
"""

from __future__ import annotations

import sympy as sp

from .derive import (CLUSTER_MAX_OPS, Derivative, Session, _code, _free_in, _key,
                     _Reverse, _var_names, cluster_expression, code_reads)
from .errors import NoRuleError, NotBatchable
from .ir import Assign, Block, Const, If, Line, Loop, Var, static_code, walk
from .rules import ELEMENTWISE, kind_of
from .rules.nondiff import STACK_OPS
from .rules.structural import (HELPER_BATCHED, HELPER_JVPS, HELPER_SUMS, HELPER_TANGENTS,
                               TANGENTS)
from .simplify import common_factors, in_forward_values, into_where
from .symbolic import Batched, statement_to_sympy, symbol, to_code


class _TangentContext:
    def __init__(self, stmt, sweep, dy=None):
        self.stmt, self.sweep, self.dy = stmt, sweep, dy
        self.y = stmt.target
        self.n = len(stmt.args)

    def x(self, i):
        return _code(self.stmt.args[i])

    @property
    def batched(self):
        return self.sweep.batched

    def dx(self, i):
        a = self.stmt.args[i]
        return self.sweep.full_tangent(a.name) if isinstance(a, Var) else None

    def zeros(self, i):
        """Code of a zero tangent for operand i."""
        return self.sweep.zeros(self.x(i))

    def unbatchable(self):
        raise NotBatchable(self.stmt.op)

    def batch_getitem(self, t):
        """Code of t[...] selecting, from a batch of tangents, the tangents of x[index]."""
        base, index = self.stmt.args[0], self.stmt.param("index")
        if isinstance(base, Var) and base.name in self.sweep.tuples:
            return f"{t}[{static_code(index, subscript=True)}]"  # picks a tangent array
        if isinstance(base, Var) and base.name in self.sweep.maybe_tuples:
            return f"_batch_getitem({t}, {static_code(index)})"  # a call's result
        parts = index if isinstance(index, tuple) else (index,)
        if all(not isinstance(p, (Var, Const)) or isinstance(p, Var) and p.name in
               self.sweep.int_names or isinstance(p, Const) and type(p.value) is int
               for p in parts):
            return f"{t}[{static_code((slice(None),) + parts, subscript=True)}]"
        return f"{t}[_batch_index({static_code(index)})]"

    def v(self, name):
        return self.stmt.param(name)

    def p(self, name, subscript=False):
        return static_code(self.stmt.param(name))

    def shape(self, i):
        return f"np.shape({self.x(i)})"

    def size(self, i):
        return f"np.size({self.x(i)})"

    def with_dy(self, dy):
        return _TangentContext(self.stmt, self.sweep, dy)

    def same_op(self, operands, **params):
        """Code of this statement's op applied to `operands`, with the static parameters
        in `params` (code) replaced."""
        from .emit import render
        kept = tuple((k, Const(None, params[k]) if k in params else v)
                     for k, v in self.stmt.params)
        kept += tuple((k, Const(None, v)) for k, v in params.items()
                      if k not in dict(self.stmt.params))
        stmt = Assign(self.stmt.target, self.stmt.op,
                      tuple(Const(None, code) for code in operands), kept, self.stmt.span)
        return render(stmt)[0]

    def refuse(self, message, hint=None):
        span = self.stmt.span
        raise NoRuleError(message, span.filename, span.lineno, span.col_offset, span.line, hint)


class _Forward(_Reverse):
    batched = False  # tangents come in a batch: a leading axis, one entry per direction

    def run(self):
        self.activity()
        self.shapes()
        self.clusters()
        self.tangent = {}  # var -> code of its tangent (a name, or a number)
        self.lazy_t = set()  # tangents that may be smaller than their value
        for w in self.wrt:
            self.tangent[w] = self.names.claim(_free_in(self.names, f"{w}_dot"))
        self.params_dot = [self.tangent[w] for w in self.wrt]
        # names known to hold integers (for-loop indices): x[i] needs no index helper
        self.int_names = {n.index for n in walk(self.func.body)
                          if isinstance(n, Loop) and n.kind == "for"}
        self.maybe_tuples = _maybe_tuples(self.func.body)
        out = self.func.ret.value
        code = []
        if self.batched:
            self.batch = self.names.claim(_free_in(self.names, "directions"))
            code.append(Line((self.batch,), f"len({self.params_dot[0]})",
                             frozenset({self.params_dot[0]})))
        code += self.block(self.func.body[:-1])
        value = _code(out)
        t = self.full_tangent(out.name, code) if isinstance(out, Var) else None
        if t is None:
            t = self.zeros(value)
        d = Derivative(self.func, self.wrt, "jvp", code, [], [t], value, self.names,
                       children=self.session.order, session=self.session)
        d.tangent_params = self.params_dot
        return d

    def zeros(self, value):
        """Code of a zero tangent (a batch of them) for the value `value` (code)."""
        if value in getattr(self, "maybe_tuples", ()):  # a tuple: a tuple of zeros
            return f"_zero_tangent({value}, {self.batch})" if self.batched else \
                f"_zero_tangent({value})"
        if self.batched:
            return f"np.zeros(({self.batch},) + np.shape({value}))"
        return f"np.zeros_like({value})"

    def operand_tangent(self, var, result):
        """Code of var's tangent as a term of the tangent of the elementwise `result`:
        a batch of tangents gets its axes lined up with the result's unless both have
        the same shape."""
        t = self.tangent[var]
        if self.batched and (var in self.lazy_t or not self.same_shape(var, result)):
            return f"_lift({t}, {result})"
        return t

    def tangent_name(self, var):
        return self.names.claim(_free_in(self.names, f"{var}_dot"))

    def full_tangent(self, var, out=None):
        """The tangent of `var` with its value's shape (broadcast if need be)."""
        t = self.tangent.get(var)
        if t is None or var not in self.lazy_t:
            return t
        name = self.tangent_name(var)
        code = f"_broadcast_to_batch({t}, np.shape({var}))" if self.batched else \
            f"np.broadcast_to({t}, np.shape({var}))"
        (out if out is not None else self.out).append(Line((name,), code, code_reads(code)))
        self.tangent[var] = name
        self.lazy_t.discard(var)
        return name

    def block(self, stmts):
        outer = getattr(self, "out", None)
        self.out = []
        try:
            for x in stmts:
                if isinstance(x, Assign):
                    self.assign(x)
                elif isinstance(x, If):
                    self.if_(x)
                elif isinstance(x, Loop):
                    self.loop(x)
            return self.out
        finally:
            result = self.out
            self.out = outer if outer is not None else result

    def active_stmt(self, x):
        return any(isinstance(a, Var) and a.name in self.active and
                   self.tangent.get(a.name) is not None for a in x.args) and \
            kind_of(x) != "nondiff"

    def assign(self, x):
        block = _key(x.span)
        if x.op in STACK_OPS:
            self.stack_op(x, block)
            return
        if x.op in ELEMENTWISE and self.root_of.get(id(x)) not in (None, id(x)):
            self.out.append(x)  # inside a cluster: its root's tangent covers it
            return
        members = self.members.get(id(x), [x]) if x.op in ELEMENTWISE else [x]
        if not (self.active_stmt(x) or len(members) > 1 and self.cluster_leaves(members)):
            self.out.append(x)
            return
        if x.op in ELEMENTWISE:
            self.out.append(x)
            self.elementwise(x, members, block)
            return
        if x.op == "call" and x.param("func") in HELPER_JVPS:
            self.out.append(x)
            jvp, positions = HELPER_JVPS[x.param("func")]
            dots = [self.full_tangent(x.args[i].name) if i < len(x.args) and
                    isinstance(x.args[i], Var) else None for i in positions]
            kwnames = x.param("kwnames")
            texts = [_code(a) for a in x.args]
            npos = len(texts) - len(kwnames)
            args = [f"({', '.join(str(d) for d in dots)},)"] + texts[:npos] + \
                [f"{k}={v}" for k, v in zip(kwnames, texts[npos:])]
            if self.batched:
                args.append("batched=True")
            code = f"{jvp}({', '.join(args)})"
            name = self.tangent_name(x.target)
            self.out.append(Line((name,), code, code_reads(code), block))
            self.tangent[x.target] = name
            return
        if x.op == "call" and x.param("func") in HELPER_TANGENTS:
            self.out.append(x)
            code = self.helper_tangent(x)
            if code is not None:
                name = self.tangent_name(x.target)
                self.out.append(Line((name,), code, code_reads(code), block))
                self.tangent[x.target] = name
            return
        if x.op == "call" and self.user_callee(x) is not None:
            self.user_jvp(x, block)
            return
        rule = TANGENTS.get(x.op)
        self.out.append(x)
        if rule is None:
            span = x.span
            raise NoRuleError(f"no forward-mode rule for {x.op}", span.filename, span.lineno,
                              span.col_offset, span.line,
                              "use s2s.grad / s2s.vjp (reverse mode) for this function.")
        code = rule(_TangentContext(x, self))
        name = self.tangent_name(x.target)
        self.out.append(Line((name,), code, code_reads(code), block))
        self.tangent[x.target] = name

    def differentiated(self, name):
        """Whether derivatives flow through `name` (in forward mode: it has a tangent)."""
        return self.tangent.get(name) is not None

    def elementwise(self, x, members, block):
        """The tangent of x, the root of a cluster of elementwise statements (one
        SymPy expression of its leaves, as in reverse mode): the sum over the leaves of
        the partial derivative times the leaf's tangent; the statements inside the
        cluster get none of their own."""
        expr, defs = cluster_expression(members)
        if len(members) > 1 and sp.count_ops(expr) > CLUSTER_MAX_OPS:
            for m in members[:-1]:  # too big for SymPy: one statement at a time
                self.elementwise(m, [m], block)
            expr = statement_to_sympy(x, {})
            defs = [(symbol(x.target), expr, expr)]
            members = [x]
        terms, bases = [], set()
        for leaf in self.cluster_leaves(members):  # d(x * x) = 2 x dx once
            partial = sp.diff(expr, symbol(leaf))
            if partial == 0:
                continue
            partial = in_forward_values(partial, defs)
            tangent = self.operand_tangent(leaf, x.target)
            terms.append(partial * (Batched(tangent, real=True) if self.batched else
                                    symbol(tangent)))
            # the term's shape: the partial's values, and the operand's tangent
            # unless that is itself a smaller stand-in for its broadcast
            bases |= set(self.base.get(s.name, frozenset({s.name}))
                         for s in partial.free_symbols)
            if leaf not in self.lazy_t:
                bases.add(self.base.get(leaf, frozenset({leaf})))
        if not terms:
            return
        total = into_where(common_factors(sp.Add(*terms)))
        if total == 0:  # x - np.maximum(x, x): no tangent, not an int 0
            return
        code = to_code(total)
        covered = frozenset().union(*bases) if bases else frozenset()
        lazy = covered != self.base.get(x.target, frozenset({x.target}))
        if total.is_Symbol and code.isidentifier():  # y = x + c: y_dot is x_dot, no copy
            self.tangent[x.target] = code
            if lazy:
                self.lazy_t.add(x.target)
            return
        name = self.tangent_name(x.target)
        self.out.append(Line((name,), code, code_reads(code), block))
        self.tangent[x.target] = name
        if lazy:
            self.lazy_t.add(x.target)

    def stack_op(self, x, block):
        """A stack of saved values gets a stack of their tangents beside it."""
        self.out.append(x)
        if x.op == "stack_new":
            if x.target in self.active:
                name = self.tangent_name(x.target)
                self.out.append(Line((name,), "[]", frozenset(), block))
                self.tangent[x.target] = name
            return
        stack = x.args[0].name
        dots = self.tangent.get(stack)
        if dots is None:
            return
        if x.op == "stack_push":
            v = x.args[1]
            t = self.full_tangent(v.name) if isinstance(v, Var) else None
            self.out.append(Line((), f"{dots}.append({t or self.zeros(_code(v))})",
                                 code_reads(t or self.zeros(_code(v))) | {dots}, block))
        else:
            name = self.tangent_name(x.target)
            self.out.append(Line((name,), f"{dots}.pop()", frozenset({dots}), block))
            self.tangent[x.target] = name

    def helper_tangent(self, x):
        """Tangent of a call of a runtime helper (or np.broadcast_to / np.array) that is
        linear, or bilinear, in some of its arguments: one term per argument with a
        tangent, that argument replaced by its tangent (for a batch of tangents, in the
        helper's batched form, or the helper mapped over the batch)."""
        func = x.param("func")
        kwnames = x.param("kwnames")
        texts = [_code(a) for a in x.args]
        npos = len(texts) - len(kwnames)
        terms = []
        positions = HELPER_TANGENTS[func]
        if positions[-1] is ...:
            positions = range(positions[0], npos)
        for i in positions:
            a = x.args[i] if i < len(x.args) else None
            t = self.full_tangent(a.name) if isinstance(a, Var) else None
            if t is None:
                continue
            if func in HELPER_SUMS:
                terms.append(t)
                continue
            swapped = texts[:i] + [t] + texts[i + 1:]
            args = swapped[:npos] + [f"{k}={v}" for k, v in zip(kwnames, swapped[npos:])]
            if not self.batched or func in HELPER_BATCHED:
                name = HELPER_BATCHED[func] if self.batched else func
                terms.append(f"{name}({', '.join(args)})")
            elif i < npos:
                terms.append(f"_over_batch({func}, {i}, {', '.join(args)})")
            else:
                raise NotBatchable(func)
        if not terms:
            return None
        if func in HELPER_SUMS and len(terms) == 2:
            name = HELPER_BATCHED[func] if self.batched else func
            return f"{name}({terms[0]}, {terms[1]})"
        return " + ".join(terms)

    def user_jvp(self, x, block):
        from .normalize import to_ir
        import inspect
        callee = self.user_callee(x)
        kwnames = x.param("kwnames")
        npos = len(x.args) - len(kwnames)
        bound = inspect.signature(callee).bind(
            *range(npos), **{k: npos + j for j, k in enumerate(kwnames)})
        positions = dict(bound.arguments)
        wrt = tuple(p for p, i in positions.items() if isinstance(i, int)
                    and isinstance(x.args[i], Var) and self.tangent.get(x.args[i].name))
        key = ("jvp", callee, wrt, self.batched)
        if callee in self.session.stack:
            return self.user_call(x)  # raises the recursion refusal
        if key not in self.session.vjps:
            self.session.stack.append(callee)
            try:
                child = _Forward(to_ir(callee), wrt, "jvp", self.session)
                child.batched = self.batched
                child = child.run()
            finally:
                self.session.stack.pop()
            suffix = "batched_jvp" if self.batched else "jvp"
            child.name = self.session.names.claim(_free_in(self.session.names,
                                                           f"{callee.__name__}_{suffix}"))
            self.session.vjps[key] = child
            self.session.order.append(child)
        child = self.session.vjps[key]
        texts = [_code(a) for a in x.args]
        args = texts[:npos] + [f"{k}={t}" for k, t in zip(kwnames, texts[npos:])]
        args += [f"{pd}={self.full_tangent(x.args[positions[p]].name)}"
                 for p, pd in zip(wrt, child.tangent_params)]
        name = self.tangent_name(x.target)
        call = f"{child.name}({', '.join(args)})"
        self.out.append(Line((x.target, name), call, code_reads(call), block))
        self.tangent[x.target] = name

    def if_(self, x):
        before = dict(self.tangent), set(self.lazy_t)
        branches, states = [], []
        for body, pick in ((x.body, "then"), (x.orelse, "orelse")):
            self.tangent, self.lazy_t = dict(before[0]), set(before[1])
            code = self.block(body)
            states.append((body, pick, code, dict(self.tangent), set(self.lazy_t)))
        merged = {}
        for body, pick, code, tangents, lazy in states:
            self.tangent, self.lazy_t = tangents, lazy
            for p in x.phis:
                v = getattr(p, pick)
                if v != Var(p.target):
                    code.append(Line((p.target,), _code(v), frozenset(_var_names([v]))))
            branches.append(code)
        # tangents of the phis, and of names both branches share, under one name
        for p in x.phis:
            if p.target not in self.active:
                continue
            name = self.tangent_name(p.target)
            for (body, pick, code, tangents, lazy), out in zip(states, branches):
                v = getattr(p, pick)
                self.tangent, self.lazy_t = tangents, lazy
                t = self.full_tangent(v.name, out) if isinstance(v, Var) else None
                out.append(Line((name,), t or self.zeros(p.target),
                                code_reads(t or self.zeros(p.target))))
            merged[p.target] = name
        self.tangent = dict(before[0])
        self.tangent.update(merged)
        self.lazy_t = set(before[1]) - set(merged)
        self.out.append(Block(f"if {_code(x.cond)}:", branches[0], branches[1],
                              frozenset(_var_names([x.cond])), _key(x.span)))

    def loop(self, x):
        carried = [c for c in x.carried if c.name in self.active]
        names = {c.name: self.tangent_name(c.name) for c in carried}
        for c in x.carried:
            if c.init != Var(c.name):
                self.out.append(Line((c.name,), _code(c.init), frozenset(_var_names([c.init]))))
        for c in carried:
            t = self.full_tangent(c.init.name) if isinstance(c.init, Var) else None
            self.out.append(Line((names[c.name],), t or self.zeros(c.name),
                                 code_reads(t or self.zeros(c.name)), _key(x.span)))
            self.tangent[c.name] = names[c.name]
            self.lazy_t.discard(c.name)
        outside = dict(self.tangent), set(self.lazy_t)
        body = self.block(x.body)
        # a tangent the body computed for an outer value (a broadcast made inside the
        # loop) may not exist after it: outer values keep their tangents from before
        carried_names = {c.name for c in x.carried}
        for name, t in outside[0].items():
            if name not in carried_names:
                self.tangent[name] = t
                if name in outside[1]:
                    self.lazy_t.add(name)
        for c in x.carried:
            if c.update != Var(c.name):
                body.append(Line((c.name,), _code(c.update), frozenset(_var_names([c.update]))))
        for c in carried:
            t = self.full_tangent(c.update.name, body) if isinstance(c.update, Var) else None
            if t != names[c.name]:
                body.append(Line((names[c.name],), t or self.zeros(c.name),
                                 code_reads(t or self.zeros(c.name))))
            self.tangent[c.name] = names[c.name]
        if x.stop is not None and x.stop != Const(False, "False"):
            body.append(Line((), f"if {_code(x.stop)}: break", frozenset(_var_names([x.stop]))))
        if x.kind == "for":
            from .derive import _range
            self.out.append(Block(f"for {x.index} in {_range(x.bounds)}:", body, None,
                                  frozenset(_var_names(x.bounds)), _key(x.span)))
        else:
            test = list(x.test)  # the condition needs values only
            self.out.append(Block("while True:", test + [
                Line((), f"if not {_code(x.cond)}: break", frozenset(_var_names([x.cond])))]
                + body, None, frozenset(), _key(x.span), while_test=len(test)))


def _maybe_tuples(body):
    """Names that may hold a tuple: results of calls (user functions return tuples) and
    of tuple/list displays, entries of those, and the names that merge them."""
    found = set()
    while True:
        size = len(found)
        for x in walk(body):
            if isinstance(x, Assign) and (x.op in ("call", "tuple", "list") or x.op == "getitem"
                                          and _names(x.args[:1]) & found):
                found.add(x.target)
            elif isinstance(x, If):
                found.update(p.target for p in x.phis if _names((p.then, p.orelse)) & found)
            elif isinstance(x, Loop):
                found.update(c.name for c in x.carried if _names((c.init, c.update)) & found)
        if len(found) == size:
            return found


def _names(operands):
    return {a.name for a in operands if isinstance(a, Var)}


def forward(func, wrt, session=None, callee=None, batched=False, value=True) -> Derivative:
    """The forward-mode derivative (JVP) of `func` with tangents for `wrt`; `batched`:
    each tangent is a batch of them (a leading axis), raising NotBatchable where a
    rule has no batched form; `value` False: the function returns the tangent only
    (what only the value needed is left out)."""
    session = session or Session(set(func.constants) | {func.name})
    if callee is not None and not session.stack:
        session.stack.append(callee)
    sweep = _Forward(func, wrt, "jvp", session)
    sweep.batched = batched
    d = sweep.run()
    d.batched = batched
    d.tangent_only = not value
    d.name = f"{func.name}_{'batched_' if batched else ''}{'jvp' if value else 'tangent'}"
    return d
