"""Derivatives of one function with respect to different arguments are compiled
under different file names: forward mode over a gradient reads its source back by
that name, so a shared name once gave the Hessian of the wrong gradient."""

import numpy as np

import s2s
from gradcheck import load


def test_hessians_wrt_each_argument_after_gradients_wrt_the_others(tmp_path):
    f = load(tmp_path, "def f(x, y):\n    return np.sum(x ** 3 * y ** 2)\n")
    x, y = np.array([0.5, -1.0]), np.array([2.0, 0.3])
    s2s.grad(f, 1)(x, y)
    s2s.grad(f, 0)(x, y)  # the last gradient compiled: wrt x
    H_y = s2s.hessian(f, 1)(x, y)
    np.testing.assert_allclose(H_y, np.diag(2 * x ** 3), rtol=1e-12)
    H_x = s2s.hessian(f, 0)(x, y)
    np.testing.assert_allclose(H_x, np.diag(6 * x * y ** 2), rtol=1e-12)
    names = {s2s.grad(f, w).__code__.co_filename for w in (0, 1)}
    assert len(names) == 2
