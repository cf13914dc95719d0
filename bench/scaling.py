"""Compile-time scaling: generated functions of N straight-line statements (a mix of
elementwise ops, a few matmuls and sums on 4x4 arrays), and a loop whose body has 100
statements, timed cold through ``s2s.grad``.

Cold means: the generated file is imported under a new module name (a fresh function
object, so s2s's memo misses), SymPy's cache is cleared before each compile and s2s's
on-disk cache is off (``no_disk_cache``), so every compile really derives.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

_counter = itertools.count()

# each op reads the previous value p and an earlier one q; all keep |values| ~ <= 1.5
_ELEMENTWISE = [
    "np.tanh({p} + 0.5 * {q})",
    "np.sin({p}) * {q}",
    "np.exp(-{p} * {p}) - 0.5 * {q}",
    "{p} * {q}",
    "np.sqrt(1.0 + {p} * {p}) - {q}",
    "{q} / (1.0 + {p} * {p})",
    "np.cos({p}) * 0.8 + {q} * 0.2",
    "np.tanh({p} * {q} - 0.3)",
]
_STRUCTURAL = [
    "np.tanh({p} @ w)",
    "np.sum({p}, axis=0, keepdims=True) * 0.25 * {q}",
    "({p} @ w) * {q}",
    "np.mean({p} * {q}) + 0.5 * {p}",
]


def statements(n, seed, first="a"):
    """n assignment lines v1..vn; v0 is `first`.  Every 10th is a matmul or a sum."""
    rng = random.Random(seed)
    lines = []
    for i in range(1, n + 1):
        p = f"v{i - 1}" if i > 1 else first
        j = rng.randint(max(0, i - 8), i - 1)
        q = f"v{j}" if j > 0 else first
        table = _STRUCTURAL if i % 10 == 0 else _ELEMENTWISE
        lines.append(f"v{i} = " + rng.choice(table).format(p=p, q=q))
    return lines


def straight_line_source(n, seed=0):
    body = "\n    ".join(statements(n, seed))
    return (f"import numpy as np\n\n\ndef f(a, w):\n    {body}\n"
            f"    return np.sum(v{n} * v{n})\n")


def loop_source(n=100, steps=5, seed=1):
    body = "\n        ".join(statements(n - 1, seed))
    return (f"import numpy as np\n\n\ndef f(a, w):\n    for step in range({steps}):\n"
            f"        {body}\n        a = np.tanh(v{n - 1})\n"
            f"    return np.sum(a * a)\n")


CASES = {  # name: (source, statements in the function body)
    "straight_10": lambda: straight_line_source(10),
    "straight_100": lambda: straight_line_source(100),
    "straight_1000": lambda: straight_line_source(1000),
    "loop_100": lambda: loop_source(100),
}


def args():
    rng = np.random.default_rng(0)
    return rng.uniform(-1.0, 1.0, (4, 4)), rng.standard_normal((4, 4)) * 0.25


def write(directory, name):
    path = Path(directory) / f"s2s_bench_{name}.py"
    path.write_text(CASES[name]())
    return path


def fresh_function(path):
    """Import `path` under a new module name and return its f (a new function object)."""
    module_name = f"{path.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module.f


@contextlib.contextmanager
def no_disk_cache():
    """s2s's on-disk cache off: a compile timed inside derives, never reads an entry."""
    old = os.environ.get("S2S_NO_DISK_CACHE")
    os.environ["S2S_NO_DISK_CACHE"] = "1"
    try:
        yield
    finally:
        if old is None:
            del os.environ["S2S_NO_DISK_CACHE"]
        else:
            os.environ["S2S_NO_DISK_CACHE"] = old


def cold_compile(path, wrt=("a", "w")):
    """(seconds, generated function) for s2s.grad of a fresh import of `path`."""
    import s2s
    from sympy.core.cache import clear_cache
    f = fresh_function(path)
    clear_cache()
    with no_disk_cache():
        start = time.perf_counter()
        g = s2s.grad(f, wrt=wrt)
        return time.perf_counter() - start, g, f
