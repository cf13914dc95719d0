"""[IR] ast.FunctionDef -> ir.Function in single-assignment form.

Every statement of the result is one of these shapes (``a``, ``b`` are operands:
a variable or a constant; ``S`` a static parameter: literal, inactive variable,
tuple or slice of those):

    t = a + b | a - b | a * b | a / b | a ** b | a @ b | -a        (op add sub mul div pow matmul neg)
    t = a > b | a >= b | a < b | a <= b | a == b | a != b          (op gt ge lt le eq ne)
    t = np.f(a, b, ..., k=S)   a NumPy/math function, op "np.f" / "math.f"
    t = a[S]                   op "getitem", param index
    t = a.attr                 op "attr", param name (shape, ndim, size, dtype)
    t = f(a, ..., k=b)         op "call", any other callable, and
    t = a.m(b, ..., k=c)       op "method", any other method: evaluated as written,
                               refused by derive when an operand is differentiated
    return a

NumPy names are resolved through the function's globals (``import numpy as onp``,
``from numpy import exp``, ``math.exp``) to one canonical spelling each, and
methods (``x.sum(axis=0)``, ``x.T``, ``x.reshape(2, 3)``) to the same ops.
Re-assigned names get versions (``h``, ``h_1``), temporaries are named after the
variable they lead to (``_h0``), and ``y = x`` just renames.  Everything outside
this subset is refused here with the user's line and a hint.
"""

from __future__ import annotations

import ast
import math
import numbers

import numpy as np

from .errors import UnsupportedSyntaxError
from .frontend import Parsed, display_name, lookup, parse
from .ir import Assign, Const, Function, Return, Var
from .names import NameTable

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
          ast.FloorDiv: ("floordiv", "//"), ast.Mod: ("mod", "%")}
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
_BY_OBJECT = {}
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
        """A fresh SSA name for the user variable `base`."""
        if base in self.env or any(a.arg == base for a in self._all_args()):
            name = self.names.version(base)
        else:
            name = self.names.claim(base)
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
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]  # docstring
        for i, stmt in enumerate(body):
            self.stmt = stmt
            if isinstance(stmt, ast.Return):
                if stmt.value is None:
                    raise self.error(stmt, "the function returns nothing",
                                     "return the value to differentiate.")
                if i != len(body) - 1:
                    raise self.error(body[i + 1], "code after `return` is never run",
                                     "remove the unreachable statements.")
                value = self.operand(stmt.value, "out", top=True)
                self.body.append(Return(value, self.span(stmt)))
                break
            self.statement(stmt)
        else:
            last = body[-1] if body else node
            raise self.error(last, "the function does not end with `return`",
                             "return the value to differentiate as the last statement.")
        return Function(node.name, params, self.body, self.parsed.filename, node.lineno,
                        qualname=getattr(self.parsed.func, "__qualname__", node.name),
                        source="".join(self.parsed.lines[node.lineno - 1:node.end_lineno]),
                        constants=self.constants, origin=self.origin,
                        kwonly=tuple(arg.arg for arg in node.args.kwonlyargs),
                        defaults=self.defaults())

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
        elif isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Constant):
                return  # a stray string or number: no effect
            if isinstance(stmt.value, (ast.Yield, ast.YieldFrom, ast.Await)):
                self.operation(stmt.value, "t")  # refused there, with its own message
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
            "If": ("an `if` statement", "control flow is not supported yet: use "
                   "np.where(condition, a, b) for a value that depends on a condition."),
            "For": ("a `for` loop", "loops are not supported yet: write the computation "
                    "with array operations (np.sum over an axis, @, broadcasting)."),
            "While": ("a `while` loop", "loops are not supported yet: iterate outside "
                      "the function and differentiate one step."),
            "Try": ("`try`/`except`", "s2s differentiates code without exceptions; "
                    "remove the try block."),
            "With": ("a `with` block", "put the with block around the call of the "
                     "function (or of its gradient) instead of inside it."),
            "Global": ("a `global` statement", "pass the value as an argument instead."),
            "Nonlocal": ("a `nonlocal` statement", "pass the value as an argument instead."),
            "FunctionDef": ("a nested `def`", "define the helper at module level."),
            "AsyncFunctionDef": ("a nested `async def`", "define it at module level."),
            "ClassDef": ("a class definition", "define it at module level."),
            "Delete": ("`del`", "remove the del statement."),
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
        op = self.operand(value, name, top=True, top_name=name)
        self.env[name] = op

    def read(self, node):
        name = node.id
        if name in self.env:
            return self.env[name]
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
        if isinstance(value, (bool, numbers.Number, np.ndarray, np.generic)) or value is None:
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
        if isinstance(obj, (numbers.Number, np.ndarray)) and not isinstance(obj, bool):
            base = lookup(self.parsed, path[0])
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
        if isinstance(node, ast.Subscript):
            value = self.operand(node.value, base)
            return "getitem", [value], [("index", self.static(node.slice, base))]
        if isinstance(node, ast.Attribute):
            value = self.operand(node.value, base)
            if node.attr == "T":
                return "np.transpose", [value], [("axes", None)]
            if node.attr in ATTRIBUTES:
                return "attr", [value], [("name", node.attr)]
            raise self.error(node, f"unsupported attribute .{node.attr}",
                             "s2s knows .T, .shape, .ndim, .size and .dtype of arrays.")
        hints = {
            "IfExp": ("a conditional expression", "use np.where(condition, a, b)."),
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
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(self.static(e, base) for e in node.elts)
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
