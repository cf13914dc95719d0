"""Releasing values the rest of a gradient no longer reads (emit._release): `del` after
an elementwise statement that reads an operand of its own shape for the last time, naming
with it every other value dead by then.
The gradients stay right (against finite differences), a value read later (in a loop,
a branch, through an inlined temporary, by the result) is never released, the peak
memory goes down, and a generated gradient with `del` differentiates again."""

import re
import tracemalloc

import numpy as np
import pytest

import s2s
import s2s.emit
from gradcheck import check_grads, load

rng = np.random.default_rng(5)

MLP = """
def f(w1, b1, w2, x, labels):
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(labels * log_probs, axis=1))
"""


def _mlp_args(batch=128, n_in=1000, hidden=64, n_out=5):
    labels = np.eye(n_out)[rng.integers(0, n_out, batch)]
    return [rng.standard_normal((n_in, hidden)) * 0.1, rng.standard_normal(hidden) * 0.1,
            rng.standard_normal((hidden, n_out)) * 0.1, rng.standard_normal((batch, n_in)),
            labels]


def _deleted(source):
    return [set(m.split(", ")) for m in re.findall(r"^\s*del (.*)$", source, re.M)]


def _peak(fn):
    fn()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_the_activations_go_before_the_weight_gradients(tmp_path, monkeypatch):
    f = load(tmp_path, MLP)
    args = _mlp_args()
    g = s2s.grad(f, wrt=("w1", "b1", "w2"))
    # the hidden layer and its adjoint, right after the product that consumes both, and
    # with them every other value dead by then (the logits-sized ones, in the order they
    # were made): all are gone when dw1 is made
    lines = g.source.splitlines()
    at = next(i for i, line in enumerate(lines)
              if re.fullmatch(r"\s*_t\d+ = dh \* \(1 - h\*\*2\)", line))
    assert lines[at + 1].strip() == "del h, dshifted, dh"
    before = set().union(*_deleted("\n".join(lines[:at + 2])))
    assert {"logits", "shifted", "_log_probs0", "log_probs", "_t0"} <= before
    first = next(line.strip() for line in lines if "shifted" in (_deleted(line) or [()])[0])
    assert first.startswith("del logits, shifted, _log_probs0, ")
    check_grads(f, args, wrt=("w1", "b1", "w2"))
    released = _peak(lambda: g(*args))
    monkeypatch.setattr(s2s.emit, "_release", lambda shapes, reduced, parts, inlined, stmts, keep: stmts)
    kept = s2s.grad(load(tmp_path, MLP), wrt=("w1", "b1", "w2"))
    assert not _deleted(kept.source)
    for a, b in zip(g(*args), kept(*args)):
        np.testing.assert_array_equal(a, b)
    # h and dh (128 x 64 each) are gone when dw1 (1000 x 64, the peak) is made
    assert released <= _peak(lambda: kept(*args)) - 2 * 128 * 64 * 8 * 0.9


CASES = {
    # z is read again by a loop after the statement where it would die at the top level
    "read-in-a-later-loop": ("""
        def f(x, y):
            z = np.sin(x) * y
            p = np.exp(z) * x
            total = np.sum(p)
            for i in range(3):
                total = total + np.sum(z * p) * 0.1
            return total
        """, ("x", "y")),
    # read again in a branch
    "read-in-a-later-branch": ("""
        def f(x, y):
            z = np.sin(x) * y
            p = np.exp(z) * x
            if np.sum(x) > 0:
                p = p + z
            return np.sum(p ** 2)
        """, ("x", "y")),
    # `inner - top` is inlined into the exp: inner is read there, not at the max
    "read-through-an-inlined-temporary": ("""
        def f(a, b):
            inner = a * b + np.cos(a)
            top = np.max(inner, axis=0)
            s = np.sum(np.exp(inner - top), axis=0)
            return np.sum(top + np.log(s))
        """, ("a", "b")),
    # the value is also the result of value_and_grad's value
    "the-value-itself": ("""
        def f(x):
            y = np.tanh(x) * x
            z = np.exp(-y) * y
            return np.sum(z)
        """, ("x",)),
}


@pytest.mark.parametrize("name", CASES)
def test_a_value_read_later_is_never_released(tmp_path, name):
    source, wrt = CASES[name]
    f = load(tmp_path, source)
    args = [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))][:len(wrt)]
    for make in (s2s.grad, s2s.value_and_grad):
        d = make(f, wrt=wrt)
        out = d(*args)  # a name released too early raises here
        if make is s2s.value_and_grad:
            assert out[0] == pytest.approx(f(*args), rel=1e-12)
    check_grads(f, args, wrt=wrt)
    h = s2s.hessian(f, wrt=wrt[0])(*args)  # forward over the reverse code with its dels
    assert np.all(np.isfinite(h))


