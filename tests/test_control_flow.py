"""Control flow and calls: loops, branches, early exits and user functions, each
against central differences, with the generated source keeping the loop a loop."""

import re

import numpy as np
import pytest

import s2s
from gradcheck import check_grads, load

rng = np.random.default_rng(11)


def loops_in(source, function):
    body = source[source.index(f"def {function}"):]
    return len(re.findall(r"^\s+(for|while) ", body, re.M))


def test_horner_polynomial(tmp_path):
    f = load(tmp_path, """
        def horner(c, x):
            acc = 0.0
            for i in range(len(c)):
                acc = acc * x + c[i]
            return acc
    """, "horner")
    c, x = rng.standard_normal(6), 0.7
    check_grads(f, [c, x], wrt=(0, 1))
    dc, dx = s2s.grad(f, wrt=(0, 1))(c, x)
    np.testing.assert_allclose(dc, x ** np.arange(5, -1, -1.0))
    np.testing.assert_allclose(dx, np.polyval(np.polyder(c), x))
    assert loops_in(s2s.grad(f, wrt=(0, 1)).source, "horner_grad") == 2  # forward, reverse


EULER = """
    def final_energy(x0, v0, damping, k=4.0, dt=0.01):
        x, v = x0, v0
        for step in range(100):
            a = -k * x - damping * v
            x = x + dt * v
            v = v + dt * a
        return 0.5 * v ** 2 + 0.5 * k * x ** 2
"""


def test_euler_damped_oscillator(tmp_path):
    f = load(tmp_path, EULER, "final_energy")
    check_grads(f, [1.0, -0.5, 0.3], wrt=(0, 1, 2))
    g = s2s.grad(f, wrt=(0, 1, 2))
    assert loops_in(g.source, "final_energy_grad") == 2
    assert "for step in reversed(range(100)):" in g.source


RNN = """
    def rnn_loss(W, U, b, h, xs, target):
        for t in range(xs.shape[0]):
            h = np.tanh(W @ h + U @ xs[t] + b)
        return np.sum((h - target) ** 2)
"""


def test_vanilla_rnn_20_steps(tmp_path):
    f = load(tmp_path, RNN, "rnn_loss")
    H, D, T = 5, 3, 20
    args = [rng.standard_normal((H, H)) * 0.4, rng.standard_normal((H, D)) * 0.4,
            rng.standard_normal(H) * 0.1, rng.standard_normal(H), rng.standard_normal((T, D)),
            rng.standard_normal(H)]
    check_grads(f, args, wrt=(0, 1, 2, 3))
    source = s2s.grad(f, wrt=(0, 1, 2, 3)).source
    assert loops_in(source, "rnn_loss_grad") == 2


def test_saved_values_grow_with_carried_state_not_temporaries(tmp_path):
    # The RNN body has six temporaries; only the carried h is saved per iteration.
    f = load(tmp_path, RNN, "rnn_loss")
    source = s2s.grad(f, wrt=(0, 1, 2, 3)).source
    forward_loop = source[source.index("for t in range"):source.index("# backward")]
    assert forward_loop.count(".append(") == 1  # the forward loop saves h, nothing else
    assert "_h_stack.append(h)" in forward_loop
    assert "W @ h" in forward_loop and "U @ " in forward_loop  # computed, not saved
    # and at run time the stack holds exactly T values: count them through a list subclass
    g = s2s.grad(f, wrt=0)
    pushed = []

    class Counting(list):
        def append(self, value):
            pushed.append(value)
            super().append(value)

    code = g.source.replace("_h_stack = []", "_h_stack = Counting()")
    namespace = {"Counting": Counting, "np": np}
    exec(compile(code, "<counting>", "exec"), namespace)
    H, D, T = 4, 2, 20
    namespace["rnn_loss_grad"](rng.standard_normal((H, H)), rng.standard_normal((H, D)),
                               rng.standard_normal(H), rng.standard_normal(H),
                               rng.standard_normal((T, D)), rng.standard_normal(H))
    assert len(pushed) == T and all(np.shape(p) == (H,) for p in pushed)


