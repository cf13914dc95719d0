"""[cache] Compile generated source, register it for tracebacks, memoise it, and keep
it on disk so a new process does not derive it again.

The module text is compiled under a file name like ``<s2s loss_grad of model.loss>``
and registered in ``linecache`` so tracebacks, ``pdb`` and ``inspect`` show the
generated lines.  It runs in a fresh namespace holding only what the text imports
and the module-level values of the user's function it reads, so it can never
clobber the user's globals.  Compiled derivatives are memoised per
(function, wrt, kind, s2s version).

On disk (``cache_dir()``), one JSON file per derivative holds the generated text,
the names of the namespace values it needs, and the key it was made for.  The key
covers everything the text depends on: the IR of the function and of every user
function it may call (their source, position and file, the values of the globals
they read, the callees they resolve to), the display names of their files (relative
to the working directory), wrt and kind, the s2s version and a hash of s2s's own
source files, the Python, NumPy, SymPy and libcst versions.  An entry whose stored
key differs from the one computed, that does not parse or compile, or whose
namespace values cannot be found again is ignored and overwritten; any OSError falls
back to deriving.  Writes go to a temporary file in the same directory, then
``os.replace``: readers and concurrent writers only ever see whole entries.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import gc
import hashlib
import json
import linecache
import numbers
import os
import sys
import tempfile
import types
import weakref
from pathlib import Path

import numpy as np

from . import __version__
from .derive import user_callee
from .frontend import display_name
from .ir import Assign, walk
from .normalize import to_ir

_MEMO = weakref.WeakKeyDictionary()  # function -> {(wrt, kind, options): generated function}


def load(source, name, origin, namespace):
    """Compile `source` and return its function `name`: the generated function itself
    (calling it costs what calling the code costs), with ``.source``, its module, and a
    Markdown view for notebooks."""
    filename = f"<s2s {name} of {origin}>"
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    env = {"__builtins__": builtins, "__name__": "s2s_generated"}
    env.update(namespace)
    exec(compile(source, filename, "exec"), env)
    fn = env[name]
    fn.source = source
    fn.s2s_origin = origin
    fn._repr_markdown_ = lambda: f"`{name}` ({origin})\n\n```python\n{source}```\n"
    return fn


def memoised(func, key, build):
    try:
        table = _MEMO.setdefault(func, {})
    except TypeError:  # not weak-referenceable
        return build()
    full = key + (__version__,)
    if full not in table:
        table[full] = build()
    return table[full]


def clear_cache():
    """Forget every derivative: the in-process memo and the on-disk cache's entries.

    Returns the number of files removed from the cache directory."""
    _MEMO.clear()
    directory = cache_dir()
    removed = 0
    if directory is None:
        return removed
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if _is_entry_name(name) or name.startswith(_TEMP_PREFIX):
            try:
                os.remove(os.path.join(directory, name))
                removed += 1
            except OSError:
                pass
    return removed


# ---- the on-disk cache -----------------------------------------------------------

FORMAT = 1  # of the entry files; part of the key
_TEMP_PREFIX = ".tmp-"


def cache_dir():
    """The on-disk cache's directory, or None when it is disabled.

    ``S2S_NO_DISK_CACHE=1`` disables it; else ``$S2S_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/s2s``, else ``~/.cache/s2s``."""
    if os.environ.get("S2S_NO_DISK_CACHE", "").strip() not in ("", "0"):
        return None
    explicit = os.environ.get("S2S_CACHE_DIR")
    if explicit is not None:  # an empty value never means the working directory
        return Path(explicit).expanduser() if explicit.strip() else None
    base = os.environ.get("XDG_CACHE_HOME", "")
    try:
        root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    except RuntimeError:  # no home directory
        return None
    return root / "s2s"


def _is_entry_name(name):
    stem, dot, ext = name.partition(".")
    return ext == "json" and len(stem) == 64 and all(c in "0123456789abcdef" for c in stem)


def compiled(func, ir, options, origin, generate):
    """load() of the module text ``generate() -> (source, name, namespace)`` derives for
    `func` (whose IR is `ir`) with `options`: from the on-disk cache when it holds an
    entry for exactly these inputs, else generated and stored there."""
    entry = _Entry.make(func, ir, options)
    if entry is not None:
        found = entry.read()
        if found is not None:
            try:
                return load(found[0], found[1], origin, found[2])
            except Exception:  # text that does not compile or run: derive it again
                pass
    with _collector_paused():
        source, name, namespace = generate()
    result = load(source, name, origin, namespace)
    if entry is not None:
        entry.write(source, name, namespace)
    return result


@contextlib.contextmanager
def _collector_paused():
    """Deriving makes many short-lived SymPy objects and next to no cycles, and every
    collection of the oldest generation rescans the whole process: with JAX and PyTorch
    loaded, 1000 statements took 12x the time of 100 with the collector on, 10.7x with
    it paused. Paused while deriving, restored after (nested: by the outermost)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Uncacheable(Exception):
    """A value the key cannot describe: derive without the on-disk cache."""


