"""Summing a broadcast adjoint before the products that make it (derive.distribute):
sum_i a * g_i = a * sum_i g_i where a does not vary along i, and the rows (columns) of
a matrix product's adjoint summed before the product.  The helpers against the plain
sum of the product, the gradients against finite differences, second order through
the helpers against differences of the gradient."""

import numpy as np
import pytest

import s2s
from gradcheck import check_grads, load
from s2s.runtime import (_matmul_adjoint_lhs, _matmul_adjoint_lhs_to, _matmul_adjoint_rhs,
                         _matmul_adjoint_rhs_to, _sum_first, _unbroadcast, _unbroadcast_mul)

rng = np.random.default_rng(31)

# (x's shape, the factors' shapes): x broadcasts to the factors' broadcast
PRODUCTS = [
    ((5, 1, 3), [(5, 1, 3), (5, 7, 3)]),      # the GMM's: summed along the data in g alone
    ((1, 3), [(5, 1, 3), (5, 7, 3)]),         # a leading axis too
    ((3,), [(7, 3), (3,)]),
    ((), [(4,), (4,)]),                       # both vary: summed after the product
    ((5, 1, 1), [(5, 1, 1), (5, 7, 3), (1, 1, 3)]),
    ((1, 1), [(2, 1), (1, 3)]),               # each axis in the one factor varying along it
    ((7, 1), [(7, 3), (1, 3)]),
    ((7, 1), [(), (7, 3)]),                   # a scalar factor
    ((2, 3), [(2, 3), (2, 3)]),               # nothing to sum
]


@pytest.mark.parametrize("x_shape, shapes", PRODUCTS)
def test_unbroadcast_mul_is_the_sum_of_the_product(x_shape, shapes):
    x = rng.standard_normal(x_shape)
    factors = [rng.standard_normal(s) for s in shapes]
    product = factors[0]
    for f in factors[1:]:
        product = product * f
    expected = _unbroadcast(product, x)
    got = _unbroadcast_mul(x, *factors)
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_unbroadcast_mul_keeps_float32():
    x = np.zeros((4, 1), dtype=np.float32)
    got = _unbroadcast_mul(x, np.ones((4, 1), np.float32), np.ones((4, 6), np.float32))
    assert got.dtype == np.float32 and got.shape == (4, 1)
    got = _unbroadcast_mul(x, 0.5, np.ones((4, 6), np.float32))  # a Python number factor
    assert got.dtype == np.float32 and np.all(got == 3.0)


# (a, b, x): x broadcasts to a (lhs) or to b (rhs)
LHS = [((5, 7, 3), (5, 3, 4), (5, 1, 3)), ((7, 3), (3, 4), (1, 3)), ((7, 3), (3, 4), (3,)),
       ((5, 7, 3), (3, 4), (1, 3)), ((7, 3), (3,), (1, 3)), ((2, 5, 7, 3), (5, 3, 4), (5, 1, 3)),
       ((7, 3), (3, 4), (7, 3)), ((1, 3), (3, 4), (1, 3))]
RHS = [((5, 7, 3), (5, 3, 4), (5, 3, 1)), ((7, 3), (3, 4), (3, 1)), ((7, 3), (3, 4), ()),
       ((3,), (3, 4), (3, 1)), ((5, 7, 3), (3, 4), (1, 4)), ((7, 3), (3, 4), (3, 4))]


