"""[rules] The derivative tables, one per kind of op.

- ``elementwise.ELEMENTWISE``: op -> SymPy function; derivatives come from ``sympy.diff``.
- ``structural.ADJOINTS``: op -> a short adjoint rule returning code.
- ``nondiff.NONDIFF``: ops whose result has zero derivative (comparisons, floor, shapes).
"""

from .elementwise import ELEMENTWISE
from .nondiff import NONDIFF
from .structural import ADJOINTS


def kind(op):
    if op in ELEMENTWISE:
        return "elementwise"
    if op in ADJOINTS:
        return "structural"
    if op in NONDIFF:
        return "nondiff"
    return None