class _Entry:
    """The cache file of one derivative: its path, key and the IR closure it came from."""

    def __init__(self, path, key, functions):
        self.path, self.key, self.functions = path, key, functions

    @classmethod
    def make(cls, func, ir, options):
        directory = cache_dir()
        if directory is None:
            return None
        try:
            functions, calls = _closure(func, ir)
            parts = []
            _describe([[(f, display_name(f.filename)) for f in functions], calls], parts)
            digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
            key = dict(_environment(), options=_jsonable(options), filename=ir.filename,
                       function=f"{display_name(ir.filename)}:{ir.qualname}", ir=digest)
        except Exception:  # _Uncacheable, a callee s2s cannot read, an unreadable file
            return None
        name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        return cls(directory / f"{name}.json", key, functions)

    def read(self):
        """(source, name, namespace) of an entry made for this key, or None."""
        try:
            with open(self.path, "rb") as f:
                entry = json.loads(f.read().decode("utf-8"))
            if not isinstance(entry, dict) or entry.get("key") != self.key:
                return None
            source, name, names = entry["source"], entry["name"], entry["namespace"]
            if not (isinstance(source, str) and isinstance(name, str) and
                    isinstance(names, list) and all(isinstance(n, str) for n in names)):
                return None
        except (OSError, ValueError, KeyError, RecursionError, MemoryError):
            return None  # ValueError: bad UTF-8, bad JSON
        namespace = _namespace(self.functions, names)
        return None if namespace is None else (source, name, namespace)

    def write(self, source, name, namespace):
        found = _namespace(self.functions, sorted(namespace))
        if found is None or any(found[n] is not namespace[n] for n in namespace):
            return  # values the next process could not find again the same way
        text = json.dumps({"key": self.key, "name": name, "namespace": sorted(namespace),
                           "source": source}, sort_keys=True, indent=1)
        temp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=self.path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(text.encode("utf-8"))
            os.replace(temp, self.path)
        except (OSError, ValueError):
            if temp is not None:
                try:
                    os.remove(temp)
                except OSError:
                    pass


def _closure(func, ir):
    """([ir, IRs of the user functions it may call, transitively], the calls resolved:
    (caller index, statement target, callee index))."""
    functions, index, calls = [ir], {func: 0}, []
    for caller, f in enumerate(functions):  # grows while it runs
        for x in walk(f.body):
            if not isinstance(x, Assign):
                continue
            callee = user_callee(f, x)
            if callee is None:
                continue
            if callee not in index:
                index[callee] = len(functions)
                functions.append(to_ir(callee))
            calls.append((caller, x.target, index[callee]))
    return functions, calls


