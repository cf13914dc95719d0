"""[IR] ast.FunctionDef -> ir.Function in single-assignment form.

Every statement of the result is one of these shapes (``a``, ``b`` are operands:
a variable or a constant; ``S`` a static parameter: literal, inactive variable,
tuple or slice of those):

    t = a + b | a - b | a * b | a / b | a ** b | a @ b | -a        (op add sub mul div pow matmul neg)
    t = a > b | a >= b | a < b | a <= b | a == b | a != b          (op gt ge lt le eq ne)
    t = np.f(a, b, ..., k=S)   a NumPy/math function, op "np.f" / "math.f"
    t = a[S]                   op "getitem", param index
    t = a.attr                 op "attr", param name (shape, ndim, size, dtype, or any
                               attribute of a value that is not differentiated)
    t = (a, b, ...)            op "tuple" (also [a, b] used as a value)
    t = f(a, ..., k=b)         op "call", any other callable, and
    t = a.m(b, ..., k=c)       op "method", any other method: evaluated as written,
                               refused by derive when an operand is differentiated
    t = np.s_[S]               op "np.s_", an index value (generated code passes them)
    s = [] | s.append(a) | t = s.pop()   ops "stack_new/stack_push/stack_pop" (the
                               stacks of generated gradients, for forward mode over them)
    If(cond, body, orelse, phis)          after it, phi targets merge the branches
    Loop(for|while, body, carried, ...)   carried names: value before, at the start of
                               each iteration, and after the loop
    return a                   once, last: returns inside branches and loops become
                               phis of a result variable (and a flag that ends loops)

`break` sets a stop flag the loop tests after the iteration's merges; `continue` and
the code after an `if` one of whose branches leaves are handled by moving the rest of
the block into the other branch, so every block ends in one place.

NumPy names are resolved through the function's globals (``import numpy as onp``,
``from numpy import exp``, ``math.exp``) to one canonical spelling each, and
methods (``x.sum(axis=0)``, ``x.T``, ``x.reshape(2, 3)``) to the same ops.
Re-assigned names get versions (``h``, ``h_1``), temporaries are named after the
variable they lead to (``_h0``), and ``y = x`` just renames.  A temporary that
repeats an earlier array-structure op of its block (``x[i]`` twice) reads the earlier
value (``share_repeats``).  Everything outside this subset is refused here with the
user's line and a hint.
"""

from __future__ import annotations

import ast
import math
import numbers

import numpy as np

from .frontend import Parsed, display_name, lookup, parse
from .ir import (Assign, Carry, Const, Function, If, Loop, Phi, Return, Var, defined,
                 rename_all)
from .names import NameTable
from .runtime import _check_scalar, _like

# Canonical op name -> "operands; static=default, ...".  A leading * marks an
# operand that is a list or tuple of operands (np.concatenate([a, b])).
SIGNATURES = {
    **{f"np.{f}": "x" for f in (
        "exp log log1p expm1 log2 log10 sqrt square sin cos tan arcsin arccos arctan "
        "sinh cosh tanh abs negative reciprocal sign floor ceil round trunc rint "
        "isnan isinf isfinite").split()},
    **{f"np.{f}": "x1, x2" for f in "arctan2 power maximum minimum".split()},
    "np.where": "condition, x, y",
    "np.clip": "a, a_min, a_max",
    **{f"math.{f}": "x" for f in (
        "exp log sqrt sin cos tan asin acos atan sinh cosh tanh log1p expm1 "
        "floor ceil").split()},
    "math.pow": "x, y",
    "math.atan2": "y, x",
    **{f"np.{f}": "a; axis=None, keepdims=False" for f in "sum mean prod max min".split()},
    **{f"np.{f}": "a; axis=None, ddof=0, keepdims=False" for f in ("var", "std")},
    "np.matmul": "x1, x2",
    "np.dot": "a, b",
    "np.outer": "a, b",
    "np.trace": "a",
    "np.diag": "v; k=0",
    "np.transpose": "a; axes=None",
    "np.reshape": "a; shape",
    "np.expand_dims": "a; axis",
    "np.squeeze": "a; axis=None",
    "np.ravel": "a",
    "np.concatenate": "*arrays; axis=0",
    "np.stack": "*arrays; axis=0",
    "np.linalg.norm": "x; ord=None, axis=None, keepdims=False",
}

# Other spellings of the same function object.
ALIASES = {"np.absolute": "np.abs", "np.amax": "np.max", "np.amin": "np.min",
           "math.fabs": "np.abs"}

# method name -> op; the receiver becomes the first operand.
METHODS = {m: f"np.{m}" for m in
           "sum mean prod max min var std reshape transpose squeeze ravel dot clip".split()}
METHODS["flatten"] = "np.ravel"
VARARG_METHODS = {"reshape": "shape", "transpose": "axes"}  # x.reshape(2, 3)
ATTRIBUTES = {"shape", "ndim", "size", "dtype", "real"}

BINOPS = {ast.Add: ("add", "+"), ast.Sub: ("sub", "-"), ast.Mult: ("mul", "*"),
          ast.Div: ("div", "/"), ast.Pow: ("pow", "**"), ast.MatMult: ("matmul", "@"),
          ast.FloorDiv: ("floordiv", "//"), ast.Mod: ("mod", "%"),
          ast.BitAnd: ("and", "&"), ast.BitOr: ("or", "|")}
COMPARES = {ast.Gt: "gt", ast.GtE: "ge", ast.Lt: "lt", ast.LtE: "le", ast.Eq: "eq",
            ast.NotEq: "ne"}
NAMED_CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}


def _parse_signature(spec):
    operands, _, statics = spec.partition(";")
    ops = [o.strip() for o in operands.split(",") if o.strip()]
    stat = []
    for item in statics.split(","):
        if item.strip():
            name, eq, default = item.strip().partition("=")
            stat.append((name, ast.literal_eval(default) if eq else _REQUIRED))
    return ops, stat


_REQUIRED = object()
_SIGS = {name: _parse_signature(spec) for name, spec in SIGNATURES.items()}


def _resolve(path):
    obj = {"np": np, "math": math}[path[0]]
    for part in path[1:]:
        obj = getattr(obj, part, None)
    return obj


