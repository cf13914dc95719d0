"""The DifferentiationError family.

Every refusal s2s makes carries the position of the user's code that caused it:
``filename``, ``lineno`` (1-based) and ``col_offset`` (0-based).  ``str()`` renders

    path/to/model.py:7:4: cannot differentiate an in-place assignment
        x[0] = 0.0
        ^
    hint: s2s differentiates code without mutation; build a new array instead ...
"""

from __future__ import annotations


class DifferentiationError(Exception):
    """s2s cannot (or will not) differentiate this code."""

    def __init__(self, message, filename=None, lineno=None, col_offset=None,
                 line=None, hint=None):
        self.message = message
        self.filename = filename
        self.lineno = lineno
        self.col_offset = col_offset
        self.line = line.rstrip("\n") if line else line
        self.hint = hint
        super().__init__(self._render())

    def _render(self):
        where = self.filename or "<unknown>"
        if self.lineno is not None:
            where += f":{self.lineno}"
            if self.col_offset is not None:
                where += f":{self.col_offset + 1}"
        parts = [f"{where}: {self.message}"]
        if self.line:
            text = self.line.rstrip("\n")
            stripped = text.lstrip()
            indent = len(text) - len(stripped)
            parts.append("    " + stripped)
            col = (self.col_offset or 0) - indent
            parts.append("    " + " " * max(col, 0) + "^")
        if self.hint:
            parts.append("hint: " + self.hint)
        return "\n".join(parts)

    def __reduce__(self):
        return (type(self), (self.message, self.filename, self.lineno,
                             self.col_offset, self.line, self.hint))


class UnsupportedSyntaxError(DifferentiationError):
    """A construct outside the subset s2s accepts."""


class NoRuleError(DifferentiationError):
    """A call on a differentiated path to a function s2s has no derivative for."""


class SourceUnavailableError(DifferentiationError):
    """The function's source code cannot be read."""


class InternalError(DifferentiationError):
    """A broken invariant inside s2s: a bug, please report it."""


class NotBatchable(Exception):
    """Internal: a forward-mode rule has no form for a batch of tangents; the caller
    falls back to one forward sweep per tangent."""
