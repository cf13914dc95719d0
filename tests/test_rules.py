"""Every rule table line against central finite differences: random points from
the op's domain, broadcasting shape pairs, and edge points."""

import numpy as np
import pytest

import s2s
from gradcheck import check_grads, load
from s2s.emit import render
from s2s.ir import Assign, Var
from s2s.rules.elementwise import ELEMENTWISE

SHAPES_1 = [(), (3,), (2, 3)]
SHAPES_2 = [((), (3,)), ((2, 3), (2, 3)), ((2, 1), (1, 3)), ((2, 3), ()),
            ((3,), (2, 3)), ((1, 3), (2, 1))]
NAMES = "xyz"


def call_code(op, n):
    return render(Assign("r", op, tuple(Var(NAMES[i]) for i in range(n))))[0]


def sample(rng, domain, shape):
    lo, hi = domain
    return rng.uniform(lo, hi, size=shape)


def cases():
    for op, rule in sorted(ELEMENTWISE.items()):
        if op == "np.where":
            continue  # has a boolean operand: tested below
        n = rule.arity
        if op.startswith("math."):
            yield pytest.param(op, [()] * n, id=f"{op}-float")
            continue
        shapes = [[s] for s in SHAPES_1] if n == 1 else [list(p) for p in SHAPES_2]
        if n == 3:
            shapes = [[(2, 3), (), ()], [(2, 3), (1, 3), (2, 1)]]
        for s in shapes:
            yield pytest.param(op, s, id=f"{op}-{'-'.join(str(x) for x in s)}")


@pytest.mark.parametrize("op,shapes", list(cases()))
def test_elementwise_matches_finite_differences(tmp_path, op, shapes):
    rule = ELEMENTWISE[op]
    n = rule.arity
    args_src = ", ".join(NAMES[:n])
    scalarise = "np.sum(np.sin({}))" if not op.startswith("math.") else "math.sin({})"
    f = load(tmp_path, f"def f({args_src}):\n    return {scalarise.format(call_code(op, n))}\n")
    rng = np.random.default_rng(abs(hash((op, str(shapes)))) % 2**32)
    args = []
    for dom, shape in zip(rule.domains(), shapes):
        a = sample(rng, dom, shape)
        args.append(float(a) if shape == () and op.startswith("math.") else a)
    if op == "np.clip":  # keep the bounds ordered and x away from them
        args = [rng.uniform(-3, 3, shapes[0]), -0.5 + 0 * np.asarray(args[1]),
                0.7 + 0 * np.asarray(args[2])]
        args[0] = np.where(np.abs(args[0] - 0.7) < 0.05, 1.5, args[0])
        args[0] = np.where(np.abs(args[0] + 0.5) < 0.05, -1.5, args[0])
    if op in ("np.maximum", "np.minimum"):
        args[1] = args[1] + 0.01  # no ties at random points
    for i in range(n):
        check_grads(f, args, wrt=i)
    check_grads(f, args, wrt=tuple(range(n)))


def test_where_differentiates_the_branch_taken_with_broadcasting(tmp_path):
    f = load(tmp_path, """
        def f(x, y):
            return np.sum(np.sin(np.where(x > 0.2, x * y, y ** 2)))
    """)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (3,))
    check_grads(f, [x, y], wrt=0)
    check_grads(f, [x, y], wrt=1)


# Edge points: zero, negative, large, where the function is smooth.
EDGES = {
    "np.exp": [0.0, -30.0, 30.0], "np.log": [1e-8, 1e6], "np.log1p": [0.0, -0.9, 1e8],
    "np.expm1": [0.0, -30.0, 20.0], "np.sqrt": [1e-8, 1e8], "np.square": [0.0, -1e4],
    "np.sin": [0.0, -1e3], "np.cos": [0.0, 1e3], "np.tan": [0.0, -1.5],
    "np.arcsin": [0.0, -0.999], "np.arccos": [0.0, 0.999], "np.arctan": [0.0, -1e4],
    "np.sinh": [0.0, -20.0], "np.cosh": [0.0, 20.0], "np.tanh": [0.0, -20.0, 20.0],
    "np.abs": [-3.0, 1e6], "np.reciprocal": [-1e-3, 1e5], "np.negative": [0.0, -1e9],
    "np.log2": [1e-6, 1e9], "np.log10": [1e-6, 1e9],
}


@pytest.mark.parametrize("op,point", [(op, p) for op, ps in EDGES.items() for p in ps])
def test_elementwise_at_edge_points(tmp_path, op, point):
    f = load(tmp_path, f"def f(x):\n    return np.sum({call_code(op, 1)})\n")
    x = np.array([point])
    g = s2s.grad(f)(x)
    eps = 1e-6 * max(1.0, abs(point))
    if op in ("np.log", "np.sqrt", "np.log2", "np.log10") and point < 1e-4:
        eps = point * 1e-3
    numeric = (f(x + eps) - f(x - eps)) / (2 * eps)
    assert np.isfinite(g).all()
    # central differences lose digits to rounding of f itself: allow that much
    np.testing.assert_allclose(g, [numeric], rtol=1e-5, atol=1e-9 * max(1.0, abs(f(x))) / eps)