# id(function object) -> canonical op name
_BY_OBJECT = {id(abs): "np.abs"}
for _name in list(SIGNATURES) + list(ALIASES):
    _obj = _resolve(_name.split("."))
    if _obj is not None:
        _BY_OBJECT.setdefault(id(_obj), ALIASES.get(_name, _name))


class _Normalizer:
    def __init__(self, parsed: Parsed):
        self.parsed = parsed
        self.node = parsed.node
        self.body = []
        self.env = {}  # user name -> current operand
        self.constants = {}
        self.origin = {}
        taken = {n.id for n in ast.walk(self.node) if isinstance(n, ast.Name)}
        taken |= {a.arg for a in self._all_args()}
        self.names = NameTable(taken)
        self.stmt = None  # the ast statement being normalized
        self.loop_depth = 0
        self.generated = parsed.filename.startswith("<s2s ")  # s2s's own output
        self.stacks = {}  # name -> the stack (a list filled by .append) it holds
        self.ssa = set()  # SSA names given so far
        self.ret_node = None
        self.synthetic = {}  # id of an ast.If made to guard code after an exit -> its flag
        self.one_branch = {}  # name -> the `if` that assigns it in one branch only
        self.deleted = {}  # name -> the `del` statement that removed it
        self.loop_vars = {}  # loop variable -> its loop (not readable after the loop)


    # ---- helpers -------------------------------------------------------------------
    def _all_args(self):
        a = self.node.args
        return a.posonlyargs + a.args + a.kwonlyargs

    def error(self, node, message, hint=None):
        return self.parsed.error(node, message, hint)

    def span(self, node):
        return self.parsed.span(node, self.stmt)

    def emit(self, target, op, args, params=(), node=None):
        self.body.append(Assign(target, op, tuple(args), tuple(params), self.span(node)))
        return Var(target)

    def new_name(self, base):
        """A fresh SSA name for the user variable `base`: `base` itself the first time
        it names a value, then base_1, base_2, ..."""
        if base in self.ssa or any(a.arg == base for a in self._all_args()):
            name = self.names.version(base)
        else:
            name = self.names.claim(base)
        self.ssa.add(name)
        self.origin[name] = base
        return name

    # ---- statements ----------------------------------------------------------------
    def run(self) -> Function:
        node = self.node
        a = node.args
        if a.vararg or a.kwarg:
            bad = a.vararg or a.kwarg
            raise self.error(bad, "cannot differentiate a function with *args or **kwargs",
                             "list the arguments by name.")
        params = tuple(arg.arg for arg in self._all_args())
        for p in params:
            self.env[p] = Var(p)
            self.origin[p] = p
        self.env[RETURNED] = Const(False, "False")
        self.env[RET] = Const(None, "None")
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]  # docstring
        if self.generated and body and _is_float_path(body[0]):
            body = body[1:]  # a generated path for Python floats: the rest covers them too
        self.function_body = body  # (code after a branch may still return)
        ended = self.run_block(body)
        if ended != "return":
            last = body[-1] if body else node
            if ended == "return":
                raise self.error(last, "not every path through the function returns a value",
                                 "end every branch with `return`, or return after the if.")
            raise self.error(last, "the function does not end with `return`",
                             "return the value to differentiate as the last statement.")
        self.body.append(Return(self.env[RET], self.span(self.ret_node or last)))
        ir = Function(node.name, params, self.body, self.parsed.filename, node.lineno,
                      qualname=getattr(self.parsed.func, "__qualname__", node.name),
                      source="".join(self.parsed.lines[node.lineno - 1:node.end_lineno]),
                      constants=self.constants, origin=self.origin,
                      kwonly=tuple(arg.arg for arg in node.args.kwonlyargs),
                      defaults=self.defaults(),
                      scalars=frozenset(arg.arg for arg in self._all_args()
                                        if isinstance(arg.annotation, ast.Name)
                                        and arg.annotation.id in ("float", "int")))
        coalesce_loops(ir)
        share_repeats(ir)
        return ir

    # ---- blocks and control flow -------------------------------------------------------
    def run_block(self, stmts):
        """Normalize a statement list; returns how it ends: None (falls through),
        "return", "break" or "continue".  Code after an `if` one of whose branches
        ends the block is moved into the other branch, so every block ends in one
        place and needs no jumps."""
        for i, stmt in enumerate(stmts):
            self.stmt = stmt
            rest = stmts[i + 1:]
            if isinstance(stmt, (ast.Return, ast.Break, ast.Continue)):
                if rest:
                    raise self.error(rest[0], f"code after `{_keyword(stmt)}` is never run",
                                     "remove the unreachable statements.")
                return self.jump(stmt)
            if isinstance(stmt, ast.If):
                then_ends, else_ends = _ends(stmt.body), _ends(stmt.orelse)
                moved = bool(rest) and then_ends != else_ends
                body = stmt.body + (rest if moved and else_ends else [])
                orelse = stmt.orelse + (rest if moved and then_ends else [])
                if then_ends and else_ends and rest:
                    raise self.error(rest[0], "this code is never run: both branches of the "
                                              "`if` above end the block",
                                     "remove the unreachable statements.")
                ended = self.if_(stmt, body, orelse)
                if moved or ended:
                    return ended
                flag = STOP if self.loop_depth else RETURNED
                if rest and isinstance(self.env.get(flag), Var):
                    # some path through the if left the loop or the function: the
                    # rest runs only on the others
                    return self.run_block([self.exit_guard(stmt, flag, rest)])
                continue
            if isinstance(stmt, (ast.For, ast.While)):
                returns = self.loop(stmt)
                if returns:  # a `return` inside the loop: the rest runs only if it did not
                    if not rest and self.loop_depth == 0 and stmts is self.function_body:
                        raise self.error(stmt, "the function may end after this loop without "
                                               "returning", "add a `return` after the loop.")
                    return self.run_block([self.exit_guard(stmt, RETURNED, rest)])
                continue
            self.statement(stmt)
        return None

    def exit_guard(self, at, flag, rest):
        """`if flag: <leave> else: rest`, for code after a statement that may have
        returned (flag RETURNED) or ended the loop iteration (flag STOP)."""
        def name(n):
            return ast.copy_location(ast.Name(id=n, ctx=ast.Load()), at)
        leave = ast.Return(value=name(RET)) if flag == RETURNED else ast.Break()
        guard = ast.copy_location(ast.If(test=name(flag), body=[ast.copy_location(leave, at)],
                                         orelse=rest), at)
        self.synthetic[id(guard)] = flag
        return guard

    def jump(self, stmt):
        if isinstance(stmt, ast.Return):
            if stmt.value is None:
                raise self.error(stmt, "the function returns nothing",
                                 "return the value to differentiate.")
            self.env[RET] = self.operand(stmt.value, "out", top=True)
            self.ret_node = self.ret_node or stmt
            self.env[RETURNED] = Const(True, "True")
            if self.loop_depth:
                self.env[STOP] = Const(True, "True")
                return "break"
            return "return"
        if not self.loop_depth:
            raise self.error(stmt, f"`{_keyword(stmt)}` outside a loop")
        # The rest of the iteration was moved into the other branch (run_block), so
        # `continue` needs nothing and `break` a flag the loop tests at the end of
        # the iteration, after the values the iteration leaves have been merged.
        if isinstance(stmt, ast.Break):
            self.env[STOP] = Const(True, "True")
            return "break"
        return "continue"

    def nested(self, stmts):
        """Normalize `stmts` into a new list: (list, how it ends, env after)."""
        outer = self.body
        self.body = []
        try:
            ended = self.run_block(stmts)
            return self.body, ended, dict(self.env)
        finally:
            self.body = outer

    def if_(self, node, body, orelse):
        self.stmt = node
        span = self.span(node)
        if id(node) in self.synthetic:
            cond = self.env[self.synthetic[id(node)]]
        else:
            cond = self.operand(node.test, "cond")
        before = dict(self.env)
        then_list, then_end, then_env = self.nested(body)
        self.env = dict(before)
        else_list, else_end, else_env = self.nested(orelse)
        merged, phis = {}, []
        exited = [_exited(e) for e in (then_env, else_env)]
        for name in list(then_env) + [n for n in else_env if n not in then_env]:
            a, b = then_env.get(name), else_env.get(name)
            if a is None or b is None:
                # generated code sets some names in one branch and reads them only
                # under the same condition
                temporary = name.startswith("_") or self.generated
                if (a is None and exited[0]) or (b is None and exited[1]) or temporary:
                    # the branch that lacks it has left: the value never reaches a use
                    a, b = a or Const(None, "None"), b or Const(None, "None")
                else:
                    if name not in before:
                        self.one_branch[name] = node
                    continue
            if a == b:
                merged[name] = a
                continue
            base = _INTERNAL.get(name, name)
            target = self.new_name(base) if not base.startswith("_") else self.names.temp(base)
            self.origin[target] = base
            phis.append(Phi(target, a, b))
            merged[name] = Var(target)
        self.env = merged
        then_list, else_list, phis = _coalesce_phis(then_list, else_list, phis)
        self.body.append(If(cond, then_list, else_list, phis, span))
        ends = [e for e in (then_end, else_end)]
        if all(ends):
            return "return" if "return" in ends else ("break" if "break" in ends else "continue")
        return None

    def if_expression(self, node, base, name):
        """`a if c else b`: an `if` whose branches compute a and b, merged by a phi."""
        cond = self.operand(node.test, "cond")
        outer = self.body
        try:
            self.body = []
            a = self.operand(node.body, base)
            then_list, self.body = self.body, []
            b = self.operand(node.orelse, base)
            else_list = self.body
        finally:
            self.body = outer
        if name is not None:
            target = self.new_name(name)
        else:
            target = self.names.temp(base)
            self.origin[target] = base
        then_list, else_list, phis = _coalesce_phis(then_list, else_list, [Phi(target, a, b)])
        self.body.append(If(cond, then_list, else_list, phis, self.span(node)))
        return Var(target)

    def loop(self, node):
        """Normalize a for/while loop; returns whether a `return` occurs inside it."""
        self.stmt = node
        span = self.span(node)
        if node.orelse:
            raise self.error(node.orelse[0], "cannot differentiate a loop with an `else` block",
                             "use a flag variable instead.")
        assigned, returns, breaks = _assigned(node.body)
        index_node = None
        if isinstance(node, ast.For):
            if not isinstance(node.target, ast.Name):
                raise self.error(node.target, "the loop variable must be a single name",
                                 "unpack inside the loop: for i in range(n): a, b = xs[i].")
            index_node = node.target
            bounds, sequence = self.loop_range(node)
            assigned.discard(node.target.id)
        if returns:
            assigned |= {RET, RETURNED}
        order = list(self.env)
        carried = sorted((n for n in assigned if n in self.env), key=order.index)
        inits = {n: self.env[n] for n in carried}
        headers = {}
        for n in carried:
            base = _INTERNAL.get(n, n)
            headers[n] = self.new_name(base) if not base.startswith("_") else self.names.temp(base)
            self.origin[headers[n]] = base
            self.env[n] = Var(headers[n])
        before = dict(self.env)
        outer = self.body
        self.body = []
        test, cond, index = [], None, None
        self.loop_depth += 1
        self.env[STOP] = Const(False, "False")
        try:
            if isinstance(node, ast.While):
                cond = self.operand(node.test, "cond")
                test, self.body = self.body, []
            else:
                index = self.new_name(index_node.id)
                self.env[index_node.id] = Var(index)
                if sequence is not None:  # for v in seq: v = seq[i]
                    self.stmt = node
                    self.env[index_node.id] = self.emit(
                        self.new_name(index_node.id), "getitem", [sequence],
                        [("index", Var(index))], node=index_node)
            self.run_block(node.body)
            body = self.body
        finally:
            self.loop_depth -= 1
            self.body = outer
        updates = {n: self.env.get(n, before[n]) for n in carried}
        stop = self.env.get(STOP)
        self.env = {k: v for k, v in before.items() if k != STOP}
        if STOP in before:
            self.env[STOP] = before[STOP]
        if index_node is not None:
            self.env.pop(index_node.id, None)
            self.loop_vars[index_node.id] = node
        carries = [Carry(headers[n], inits[n], updates[n]) for n in carried]
        self.stmt = node
        self.body.append(Loop("for" if index is not None else "while", body, carries,
                              span, index=index,
                              bounds=bounds if index is not None else (), test=test,
                              cond=cond, counted=isinstance(node, ast.While) or breaks,
                              stop=stop if breaks else None))
        return returns

    def loop_range(self, node):
        """(start, stop, step) operands of `for i in range(...)`, and the sequence
        iterated over otherwise (then the loop runs over its indices)."""
        it = node.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and \
                it.func.id == "range" and it.func.id not in self.env and not it.keywords:
            args = [self.operand(a, "range") for a in it.args]
            if not 1 <= len(args) <= 3:
                raise self.error(it, "range() takes 1 to 3 arguments")
            if len(args) == 1:
                args = [Const(0, "0")] + args
            if len(args) == 2:
                args.append(Const(1, "1"))
            return tuple(args), None
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and \
                it.func.id == "reversed" and it.func.id not in self.env and len(it.args) == 1 \
                and not it.keywords:
            # reversed(range(...)[:n]) in generated gradients: a sequence of indices
            inner = self.operand(it.args[0], "range")
            seq = self.emit(self.names.temp("seq"), "call", [inner],
                            [("func", "reversed"), ("kwnames", ())], node=it)
            seq = self.emit(self.names.temp("seq"), "call", [seq],
                            [("func", "tuple"), ("kwnames", ())], node=it)
            length = self.emit(self.names.temp("n"), "call", [seq],
                               [("func", "len"), ("kwnames", ())], node=it)
            return (Const(0, "0"), length, Const(1, "1")), seq
        if isinstance(it, (ast.Tuple, ast.List)):
            seq = self.emit(self.names.temp("seq"), "tuple",
                            [self.operand(e, "seq") for e in it.elts], node=it)
        elif isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and \
                it.func.id in ("enumerate", "zip"):
            raise self.error(it, f"cannot differentiate a loop over {it.func.id}()",
                             "loop over range(len(xs)) and index: x = xs[i].")
        else:
            seq = self.operand(it, "seq")
        length = self.emit(self.names.temp("n"), "call", [seq],
                           [("func", "len"), ("kwnames", ())], node=it)
        return (Const(0, "0"), length, Const(1, "1")), seq

    def defaults(self):
        func = self.parsed.func
        values = dict(getattr(func, "__kwdefaults__", None) or {})
        positional = [a.arg for a in self.node.args.posonlyargs + self.node.args.args]
        given = getattr(func, "__defaults__", None) or ()
        values.update(zip(positional[len(positional) - len(given):], given))
        return values

    def statement(self, stmt):
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1:
                raise self.error(stmt, "cannot differentiate a chained assignment",
                                 "assign each name on its own line.")
            self.assign(stmt.targets[0], stmt.value)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is None:
                return
            self.assign(stmt.target, stmt.value)
        elif isinstance(stmt, ast.AugAssign):
            target = stmt.target
            if not isinstance(target, ast.Name):
                raise self._inplace(stmt)
            op = BINOPS.get(type(stmt.op))
            if op is None:
                raise self.error(stmt, f"unsupported operator {type(stmt.op).__name__}=")
            current = self.read(target)
            value = self.operand(stmt.value, target.id)
            self.env[target.id] = self.emit(self.new_name(target.id), op[0], [current, value],
                                            node=stmt)
        elif isinstance(stmt, ast.Pass):
            pass
        elif isinstance(stmt, ast.Delete):  # releases memory: no value to follow
            for target in stmt.targets:
                if not (isinstance(target, ast.Name) and target.id in self.env):
                    raise self.error(target, "cannot differentiate `del` of anything but "
                                             "a local name", "remove the del statement.")
                del self.env[target.id]
                self.deleted[target.id] = stmt
        elif isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Constant):
                return  # a stray string or number: no effect
            if isinstance(stmt.value, (ast.Yield, ast.YieldFrom, ast.Await)):
                self.operation(stmt.value, "t")  # refused there, with its own message
            call = stmt.value
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and \
                    call.func.id not in self.env and _is_check(self.parsed.namespace.get(
                        call.func.id)) and not call.keywords:
                # a generated gradient's check of its result: kept (it may raise), no
                # value to follow
                self.emit(self.names.temp("check"), "call",
                          [self.operand(a, "check") for a in call.args],
                          [("func", "_check_scalar"), ("kwnames", ())], node=stmt)
                return
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and \
                    call.func.attr == "append" and isinstance(call.func.value, ast.Name) and \
                    call.func.value.id in self.stacks and call.func.value.id in self.env \
                    and len(call.args) == 1 and not call.keywords:
                # stack.append(v), as generated gradients save loop values
                stack = self.env[call.func.value.id]
                self.emit(self.names.temp("push"), "stack_push",
                          [stack, self.operand(call.args[0], "push")], node=stmt)
                return
            raise self.error(stmt, "an expression statement has no effect on the result",
                             "s2s differentiates code without side effects; assign the "
                             "value to a name or remove the line.")
        else:
            raise self._unsupported_statement(stmt)

    def _inplace(self, stmt):
        return self.error(stmt, "cannot differentiate an in-place assignment",
                          "s2s differentiates code without mutation; build a new array "
                          "instead: x = np.where(mask, 0.0, x), or np.concatenate(...).")

    def _unsupported_statement(self, stmt):
        kind = type(stmt).__name__
        hints = {
            "AsyncFor": ("an `async for` loop", "use a plain for loop."),
            "AsyncWith": ("an `async with` block", "differentiate a plain function."),
            "Try": ("`try`/`except`", "s2s differentiates code without exceptions; "
                    "remove the try block."),
            "With": ("a `with` block", "put the with block around the call of the "
                     "function (or of its gradient) instead of inside it."),
            "Global": ("a `global` statement", "pass the value as an argument instead."),
            "Nonlocal": ("a `nonlocal` statement", "pass the value as an argument instead."),
            "FunctionDef": ("a nested `def`", "define the helper at module level."),
            "AsyncFunctionDef": ("a nested `async def`", "define it at module level."),
            "ClassDef": ("a class definition", "define it at module level."),
            "Assert": ("`assert`", "check inputs before calling the function."),
            "Raise": ("`raise`", "check inputs before calling the function."),
            "Import": ("an import inside the function", "import at module level."),
            "ImportFrom": ("an import inside the function", "import at module level."),
            "Match": ("a `match` statement", "use np.where for a value that depends "
                      "on a condition."),
        }
        what, hint = hints.get(kind, (f"a `{kind}` statement", None))
        return self.error(stmt, f"cannot differentiate {what}", hint)

    def assign(self, target, value):
        if isinstance(target, ast.Name):
            self.bind(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            names = target.elts
            for t in names:
                if not isinstance(t, ast.Name):
                    if isinstance(t, ast.Starred):
                        raise self.error(t, "cannot differentiate starred unpacking",
                                         "unpack each element by index: a = x[0].")
                    raise self._inplace(t)
            if isinstance(value, (ast.Tuple, ast.List)):
                if len(value.elts) != len(names) or any(
                        isinstance(e, ast.Starred) for e in value.elts):
                    raise self.error(value, "the number of values does not match the "
                                            "number of names")
                ops = [self.operand(v, t.id) for t, v in zip(names, value.elts)]
                for t, op in zip(names, ops):  # evaluate all, then bind (a, b = b, a)
                    self.env[t.id] = self._rename(t.id, op, t)
            else:
                whole = self.operand(value, names[0].id if names else "t")
                for i, t in enumerate(names):
                    self.env[t.id] = self.emit(self.new_name(t.id), "getitem", [whole],
                                               [("index", i)], node=t)
        elif isinstance(target, (ast.Subscript, ast.Attribute)):
            raise self._inplace(target)
        else:
            raise self.error(target, f"cannot assign to {type(target).__name__}")

    def _rename(self, name, op, node):
        return op  # y = x: y is another name for the same value

    def bind(self, name, value):
        if isinstance(value, ast.List) and not value.elts:  # a stack: s = []
            self.env[name] = self.emit(self.new_name(name), "stack_new", [], node=value)
            self.stacks[name] = self.env[name]
            return
        op = self.operand(value, name, top=True, top_name=name)
        self.env[name] = op

    def read(self, node):
        name = node.id
        if name in self.env:
            return self.env[name]
        if name in self.one_branch:
            branch = self.one_branch[name]
            raise self.error(node, f"{name!r} is assigned in only one branch of the `if` at "
                                   f"line {branch.lineno}",
                             f"give {name} a value before the if, or in both branches.")
        if name in self.loop_vars:
            raise self.error(node, f"the loop variable {name!r} is read after its loop",
                             "copy it to another name inside the loop.")
        if name in self.deleted:
            raise self.error(node, f"{name!r} is read after `del {name}` at line "
                                   f"{self.deleted[name].lineno}",
                             f"move the del after the last use of {name}.")
        try:
            value = lookup(self.parsed, name)
        except KeyError:
            raise self.error(node, f"name {name!r} is not defined",
                             "define it before the function or pass it as an argument.") \
                from None
        return self.global_operand(name, value, node)

    def global_operand(self, text, value, node):
        if value is np or value is math:
            raise self.error(node, f"the module {text!r} is not a value")
        if isinstance(value, (bool, numbers.Number, np.ndarray, np.generic)) or value is None \
                or (isinstance(value, (tuple, list)) and all(
                    isinstance(v, (numbers.Number, np.ndarray)) for v in value)):
            root = text.split(".")[0]
            if root not in ("np", "math"):
                self.constants[root] = lookup(self.parsed, root)
            return Const(value, text)
        raise self.error(node, f"{text!r} is not a number or an array",
                         "s2s reads module-level constants that are numbers or NumPy "
                         "arrays; pass other values as arguments.")

    # ---- expressions ---------------------------------------------------------------
    def operand(self, node, base, top=False, top_name=None):
        """Normalize `node` to an operand; statements it needs go to self.body.

        With `top`, the outermost operation is named after the user variable
        `top_name` (or a temporary of `base` when None)."""
        if isinstance(node, ast.Name):
            return self.read(node)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and \
                isinstance(node.operand, ast.Constant) and \
                isinstance(node.operand.value, numbers.Number):
            return Const(-node.operand.value, repr(-node.operand.value))
        if isinstance(node, ast.Attribute):
            named = self.named_constant(node)
            if named is not None:
                return named
        if isinstance(node, ast.IfExp):
            return self.if_expression(node, base, top_name if top else None)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id not in self.env and node.args and \
                _is_runtime(self.parsed.namespace.get(node.func.id), _like):
            return self.operand(node.args[0], base)  # a gradient's dtype cast: the value
        if isinstance(node, ast.Subscript) and self._is_index_maker(node.value):
            # np.s_[1:3, None]: an index value, as generated gradients pass to helpers
            return self.emit(self.names.temp(base), "np.s_", [],
                             [("index", self.static(node.slice, base))], node)
        op, args, params = self.operation(node, base)

        def target():
            if top and top_name is not None:
                return self.new_name(top_name)
            name = self.names.temp(base)
            self.origin[name] = base
            return name

        return self.emit(target(), op, args, params, node)

    def constant(self, node):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, numbers.Number):
            if value is None or isinstance(value, (bool, str)):
                return Const(value, repr(value))
            raise self.error(node, f"unsupported constant {value!r}")
        if isinstance(value, complex):
            raise self.error(node, "cannot differentiate complex numbers",
                             "s2s differentiates real-valued code; split real and imaginary "
                             "parts into two real arrays.")
        return Const(value, repr(value))

    def named_constant(self, node):
        """np.pi, math.e, MODULE.CONST: an attribute chain ending in a number."""
        path = _attribute_path(node)
        if path is None or path[0] in self.env:
            return None
        try:
            obj = lookup(self.parsed, path[0])
        except KeyError:
            return None
        for part in path[1:]:
            obj = getattr(obj, part, None)
        base = lookup(self.parsed, path[0])
        if base is np and len(path) == 2 and (obj is None or (
                isinstance(obj, type) and issubclass(obj, np.generic))):
            return Const(obj, "np." + path[1])  # np.newaxis, np.float32
        if isinstance(obj, (numbers.Number, np.ndarray)) and not isinstance(obj, bool):
            if base is np and path[1] in NAMED_CONSTANTS:
                return Const(obj, "np." + ".".join(path[1:]))
            if base is math and path[1] in NAMED_CONSTANTS:
                return Const(obj, "math." + ".".join(path[1:]))
            return self.global_operand(".".join(path), obj, node)
        return None

    def operation(self, node, base):
        """(op, operands, params) for a compound expression."""
        if isinstance(node, ast.BinOp):
            op = BINOPS.get(type(node.op))
            if op is None:
                raise self.error(node, f"unsupported operator {type(node.op).__name__}",
                                 "rewrite it with + - * / ** @ or a NumPy function.")
            return op[0], [self.operand(node.left, base), self.operand(node.right, base)], ()
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return "neg", [self.operand(node.operand, base)], ()
            if isinstance(node.op, ast.UAdd):
                return "pos", [self.operand(node.operand, base)], ()
            if isinstance(node.op, ast.Not):
                return "not", [self.operand(node.operand, base)], ()
            return "invert", [self.operand(node.operand, base)], ()
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise self.error(node, "cannot differentiate a chained comparison",
                                 "combine single comparisons with &: (a < b) & (b < c).")
            op = COMPARES.get(type(node.ops[0]))
            if op is None:
                raise self.error(node, f"unsupported comparison {type(node.ops[0]).__name__}")
            return op, [self.operand(node.left, base),
                        self.operand(node.comparators[0], base)], ()
        if isinstance(node, ast.Call):
            return self.call(node, base)
        if isinstance(node, ast.Tuple) or (isinstance(node, ast.List) and node.elts):
            # (a, b) or [1.0, 5.0] as a value: a tuple of operands
            if any(isinstance(e, ast.Starred) for e in node.elts):
                raise self.error(node, "cannot differentiate a starred expression",
                                 "list the values one by one.")
            kind = "tuple" if isinstance(node, ast.Tuple) else "list"  # [0, 1] indexes
            return kind, [self.operand(e, base) for e in node.elts], ()
        if isinstance(node, ast.Subscript):
            value = self.operand(node.value, base)
            return "getitem", [value], [("index", self.static(node.slice, base))]
        if isinstance(node, ast.Attribute):
            value = self.operand(node.value, base)
            if node.attr == "T":
                return "np.transpose", [value], [("axes", None)]
            # any attribute of a value s2s does not differentiate (self.scale); derive
            # refuses the ones arrays do not have on a differentiated value
            return "attr", [value], [("name", node.attr)]
        hints = {
            "Lambda": ("a lambda", "define a function at module level."),
            "ListComp": ("a comprehension", "use array operations instead."),
            "SetComp": ("a comprehension", "use array operations instead."),
            "DictComp": ("a comprehension", "use array operations instead."),
            "GeneratorExp": ("a generator expression", "use array operations instead."),
            "BoolOp": ("`and`/`or`", "use & and | on comparisons, or np.where."),
            "Yield": ("`yield`", "return the value instead."),
            "YieldFrom": ("`yield from`", "return the value instead."),
            "Await": ("`await`", "differentiate a plain function."),
            "NamedExpr": ("an assignment expression (:=)", "assign on its own line."),
            "Tuple": ("a tuple value", "return or compute one array at a time."),
            "List": ("a list value", "build an array with np.stack or np.concatenate."),
            "Starred": ("a starred expression", "pass the arguments one by one."),
        }
        kind = type(node).__name__
        what, hint = hints.get(kind, (f"a {kind} expression", None))
        raise self.error(node, f"cannot differentiate {what}", hint)

    def callee(self, func):
        """(canonical op name or None, text to call it by)."""
        path = _attribute_path(func)
        if path is None:
            raise self.error(func, "cannot differentiate a call of a computed function",
                             "call a function by its name.")
        if path[0] in self.env:
            return None, None  # a method call on a local value
        try:
            obj = lookup(self.parsed, path[0])
        except KeyError:
            raise self.error(func, f"name {path[0]!r} is not defined",
                             "define or import it at module level before the function "
                             "is differentiated.") from None
        root = obj
        for part in path[1:]:
            obj = getattr(obj, part, None)
            if obj is None:
                raise self.error(func, f"{'.'.join(path)!r} does not exist",
                                 f"check the spelling: {path[0]} has no attribute {part!r}.")
        canonical = _BY_OBJECT.get(id(obj))
        if canonical is not None:
            return canonical, canonical
        if root is np:
            return None, "np." + ".".join(path[1:])
        if root is math:
            return None, "math." + ".".join(path[1:])
        self.constants[path[0]] = root
        return None, ".".join(path)

    def call(self, node, base):
        func = node.func
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error(arg, "cannot differentiate a call with *args",
                                 "pass the arguments one by one.")
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error(kw.value, "cannot differentiate a call with **kwargs",
                                 "pass the keyword arguments one by one.")
        op, text = self.callee(func) if not self._is_method(func) else (None, None)
        if op is None and text is None:  # x.method(...)
            method = func.attr
            if method == "pop" and isinstance(func.value, ast.Name) and not node.args and \
                    func.value.id in self.stacks and func.value.id in self.env:
                return "stack_pop", [self.env[func.value.id]], []
            if method not in METHODS:
                # evaluated as written; derive refuses it on a differentiated path
                receiver = self.operand(func.value, base)
                args = [self.operand(a, base) for a in node.args]
                args += [self.operand(kw.value, base) for kw in node.keywords]
                return "method", [receiver] + args, [
                    ("name", method), ("kwnames", tuple(kw.arg for kw in node.keywords))]
            op = METHODS[method]
            receiver = func.value
            args = list(node.args)
            if method in VARARG_METHODS and len(args) > 1:
                args = [ast.Tuple(elts=args, ctx=ast.Load())]
            return self.bind_signature(op, node, [receiver] + args, node.keywords, base)
        if op is not None:
            return self.bind_signature(op, node, node.args, node.keywords, base)
        # any other callable: evaluated as written; derive refuses it on an active path
        args = [self.operand(a, base) for a in node.args]
        kwnames = tuple(kw.arg for kw in node.keywords)
        args += [self.operand(kw.value, base) for kw in node.keywords]
        return "call", args, [("func", text), ("kwnames", kwnames)]

    def _is_index_maker(self, node):
        path = _attribute_path(node)
        if path is None or path[0] in self.env or len(path) != 2:
            return False
        try:
            return lookup(self.parsed, path[0]) is np and path[1] in ("s_", "index_exp")
        except KeyError:
            return False

    def _is_method(self, func):
        if not isinstance(func, ast.Attribute):
            return False
        path = _attribute_path(func)
        return path is None or path[0] in self.env

    def bind_signature(self, op, node, args, keywords, base):
        operands, statics = _SIGS[op]
        names = [o.lstrip("*") for o in operands] + [s for s, _ in statics]
        bound = {}
        if len(args) > len(names):
            raise self.error(node, f"too many arguments for {op}")
        for name, arg in zip(names, args):
            bound[name] = arg
        for kw in keywords:
            key = {"newshape": "shape", "a": names[0], "x": names[0]}.get(kw.arg, kw.arg) \
                if kw.arg not in names else kw.arg
            if key not in names:
                raise self.error(kw.value, f"unsupported argument {kw.arg}= for {op}",
                                 f"{op} takes {', '.join(names)}.")
            bound[key] = kw.value
        result = []
        for name in operands:
            key = name.lstrip("*")
            if key not in bound:
                raise self.error(node, f"missing argument {key!r} for {op}")
            if name.startswith("*"):
                seq = bound[key]
                if not isinstance(seq, (ast.List, ast.Tuple)):
                    raise self.error(seq, f"{op} needs a literal list of arrays here",
                                     f"write {op}([a, b, ...], ...).")
                result.extend(self.operand(e, base) for e in seq.elts)
            else:
                result.append(self.operand(bound[key], base))
        params = []
        for name, default in statics:
            if name in bound:
                params.append((name, self.static(bound[name], base)))
            elif default is _REQUIRED:
                raise self.error(node, f"missing argument {name!r} for {op}")
            else:
                params.append((name, default))
        if op in ("np.concatenate", "np.stack"):
            params.append(("n", len(result)))
        return op, result, params

    def static(self, node, base):
        """A non-differentiated parameter: literal, name, tuple, slice."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and \
                isinstance(node.operand, ast.Constant):
            return -node.operand.value
        if isinstance(node, ast.Tuple):
            return tuple(self.static(e, base) for e in node.elts)
        if isinstance(node, ast.List):  # x[[0, 2]]: an integer-array index, not a tuple
            return [self.static(e, base) for e in node.elts]
        if isinstance(node, ast.Slice):
            parts = [None if p is None else self.static(p, base)
                     for p in (node.lower, node.upper, node.step)]
            return slice(*parts)
        if isinstance(node, ast.Name) and node.id not in self.env:
            try:
                value = lookup(self.parsed, node.id)
            except KeyError:
                raise self.error(node, f"name {node.id!r} is not defined",
                                 "define it before the function or pass it as an "
                                 "argument.") from None
            if value is None:
                return None
        operand = self.operand(node, base)
        if isinstance(operand, Const) and isinstance(operand.value, (int, float)) and \
                operand.text == repr(operand.value):
            return operand.value
        return operand


RET = "<return>"
RETURNED = "<returned>"
STOP = "<stop>"  # set when the current loop iteration breaks
_INTERNAL = {RET: "_out", RETURNED: "_returned", STOP: "_stop"}


def _is_runtime(obj, helper):
    """Whether obj is the runtime helper, or the copy a generated module pastes."""
    code = getattr(obj, "__code__", None)
    return code is not None and code.co_code == helper.__code__.co_code


def _is_check(obj):
    return _is_runtime(obj, _check_scalar)


def _exited(env):
    return env.get(STOP) == Const(True, "True") or env.get(RETURNED) == Const(True, "True")


def _keyword(stmt):
    return {ast.Return: "return", ast.Break: "break", ast.Continue: "continue"}[type(stmt)]


def _ends(stmts):
    """Whether a statement list always ends in return, break or continue."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (ast.Return, ast.Break, ast.Continue)):
        return True
    if isinstance(last, ast.If):
        return _ends(last.body) and _ends(last.orelse)
    return False


