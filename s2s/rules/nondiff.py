"""[rules] Ops whose result has zero derivative with respect to every operand.

Their results are never active: comparisons and boolean logic, rounding (zero
derivative almost everywhere, as in JAX), predicates, and array metadata.
"""

NONDIFF = frozenset({
    "gt", "ge", "lt", "le", "eq", "ne", "not", "invert", "floordiv", "and", "or",
    "np.floor", "np.ceil", "np.round", "np.trunc", "np.rint",
    "np.isnan", "np.isinf", "np.isfinite",
    "math.floor", "math.ceil",
    "attr", "np.s_",
})

# Calls (op "call", by the name they are called with) whose results carry no derivative.
NONDIFF_CALLS = frozenset({
    "len", "int", "bool", "range", "round", "reversed", "tuple",
    "np.shape", "np.ndim", "np.size", "np.zeros_like", "np.ones_like", "np.empty_like",
    "np.zeros", "np.ones", "np.eye", "np.arange", "np.argmax", "np.argmin", "np.argsort",
    "np.isclose", "np.allclose", "np.any", "np.all", "np.count_nonzero",
    "np.floor_divide", "np.logical_and", "np.logical_or", "np.logical_not",
    "np.broadcast", "np.broadcast_shapes", "np.triu_indices", "np.tril_indices",
    "_count", "_check_scalar",
})
# Calls kept for their effect, whether or not their result is used: they may raise
# (a gradient's check that its function returned a scalar).
EFFECTS = frozenset({"_check_scalar"})
# Methods (op "method") whose results carry no derivative.
NONDIFF_METHODS = frozenset({"argmax", "argmin", "argsort", "any", "all", "astype_int"})

# Stacks in generated gradients (s = [], s.append(v), v = s.pop()): forward mode follows
# them (a tangent stack beside each), reverse mode refuses them.
STACK_OPS = frozenset({"stack_new", "stack_push", "stack_pop"})
