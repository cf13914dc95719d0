"""s2s: source-to-source symbolic differentiation for Python/NumPy.

    import numpy as np, s2s

    def loss(w, x):
        return np.sum(np.tanh(x @ w) ** 2)

    g = s2s.grad(loss)            # compiled once, cached
    dw = g(w, x)
    print(g.source)               # the generated NumPy code
"""

__version__ = "0.1.0"

from .errors import (DifferentiationError, InternalError, NoRuleError,  # noqa: E402
                     SourceUnavailableError, UnsupportedSyntaxError)
from .api import (differentiate, grad, graph, hessian, hvp, jacobian, jvp,  # noqa: E402
                  show, value_and_grad, vjp)
from .cache import clear_cache  # noqa: E402

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "hvp",
           "differentiate", "show", "graph", "DifferentiationError",
           "UnsupportedSyntaxError", "NoRuleError", "SourceUnavailableError",
           "InternalError", "clear_cache"]