def test_power_iteration_with_normalisation(tmp_path):
    f = load(tmp_path, """
        def top_eigenvalue(A, v):
            for i in range(30):
                w = A @ v
                v = w / np.linalg.norm(w)
            return v @ (A @ v)
    """, "top_eigenvalue")
    M = rng.standard_normal((4, 4))
    A = M @ M.T + np.diag([4.0, 1.0, 0.5, 0.1])
    check_grads(f, [A, rng.standard_normal(4)], wrt=(0, 1), rtol=1e-5)
    assert loops_in(s2s.grad(f).source, "top_eigenvalue_grad") == 2


def test_newton_sqrt_while_loop(tmp_path):
    f = load(tmp_path, """
        def newton_sqrt(a):
            x = a
            while abs(x * x - a) > 1e-12:
                x = 0.5 * (x + a / x)
            return x
    """, "newton_sqrt")
    for a in (2.0, 9.0, 0.3):
        assert np.isclose(s2s.grad(f)(a), 0.5 / np.sqrt(a), rtol=1e-9)
    source = s2s.grad(f).source
    assert "while " in source and "for _ in range(" in source


def test_loop_with_break(tmp_path):
    f = load(tmp_path, """
        def capped(x, n):
            s = 0.0
            for i in range(n):
                s = s + x * i
                if s > 10.0:
                    break
                s = s * 1.5
            return s
    """, "capped")
    for x in (0.1, 1.3, 4.0):  # breaks late, in the middle, at once
        check_grads(f, [x, 8], wrt=0)


def test_continue_and_index_in_body(tmp_path):
    f = load(tmp_path, """
        def f(w, x, start, stop, step):
            acc = np.zeros(3)
            for i in range(start, stop, step):
                if i % 3 == 0:
                    continue
                acc = acc + w * i * x[i]
            return np.sum(acc ** 2)
    """)
    check_grads(f, [rng.standard_normal(3), rng.standard_normal(12), 1, 11, 2], wrt=(0, 1))


def test_nested_loops(tmp_path):
    f = load(tmp_path, """
        def f(x, w):
            for i in range(3):
                for j in range(i + 1):
                    x = np.sin(x * w + j)
                x = x * 0.9
            return np.sum(x)
    """)
    check_grads(f, [rng.standard_normal(4), rng.standard_normal(4)], wrt=(0, 1))


def test_for_over_a_sequence_of_arrays_and_floats(tmp_path):
    f = load(tmp_path, """
        SCALES = [0.5, 1.5, -2.0]

        def f(x, ws):
            for s in SCALES:
                x = np.tanh(x * s)
            for w in ws:
                x = x @ w
            for v in (x, x * 2.0):
                x = x + v
            return np.sum(x ** 2)
    """)
    ws = [rng.standard_normal((3, 3)) * 0.5 for _ in range(2)]
    check_grads(f, [rng.standard_normal(3), np.stack(ws)], wrt=(0, 1))


@pytest.mark.parametrize("x", [-1.5, -0.2, 0.3, 2.5])
def test_piecewise_function_on_both_sides_of_each_branch(tmp_path, x):
    f = load(tmp_path, """
        def piecewise(x):
            if x > 1.0:
                y = x ** 2
            elif x > 0.0:
                y = np.sin(x)
            else:
                return -x * 3.0
            return y * 3.0
    """, "piecewise")
    check_grads(f, [x])


def test_conditions_on_reductions_and_conditional_expressions(tmp_path):
    f = load(tmp_path, """
        def f(x, y):
            scale = 2.0 if np.sum(x) > 0 else -1.0
            z = x * y if np.max(y) > 0.5 else np.sin(x)
            return np.sum(z * scale) + (np.sum(y) if y[0] > 0 else -np.sum(y))
    """)
    for seed in range(4):
        r = np.random.default_rng(seed)
        check_grads(f, [r.standard_normal(3), r.standard_normal(3)], wrt=(0, 1))


