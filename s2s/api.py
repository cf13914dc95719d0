"""Public API: grad, value_and_grad, differentiate.  Wiring only."""

from __future__ import annotations

import functools

import numpy as np

from .cache import load, memoised
from .derive import Session, derive
from .emit import function_name, module
from .errors import DifferentiationError
from .frontend import display_name
from .normalize import to_ir


def _resolve_wrt(func, ir, wrt):
    """(names, single): the argument names `wrt` designates."""
    single = not isinstance(wrt, (tuple, list))
    items = [wrt] if single else list(wrt)
    if not items:
        raise _wrt_error(ir, "wrt is empty", "name at least one argument.")
    names = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise _wrt_error(ir, f"wrt={item!r} is neither an argument name nor a position",
                             f"use a name or position among {', '.join(ir.params)}.")
        if isinstance(item, int):
            if not -len(ir.params) <= item < len(ir.params):
                raise _wrt_error(ir, f"wrt={item} is out of range: {ir.name} takes "
                                     f"{len(ir.params)} arguments",
                                 f"use a position below {len(ir.params)} or a name.")
            name = ir.params[item]
        else:
            if item not in ir.params:
                raise _wrt_error(ir, f"{ir.name} has no argument named {item!r}",
                                 f"its arguments are: {', '.join(ir.params)}.")
            name = item
        if name in names:
            raise _wrt_error(ir, f"wrt names {name!r} twice", "list each argument once.")
        names.append(name)
    return tuple(names), single


def _wrt_error(ir, message, hint):
    lines = ir.source.splitlines()
    return DifferentiationError(message, ir.filename, ir.lineno,
                                len(lines[0]) - len(lines[0].lstrip()) if lines else 0,
                                lines[0] if lines else None, hint)


def _build(func, wrt, kind):
    ir = to_ir(func)
    names, single = _resolve_wrt(func, ir, wrt)
    d = derive(ir, names, kind, callee=func)
    d.single = single
    source, namespace = module(d)
    origin = f"{display_name(ir.filename)}:{ir.qualname}"
    return load(source, function_name(d), origin, namespace)


def _derivative(func, wrt, kind):
    if not callable(func):
        raise TypeError(f"s2s.{kind} expects a function, got {type(func).__name__}")
    target = getattr(func, "__s2s_function__", func)
    key = (wrt if not isinstance(wrt, list) else tuple(wrt), kind)
    return memoised(target, key, lambda: _build(target, wrt, kind))


def grad(func, wrt=0):
    """The gradient of a scalar-valued `func` with respect to argument(s) `wrt`.

    `wrt` is a position or a name, or a tuple of them (then a tuple of gradients
    comes back).  Each gradient has the shape of its argument.

        >>> def f(x, y):
        ...     return np.sum(x * y)
        >>> s2s.grad(f, wrt=("x", "y"))(np.ones(2), np.arange(2.0))
        (array([0., 1.]), array([1., 1.]))

    The result is a compiled Python function; ``.source`` is its code.
    """
    return _derivative(func, wrt, "grad")


def value_and_grad(func, wrt=0):
    """Like `grad`, returning ``(func(*args), gradient)`` from one forward pass."""
    return _derivative(func, wrt, "value_and_grad")


def vjp(func, wrt=0):
    """The vector-Jacobian product of `func`: a callable ``(args..., cotangent) ->
    gradient``, where `cotangent` has the shape of func's result (any shape)."""
    inner = _derivative(func, wrt, "vjp")
    return _CotangentLast(inner)


class _CotangentLast:
    """Calls a generated VJP (cotangent first) with the cotangent given last."""

    def __init__(self, inner):
        self.inner = inner
        self.source = inner.source
        self.__name__ = inner.__name__

    def __call__(self, *args, **kwargs):
        if not args:
            raise TypeError(f"{self.__name__} takes the function's arguments, then the "
                            "cotangent")
        return self.inner(args[-1], *args[:-1], **kwargs)

    def __repr__(self):
        return repr(self.inner)

    def _repr_markdown_(self):
        return self.inner._repr_markdown_()


class _Jacobian:
    """out.shape + in.shape Jacobians, one reverse sweep per output element."""

    def __init__(self, func, wrt, kind):
        self.func = getattr(func, "__s2s_function__", func)
        self.single = not isinstance(wrt, (tuple, list))
        self.vjp = _derivative(func, wrt, "vjp")
        self.source = self.vjp.source
        self.kind = kind
        self.__name__ = f"{self.func.__name__}_{kind}"

    def jacobian(self, args, kwargs):
        out = np.asarray(self.func(*args, **kwargs))
        rows = []
        for i in range(out.size):
            basis = np.zeros(out.size, dtype=np.result_type(out, float))
            basis[i] = 1.0
            g = self.vjp(basis.reshape(out.shape), *args, **kwargs)
            rows.append((g,) if self.single else tuple(g))
        shapes = [np.shape(g) for g in rows[0]] if rows else []
        jac = tuple(np.stack([np.asarray(r[k]) for r in rows]).reshape(out.shape + shapes[k])
                    for k in range(len(shapes)))
        return out, jac

    def __call__(self, *args, **kwargs):
        if self.kind == "jvp":
            *args, tangent = args
            out, jac = self.jacobian(args, kwargs)
            tangents = (tangent,) if self.single else tuple(tangent)
            total = sum(np.tensordot(j, np.asarray(t), axes=np.ndim(t))
                        for j, t in zip(jac, tangents))
            return out, total
        _, jac = self.jacobian(args, kwargs)
        return jac[0] if self.single else jac

    def __repr__(self):
        return f"<s2s {self.__name__} of {self.func.__qualname__}; print(.source) to read it>"


