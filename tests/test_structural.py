"""Structural ops (reductions, products, shape and indexing ops) against finite
differences, each on the shapes and parameters that exercise its adjoint."""

import numpy as np
import pytest

from gradcheck import check_grads, load

rng = np.random.default_rng(7)


def A(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape)


CASES = [
    # (id, body expression in x (and y), args)
    ("sum", "np.sum(x ** 3)", [A(2, 3)]),
    ("sum-axis0", "np.sum(np.sin(np.sum(x, axis=0)))", [A(2, 3)]),
    ("sum-axis-neg", "np.sum(np.sin(np.sum(x, axis=-1)))", [A(2, 3, 4)]),
    ("sum-axis-tuple", "np.sum(np.sin(np.sum(x, axis=(0, 2))))", [A(2, 3, 4)]),
    ("sum-keepdims", "np.sum(np.sin(np.sum(x, axis=1, keepdims=True) * x))", [A(2, 3)]),
    ("sum-method", "np.sum(np.sin(x.sum(axis=0)))", [A(2, 3)]),
    ("sum-method-none", "x.sum() ** 2", [A(2, 3)]),
    ("mean", "np.mean(x ** 2)", [A(4, 3)]),
    ("mean-axis", "np.sum(np.sin(np.mean(x, axis=1)))", [A(4, 3)]),
    ("mean-axis-tuple-keepdims", "np.sum(np.sin(np.mean(x, axis=(0, 1), keepdims=True) * x))", [A(2, 3, 2)]),
    ("mean-method", "np.sin(x.mean())", [A(5)]),
    ("prod", "np.prod(x)", [A(5, lo=0.5)]),
    ("prod-axis", "np.sum(np.sin(np.prod(x, axis=1)))", [A(3, 4)]),
    ("prod-keepdims", "np.sum(np.sin(np.prod(x, axis=0, keepdims=True)))", [A(3, 4)]),
    ("prod-method", "x.prod() + 0.0", [A(4)]),
    ("max", "np.max(x) * 2.0", [A(7)]),
    ("max-axis", "np.sum(np.sin(np.max(x, axis=0)))", [A(3, 4)]),
    ("min-axis-keepdims", "np.sum(np.sin(np.min(x, axis=1, keepdims=True)))", [A(3, 4)]),
    ("max-method", "np.sin(x.max())", [A(3, 4)]),
    ("min-method", "np.sum(np.sin(x.min(axis=0)))", [A(3, 4)]),
    ("var", "np.var(x)", [A(6)]),
    ("var-axis-ddof", "np.sum(np.sin(np.var(x, axis=0, ddof=1)))", [A(4, 3)]),
    ("std", "np.std(x)", [A(6)]),
    ("std-axis-keepdims", "np.sum(np.sin(np.std(x, axis=1, keepdims=True)))", [A(4, 3)]),
    ("var-method", "x.var() + x.std(axis=0).sum()", [A(4, 3)]),
    ("matmul-2d-2d", "np.sum(np.sin(x @ y))", [A(2, 3), A(3, 4)]),
    ("matmul-1d-2d", "np.sum(np.sin(x @ y))", [A(3), A(3, 4)]),
    ("matmul-2d-1d", "np.sum(np.sin(x @ y))", [A(2, 3), A(3)]),
    ("matmul-1d-1d", "np.sin(x @ y)", [A(3), A(3)]),
    ("matmul-batched", "np.sum(np.sin(x @ y))", [A(5, 2, 3), A(5, 3, 4)]),
    ("matmul-batch-broadcast", "np.sum(np.sin(x @ y))", [A(5, 2, 3), A(3, 4)]),
    ("matmul-fn", "np.sum(np.sin(np.matmul(x, y)))", [A(2, 3), A(3, 4)]),
    ("dot-2d", "np.sum(np.sin(np.dot(x, y)))", [A(2, 3), A(3, 4)]),
    ("dot-1d", "np.sin(np.dot(x, y))", [A(3), A(3)]),
    ("dot-method", "np.sum(np.sin(x.dot(y)))", [A(2, 3), A(3)]),
    ("transpose-T", "np.sum(np.sin(x.T @ y))", [A(3, 2), A(3, 4)]),
    ("transpose-fn", "np.sum(np.sin(np.transpose(x) * y))", [A(3, 2), A(2, 3)]),
    ("transpose-axes", "np.sum(np.sin(np.transpose(x, (2, 0, 1)) * y))", [A(2, 3, 4), A(4, 2, 3)]),
    ("transpose-method-axes", "np.sum(np.sin(x.transpose(1, 2, 0) * y))", [A(2, 3, 4), A(3, 4, 2)]),
    ("reshape", "np.sum(np.sin(np.reshape(x, (3, 2)) * y))", [A(2, 3), A(3, 2)]),
    ("reshape-method", "np.sum(np.sin(x.reshape(3, 2) * y))", [A(6), A(3, 2)]),
    ("reshape-minus1", "np.sum(np.sin(x.reshape((-1,)) * y))", [A(2, 3), A(6)]),
    ("expand-dims", "np.sum(np.sin(np.expand_dims(x, 0) * y))", [A(3), A(2, 3)]),
    ("squeeze", "np.sum(np.sin(np.squeeze(x) * y))", [A(1, 3, 1), A(3)]),
    ("ravel", "np.sum(np.sin(np.ravel(x) * y))", [A(2, 2), A(4)]),
    ("index-int", "np.sin(x[0]) * x[2]", [A(4)]),
    ("index-negative", "np.sum(np.sin(x[-1]))", [A(3, 2)]),
    ("index-slice", "np.sum(np.sin(x[1:3]))", [A(5)]),
    ("index-slice-step", "np.sum(np.sin(x[::2] * x[1::2]))", [A(6)]),
    ("index-column", "np.sum(np.sin(x[:, 0] * x[:, 1]))", [A(3, 2)]),
    ("index-ellipsis", "np.sum(np.sin(x[..., 1]))", [A(2, 3, 2)]),
    ("index-newaxis", "np.sum(np.sin(x[:, None] * y))", [A(3), A(3, 2)]),
    ("index-array", "np.sum(np.sin(x[IDX]))", [A(4)]),
    ("concatenate", "np.sum(np.sin(np.concatenate([x, y, x])))", [A(2), A(3)]),
    ("concatenate-axis1", "np.sum(np.sin(np.concatenate((x, y), axis=1)))", [A(2, 2), A(2, 3)]),
    ("stack", "np.sum(np.sin(np.stack([x, y]) * 2.0))", [A(3), A(3)]),
    ("stack-axis1", "np.sum(np.sin(np.stack([x, y, x], axis=1)))", [A(2, 3), A(2, 3)]),
    ("outer", "np.sum(np.sin(np.outer(x, y)))", [A(3), A(4)]),
    ("trace", "np.trace(x @ y)", [A(3, 3), A(3, 3)]),
    ("diag-1d", "np.sum(np.sin(np.diag(x) @ y))", [A(3), A(3, 3)]),
    ("diag-2d", "np.sum(np.sin(np.diag(x @ y)))", [A(3, 2), A(2, 4)]),
    ("norm", "np.linalg.norm(x)", [A(5)]),
    ("norm-frobenius", "np.linalg.norm(x * y)", [A(2, 3), A(2, 3)]),
]


@pytest.mark.parametrize("body,args", [pytest.param(b, a, id=i) for i, b, a in CASES])
def test_structural_matches_finite_differences(tmp_path, body, args):
    names = "xy"[:len(args)]
    f = load(tmp_path, f"IDX = np.array([0, 2, 2, 3])\n\ndef f({', '.join(names)}):\n"
                       f"    return {body}\n")
    for i in range(len(args)):
        check_grads(f, args, wrt=i)


def test_prod_gradient_is_exact_with_zeros(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.prod(x)\n")
    import s2s
    g = s2s.grad(f)(np.array([2.0, 0.0, 3.0, 4.0]))
    np.testing.assert_array_equal(g, [0.0, 24.0, 0.0, 0.0])
    g = s2s.grad(f)(np.array([0.0, 0.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])
