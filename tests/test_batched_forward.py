"""Forward mode over a batch of tangents (a leading axis): s2s.jacobian(mode="forward")
and s2s.hessian build every column in one sweep.  Each structural rule's batched form
is checked against the reverse-mode Jacobian and finite differences, on operands of
every rank combination the rule distinguishes (that is where a batch axis can land in
the wrong place)."""

import numpy as np
import pytest

import s2s
from gradcheck import load
from test_jacobian import numeric_jacobian

rng = np.random.default_rng(11)

CASES = [
    # (source, argument shapes): the result is an array, the Jacobian is w.r.t. each argument
    ("def f(x, c):\n    return np.sin(x) * c + x ** 2\n", [(), (3,)]),       # scalar * vector
    ("def f(x, c):\n    return np.exp(x) * c\n", [(2, 1), (3,)]),            # (2,1) * (3,)
    ("def f(a, b):\n    return a @ b\n", [(3, 2), (2,)]),
    ("def f(a, b):\n    return a @ b\n", [(2,), (2, 3)]),
    ("def f(a, b):\n    return a @ b\n", [(3,), (3,)]),
    ("def f(a, b):\n    return a @ b\n", [(2, 3), (3, 2)]),
    ("def f(a, b):\n    return a @ b\n", [(2, 3), (4, 3, 2)]),                # stack on the right
    ("def f(a, b):\n    return a @ b\n", [(4, 2, 3), (3,)]),
    ("def f(a, b):\n    return a @ b\n", [(3,), (4, 3, 2)]),
    ("def f(a, b):\n    return a @ b\n", [(4, 2, 3), (3, 2)]),
    ("def f(a, b):\n    return np.dot(a, b)\n", [(), (3,)]),
    ("def f(a, b):\n    return np.dot(a, b)\n", [(2, 3), (3,)]),
    ("def f(a, b):\n    return np.outer(a, b)\n", [(2,), (3,)]),
    ("def f(x):\n    return np.transpose(x, (2, 0, 1)) * 2.0\n", [(2, 3, 4)]),
    ("def f(x):\n    return x.T @ x\n", [(3, 2)]),
    ("def f(x):\n    return np.reshape(x, (3, 2)) ** 2\n", [(6,)]),
    ("def f(x):\n    return np.sum(x ** 2, axis=-1, keepdims=True)\n", [(2, 3)]),
    ("def f(x):\n    return np.mean(np.exp(x), axis=(0, 2))\n", [(2, 3, 2)]),
    ("def f(x):\n    return np.max(x, axis=0) + np.prod(x, axis=1)[0]\n", [(3, 3)]),
    ("def f(x):\n    return np.var(x, axis=1) + np.linalg.norm(x)\n", [(2, 3)]),
    ("def f(x):\n    return np.std(x) * x\n", [(3,)]),
    ("def f(x):\n    return np.trace(x) * np.diag(x)\n", [(3, 3)]),
    ("def f(x):\n    return np.diag(x) @ x\n", [(3,)]),
    ("def f(x, y):\n    return np.concatenate([x, y * 2.0], axis=-1)\n", [(2, 2), (2, 3)]),
    ("def f(x, y):\n    return np.stack([x, np.sin(y)], axis=1)\n", [(3,), (3,)]),
    ("def f(x):\n    return x[1:, 0] * x[0, :2]\n", [(3, 2)]),
    ("def f(x):\n    i = (1, 0)\n    return x[i] * x\n", [(2, 2)]),               # tuple index in a name
    ("def f(x):\n    k = np.array([2, 0, 0])\n    return x[k] ** 2\n", [(3,)]),   # repeated index
    ("def f(x):\n    return x[x > 0] * 3.0\n", [(4,)]),
    ("def f(x):\n    return np.where(x > 0, x ** 3, -x)\n", [(2, 3)]),
]


@pytest.mark.parametrize("source, shapes", CASES, ids=[c[0].split("return ")[-1].strip()
                                                       + " " + str(c[1]) for c in CASES])