def _assigned(stmts):
    """(names assigned, whether a return occurs, whether a break of this loop occurs)."""
    names, returns, breaks = set(), False, False

    def visit(node, depth):
        nonlocal returns, breaks
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                  ast.ClassDef)):
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                names.add(child.id)
            if isinstance(child, ast.Return):
                returns = True
            if isinstance(child, ast.Break) and depth == 0:
                breaks = True
            visit(child, depth + isinstance(child, (ast.For, ast.While)))

    for stmt in stmts:
        visit(ast.Module(body=[stmt], type_ignores=[]), 0)
    return names, returns, breaks or returns


def _coalesce_phis(then_list, else_list, phis):
    """Give a phi's target the name of the values merged when they are defined in the
    branches just for it: `if c: y = a else: y = b` keeps one name, no copies."""
    then_defs, else_defs = defined(then_list), defined(else_list)
    uses = {}
    for p in phis:
        for v in (p.then, p.orelse):
            if isinstance(v, Var):
                uses[v.name] = uses.get(v.name, 0) + 1
    kept = []
    renames_then, renames_else = {}, {}
    for p in phis:
        a = p.then.name if isinstance(p.then, Var) and p.then.name in then_defs and \
            uses[p.then.name] == 1 else None
        b = p.orelse.name if isinstance(p.orelse, Var) and p.orelse.name in else_defs and \
            uses[p.orelse.name] == 1 else None
        if a is not None:
            renames_then[a] = p.target
        if b is not None:
            renames_else[b] = p.target
        kept.append(Phi(p.target, Var(p.target) if a else p.then,
                        Var(p.target) if b else p.orelse))
    return rename_all(then_list, renames_then), rename_all(else_list, renames_else), kept


