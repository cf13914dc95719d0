"""[rules] The derivative tables, one per kind of op.

- ``elementwise.ELEMENTWISE``: op -> SymPy function; derivatives come from ``sympy.diff``.
- ``structural.ADJOINTS``: op -> a short adjoint rule returning code.
- ``nondiff.NONDIFF``: ops whose result has zero derivative (comparisons, floor, shapes).
"""

from .elementwise import ELEMENTWISE
from .nondiff import NONDIFF, NONDIFF_CALLS, NONDIFF_METHODS
from .structural import ADJOINTS


def kind_of(stmt):
    """The kind of an IR Assign: its op's kind, or "nondiff" for calls like len(x)."""
    if stmt.op == "call" and stmt.param("func") in NONDIFF_CALLS:
        return "nondiff"
    if stmt.op == "method" and stmt.param("name") in NONDIFF_METHODS:
        return "nondiff"
    return kind(stmt.op)


def kind(op):
    if op in ELEMENTWISE:
        return "elementwise"
    if op in ADJOINTS:
        return "structural"
    if op in NONDIFF:
        return "nondiff"
    return None