def test_return_inside_a_loop(tmp_path):
    f = load(tmp_path, """
        def f(x):
            for i in range(10):
                x = x * 1.3
                if x > 5.0:
                    return x * 2.0
            return x - 1.0
    """)
    for x in (1.1, 0.01, 6.0):
        check_grads(f, [x])


def test_three_level_call_chain_with_keyword_defaults(tmp_path):
    f = load(tmp_path, """
        def inner(z, scale=2.0):
            return np.tanh(z) * scale

        def middle(x, w, bias=0.1):
            return inner(x * w + bias) + inner(x, scale=0.5)

        def outer(x, w):
            h = middle(x, w)
            return np.sum(middle(h, w, bias=0.3) ** 2)
    """, "outer")
    check_grads(f, [rng.standard_normal(3), rng.standard_normal(3)], wrt=(0, 1))
    source = s2s.grad(f, wrt=(0, 1)).source
    # each called function has its own derivative function, called by the caller's
    assert "def inner_vjp(d_out, z, scale=2.0):" in source
    assert "def middle_vjp(d_out, x, w, bias=0.1):" in source
    assert "= middle_vjp(" in source.split("def outer_grad")[1]
    assert "= inner_vjp(" in source.split("def middle_vjp")[1]


def test_calls_inside_loops(tmp_path):
    f = load(tmp_path, """
        def cell(h, x, W):
            return np.tanh(W @ h + x)

        def f(h, xs, W):
            for t in range(xs.shape[0]):
                h = cell(h, xs[t], W=W)
            return np.sum(h)
    """)
    check_grads(f, [rng.standard_normal(3), rng.standard_normal((5, 3)),
                    rng.standard_normal((3, 3)) * 0.5], wrt=(0, 1, 2))


def test_recursion_is_refused_at_its_line(tmp_path):
    f = load(tmp_path, """
        def f(x, n):
            if n == 0:
                return x
            return f(x * 2.0, n - 1)  # <-
    """)
    with pytest.raises(s2s.UnsupportedSyntaxError) as info:
        s2s.grad(f)
    err = info.value
    assert err.lineno == 8 and "recursive call (f -> f)" in err.message
    assert "loop" in err.hint


def test_mutual_recursion_is_refused(tmp_path):
    f = load(tmp_path, """
        def even(x, n):
            return x if n == 0 else odd(x * 2.0, n - 1)

        def odd(x, n):
            return x if n == 0 else even(x * 3.0, n - 1)
    """, "even")
    with pytest.raises(s2s.UnsupportedSyntaxError, match="even -> odd -> even"):
        s2s.grad(f)


def test_reverse_loop_saves_each_value_once_for_all_weight_gradients(tmp_path):
    # W, U and b all take the same adjoint of the pre-activation: one saved list of it
    f = load(tmp_path, RNN, "rnn_loss")
    source = s2s.grad(f, wrt=(0, 1, 2)).source
    reverse = source[source.index("reversed(range"):]
    appends = [line.strip() for line in reverse.splitlines() if ".append(" in line]
    assert len(appends) == len(set(a.split("(")[1] for a in appends)) == 3, appends
    assert "_matmul_adjoint_lhs_sum(_t0s, U," in source and \
        "_matmul_adjoint_lhs_sum(_t0s, W," in source and "_unbroadcast_sum(_t0s, b)" in source
    # nothing reaches dW but the sum after the loop: no zeros to add it to
    assert "dW = _matmul_adjoint_lhs_sum(" in source and "np.zeros_like(W)" not in source
    H, D = 4, 3
    args = [rng.standard_normal((H, H)) * 0.4, rng.standard_normal((H, D)) * 0.4,
            rng.standard_normal(H) * 0.1, rng.standard_normal(H), rng.standard_normal((0, D)),
            rng.standard_normal(H)]
    grads = s2s.grad(f, wrt=(0, 1, 2))(*args)  # no steps: zeros of each shape
    for g, a in zip(grads, args):
        assert g.shape == a.shape and not np.any(g)