def test_a_users_del_is_a_release_and_differentiates(tmp_path):
    f = load(tmp_path, """
        def f(x, w):
            z = x @ w
            h = np.tanh(z)
            del z
            out = np.sum(h ** 2)
            del h
            return out
        """)
    x, w = rng.standard_normal((6, 4)), rng.standard_normal((4, 3))
    check_grads(f, [x, w], wrt=("x", "w"))
    hess = s2s.hessian(f, wrt="w")(x, w)
    eps, v = 1e-6, rng.standard_normal(w.shape)
    g = s2s.grad(f, wrt="w")
    numeric = (g(x, w + eps * v) - g(x, w - eps * v)) / (2 * eps)
    np.testing.assert_allclose(np.tensordot(hess, v, axes=2), numeric, rtol=1e-5, atol=1e-8)


def test_one_release_per_run_of_elementwise_statements(tmp_path):
    f = load(tmp_path, """
        def f(x, y):
            a = np.sin(x) * y
            b = np.cos(a) * x
            c = np.exp(b) * a
            d = np.sum(c, axis=0) @ y
            return np.sum(d * d) + np.sum(c * b)
        """)
    source = s2s.grad(f, wrt=("x", "y")).source
    body = source[source.index("# backward"):].splitlines()
    # the adjoint of line 7 reads c and exp(b) for the last time in two statements:
    # released together after both (with the other values dead by then), before the next
    # line's block
    at = next(i for i, line in enumerate(body) if "c" in (_deleted(line) or [()])[0])
    assert {"_c0", "c", "dc"} <= _deleted(body[at])[0]
    assert body[at - 2].strip().startswith("db = ") and body[at - 1].strip().startswith("da = ")
    assert body[at + 1].strip().startswith("# backward, line")
    check_grads(f, [rng.standard_normal((3, 3)), rng.standard_normal((3, 3))], wrt=("x", "y"))


ELEMENTWISE = """
def f(x, y):
    return np.sum(np.log1p(np.exp(-x * y)) + np.tanh(x) ** 2)
"""


def test_a_sums_terms_that_read_a_value_last_are_made_first(tmp_path):
    f = load(tmp_path, ELEMENTWISE)
    g = s2s.grad(f, wrt=("x", "y"))
    lines = [line.strip() for line in g.source.split("def f_grad")[1].splitlines()]
    # tanh(x) is read by the x-adjoint's tanh term only: that term is made first, then
    # tanh(x) goes, then the rest of the sum (summed to x's shape as a whole)
    at = next(i for i, line in enumerate(lines) if re.fullmatch(
        r"_t\d+ = 2 \* \(1 - _out\d+\*\*2\) \* _out\d+", line))
    t, value = lines[at].split(" = ")[0], lines[at].split("* ")[-1]
    assert lines[at + 1] == f"del {value}"
    assert lines[at + 2].startswith(f"dx = _unbroadcast({t} - ")
    check_grads(f, [rng.standard_normal(7), rng.standard_normal(7)], wrt=("x", "y"))
    # shapes that broadcast: x's term is summed over y's extra axis like the rest
    check_grads(f, [rng.standard_normal((3, 1)), rng.standard_normal((3, 4))], wrt=("x", "y"))
    check_grads(f, [np.array([0.0, -2.0, 3.0]), np.array([[1.0], [-4.0]])], wrt=("x", "y"))
    # the gradient holds three arrays at most (the function two): tanh(x) is gone before
    # y / (1 + exp(x y)) is made
    g = s2s.grad(f)
    assert re.search(r"dx = _unbroadcast\(_t\d+ - y / \(1 \+ np.exp\(x \* y\)\), x\)", g.source)
    n = 200_000
    x, y = rng.standard_normal(n), rng.standard_normal(n)
    assert _peak(lambda: g(x, y)) <= 3.2 * 8 * n + _peak(lambda: f(x, y)) - 2 * 8 * n


def test_the_elementwise_chain_in_a_loop(tmp_path):
    # nothing is released inside a loop (release_first names no part of a sum there:
    # there the adjoint is a product with the step's dx anyway), and the sigmoid form
    # holds through the loop, shapes broadcasting
    f = load(tmp_path, """
        def f(x, y):
            for i in range(3):
                x = np.log1p(np.exp(-x * y)) + np.tanh(x) ** 2
            return np.sum(x)
        """)
    source = s2s.grad(f).source
    assert not re.search(r"_t\d+ = 2 \* \(1 - ", source) and "del " not in source
    check_grads(f, [rng.standard_normal(5), rng.standard_normal(5)])
    check_grads(f, [rng.standard_normal((2, 1)), rng.standard_normal((1, 3)) * 0.5])
