"""[IR] The expression graph s2s differentiates.

A ``Function`` is a straight-line list of statements in single-assignment form:
every ``Assign`` applies one operation (``op``, a key of the rule tables) to operands
that are variables or constants, plus static parameters (``axis=0``, an index, a
shape) that are never differentiated.  Every statement carries the ``Span`` of the
user's source it came from, so errors and generated comments point at real lines.

Invariants: each name is assigned once; operands are only ``Var`` or ``Const``;
static parameters are Python literals, ``Var`` (an inactive value such as a loop
bound), tuples of those, ``slice`` objects of those, ``Ellipsis`` or ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Union


@dataclass(frozen=True)
class Span:
    filename: str
    lineno: int
    col_offset: int
    line: str  # the full physical source line, for messages and carets
    statement: str = ""  # the whole source statement on one line, for comments
    first: int = 0  # the line the statement starts on


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True, eq=False)
class Const:
    value: Any
    text: str  # how the constant is written in generated code: "1.0", "np.pi", "SCALE"

    def __eq__(self, other):
        """Equal text and value; an array (a module constant, W) only to itself: its ==
        is elementwise."""
        if not isinstance(other, Const):
            return NotImplemented
        if self.text != other.text or type(self.value) is not type(other.value):
            return False
        if self.value is other.value:
            return True
        try:
            return bool(self.value == other.value)
        except ValueError:  # (arrays inside a tuple)
            return False

    def __hash__(self):
        return hash(self.text)


Operand = Union[Var, Const]


@dataclass(frozen=True)
class Assign:
    target: str
    op: str
    args: tuple  # tuple[Operand, ...]: the differentiable operand positions
    params: tuple = ()  # tuple[(name, static value), ...], in the op's signature order
    span: Span = None

    def param(self, name, default=None):
        for key, value in self.params:
            if key == name:
                return value
        return default


@dataclass(frozen=True)
class Return:
    value: Operand
    span: Span = None


@dataclass(frozen=True)
class Phi:
    """After an `if`: target = then if the condition held, else orelse."""
    target: str
    then: Operand
    orelse: Operand


@dataclass
class If:
    cond: Operand
    body: list
    orelse: list
    phis: list  # list[Phi]
    span: Span = None


@dataclass(frozen=True)
class Carry:
    """A loop-carried variable: `name` holds `init` before the first iteration, the
    value at the start of each iteration, and after the loop the last `update`."""
    name: str
    init: Operand
    update: Operand


@dataclass
class Loop:
    """`for index in range(*bounds)` or `while cond` (cond computed by `test` at the
    top of each iteration).  `counted`: the number of iterations run is recorded
    (a `while`, or a `for` that can `break`).  `stop`: when the loop can break, the
    flag that ends it after the current iteration."""
    kind: str  # "for" | "while"
    body: list
    carried: list  # list[Carry]
    span: Span = None
    index: str = None
    bounds: tuple = ()  # (start, stop, step) operands
    test: list = field(default_factory=list)
    cond: Operand = None
    counted: bool = False
    stop: Operand = None


def nested(s):
    """The statement lists inside compound statement `s`, in program order."""
    if isinstance(s, If):
        return (s.body, s.orelse)
    if isinstance(s, Loop):
        return (s.test, s.body)
    return ()


def walk(stmts):
    """Every statement of a (nested) statement list, in program order."""
    for s in stmts:
        yield s
        for inner in nested(s):
            yield from walk(inner)


def blocks(stmts):
    """The statement list `stmts` and every statement list nested in it."""
    yield stmts
    for s in stmts:
        for inner in nested(s):
            yield from blocks(inner)


def defined(stmts, skip=None):
    """Every name the (nested) statements assign, leaving out statement `skip`."""
    names = set()
    for s in stmts:
        if s is skip:
            continue
        if isinstance(s, Assign):
            names.add(s.target)
        elif isinstance(s, If):
            names.update(p.target for p in s.phis)
            names |= defined(s.body, skip) | defined(s.orelse, skip)
        elif isinstance(s, Loop):
            names.update(c.name for c in s.carried)
            names.update([s.index] if s.index else [])
            names |= defined(s.test, skip) | defined(s.body, skip)
    return names


def operand_reads(s):
    """Names a compound statement reads in its own header (not inside its blocks)."""
    names = []
    if isinstance(s, If):
        names.append(s.cond)
        for p in s.phis:
            names += [p.then, p.orelse]
    elif isinstance(s, Loop):
        names += list(s.bounds) + [s.cond, s.stop]
        for c in s.carried:
            names += [c.init, c.update]
    return [a.name for a in names if isinstance(a, Var)]


@dataclass
class Function:
    name: str
    params: tuple  # argument names, in order
    body: list  # list[Assign | Return]
    filename: str
    lineno: int  # line of the `def`
    qualname: str = ""
    source: str = ""  # the function's source text (dedented)
    constants: dict = field(default_factory=dict)  # global name -> value it had at compile time
    # user-visible name of each SSA name: "h_1" -> "h", "_h0" -> "h"
    origin: dict = field(default_factory=dict)
    kwonly: tuple = ()  # the names in `params` that are keyword-only
    defaults: dict = field(default_factory=dict)  # argument name -> default value
    scalars: frozenset = frozenset()  # arguments annotated `float` or `int`

    @property
    def ret(self) -> Return:
        return self.body[-1]


@dataclass(frozen=True)
class Line:
    """A statement of generated code: `targets = code` (no targets: a bare expression).

    `reads` are the names `code` uses; `block` is the source the line differentiates
    (its comment header), `view` marks code that may be a read-only broadcast view."""
    targets: tuple
    code: str
    reads: frozenset
    block: tuple = ()  # ((lineno, statement text), ...) quoted above the block
    view: bool = False


@dataclass
class Block:
    """A compound statement of generated code: `header` (an if, for or while line),
    its body, and for an if its else branch."""
    header: str
    body: list
    orelse: list = None
    reads: frozenset = frozenset()  # names the header reads
    block: tuple = ()
    while_test: int = 0  # a `while True:` whose first n body lines compute its test


def static_vars(value):
    """The Var objects inside a static parameter value."""
    if isinstance(value, Var):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from static_vars(item)
    elif isinstance(value, slice):
        for item in (value.start, value.stop, value.step):
            yield from static_vars(item)


def reads(stmt):
    """Names a statement reads, operands first, then those inside static parameters."""
    if isinstance(stmt, (If, Loop)):
        return operand_reads(stmt)
    values = stmt.args if isinstance(stmt, Assign) else (stmt.value,)
    names = [a.name for a in values if isinstance(a, Var)]
    if isinstance(stmt, Assign):
        for _, value in stmt.params:
            names.extend(v.name for v in static_vars(value))
    return names


def static_code(value, subscript=False):
    """Python source for a static parameter; `subscript` renders x[...] contents."""
    if isinstance(value, Var):
        return value.name
    if isinstance(value, Const):
        return value.text
    if value is Ellipsis:
        return "..."
    if isinstance(value, slice):
        parts = ["" if p is None else static_code(p) for p in (value.start, value.stop, value.step)]
        text = f"{parts[0]}:{parts[1]}" + (f":{parts[2]}" if value.step is not None else "")
        return text if subscript else f"np.s_[{text}]"
    if isinstance(value, list):
        return "[" + ", ".join(static_code(v) for v in value) + "]"
    if isinstance(value, tuple):
        if subscript:
            return ", ".join(static_code(v, True) for v in value) + ("," if len(value) == 1 else "")
        if any(isinstance(v, slice) or v is Ellipsis for v in value):
            return "np.s_[" + static_code(value, True) + "]"
        inner = ", ".join(static_code(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def rename_all(stmts, renames):
    """The statements with every name in `renames` (definitions and uses) replaced."""
    if not renames:
        return stmts

    def op(a):
        return Var(renames.get(a.name, a.name)) if isinstance(a, Var) else a

    def static(v):
        if isinstance(v, Var):
            return op(v)
        if isinstance(v, tuple):
            return tuple(static(x) for x in v)
        if isinstance(v, list):
            return [static(x) for x in v]
        if isinstance(v, slice):
            return slice(static(v.start), static(v.stop), static(v.step))
        return v

    out = []
    for s in stmts:
        if isinstance(s, Assign):
            s = replace(s, target=renames.get(s.target, s.target),
                        args=tuple(op(a) for a in s.args),
                        params=tuple((k, static(v)) for k, v in s.params))
        elif isinstance(s, Return):
            s = replace(s, value=op(s.value))
        elif isinstance(s, If):
            s = If(op(s.cond), rename_all(s.body, renames), rename_all(s.orelse, renames),
                   [Phi(renames.get(p.target, p.target), op(p.then), op(p.orelse))
                    for p in s.phis], s.span)
        elif isinstance(s, Loop):
            s = Loop(s.kind, rename_all(s.body, renames),
                     [Carry(renames.get(c.name, c.name), op(c.init), op(c.update))
                      for c in s.carried], s.span,
                     index=renames.get(s.index, s.index) if s.index else None,
                     bounds=tuple(op(a) for a in s.bounds), test=rename_all(s.test, renames),
                     cond=op(s.cond) if s.cond is not None else None, counted=s.counted,
                     stop=op(s.stop) if s.stop is not None else None)
        out.append(s)
    return out