def coalesce_loops(func):
    """Let a loop-carried variable keep the name of its initial value when nothing
    after the loop reads that value under its old name: `for ...: h = f(h)` then
    updates `h` itself, with no copy before the loop (the reverse sweep restores it)."""
    from .ir import reads, walk
    order = {}
    position = 0

    def number(stmts, end_reads):
        nonlocal position
        for s in stmts:
            position += 1
            order[id(s)] = position
            if isinstance(s, If):
                number(s.body, None)
                number(s.orelse, None)
            elif isinstance(s, Loop):
                number(s.test, None)
                number(s.body, None)
                position += 1
                order[("end", id(s))] = position
    number(func.body, None)
    read_at = {}
    for s in walk(func.body):
        if isinstance(s, Loop):
            for n in [a.name for a in s.bounds if isinstance(a, Var)]:
                read_at.setdefault(n, []).append(order[id(s)])
            for c in s.carried:
                if isinstance(c.init, Var):
                    read_at.setdefault(c.init.name, []).append(("init", id(s), c.name))
                if isinstance(c.update, Var):
                    read_at.setdefault(c.update.name, []).append(order[("end", id(s))])
        else:
            for n in reads(s):
                read_at.setdefault(n, []).append(order[id(s)])
            if isinstance(s, If) and isinstance(s.cond, Var):
                # the reverse sweep reads a branch's condition again, after everything
                # (an early return's flag, which a later loop would otherwise update)
                read_at.setdefault(s.cond.name, []).append(position + 1)

    def assigned_outside(loop):
        # names assigned outside the loop: by a statement, or by a branch merge that
        # copies another value into them
        inside = {id(x) for x in walk(loop.test + loop.body)}
        names = set()
        for x in walk(func.body):
            if id(x) in inside:
                continue
            if isinstance(x, Assign):
                names.add(x.target)
            elif isinstance(x, If):
                names.update(p.target for p in x.phis
                             if p.then != Var(p.target) or p.orelse != Var(p.target))
        return names

    renames = {}
    for s in walk(func.body):
        if not isinstance(s, Loop):
            continue
        for c in s.carried:
            if not isinstance(c.init, Var) or c.init.name == c.name:
                continue
            ok = True
            for r in read_at.get(c.init.name, []):
                if isinstance(r, tuple):
                    ok &= r[1] == id(s)
                else:
                    ok &= r < order[id(s)]
            same_variable = func.origin.get(c.init.name, c.init.name) == \
                func.origin.get(c.name, c.name)
            # a name some statement outside the loop assigns too (a branch beside it,
            # coalesced into the same merge) would then assign the value it reads
            elsewhere = c.name in assigned_outside(s)
            if ok and same_variable and not elsewhere and c.init.name not in renames.values():
                renames[c.name] = c.init.name
    for k in list(renames):
        v = renames[k]
        while v in renames:
            v = renames[v]
        renames[k] = v
    if renames:
        func.body = rename_all(func.body, renames)