def _namespace(functions, names):
    """{name: value} for the namespace names, from the module constants and default
    values of `functions` (as emit.module collects them), or None if one is missing
    or means different objects."""
    values = {}
    for f in functions:
        pairs = list(f.constants.items()) + [
            (f"_{f.name}_default_{p}", v) for p, v in f.defaults.items()]
        for n, v in pairs:
            if n in names:
                if n in values and values[n] is not v:
                    return None
                values[n] = v
    return values if len(values) == len(set(names)) else None


def _describe(value, out):
    """Append to `out` strings standing for `value`, the same for values a derivation
    cannot tell apart; raises _Uncacheable for a value it cannot describe."""
    kind = type(value)
    if kind in _ATOMS:
        out.append(f"{kind.__name__}:{value!r}")
    elif kind in _FIELDS or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        names = _FIELDS.get(kind)
        if names is None:
            names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value))
        out.append(f"({kind.__module__}.{kind.__qualname__}")
        for name in names:
            _describe(getattr(value, name), out)
        out.append(")")
    elif isinstance(value, (tuple, list)):
        out.append(f"({kind.__name__}")
        for v in value:
            _describe(v, out)
        out.append(")")
    elif isinstance(value, dict):
        out.append("(dict")
        for k, v in value.items():
            _describe(k, out)
            _describe(v, out)
        out.append(")")
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise _Uncacheable("an object array")
        data = hashlib.blake2b(np.ascontiguousarray(array).tobytes(), digest_size=20)
        out.append(f"{kind.__name__}:{array.dtype.str}:{array.shape}:{data.hexdigest()}")
    elif value is None or value is Ellipsis or isinstance(value, (bool, str, bytes)):
        out.append(f"{kind.__name__}:{value!r}")
    elif isinstance(value, numbers.Number):
        out.append(f"number:{_qualified(kind)}:{value!r}")
    elif isinstance(value, (set, frozenset)):
        parts = []
        for v in value:
            part = []
            _describe(v, part)
            parts.append("\x1f".join(part))
        out.append(f"({kind.__name__}")
        out.extend(sorted(parts))
        out.append(")")
    elif isinstance(value, slice):
        out.append("(slice")
        for v in (value.start, value.stop, value.step):
            _describe(v, out)
        out.append(")")
    elif isinstance(value, types.ModuleType):
        out.append(f"module:{value.__name__}")
    elif isinstance(value, type):
        out.append(f"type:{_qualified(value)}")
    elif isinstance(value, types.FunctionType) or \
            isinstance(getattr(value, "__s2s_function__", None), types.FunctionType):
        # which function it is (not its module's name, which a new import changes);
        # what calling it derives is in the closure's IRs
        f = getattr(value, "__s2s_function__", value)
        code = f.__code__
        out.append(f"function:{f is not value}:{f.__qualname__!r}:{code.co_filename!r}:"
                   f"{code.co_firstlineno}")
    else:  # s2s reads any other object only through attribute paths, whose values
        # (numbers, arrays, callees) the IR holds
        out.append(f"object:{_qualified(kind)}:{_qualified(value)}")


_ATOMS = {str, int, float, bool, type(None)}
_FIELDS = {}  # dataclass -> its field names


def _qualified(obj):
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return f"{module if isinstance(module, str) else ''}.{name if isinstance(name, str) else ''}"


def _jsonable(value):
    return [_jsonable(v) for v in value] if isinstance(value, (tuple, list)) else value


_ENVIRONMENT = None


def _environment():
    """The key fields that are the same for every entry of this process."""
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        import sympy
        try:
            from libcst._version import __version__ as libcst_version
        except ImportError:
            from importlib.metadata import version
            libcst_version = version("libcst")
        package = Path(__file__).parent
        digest = hashlib.sha256()
        for path in sorted(package.rglob("*.py")):
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        _ENVIRONMENT = {"format": FORMAT, "s2s": __version__,
                        "s2s_source": digest.hexdigest(),
                        "python": sys.implementation.cache_tag, "numpy": np.__version__,
                        "sympy": sympy.__version__, "libcst": libcst_version}
    return dict(_ENVIRONMENT)
