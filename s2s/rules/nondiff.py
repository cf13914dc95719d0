"""[rules] Ops whose result has zero derivative with respect to every operand.

Their results are never active: comparisons and boolean logic, rounding (zero
derivative almost everywhere, as in JAX), predicates, and array metadata.
"""

NONDIFF = frozenset({
    "gt", "ge", "lt", "le", "eq", "ne", "not", "invert", "floordiv",
    "np.floor", "np.ceil", "np.round", "np.trunc", "np.rint",
    "np.isnan", "np.isinf", "np.isfinite",
    "math.floor", "math.ceil",
    "attr",
})