@pytest.mark.parametrize("side, shapes", [("lhs", s) for s in LHS] + [("rhs", s) for s in RHS])
def test_matmul_adjoints_summed_to_a_broadcast(side, shapes):
    a, b, x = (rng.standard_normal(s) for s in shapes)
    dy = rng.standard_normal(np.shape(a @ b))
    plain, summed = ((_matmul_adjoint_lhs, _matmul_adjoint_lhs_to) if side == "lhs" else
                     (_matmul_adjoint_rhs, _matmul_adjoint_rhs_to))
    expected = _unbroadcast(plain(dy, a, b), x)
    got = summed(dy, a, b, x)
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# (g's shape, x's shape, a factor's shape, side, a's shape, b's shape): g is the adjoint
# of y = a @ b and of the product f * (what x broadcasts to); x is what a (lhs) or b
# (rhs) is a broadcast of
SHARED = [
    ((5, 7, 3), (5, 1, 3), (5, 1, 3), "lhs", (5, 7, 3), (5, 3, 3)),   # the GMM's
    ((5, 7, 3), (1, 7, 3), (1, 1, 3), "lhs", (5, 7, 3), (5, 3, 3)),   # b varies along x's 1
    ((5, 7, 3), (1, 1, 3), (1, 1, 3), "lhs", (5, 7, 3), (3, 3)),      # summed over both
    ((5, 7, 3), (5, 7, 1), (5, 7, 1), "lhs", (5, 7, 3), (5, 3, 3)),   # the contracted axis
    ((5, 3, 7), (5, 3, 1), (5, 1, 7), "rhs", (5, 3, 3), (5, 3, 7)),   # columns
    ((5, 3, 7), (5, 3, 1), (5, 3, 1), "rhs", (5, 3, 3), (5, 3, 7)),
    ((7, 3), (1, 3), (3,), "lhs", (7, 3), (3, 3)),
]


