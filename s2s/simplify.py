"""[simplify] Guarded simplification, canonical CSE and dead-code removal.

- ``in_forward_values``: rewrite a derivative in terms of values the forward pass
  already holds: first replace sub-expressions equal to a forward value by its name,
  then, where a forward value ``v = g(u)`` is a rational function of one other value
  ``u`` whose inverse ``u = g^-1(v)`` needs ``v`` alone (``exp(-z) = 1/p - 1``, not
  ``tanh(z) = v (1 + z) / w``, undefined at ``w = 0``), try that followed by
  ``sympy.cancel`` and keep the result only if it is smaller.  ``cancel`` only removes factors that are zero where the original is
  undefined, so values where the original is defined never change; nothing here
  rewrites ``log1p``/``expm1`` or cancels ``log(exp(x))``.  Work is bounded by
  expression size (``MAX_OPS``, ``MAX_INVERT_OPS``), never by wall time, so output stays deterministic.
- ``cse``: SymPy's CSE in canonical order with temporaries named by a NameTable.
"""

from __future__ import annotations

import sympy as sp


MAX_OPS = 80  # above this many operations, skip factoring
# above this many operations, skip the inversion search: sympy.cancel of a larger
# expression can take a second (polynomial GCDs over floats) to give a longer result
MAX_INVERT_OPS = 48


def _size(expr):
    return sp.count_ops(expr, visual=False)


def _worth_naming(sym, full, local):
    """Reuse a forward value when it is the user's variable or costly to recompute."""
    if full.is_Atom:
        return False
    if not sym.name.startswith("_"):
        return True
    return bool(local.atoms(sp.Function)) or any(
        not p.exp.is_Integer for p in local.atoms(sp.Pow))


def _substitute(expr, definitions):
    # exact structural replacement (xreplace): SymPy's algebraic subs costs seconds
    # on long chains and the elimination below finds what it would add
    named = {full: sym for sym, full, local in definitions if _worth_naming(sym, full, local)}
    if not named:
        return expr
    expr = expr.xreplace(named)
    sums = {frozenset(full.as_coefficients_dict()): (full, sym)
            for full, sym in named.items() if full.is_Add}
    return _scaled(expr, sums) if sums else expr


def _scaled(expr, sums):
    """expr with each sum that is a number times a named one written so: SymPy multiplies
    numbers into sums (-4*(a - 2*b) is -4*a + 8*b), which exact replacement misses."""
    if expr.is_Add:
        terms = expr.as_coefficients_dict()
        found = sums.get(frozenset(terms))
        if found is not None:
            full, sym = found
            ratios = {terms[k] / c for k, c in full.as_coefficients_dict().items()}
            if len(ratios) == 1:
                return ratios.pop() * sym
    if not expr.args or expr.is_Atom:
        return expr
    args = [_scaled(a, sums) for a in expr.args]
    return expr.func(*args) if args != list(expr.args) else expr


_INVERSES = {}
_U = sp.Dummy("u")


def _invert(sym, g, u):
    """Solutions u of sym = g(u), memoised (SymPy's solve costs milliseconds)."""
    key = (sym, g, u)
    if key not in _INVERSES:
        _INVERSES[key] = sp.solve(sp.Eq(sym, g), u, check=False, simplify=False,
                                  rational=False)
    return _INVERSES[key]


def stable(expr, exps):
    """exp(u) / (1 + exp(u)) -> 1 / (1 + exp(-u)), the logistic sigmoid of u (the
    derivative of log1p(exp(u))): the same value, but 1 where exp(u) overflows (u > 709),
    not inf / inf = NaN, and no forward value exp(u) to hold. `exps`: forward values
    that are an exp, {symbol: u}."""
    if expr.is_Atom or not expr.args:
        return expr
    args = [stable(a, exps) for a in expr.args]
    if expr.is_Mul:
        for f in list(args):
            if not (f.is_Pow and f.exp == -1 and f.base.is_Add and len(f.base.args) == 2
                    and sp.S.One in f.base.args):
                continue
            e = f.base.args[0] if f.base.args[1] == 1 else f.base.args[1]
            u = exps.get(e, e.args[0] if isinstance(e, sp.exp) else None)
            if u is not None and e in args and f in args:
                args.remove(e)
                args.remove(f)
                args.append(1 / (1 + sp.exp(-u)))
    return expr.func(*args) if args != list(expr.args) else expr


