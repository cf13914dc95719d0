"""Public API: grad, value_and_grad, differentiate.  Wiring only."""

from __future__ import annotations

import functools
import inspect
import types

import numpy as np

from .cache import compiled, memoised
from .derive import Session, derive
from .emit import function_name, module
from .errors import DifferentiationError, NotBatchable
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

    def generate():
        if kind in ("jvp", "batched_jvp", "tangent", "batched_tangent"):
            from .forward import forward
            d = forward(ir, names, callee=func, batched=kind.startswith("batched"),
                        value=kind.endswith("jvp"))
        else:
            d = derive(ir, names, kind, callee=func)
        d.single = single
        source, namespace = module(d)
        return source, function_name(d), namespace

    # wrt is part of the name: the file name of the compiled code must differ for each
    # set of arguments (forward mode over it reads its source back by that name)
    origin = f"{display_name(ir.filename)}:{ir.qualname} wrt {', '.join(names)}"
    return compiled(func, ir, (names, single, kind), origin, generate)


def _derivative(func, wrt, kind):
    if not callable(func):
        raise TypeError(f"s2s.{kind} expects a function, got {type(func).__name__}")
    if inspect.ismethod(func):  # obj.method: differentiate the function, pass obj along
        shifted = tuple(w + 1 if isinstance(w, int) else w for w in wrt) \
            if isinstance(wrt, (tuple, list)) else (wrt + 1 if isinstance(wrt, int) else wrt)
        return functools.partial(_derivative(func.__func__, shifted, kind), func.__self__)
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
    """out.shape + in.shape Jacobians: columns from the generated forward mode (one
    sweep with a batch of tangents, the whole basis, or where a rule has no batched
    form one sweep per input element) or rows from the generated VJP (one per output
    element)."""

    def __init__(self, func, wrt, kind, mode="auto"):
        self.func = getattr(func, "__s2s_function__", func)
        self.wrt = wrt
        self.single = not isinstance(wrt, (tuple, list))
        self.kind, self.mode = kind, mode
        self.__name__ = f"{getattr(self.func, '__name__', 'f')}_{kind}"
        self.jvp = self.batched = None
        self._signature = None  # the function's, read on the first call
        if mode != "reverse" and kind != "jvp":
            try:  # a Hessian's value, the gradient, is not needed: tangents only
                self.batched = _derivative(
                    func, wrt, "batched_tangent" if kind == "hessian" else "batched_jvp")
            except NotBatchable:
                pass
        if mode != "reverse" and self.batched is None:
            self.jvp = _derivative(func, wrt, "jvp")
        self.vjp = _derivative(func, wrt, "vjp") if mode in ("reverse", "auto") else None
        self.source = (self.batched or self.jvp or self.vjp).source

    def _tangent_kwargs(self, tangents, jvp=None):
        code = (jvp or self.jvp).__code__
        names = code.co_varnames[code.co_argcount:code.co_argcount + code.co_kwonlyargcount]
        return dict(zip(names[-len(tangents):], tangents))

    def _values(self, args, kwargs):
        """The values of the wrt arguments in this call (positional, keyword or default)."""
        if self._signature is None:  # (inspect.signature takes microseconds: once)
            self._signature = inspect.signature(self.func)
            params = list(self._signature.parameters.values())
            names = [p.name for p in params]
            self._names = [names[i] if isinstance(i, int) else i
                           for i in ([self.wrt] if self.single else self.wrt)]
            positional = [p.name for p in params if p.kind in (
                p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            self._positions = [positional.index(n) if n in positional else None
                               for n in self._names]
        if not kwargs and None not in self._positions and \
                all(p < len(args) for p in self._positions):  # (the common call: no binding)
            return [args[p] for p in self._positions]
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return [bound.arguments[n] for n in self._names]

    def columns(self, args, kwargs):
        xs = [np.asarray(v) for v in self._values(args, kwargs)]
        if self.batched is not None:
            return self.batched_columns(args, kwargs, xs)
        blocks = []
        out = None
        for k, x in enumerate(xs):
            cols = []
            for j in range(x.size):
                tangents = [np.zeros(np.shape(y)) for y in xs]
                tangents[k].flat[j] = 1.0
                tangents = [t if np.ndim(t) else float(t) for t in tangents]
                out, col = self.jvp(*args, **kwargs, **self._tangent_kwargs(tangents))
                cols.append(np.asarray(col))
            out = np.asarray(out)
            blocks.append(np.stack(cols, axis=-1).reshape(out.shape + x.shape) if cols
                          else np.zeros(out.shape + x.shape))
        return out, tuple(blocks)

    def batched_columns(self, args, kwargs, xs):
        """All columns from one sweep: the batch of tangents is the basis of the inputs."""
        n = sum(x.size for x in xs)
        basis = np.eye(n, dtype=np.result_type(*xs, float)) if n else np.zeros((0, 0))
        tangents, start = [], 0
        for x in xs:
            tangents.append(basis[:, start:start + x.size].reshape((n,) + x.shape))
            start += x.size
        dots = self._tangent_kwargs(tangents, self.batched)
        if self.kind == "hessian":  # the gradient has its argument's shape
            out, cols = np.empty(xs[0].shape), self.batched(*args, **kwargs, **dots)
        else:
            out, cols = self.batched(*args, **kwargs, **dots)
        out = np.asarray(out)
        cols = np.broadcast_to(cols, (n,) + out.shape)
        jac = np.moveaxis(cols, 0, -1)  # out.shape + (n,)
        blocks, start = [], 0
        for x in xs:
            blocks.append(np.array(jac[..., start:start + x.size]).reshape(out.shape + x.shape))
            start += x.size
        return out, tuple(blocks)

    def rows(self, args, kwargs):
        out = np.asarray(self.func(*args, **kwargs))
        rows = []
        for i in range(out.size):
            basis = np.zeros(out.size, dtype=np.result_type(out, float))
            basis[i] = 1.0
            g = self.vjp(basis.reshape(out.shape), *args, **kwargs)
            rows.append((g,) if self.single else tuple(g))
        shapes = [np.shape(g) for g in rows[0]] if rows else []
        return out, tuple(np.stack([np.asarray(r[k]) for r in rows]).reshape(
            out.shape + shapes[k]) for k in range(len(shapes)))

    def __call__(self, *args, **kwargs):
        if self.kind == "jvp":
            *args, tangent = args
            tangents = (tangent,) if self.single else tuple(tangent)
            return self.jvp(*args, **kwargs, **self._tangent_kwargs(tangents))
        mode = self.mode
        if mode == "auto":
            n_in = sum(np.size(v) for v in self._values(args, kwargs))
            n_out = np.size(self.func(*args, **kwargs))
            mode = "forward" if n_in <= n_out else "reverse"
        _, jac = (self.columns if mode == "forward" else self.rows)(args, kwargs)
        return jac[0] if self.single else jac

    def __repr__(self):
        return f"<s2s {self.__name__}; print(.source) to read it>"


def jacobian(func, wrt=0, mode="auto"):
    """The Jacobian of `func`, shaped ``out.shape + in.shape`` (a tuple of them for a
    tuple `wrt`).  mode "forward" builds it column by column with the generated
    forward mode, "reverse" row by row with the generated VJP, "auto" picks the one
    with fewer sweeps (input size against output size)."""
    if mode not in ("auto", "reverse", "forward"):
        raise ValueError(f"mode={mode!r}: use 'auto', 'reverse' or 'forward'")
    return _cached(func, wrt, "jacobian", mode, lambda: _Jacobian(func, wrt, "jacobian", mode))


def _cached(func, wrt, kind, mode, build):
    target = getattr(func, "__s2s_function__", func)
    key = (tuple(wrt) if isinstance(wrt, list) else wrt, kind, mode)
    return memoised(target, key, build)


def jvp(func, wrt=0):
    """Forward mode: ``(args..., tangent) -> (value, directional derivative)``; the
    generated code carries a tangent ``x_dot`` beside each value.  For a tuple `wrt`,
    `tangent` is a tuple of tangents."""
    return _cached(func, wrt, "jvp", "forward", lambda: _Jacobian(func, wrt, "jvp", "forward"))


def _gradient_function(func, wrt):
    """The plain generated gradient function, for forward mode over it."""
    if isinstance(wrt, (tuple, list)):
        raise ValueError("s2s.hessian and s2s.hvp take one argument in wrt")
    g = grad(func, wrt)
    ir = to_ir(getattr(func, "__s2s_function__", func))
    return g, ir.params[wrt] if isinstance(wrt, int) else wrt


def hessian(func, wrt=0):
    """``in.shape + in.shape`` second derivatives: forward mode applied to the
    generated gradient (forward over reverse), one sweep whose batch of tangents is
    the basis of the input (one sweep per element where a rule has no batched form)."""
    def build():
        g, name = _gradient_function(func, wrt)
        return _Jacobian(g, name, "hessian", "forward")
    return _cached(func, wrt, "hessian", "forward", build)


def hvp(func, wrt=0):
    """``(args..., v) -> H @ v`` without forming H: forward mode over the gradient."""
    def build():
        g, name = _gradient_function(func, wrt)
        tangent = _derivative(g, name, "tangent")
        code = tangent.__code__
        dot = code.co_varnames[code.co_argcount + code.co_kwonlyargcount - 1]

        def product(*args, **kwargs):
            *args, v = args
            return tangent(*args, **kwargs, **{dot: v})
        product.source = tangent.source
        return product
    return _cached(func, wrt, "hvp", "forward", build)


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

    @property
    def hessian(self):
        return hessian(self.__s2s_function__, self._wrt)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return Differentiable(types.MethodType(self.__s2s_function__, obj), self._wrt)

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


def standalone_module(func, wrt, header, mode="reverse"):
    """Module text that imports NumPy only: `FUNC_grad` and `FUNC_value_and_grad`
    (mode "reverse"), `FUNC_jvp` (mode "forward"), or `FUNC_hessian` with the forward
    mode of the gradient it is built from (mode "hessian")."""
    from .forward import forward
    func = getattr(func, "__s2s_function__", func)
    ir = to_ir(func)
    names, single = _resolve_wrt(func, ir, wrt)
    session = Session(set(ir.constants) | {ir.name})
    if mode == "forward":
        return module([forward(ir, names, session=session, callee=func)], header=header,
                      standalone=True)[0]
    if mode == "hessian":
        return _standalone_hessian(func, ir, wrt, header)
    derivatives = []
    for kind in ("grad", "value_and_grad"):
        d = derive(ir, names, kind, session=session, callee=func)
        d.single = single
        derivatives.append(d)
    return module(derivatives, header=header, standalone=True)[0]


def _standalone_hessian(func, ir, wrt, header):
    """`FUNC_hessian`: one sweep of the gradient's forward mode with the basis as its
    batch of tangents, or one sweep per element where a rule has no batched form."""
    from .forward import forward
    gfn, name = _gradient_function(func, wrt)
    gir = to_ir(gfn)
    session = Session(set(gir.constants) | {gir.name})
    args = ", ".join(ir.params)
    try:
        d = forward(gir, (name,), session=session, callee=gfn, batched=True, value=False)
    except NotBatchable:
        d = None
    if d is not None:
        body = f"""one sweep of {d.name} with the basis of {name} as its batch of tangents.
    shape = np.shape({name})
    basis = np.reshape(np.eye(int(np.prod(shape))), (-1,) + shape)
    columns = {d.name}({args}, {d.tangent_params[0]}=basis)
    return np.reshape(np.moveaxis(columns, 0, -1), shape + shape)"""
    else:
        d = forward(gir, (name,), session=Session(set(gir.constants) | {gir.name}),
                    callee=gfn)
        body = f"""one sweep of {d.name or gir.name + '_jvp'} per element of {name}.
    shape = np.shape({name})
    columns = []
    for j in range(int(np.prod(shape))):
        basis = np.zeros(int(np.prod(shape)))
        basis[j] = 1.0
        _, column = {gir.name}_jvp({args}, {d.tangent_params[0]}=np.reshape(basis, shape))
        columns.append(np.ravel(column))
    return np.reshape(np.stack(columns, axis=-1), shape + shape)"""
    text = module([d], header=header, standalone=True)[0]
    doc = f"Hessian of {ir.name} with respect to {name}, shape {name}.shape + {name}.shape:"
    head, rest = body.split("\n", 1)
    return text + f'\n\ndef {ir.name}_hessian({args}):\n    """{doc}\n    {head}"""\n{rest}\n'


def show(func, wrt=0):
    """The generated source of the gradient of `func` (as ``s2s.grad(func, wrt).source``)."""
    return grad(func, wrt).source


def graph(func, wrt=0, format="mermaid", adjoint=False):
    """The expression graph of `func` (or, with `adjoint`, of its gradient's reverse
    sweep) as Mermaid or Graphviz DOT text."""
    from .graphs import render_graph
    func = getattr(func, "__s2s_function__", func)
    ir = to_ir(func)
    derivative = None
    if adjoint:
        names, single = _resolve_wrt(func, ir, wrt)
        derivative = derive(ir, names, "grad", callee=func)
        derivative.single = single
    return render_graph(ir, derivative, format)