def share_repeats(func):
    """Compute a repeated operation once: a temporary `_t = op(args)` equal to an
    earlier statement of the same block (same op, operands and static parameters,
    none of them assigned in between) reads the earlier value instead (`x[i]` written
    twice in one expression, `icf[:, :d]` in two).  Only ops without effects: array
    structure and metadata (kinds "structural" and "nondiff"), not calls of functions."""
    from .ir import Loop, reads, walk
    from .rules import kind_of
    from .rules.nondiff import EFFECTS, STACK_OPS
    count = {}
    merged = set()
    for x in walk(func.body):
        if isinstance(x, Assign):
            count[x.target] = count.get(x.target, 0) + 1
        elif isinstance(x, If):
            merged.update(p.target for p in x.phis)
        elif isinstance(x, Loop):
            merged.update(c.name for c in x.carried)
            merged.add(x.index)

    def single(name):
        return count.get(name) == 1 and name not in merged

    def shareable(x):
        return kind_of(x) in ("structural", "nondiff") and x.op not in STACK_OPS and \
            x.param("func") not in EFFECTS and all(_plain(v) for _, v in x.params) and \
            all(isinstance(a, Var) or _plain(a.value) for a in x.args)
    renames = {}

    def visit(stmts):
        seen = {}  # repr((op, args, params)) -> (the name holding it, the names it reads)
        kept = []
        for x in stmts:
            if isinstance(x, Assign):
                x = rename_all([x], renames)[0]
                key = repr((x.op, x.args, x.params)) if shareable(x) else None
                first = seen.get(key, (None,))[0] if key is not None else None
                if first is not None and x.target.startswith("_") and single(x.target):
                    renames[x.target] = first
                    continue
                changed = {x.target}
            elif isinstance(x, (If, Loop)):
                for body in ([x.body, x.orelse] if isinstance(x, If) else [x.test, x.body]):
                    visit(body)
                changed = {y.target for y in walk([x]) if isinstance(y, Assign)} | merged
                key = None
            else:
                changed, key = set(), None
            seen = {k: (t, r) for k, (t, r) in seen.items() if t not in changed and not changed & r}
            if key is not None and single(x.target):
                seen.setdefault(key, (x.target, set(reads(x))))
            kept.append(x)
        stmts[:] = kept
    visit(func.body)
    if renames:
        func.body = rename_all(func.body, renames)