@pytest.mark.parametrize("g_shape, x_shape, f_shape, side, a_shape, b_shape", SHARED)
def test_sum_first_then_the_terms(g_shape, x_shape, f_shape, side, a_shape, b_shape):
    g, x, f, a, b = (rng.standard_normal(s) for s in
                     (g_shape, x_shape, f_shape, a_shape, b_shape))
    plain, summed = ((_matmul_adjoint_lhs, _matmul_adjoint_lhs_to) if side == "lhs" else
                     (_matmul_adjoint_rhs, _matmul_adjoint_rhs_to))
    expected = _unbroadcast(f * g, x) + _unbroadcast(plain(g, a, b), x)
    gs = _sum_first(g, x, f, **{side: (a, b)})
    got = _unbroadcast_mul(x, f, gs) + summed(gs, a, b, x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("a_shape, b_shape, x_shape", [((7, 3), (3,), (1, 3)),
                                                     ((3,), (3, 4), (3,)),
                                                     ((5, 7, 3), (3,), (5, 1, 3))])
def test_sum_first_with_a_vector_operand(a_shape, b_shape, x_shape):
    a, b, x = (rng.standard_normal(s) for s in (a_shape, b_shape, x_shape))
    g = rng.standard_normal(np.shape(a @ b))
    gs = _sum_first(g, x, lhs=(a, b))  # a vector's axes do not line up: left to the helper
    np.testing.assert_allclose(_matmul_adjoint_lhs_to(gs, a, b, x),
                               _unbroadcast(_matmul_adjoint_lhs(g, a, b), x), rtol=1e-12)


SOURCE = """
    def gmm_like(means, scale, lower, x):
        centered = x[None, :, :] - means[:, None, :]
        q = scale[:, None, :] * centered + centered @ np.transpose(lower, (0, 2, 1))
        return np.sum(np.log1p(q ** 2)) + np.sum(np.tanh(q))

    def columns(means, lower, x):
        centered = means[:, :, None] - x[None, :, :]
        return np.sum(np.sin(lower @ centered))

    def standardize(x, mu, gamma):
        c = x - mu[None, :]
        v = np.mean(c ** 2, axis=0)
        z = c / np.sqrt(v + 1e-3)
        return np.sum(np.tanh(gamma * z) * x)

    def vector_product(mu, w, x):
        c = x - mu
        return np.sum(np.exp(-c ** 2) * w) + np.sum(c @ w)

    def three_factors(w, u, v, m, x):
        c = x - v[None, :]
        q = w[:, None] * c * u[None, :] + c @ m
        return np.sum(np.log1p(q ** 2) * x)
"""


def _problem(k=3, n=6, d=2):
    return (rng.standard_normal((k, d)), rng.standard_normal((k, d)),
            rng.standard_normal((k, d, d)) * 0.5, rng.standard_normal((n, d)))


def test_gmm_like_sums_over_the_data_first(tmp_path):
    f = load(tmp_path, SOURCE, "gmm_like")
    g = s2s.grad(f, wrt=(0, 1, 2))
    # the adjoint of the centered data is never formed: its terms are summed over the
    # data points one by one, before the products
    assert "_unbroadcast_mul(" in g.source and "_matmul_adjoint_lhs_to(" in g.source
    assert "_sum_first(dq, _centered1, _q0, lhs=(centered, _q2))" in g.source
    assert "dcentered" not in g.source
    for point in (_problem(), _problem(k=1, n=1, d=1), _problem(k=4, n=9, d=3)):
        check_grads(f, point, wrt=(0, 1, 2))


def test_gmm_like_with_the_data_active_keeps_its_adjoint(tmp_path):
    f = load(tmp_path, SOURCE, "gmm_like")
    g = s2s.grad(f, wrt=(0, 3))  # dx needs dcentered itself: nothing to distribute
    assert "_matmul_adjoint_lhs_to(" not in g.source
    check_grads(f, _problem(), wrt=(0, 3))


def test_columns_summed_before_the_product(tmp_path):
    f = load(tmp_path, SOURCE, "columns")
    g = s2s.grad(f, wrt=(0, 1))
    assert "_matmul_adjoint_rhs_to(" in g.source
    k, d, n = 3, 4, 5
    args = (rng.standard_normal((k, d)), rng.standard_normal((k, d, d)),
            rng.standard_normal((d, n)))
    check_grads(f, args, wrt=(0, 1))


def test_three_factors_and_edge_points(tmp_path):
    f = load(tmp_path, SOURCE, "three_factors")
    g = s2s.grad(f, wrt=(0, 1, 2, 3))
    assert "_unbroadcast_mul(_c0, " in g.source
    n, d = 7, 3

    def point(scale):
        return (rng.standard_normal(n) * scale, rng.standard_normal(d) * scale,
                rng.standard_normal(d) * scale, rng.standard_normal((d, d)) * scale,
                rng.standard_normal((n, d)))
    for scale in (0.0, 1e-3, 1.0, 30.0):
        check_grads(f, point(scale), wrt=(0, 1, 2, 3))
    w, u, v, m, x = point(1.0)
    check_grads(f, (np.zeros(n), -np.abs(u), v, m, x), wrt=(0, 1, 2, 3))


def test_standardized_data_and_a_vector_product(tmp_path):
    f = load(tmp_path, SOURCE, "standardize")
    g = s2s.grad(f, wrt=(1, 2))
    assert g.source.count("_unbroadcast_mul(_c0, ") == 2  # both terms of dc summed first
    for scale in (1e-3, 1.0, 1e3):
        check_grads(f, (rng.standard_normal((6, 3)) * scale, rng.standard_normal(3) * scale,
                        rng.standard_normal(3)), wrt=(1, 2), atol=1e-6)  # f ~ 1e4: rounding
    f = load(tmp_path, SOURCE, "vector_product")
    g = s2s.grad(f)
    assert "_matmul_adjoint_lhs_to(" in g.source  # c @ w with w a vector
    for mu in (rng.standard_normal(4), np.zeros(4), -np.ones(4)):
        check_grads(f, (mu, rng.standard_normal(4), rng.standard_normal((5, 4))))


def _differences_of_the_gradient(f, args, wrt, eps=1e-5):
    g = s2s.grad(f, wrt=wrt)
    x0 = args[wrt]
    cols = []
    for j in range(x0.size):
        step = np.zeros(x0.size)
        step[j] = eps
        hi, lo = list(args), list(args)
        hi[wrt] = (x0.ravel() + step).reshape(x0.shape)
        lo[wrt] = (x0.ravel() - step).reshape(x0.shape)
        cols.append((np.ravel(g(*hi)) - np.ravel(g(*lo))) / (2 * eps))
    return np.stack(cols, axis=-1).reshape(x0.shape + x0.shape)


@pytest.mark.parametrize("name, wrt", [("gmm_like", 0), ("gmm_like", 2), ("columns", 0)])
def test_second_order_through_the_summed_helpers(tmp_path, name, wrt):
    f = load(tmp_path, SOURCE, name)
    if name == "gmm_like":
        args = list(_problem(k=2, n=5, d=2))
    else:
        args = [rng.standard_normal((2, 3)), rng.standard_normal((2, 3, 3)),
                rng.standard_normal((3, 4))]
    H = s2s.hessian(f, wrt=wrt)(*args)
    np.testing.assert_allclose(H, _differences_of_the_gradient(f, args, wrt),
                               rtol=1e-5, atol=1e-6)
    v = rng.standard_normal(np.shape(args[wrt]))
    np.testing.assert_allclose(s2s.hvp(f, wrt=wrt)(*args, v),
                               np.tensordot(H, v, axes=v.ndim), rtol=1e-9, atol=1e-10)
    args[wrt] = np.zeros_like(args[wrt])  # an edge point: the argument at zero
    np.testing.assert_allclose(s2s.hessian(f, wrt=wrt)(*args),
                               _differences_of_the_gradient(f, args, wrt), rtol=1e-5, atol=1e-6)


def _random_program(seed):
    """c = data minus a broadcast parameter m, used by 2-3 terms (products with
    broadcasting factors, c @ M, M @ c, a nonlinear term), then a scalar loss."""
    r = np.random.default_rng(seed)
    batched = r.random() < 0.5
    k, n, d = 2, 4, 3
    full = (k, n, d) if batched else (n, d)
    m_index = r.choice(["[:, None, :]", "[None, :, :]", "[:, :, None]"] if batched else
                       ["[None, :]", "", "[:, None]"])
    m_shape = {"[:, None, :]": (k, d), "[None, :, :]": (n, d), "[:, :, None]": (k, n),
               "[None, :]": (d,), "": (d,), "[:, None]": (n,)}[m_index]
    terms, shapes = [], {"m": m_shape, "data": full}
    for i in range(r.integers(2, 4)):
        kind = r.choice(["factor", "lhs", "rhs", "nonlinear"])
        if kind == "factor":
            shape = tuple(s if r.random() < 0.5 else 1 for s in full)
            shapes[f"f{i}"] = shape
            terms.append(f"f{i} * c")
        elif kind == "lhs":
            shapes[f"w{i}"] = (k, d, d) if batched and r.random() < 0.5 else (d, d)
            terms.append(f"c @ w{i}")
        elif kind == "rhs":
            shapes[f"w{i}"] = (n, n)
            terms.append(f"w{i} @ c")
        else:
            terms.append("np.sin(c)")
    sign = r.choice(["-", "+"])
    loss = r.choice(["np.sum(np.tanh(q) * data)", "np.sum(np.log1p(q ** 2))"])
    params = list(shapes)
    source = f"""
    def f({", ".join(params)}):
        c = data {sign} m{m_index}
        q = {" + ".join(terms)}
        return {loss}
    """
    args = [r.standard_normal(shapes[p]) for p in params]
    return source, params, args


@pytest.mark.parametrize("seed", range(24))
def test_random_programs_around_a_broadcast_difference(tmp_path, seed):
    source, params, args = _random_program(seed)
    f = load(tmp_path, source)
    wrt = tuple(i for i, p in enumerate(params) if p != "data")
    check_grads(f, args, wrt=wrt, seed=seed)
    check_grads(f, args, wrt=tuple(range(len(params))), seed=seed)  # data active: dc kept
    m = params.index("m")
    np.testing.assert_allclose(s2s.hessian(f, wrt=m)(*args),
                               _differences_of_the_gradient(f, args, m), rtol=1e-5, atol=1e-6)
