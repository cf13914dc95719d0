"""One checker for every derivative test: the dot-product test against central
finite differences (autograd's test_util, JAX's check_vjp)."""

import importlib.util
import itertools
import sys
import textwrap

import numpy as np

import s2s

_counter = itertools.count()


def check_grads(f, args, wrt=0, eps=1e-6, rtol=1e-6, atol=1e-8, seed=0):
    """Compare s2s.grad(f, wrt) along a random direction with central differences."""
    names = list(wrt) if isinstance(wrt, tuple) else [wrt]
    grads = s2s.grad(f, wrt=wrt)(*args)
    grads = list(grads) if isinstance(wrt, tuple) else [grads]
    rng = np.random.default_rng(seed)
    for name, g in zip(names, grads):
        i = name if isinstance(name, int) else _position(f, name)
        x = np.asarray(args[i], dtype=float)
        assert np.shape(g) == x.shape, f"gradient shape {np.shape(g)} != argument shape {x.shape}"
        v = rng.standard_normal(x.shape)
        analytic = np.vdot(np.asarray(g, dtype=float), v)
        hi, lo = list(args), list(args)
        hi[i], lo[i] = _like(args[i], x + eps * v), _like(args[i], x - eps * v)
        numeric = (f(*hi) - f(*lo)) / (2 * eps)
        scale = max(1.0, abs(numeric))
        assert np.isclose(analytic, numeric, rtol=rtol, atol=atol * scale), (
            f"{f.__name__} wrt {name}: analytic {analytic!r} vs numeric {numeric!r}")


def _position(f, name):
    import inspect
    return list(inspect.signature(f).parameters).index(name)


def _like(original, value):
    return float(value) if isinstance(original, float) else value


def load(tmp_path, source, name="f"):
    """Define functions from `source` in a real file (s2s reads source) and return one."""
    module_name = f"s2s_test_module_{next(_counter)}"
    path = tmp_path / f"{module_name}.py"
    path.write_text("import math\nimport numpy as np\n\n" + textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, name)