def _plain(value):
    """Whether a static parameter compares by value (no arrays, whose == is elementwise)."""
    if isinstance(value, (tuple, list)):
        return all(_plain(v) for v in value)
    if isinstance(value, slice):
        return all(_plain(v) for v in (value.start, value.stop, value.step))
    return value is None or value is Ellipsis or isinstance(value, (bool, int, float, str, Var))


def _attribute_path(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def normalize(parsed: Parsed) -> Function:
    return _Normalizer(parsed).run()


def to_ir(func) -> Function:
    """Parse and normalize a Python function."""
    return normalize(parse(func))


__all__ = ["normalize", "to_ir", "SIGNATURES", "display_name"]


def _is_float_path(node):
    """`if x.__class__ is float and ...:` at the top of a generated gradient (its path
    for Python floats, which the code after it computes as well)."""
    if not isinstance(node, ast.If) or node.orelse:
        return False
    tests = node.test.values if isinstance(node.test, ast.BoolOp) and \
        isinstance(node.test.op, ast.And) else [node.test]
    return all(isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Is)
               and isinstance(t.left, ast.Attribute) and t.left.attr == "__class__"
               and isinstance(t.left.value, ast.Name) and isinstance(t.comparators[0], ast.Name)
               and t.comparators[0].id == "float" for t in tests)