def jacobian(func, wrt=0, mode="auto"):
    """The Jacobian of `func`, shaped ``out.shape + in.shape`` (a tuple of them for a
    tuple `wrt`), built row by row from the generated vector-Jacobian product.

    Only reverse mode is implemented: mode "auto" and "reverse" use it; "forward"
    raises until forward mode lands."""
    if mode not in ("auto", "reverse", "forward"):
        raise ValueError(f"mode={mode!r}: use 'auto', 'reverse' or 'forward'")
    if mode == "forward":
        raise NotImplementedError("s2s has no forward mode yet; use mode='reverse'")
    return _Jacobian(func, wrt, "jacobian")


def jvp(func, wrt=0):
    """``(args..., tangent) -> (value, J @ tangent)``.  Computed from the Jacobian's
    rows (reverse mode) until forward mode lands: exact, but costs one reverse sweep
    per output element."""
    return _Jacobian(func, wrt, "jvp")


def _no_second_order(func, what):
    target = getattr(func, "__s2s_function__", func)
    ir = to_ir(target)
    return DifferentiationError(
        f"s2s cannot compute {what} of {ir.name} yet: second derivatives need forward "
        "mode over the generated gradient, which is not implemented",
        ir.filename, ir.lineno, 0, ir.source.splitlines()[0] if ir.source else None,
        "use s2s.jacobian(s2s.grad(f)) once available, or finite differences of s2s.grad "
        "for an estimate.")


def hessian(func, wrt=0):
    """Not implemented yet: raises DifferentiationError (see the message)."""
    raise _no_second_order(func, "the Hessian")


def hvp(func, wrt=0):
    """Not implemented yet: raises DifferentiationError (see the message)."""
    raise _no_second_order(func, "Hessian-vector products")


class Differentiable:
    """A function decorated with @s2s.differentiate: call it as before; use .grad."""

    def __init__(self, func, wrt):
        functools.update_wrapper(self, func)
        self.__s2s_function__ = func
        self._wrt = wrt

    def __call__(self, *args, **kwargs):
        return self.__s2s_function__(*args, **kwargs)

    @property
    def grad(self):
        return grad(self.__s2s_function__, self._wrt)

    @property
    def value_and_grad(self):
        return value_and_grad(self.__s2s_function__, self._wrt)

    @property
    def jacobian(self):
        return jacobian(self.__s2s_function__, self._wrt)

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self):
        return f"<s2s.differentiate {self.__s2s_function__.__qualname__} wrt={self._wrt!r}>"


def differentiate(func=None, *, wrt=0):
    """Decorator: ``@s2s.differentiate`` or ``@s2s.differentiate(wrt=("w", "b"))``.

    The function behaves as written; ``f.grad(...)`` and ``f.value_and_grad(...)``
    compute its derivatives (compiled on first use), ``f.grad.source`` shows the code.
    """
    if func is None:
        return lambda f: Differentiable(f, wrt)
    return Differentiable(func, wrt)


def standalone_module(func, wrt, header):
    """Module text with `FUNC_grad` and `FUNC_value_and_grad` that imports NumPy only."""
    func = getattr(func, "__s2s_function__", func)
    ir = to_ir(func)
    names, single = _resolve_wrt(func, ir, wrt)
    session = Session(set(ir.constants) | {ir.name})
    derivatives = []
    for kind in ("grad", "value_and_grad"):
        d = derive(ir, names, kind, session=session, callee=func)
        d.single = single
        derivatives.append(d)
    return module(derivatives, header=header, standalone=True)[0]


def show(func, wrt=0):
    """The generated source of the gradient of `func` (as ``s2s.grad(func, wrt).source``)."""
    return grad(func, wrt).source


def graph(func, wrt=0, format="mermaid", adjoint=False):
    """The expression graph of `func` (or, with `adjoint`, of its gradient's reverse
    sweep) as Mermaid or Graphviz DOT text."""
    from .graph import render_graph
    func = getattr(func, "__s2s_function__", func)
    ir = to_ir(func)
    derivative = None
    if adjoint:
        names, single = _resolve_wrt(func, ir, wrt)
        derivative = derive(ir, names, "grad", callee=func)
        derivative.single = single
    return render_graph(ir, derivative, format)