def test_weight_gradient_before_and_in_a_loop(tmp_path):
    # dW has a contribution after the loop (in program order) as well: it adds the sum
    f = load(tmp_path, """
        def f(W, h, xs):
            for t in range(xs.shape[0]):
                h = np.tanh(W @ h + xs[t])
            return np.sum(h ** 2) + np.sum(W ** 2)
    """)
    source = s2s.grad(f).source
    assert "dW = dW + _matmul_adjoint_lhs_sum(" in source
    check_grads(f, [rng.standard_normal((3, 3)) * 0.5, rng.standard_normal(3),
                    rng.standard_normal((4, 3))])


@pytest.mark.parametrize("bias_shape", [(4,), (3, 4), (3, 1)])
def test_loop_weight_gradients_when_the_product_is_broadcast(tmp_path, bias_shape):
    # W @ h has shape (4,); with a (3, 4) or (3, 1) bias the pre-activation is (3, 4):
    # the adjoint of the product arrives broadcast, the matmul adjoints sum it back
    f = load(tmp_path, """
        def f(W, b, h, xs):
            out = 0.0
            for t in range(xs.shape[0]):
                z = np.tanh(W @ (h * xs[t]) + b)
                out = out + np.sum(z ** 2)
            return out
    """)
    args = [rng.standard_normal((4, 2)), rng.standard_normal(bias_shape),
            rng.standard_normal(2), rng.standard_normal((5, 2))]
    check_grads(f, args, wrt=(0, 1, 2))


def test_product_adjoint_taken_as_is_only_when_read_once_beside_it(tmp_path):
    f = load(tmp_path, """
        def f(A, x, B):
            p = A @ x
            once = np.sum(np.tanh(p + B))
            q = A @ x
            twice = np.sum(np.sin(q + B)) + np.sum(q * q)
            return once + twice
    """)
    args = [rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((4, 3))]
    check_grads(f, args, wrt=(0, 1))
    body = s2s.grad(f, wrt=(0, 1)).source.split("def f_grad(")[1]
    assert body.count("_unbroadcast_matmul(") == 1  # q's adjoint: q is read twice
    assert "dp = 1 - _once1**2" in body  # p's, broadcast, goes to the matmul adjoints


INDEXED = """
    def chain(x):
        out = 0.0
        for i in range(x.shape[0] - 1):
            out = out + (1.0 - x[i]) ** 2 + 100.0 * (x[i + 1] - x[i] ** 2) ** 2
        return out

    def repeats(x, idx):
        out = 0.0
        for t in range(3):
            out = out + np.sum(np.sin(x[idx]) * (t + 1))
        return out

    def read_whole(x):
        out = 0.0
        for i in range(x.shape[0]):
            out = out + x[i] ** 3 * np.sum(x)
        return out

    def added_after(x):
        out = np.sum(x ** 2)
        for i in range(x.shape[0]):
            out = out + np.tanh(x[i])
        return out * x[0]
"""


def test_reverse_loop_adds_indexed_adjoints_in_place(tmp_path):
    # dx = dx + _getitem_adjoint(d, x, i) made an array of x's size every step
    f = load(tmp_path, INDEXED, "chain")
    g = s2s.grad(f)
    body = g.source.split("def chain_grad(")[1]
    assert "dx = _add_at(dx, " in body and "_getitem_adjoint" not in body
    for x in (rng.standard_normal(7), np.zeros(7), -np.ones(7) * 30.0):
        check_grads(f, (x,))
    x = rng.standard_normal(5)
    H = s2s.hessian(f)(x)  # forward over the in-place reverse loop
    eps = 1e-6
    fd = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(5)], axis=1)
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-6)
    v = rng.standard_normal(5)
    np.testing.assert_allclose(s2s.hvp(f)(x, v), H @ v, rtol=1e-10, atol=1e-10)
    assert np.all(g(x) == g(x))  # each call starts from its own zeros
    for x in (np.zeros(5), -np.ones(5) * 3.0):  # edge points: zeros, negative and large
        fd = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(5)], 1)
        np.testing.assert_allclose(s2s.hessian(f)(x), fd, rtol=1e-6, atol=1e-4)


