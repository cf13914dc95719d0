"""[IR] Deterministic, readable names for generated code.

- a re-assigned user variable ``x`` becomes ``x_1``, ``x_2``, ...;
- a temporary computed on the way to ``h`` is ``_h0``, ``_h1``, ... (``_out0`` for
  the return expression);
- the adjoint of ``x`` is ``dx`` (``d_h0`` for ``_h0``), the tangent ``x_dot``;
- a CSE temporary is ``_t0``, ``_t1``, ....
A name already taken (by the user, a helper or a module) gets the next free count,
so the same input always produces the same names.
"""

from __future__ import annotations

import keyword

RESERVED = frozenset({"np", "math", "numpy"})


class NameTable:
    def __init__(self, taken=()):
        self.taken = set(taken) | set(RESERVED)
        self._counters = {}

    def claim(self, name):
        self.taken.add(name)
        return name

    def is_free(self, name):
        return name not in self.taken and not keyword.iskeyword(name)

    def version(self, base):
        """A new version of the user variable `base`: x_1, x_2, ..."""
        n = self._counters.get(("v", base), 0)
        while True:
            n += 1
            name = f"{base}_{n}"
            if self.is_free(name):
                self._counters[("v", base)] = n
                return self.claim(name)

    def temp(self, base):
        """A temporary on the way to `base`: _base0, _base1, ..."""
        base = base.lstrip("_") or "t"
        if base[-1].isdigit():
            base += "_"  # _dx_1_0, not _dx_10
        n = self._counters.get(("t", base), -1)
        while True:
            n += 1
            name = f"_{base}{n}"
            if self.is_free(name):
                self._counters[("t", base)] = n
                return self.claim(name)

    def derived(self, name, prefix="d"):
        """A name derived from `name`: dx for x, d_h0 for _h0; counted if taken."""
        base = f"{prefix}{name}"
        candidate, n = base, 0
        while not self.is_free(candidate):
            n += 1
            candidate = f"{base}_{n}" if not base[-1].isdigit() else f"{base}x{n}"
        return self.claim(candidate)