def in_forward_values(expr, definitions):
    """`definitions`: [(symbol, full expression in leaves, local expression)], forward order.

    Returns `expr` written with forward values: the smallest of plain substitution and
    of eliminating a function atom a through a forward value v = g(a), g rational
    (exp(-z) = 1/p - 1 for p = 1/(1 + exp(-z))), followed by sympy.cancel; then in its
    stable form."""
    best = _in_forward_values(expr, definitions)
    exps = {sym: full.args[0] for sym, full, _ in definitions if isinstance(full, sp.exp)}
    steady = stable(best, exps)
    return best if steady == best else _substitute(steady, definitions)


def _in_forward_values(expr, definitions):
    best = _substitute(expr, definitions)
    if _size(expr) > MAX_INVERT_OPS:
        return best
    best_size = _size(best)
    current = expr
    for sym, full, local in reversed(definitions):
        if not _worth_naming(sym, full, local):
            continue
        atoms = full.atoms(sp.Function)
        if len(atoms) != 1:
            continue
        atom = atoms.pop()
        if not current.has(atom):
            continue
        u = _U
        g = full.xreplace({atom: u})
        if g == u or not g.is_rational_function(u):
            continue  # v = f(a) itself is plain substitution, done above
        solutions = _invert(sym, g, u)
        if len(solutions) != 1 or solutions[0].free_symbols - {sym}:
            continue  # (a in terms of v and other values: dz / dv is undefined at dv = 0)
        eliminated = sp.cancel(current.xreplace({atom: solutions[0]}))
        candidate = _substitute(eliminated, definitions)
        size = _size(candidate)
        if size < best_size:
            best, best_size, current = candidate, size, eliminated
    return best


def common_factors(expr):
    """200*y - 200*t -> 200*(y - t): fewer operations, and sub-expressions CSE can share."""
    if _size(expr) > MAX_OPS:
        return expr
    factored = sp.factor_terms(expr)
    return factored if _size(factored) <= _size(expr) else expr


MAX_WHERE_FACTORS = 3


def into_where(expr):
    """a * where(c, u, v) -> where(c, a * u, a * v).

    The selected branch then carries the gradient's own dtype (np.where(c, 1, 0.5)
    would be float64 and upcast float32 gradients) and the branch not taken is never
    multiplied into it."""
    from .rules.elementwise import Where
    if expr.is_Add:
        return sp.Add(*[into_where(a) for a in expr.args])
    if expr.is_Mul:
        wheres = [a for a in expr.args if isinstance(a, Where)]
        if wheres and len(wheres) <= MAX_WHERE_FACTORS:
            w = wheres[0]
            rest = sp.Mul(*[a for a in expr.args if a is not w])
            c, u, v = w.args
            return Where(c, into_where(rest * u), into_where(rest * v))
    if isinstance(expr, Where):
        c, u, v = expr.args
        return Where(c, into_where(u), into_where(v))
    return expr


def numbers_only(expr):
    """Whether expr's values are all literals (its symbols only in conditions)."""
    from .rules.elementwise import Where
    if isinstance(expr, Where):
        return numbers_only(expr.args[1]) and numbers_only(expr.args[2])
    if expr.is_Atom:
        return not expr.is_Symbol
    return all(numbers_only(a) for a in expr.args)


def cse(exprs, names):
    """Common subexpressions of `exprs`: ([(symbol, expr)], reduced exprs)."""
    def temporaries():
        while True:
            yield sp.Symbol(names.temp("t"), real=True)
    replacements, reduced = sp.cse(exprs, symbols=temporaries(), order="canonical")
    return replacements, reduced