def test_batched_columns_agree_with_rows_and_differences(tmp_path, source, shapes):
    f = load(tmp_path, source)
    args = [rng.standard_normal(s) if s else float(rng.standard_normal()) for s in shapes]
    if "x > 0" in source:
        args[0] = args[0] + np.sign(args[0]) * 0.5  # keep away from the kink
    wrt = tuple(range(len(args)))
    forward = s2s.jacobian(f, wrt=wrt, mode="forward")
    body = forward.source.split("def f_batched_jvp(")[1]
    assert "for " not in body  # one sweep, no loop over the basis
    columns = forward(*args)
    rows = s2s.jacobian(f, wrt=wrt, mode="reverse")(*args)
    for i, (c, r) in enumerate(zip(columns, rows)):
        np.testing.assert_allclose(c, r, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(c, numeric_jacobian(f, args, i), rtol=1e-6, atol=1e-7)


def test_batched_tangents_through_loops_branches_and_calls(tmp_path):
    f = load(tmp_path, """
        def step(h, w):
            return np.tanh(w @ h)

        def f(x, w):
            h = x
            for t in range(3):
                if np.sum(h) > 0:
                    h = step(h, w) * 2.0
                else:
                    h = step(h, w) + x[0]
            k = 0
            while k < 2:
                h = h * x
                k += 1
            return h
    """)
    x, w = rng.standard_normal(3), rng.standard_normal((3, 3)) * 0.5
    fwd = s2s.jacobian(f, wrt=(0, 1), mode="forward")
    assert "def step_batched_jvp(h, w, *, h_dot, w_dot):" in fwd.source
    for i, (c, r) in enumerate(zip(fwd(x, w), s2s.jacobian(f, wrt=(0, 1), mode="reverse")(x, w))):
        np.testing.assert_allclose(c, r, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(c, numeric_jacobian(f, [x, w], i), rtol=1e-6, atol=1e-7)


def test_hessian_is_one_batched_sweep_and_matches_differences(tmp_path):
    f = load(tmp_path, """
        def f(x, A):
            return np.sum(np.log1p(np.exp(A @ x))) + np.sum(x[1:] * x[:-1]) ** 2
    """)
    x, A = rng.standard_normal(4), rng.standard_normal((3, 4))
    H = s2s.hessian(f)
    assert "def f_grad_batched_tangent(" in H.source
    h = H(x, A)
    g = s2s.grad(f)
    eps = 1e-6
    fd = np.stack([(g(x + eps * e, A) - g(x - eps * e, A)) / (2 * eps) for e in np.eye(4)], -1)
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h, h.T, rtol=1e-12, atol=1e-12)


def test_a_rule_without_a_batched_form_falls_back_to_one_sweep_per_column(tmp_path, monkeypatch):
    from s2s import forward as forward_module
    from s2s.errors import NotBatchable
    f = load(tmp_path, "def f(x):\n    return np.sin(x) * x[0]\n")
    real = forward_module.forward

    def no_batches(*args, batched=False, **kwargs):
        if batched:
            raise NotBatchable("test")
        return real(*args, **kwargs)
    monkeypatch.setattr(forward_module, "forward", no_batches)
    x = rng.standard_normal(3)
    J = s2s.jacobian(f, mode="forward")
    assert "batched_jvp" not in J.source and "def f_jvp(x, *, x_dot):" in J.source
    np.testing.assert_allclose(J(x), numeric_jacobian(f, [x], 0), rtol=1e-6, atol=1e-7)


def test_batched_columns_keep_the_conventions_at_kinks(tmp_path):
    # abs'(0) = 0, half-and-half ties of maximum and clip, the branch taken by where,
    # max ties shared: the batch of tangents gives what reverse mode and jvp give
    f = load(tmp_path, """
        def f(x):
            return np.abs(x) + np.maximum(x, 0.0) + np.where(x > 0, np.sqrt(np.abs(x)), 0.0) \\
                + np.clip(x, -1.0, 1.0) + np.max(x)
    """)
    x = np.array([0.0, -1.0, 1.0, 1.0])
    forward = s2s.jacobian(f, mode="forward")(x)
    np.testing.assert_array_equal(forward, s2s.jacobian(f, mode="reverse")(x))
    columns = np.stack([s2s.jvp(f)(x, e)[1] for e in np.eye(4)], axis=-1)
    np.testing.assert_array_equal(forward, columns)
    assert forward[0, 0] == 1.5  # at 0: abs' 0, maximum' 1/2, where 0, clip' 1
    np.testing.assert_array_equal(forward[:, 2:] - np.diag([0.0, 0.0, 3.0, 3.0])[:, 2:], 0.5)


def test_hessian_of_a_norm_at_zero_follows_its_gradient(tmp_path):
    # the gradient of ||x|| is 0 at x = 0 (a subgradient); so is its derivative there
    f = load(tmp_path, "def f(x):\n    return np.linalg.norm(x)\n")
    assert not np.any(s2s.hessian(f)(np.zeros(3)))