def test_in_place_adjoints_with_repeated_indices_and_other_readers(tmp_path):
    env = load(tmp_path, INDEXED, "repeats").__globals__
    idx = np.array([0, 2, 2, 4, 0])
    check_grads(env["repeats"], (rng.standard_normal(5), idx))  # np.add.at: repeats add up
    for name in ("read_whole", "added_after"):
        f = env[name]
        check_grads(f, (rng.standard_normal(4),))
        x = rng.standard_normal(4)
        eps = 1e-6
        fd = np.stack([(s2s.grad(f)(x + eps * e) - s2s.grad(f)(x - eps * e)) / (2 * eps)
                       for e in np.eye(4)], axis=1)
        np.testing.assert_allclose(s2s.hessian(f)(x), fd, rtol=1e-5, atol=1e-5)


STENCILS = """
    def stencil(x):
        d2 = x[2:] - 2.0 * x[1:-1] + x[:-2]
        return np.sum(d2 ** 2) + np.sum(np.tanh(x[1:] - x[:-1]))

    def read_between(x):
        a = np.sin(x[1:])
        b = np.cos(x[:-1])
        return np.sum(a * b) + np.sum(a ** 2)

    def index_list(x, idx):
        return np.sum(np.exp(x[idx])) + np.sum(x[:3] ** 2)

    def broadcast(x, w):
        return np.sum(np.tanh(x[1:] * w)) + np.sum((x[:-1] - w) ** 2)
"""


def test_straight_line_indexed_adjoints_are_added_in_place(tmp_path):
    # x[2:], x[1:-1], x[:-2], x[1:], x[:-1]: one new array, then each slice added into it
    f = load(tmp_path, STENCILS, "stencil")
    body = s2s.grad(f).source.split("def stencil_grad(")[1]
    assert body.count("_getitem_adjoint(") == 1 and body.count("dx = _add_at(dx, ") == 4
    # -4 * d2 reads d2 (SymPy writes it -4*x[2:] + 8*x[1:-1] - 4*x[:-2]: not recomputed)
    assert "_unbroadcast(d2, " in body
    for x in (rng.standard_normal(8), np.zeros(8), -np.ones(8) * 30.0):
        check_grads(f, (x,))
    x = rng.standard_normal(6)
    g = s2s.grad(f)
    assert np.all(g(x) == g(x))  # each call starts from its own array
    eps = 1e-6
    fd = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(6)], axis=1)
    np.testing.assert_allclose(s2s.hessian(f)(x), fd, rtol=1e-6, atol=1e-6)
    x32 = x.astype(np.float32)
    assert g(x32).dtype == np.float32
    np.testing.assert_allclose(g(x32), g(x), rtol=1e-4, atol=1e-4)
    env = f.__globals__
    check_grads(env["read_between"], (rng.standard_normal(6),))
    idx = np.array([0, 4, 4, 1])  # repeats add up (np.add.at)
    check_grads(env["index_list"], (rng.standard_normal(6), idx))
    # x (5, 1) sliced, its slices broadcast against w (1, 3): each slice's adjoint summed
    body = s2s.grad(env["broadcast"], wrt=(0, 1)).source.split("def broadcast_grad(")[1]
    assert "dx = _add_at(dx, " in body
    for scale in (1.0, 0.0, -30.0):
        check_grads(env["broadcast"], (rng.standard_normal((5, 1)) * scale,
                                       rng.standard_normal((1, 3))), wrt=(0, 1))


def test_add_at_keeps_an_integer_accumulator_and_complex_adjoints_intact():
    from s2s.runtime import _add_at
    dx = np.zeros(3, dtype=int)
    out = _add_at(dx, 1.5, 1)
    assert out.dtype.kind == "f" and out[1] == 1.5 and not np.any(dx)
    out = _add_at(np.zeros(3), 1j, 0)  # a complex adjoint is not cut to its real part
    assert out[0] == 1j
    dx = np.zeros(3)
    assert _add_at(dx, np.array([1.0, 2.0]), [0, 0]) is dx and dx[0] == 3.0


