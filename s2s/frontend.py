"""[parse] A Python function -> its source text, AST and the names it can see.

Input: a function object.  Output: ``Parsed`` holding the ``ast.FunctionDef`` (line
numbers and columns already in the coordinates of the user's file), the file name,
the source lines, and the function's globals, closure values and builtins.
Refuses (``SourceUnavailableError``) functions whose source cannot be read: builtins,
lambdas typed at a prompt, code created by ``exec``.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import os
import textwrap
from dataclasses import dataclass

from .errors import DifferentiationError, SourceUnavailableError, UnsupportedSyntaxError
from .ir import Span


@dataclass
class Parsed:
    func: object
    node: ast.FunctionDef
    filename: str
    lines: list  # the file's lines (1-based via lines[lineno - 1])
    namespace: dict  # global and closure names the function can see
    node_source: str = ""  # the function's own source text

    def span(self, node, statement=None):
        lineno = getattr(node, "lineno", None) or self.node.lineno
        col = getattr(node, "col_offset", 0) or 0
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        text, first = "", lineno
        if statement is not None:
            first = statement.lineno
            last = getattr(statement, "end_lineno", first) or first
            if isinstance(statement, (ast.If, ast.For, ast.While)) and statement.body:
                last = max(first, statement.body[0].lineno - 1)  # the header only
            text = " ".join(l.strip() for l in self.lines[first - 1:last])
        return Span(self.filename, lineno, col, line.rstrip("\n"), text, first)

    def error(self, node, message, hint=None, cls=UnsupportedSyntaxError):
        """A refusal located at `node` of the user's source."""
        span = self.span(node)
        return cls(message, span.filename, span.lineno, span.col_offset, span.line, hint)


def display_name(filename):
    """The file name as generated code shows it: never an absolute path."""
    if not filename or filename.startswith("<"):
        return filename or "<unknown>"
    try:
        rel = os.path.relpath(filename)
    except ValueError:
        rel = filename
    return rel if not rel.startswith("..") else os.path.basename(filename)


def parse(func) -> Parsed:
    """Read and parse the source of `func`."""
    func = inspect.unwrap(func)
    name = getattr(func, "__qualname__", repr(func))
    code = getattr(func, "__code__", None)
    module = getattr(func, "__module__", None) or ""
    if code is None or module.split(".")[0] in _LIBRARIES:
        kind = "a built-in function" if code is None else f"part of {module.split('.')[0]}"
        raise SourceUnavailableError(
            f"cannot differentiate {name!r}: it is {kind}, not a function of yours",
            f"<{module or 'built-in'}.{name}>", None, None,
            hint="differentiate a function you wrote with `def` that calls it, e.g. "
                 "def f(x): return np.sum(np.sin(x)).")
    filename = code.co_filename
    try:
        lines, start = inspect.getsourcelines(func)
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {name!r} ({exc})", filename, code.co_firstlineno, 0,
            hint="define the function in a .py file (not at an interactive prompt or "
                 "through exec), so s2s can read its source.") from None
    lines = [l.rstrip("\n") + "\n" for l in lines]
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = _common_indent(lines)
    try:
        module = ast.parse(dedented)
    except SyntaxError as exc:  # e.g. a lambda in the middle of a line
        raise SourceUnavailableError(
            f"cannot parse the source of {name!r}: {exc.msg}", filename, start, 0,
            lines[0] if lines else None,
            hint="s2s needs a function defined with `def`.") from None
    node = module.body[0] if module.body else None
    if isinstance(node, ast.AsyncFunctionDef):
        raise UnsupportedSyntaxError(
            "cannot differentiate an async function", filename, start + node.lineno - 1,
            indent, lines[node.lineno - 1], hint="write a plain `def` function.")
    if not isinstance(node, ast.FunctionDef):
        raise SourceUnavailableError(
            f"cannot differentiate {name!r}: its source is not a `def` statement",
            filename, start, indent, lines[0] if lines else None,
            hint="lambdas are not supported; define the function with `def`.")
    for sub in ast.walk(node):
        if hasattr(sub, "lineno"):
            sub.lineno += start - 1
            sub.end_lineno = (sub.end_lineno or sub.lineno - start + 1) + start - 1
            sub.col_offset += indent
            if getattr(sub, "end_col_offset", None) is not None:
                sub.end_col_offset += indent
    all_lines = linecache.getlines(filename) or lines
    if len(all_lines) < start + len(lines) - 1:
        all_lines = [""] * (start - 1) + list(lines)
    namespace = dict(func.__globals__)
    if func.__closure__:
        for var, cell in zip(code.co_freevars, func.__closure__):
            try:
                namespace[var] = cell.cell_contents
            except ValueError:  # an empty cell: defined later in the enclosing scope
                pass
    return Parsed(func, node, filename, all_lines, namespace, dedented)


_LIBRARIES = {"numpy", "math", "sympy", "scipy", "builtins", "s2s"}


def _common_indent(lines):
    widths = [len(l) - len(l.lstrip()) for l in lines if l.strip()]
    return min(widths) if widths else 0


def lookup(parsed: Parsed, name):
    """The value a global name has for the function, or a KeyError."""
    if name in parsed.namespace:
        return parsed.namespace[name]
    return vars(builtins)[name]


__all__ = ["Parsed", "parse", "lookup", "display_name", "DifferentiationError"]
