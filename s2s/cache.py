"""[cache] Compile generated source, register it for tracebacks, memoise it.

The module text is compiled under a file name like ``<s2s loss_grad of model.loss>``
and registered in ``linecache`` so tracebacks, ``pdb`` and ``inspect`` show the
generated lines.  It runs in a fresh namespace holding only what the text imports
and the module-level values of the user's function it reads, so it can never
clobber the user's globals.  Compiled derivatives are memoised per
(function, wrt, kind, s2s version).
"""

from __future__ import annotations

import builtins
import linecache
import weakref

from . import __version__

_MEMO = weakref.WeakKeyDictionary()  # function -> {(wrt, kind, options): GeneratedFunction}


class GeneratedFunction:
    """A derivative s2s generated: call it like a function; ``.source`` is its module."""

    def __init__(self, fn, source, name, origin):
        self._fn = fn
        self.source = source
        self.__name__ = name
        self.__qualname__ = name
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn
        self._origin = origin

    def __call__(self, *args, **kwargs):
        return self._fn(*args, **kwargs)

    def __repr__(self):
        return f"<s2s {self.__name__}: {self._origin}; print(.source) to read it>"

    def _repr_markdown_(self):
        return f"`{self.__name__}` ({self._origin})\n\n```python\n{self.source}```\n"


def load(source, name, origin, namespace):
    """Compile `source` and return its function `name` as a GeneratedFunction."""
    filename = f"<s2s {name} of {origin}>"
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    env = {"__builtins__": builtins, "__name__": "s2s_generated"}
    env.update(namespace)
    exec(compile(source, filename, "exec"), env)
    fn = env[name]
    # a class per derivative whose __call__ is the generated function itself: calling
    # the object costs no extra Python frame
    cls = type(GeneratedFunction.__name__, (GeneratedFunction,), {"__call__": staticmethod(fn)})
    return cls(fn, source, name, origin)


def memoised(func, key, build):
    try:
        table = _MEMO.setdefault(func, {})
    except TypeError:  # not weak-referenceable
        return build()
    full = key + (__version__,)
    if full not in table:
        table[full] = build()
    return table[full]