def _indexed_loop_program(seed):
    """A loop over i reading x at i (an element, a slice, an index list), sometimes x
    whole, in a branch, or x again after the loop."""
    r = np.random.default_rng(seed)
    reads = [r.choice(["x[i]", "x[i + 1]", "x[i:i + 2]", "x[[i, 0, i]]", "x[..., i]"])
             for _ in range(r.integers(1, 3))]
    terms = [f"np.sum(np.{r.choice(['sin', 'tanh', 'exp'])}(0.5 * {e}))" for e in reads]
    if r.random() < 0.3:
        terms.append("0.1 * np.sum(x ** 2)")  # x whole: dx is read in the loop
    body = " + ".join(terms)
    if r.random() < 0.3:
        loop = f"""
        for i in range(x.shape[0] - 2):
            if np.sum(x[i:i + 2]) > 0:
                out = out + {body}
            else:
                out = out - {terms[0]}"""
    else:
        loop = f"""
        for i in range(x.shape[0] - 2):
            out = out * 0.9 + {body}"""
    after = r.choice(["out", "out * x[1]", "out + np.sum(x[1:] ** 2)"])
    return f"""
    def f(x):
        out = 0.0{loop}
        return {after}
    """


@pytest.mark.parametrize("seed", range(16))
def test_random_loops_that_index(tmp_path, seed):
    f = load(tmp_path, _indexed_loop_program(seed))
    x = rng.standard_normal(6) * 0.8
    check_grads(f, (x,), seed=seed)
    g = s2s.grad(f)
    eps = 1e-6
    fd = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(6)], axis=1)
    np.testing.assert_allclose(s2s.hessian(f)(x), fd, rtol=1e-5, atol=1e-6)


def test_no_tape_for_a_carried_value_the_reverse_loop_never_reads(tmp_path):
    # out's adjoint needs no value of out (a scalar result): its stack was pushed, never popped
    f = load(tmp_path, INDEXED, "repeats")
    source = s2s.grad(f).source
    assert "_out_stack" not in source
    check_grads(f, (rng.standard_normal(5), np.array([0, 2, 2, 4, 0])))
    f = load(tmp_path, RNN, "rnn_loss")  # the RNN's hidden states are read: kept
    assert "_h_stack.append(h)" in s2s.grad(f, wrt=(0, 1, 2)).source


SCALAR_LOOPS = """
    def no_steps(d, x0, n):
        x = x0
        for i in range(n):
            x = x + d
        return x * 1.0 + np.sum(d * 2.0)

    def branch(d, x0, c):
        if c > 0:
            x = x0 + d
        else:
            x = x0
        return x * 1.0 + np.sum(d * 2.0)
"""


def test_a_scalar_loop_result_makes_every_iteration_scalar(tmp_path):
    # out = out + f(x[i]) is a scalar at the end: so were out and x[i] in every
    # iteration: no stack of out for its shape, no _unbroadcast in the reverse loop
    f = load(tmp_path, INDEXED, "chain")
    body = s2s.grad(f).source.split("def chain_grad(")[1]
    assert "_unbroadcast" not in body and "_stack" not in body
    for x in (rng.standard_normal(6), np.zeros(6), -np.ones(6) * 30.0):
        check_grads(f, (x,))
    x = rng.standard_normal(5)
    g, eps = s2s.grad(f), 1e-6
    fd = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(5)], axis=1)
    np.testing.assert_allclose(s2s.hessian(f)(x), fd, rtol=1e-6, atol=1e-5)


def test_a_value_from_before_a_loop_is_not_taken_for_a_scalar_if_no_step_ran(tmp_path):
    # x = x + d in a loop of no steps leaves x scalar whatever d is: d's gradient
    # keeps d's shape; with steps, a vector d makes the result a vector: refused
    env = load(tmp_path, SCALAR_LOOPS, "no_steps").__globals__
    d = rng.standard_normal(3)
    for name, quiet, loud in (("no_steps", (d, 0.5, 0), (d, 0.5, 2)),
                              ("branch", (d, 0.5, -1.0), (d, 0.5, 1.0))):
        g = s2s.grad(env[name], wrt=("d", "x0"))
        dd, dx0 = g(*quiet)
        assert np.shape(dd) == (3,) and np.allclose(dd, 2.0) and dx0 == 1.0
        with pytest.raises(ValueError, match="returned an array"):
            g(*loud)
        dd, dx0 = g(1.5, 0.5, *quiet[2:])  # a scalar d: each step adds its own 1
        assert dd == pytest.approx(2.0) and dx0 == 1.0
        dd, _ = g(1.5, 0.5, *loud[2:])
        assert dd == pytest.approx(2.0 + (2 if name == "no_steps" else 1))


ACCUMULATORS = """
    def plain(x):
        out = 0.0
        for i in range(x.shape[0]):
            out = out + np.sin(x[i]) * x[i]
        return out

    def scaled(x):
        out = 1.0
        for i in range(x.shape[0]):
            out = 0.5 * out + np.sin(x[i])
        return out

    def read_in_the_loop(x):
        out = 0.0
        for i in range(x.shape[0]):
            out = out + x[i] * out + x[i]
        return out

    def update_read_again(x):
        out = 0.0
        s = 0.0
        for i in range(x.shape[0]):
            out = out + x[i] ** 2
            s = s + out * x[i]
        return s

    def weighted_result(x):
        out = 0.0
        for i in range(x.shape[0]):
            out = out + np.cos(x[i])
        return out * np.sum(x)

    def two(x: float, y: float):
        out = 0.0
        for i in range(3):
            out = out + (x - i * y) ** 2
        return out

    def argument_in_the_loop(x, y: float):
        out = 0.0
        for i in range(3):
            out = out + (x - i * y) ** 2
        return out
"""


@pytest.mark.parametrize("name", ["plain", "scaled", "read_in_the_loop", "update_read_again",
                                  "weighted_result", "two", "argument_in_the_loop"])
def test_an_accumulators_adjoint_stays_the_seed_only_when_passed_on_unchanged(tmp_path, name):
    f = load(tmp_path, ACCUMULATORS, name)
    body = s2s.grad(f).source.split(f"def {name}_grad(")[1]
    # out = out + f(x[i]) and nothing else reads out: dout is 1 in every iteration (an
    # argument x read in the loop could be an array if no step ran: out's shape unknown)
    assert ("dout" not in body) == (name in ("plain", "two")), body
    if name == "two":  # floats throughout: out is a scalar without a check, no forward loop
        assert "_check_scalar" not in body and "\n    for i in range(" not in body, body
    args = (1.3, 0.4) if name in ("two", "argument_in_the_loop") else (rng.standard_normal(5),)
    for scale in (1.0, 0.0, -30.0):
        check_grads(f, tuple(a * scale if i == 0 else a for i, a in enumerate(args)))
    if len(args) == 1:
        x, eps = rng.standard_normal(4), 1e-6
        g = s2s.grad(f)
        fd = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(4)], 1)
        np.testing.assert_allclose(s2s.hessian(f)(x), fd, rtol=1e-5, atol=1e-5)


def test_a_merged_name_is_a_scalar_only_when_every_value_it_takes_is(tmp_path):
    # v keeps x.T when the branch is not taken, and a loop of no steps keeps w's start:
    # neither is taken for a scalar; out = out + x * y of floats is (no check, no loop)
    env = load(tmp_path, """
        def branch(x, c):
            v = x.T
            if c > 0:
                v = 0.5
            return np.sum(v * x)

        def loop(x, n):
            w = x.T
            for i in range(n):
                w = np.sum(w) * 0.5
            return np.sum(w * x)
        """, "branch").__globals__
    x = rng.standard_normal((1, 3))
    for c in (1.0, -1.0):
        check_grads(env["branch"], [x, c])
    for n in (0, 2):
        check_grads(env["loop"], [x, n])
