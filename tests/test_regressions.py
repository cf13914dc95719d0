"""Bugs found by a robustness sweep, each pinned by a test."""

import numpy as np
import pytest

import s2s
from gradcheck import check_grads, load


def test_forward_mode_counts_a_repeated_operand_once(tmp_path):
    f = load(tmp_path, """
        def sq(x):
            return x * x

        def cube(x):
            y = x * x
            return y * x + (x + x)
    """, "sq")
    assert s2s.jvp(f)(2.0, 1.0) == (4.0, 4.0)
    np.testing.assert_allclose(s2s.jacobian(f, mode="forward")(np.array([0.3, 0.7])),
                               np.diag([0.6, 1.4]))
    cube = f.__globals__["cube"]
    assert np.isclose(s2s.hessian(cube)(0.7), 6 * 0.7)
    assert np.isclose(s2s.jvp(cube)(0.7, 1.0)[1], 3 * 0.49 + 2)


def test_a_list_index_is_an_integer_array_index(tmp_path):
    f = load(tmp_path, """
        def rows(x):
            return np.sum(x[[0, 2]] * np.arange(4.0))

        def repeats(x):
            return np.sum(x[[3, 1, 1]] ** 2)
    """, "rows")
    x = np.arange(12.0).reshape(3, 4)
    value, g = s2s.value_and_grad(f)(x)
    assert value == f(x)
    np.testing.assert_array_equal(g, [[0, 1, 2, 3], [0, 0, 0, 0], [0, 1, 2, 3]])
    repeats = f.__globals__["repeats"]
    np.testing.assert_array_equal(s2s.grad(repeats)(np.arange(4.0)), [0, 4, 0, 6])


def test_abs_of_a_maximum(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sum(np.abs(np.maximum(x, 0.0)))\n")
    np.testing.assert_array_equal(s2s.grad(f)(np.array([1.0, 3.0, -1.0])), [1.0, 1.0, 0.0])
    check_grads(f, [np.array([0.4, 1.3, -0.8])])


def test_spectral_norm_is_refused_and_the_vector_2_norm_is_not(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.linalg.norm(x, ord=2)\n")
    np.testing.assert_allclose(s2s.grad(f)(np.array([3.0, 4.0])), [0.6, 0.8])
    with pytest.raises(ValueError, match="spectral norm"):
        s2s.grad(f)(np.ones((2, 2)))


def test_concatenate_with_axis_none_is_refused(tmp_path):
    f = load(tmp_path, "def f(x, y):\n    return np.sum(np.concatenate([x, y], axis=None) ** 2)\n")
    with pytest.raises(s2s.NoRuleError, match="axis=None") as info:
        s2s.grad(f)
    assert info.value.lineno == 5 and info.value.line.strip().startswith("return")


@pytest.mark.parametrize("body", [
    "np.max(x)", "np.var(x)", "np.prod(x)", "np.sum(np.maximum(x, 0.0))",
    "np.sum(np.where(x > 0, x, 0.1 * x))", "np.sum(np.clip(x, -0.5, 0.5))",
])
def test_float32_in_float32_out_at_kinks_and_reductions(tmp_path, body):
    f = load(tmp_path, f"def f(x):\n    return {body}\n")
    g = s2s.grad(f)(np.array([0.3, -0.2, 0.7], dtype=np.float32))
    assert g.dtype == np.float32


SECOND_ORDER = {
    "clip": ("np.sum(np.clip(x, -0.5, 0.5) * x)", [0.2, -0.7, 0.9]),
    "var-axes": ("np.var(x.reshape(2, 2), axis=(0, 1))", [0.3, -1.2, 0.5, 2.0]),
    "index-pairs": ("x[-1] * x[0] + np.sum(x[np.arange(2)] ** 3)", [0.3, -1.2, 0.5]),
    "concatenate": ("np.sum(np.concatenate([x, x * 2.0]) ** 3)", [0.3, -1.2]),
    "constant-list": ("np.sum(x ** 3 * np.array([1.0, 5.0]))", [0.3, -1.2]),
}


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_hessians_of_code_whose_gradient_uses_tuples_masks_and_slices(tmp_path, name):
    body, x = SECOND_ORDER[name]
    f = load(tmp_path, f"def f(x):\n    return {body}\n")
    x = np.array(x)
    g = s2s.grad(f)
    numeric = np.stack([(g(x + e) - g(x - e)) / 2e-5 for e in np.eye(x.size) * 1e-5], axis=-1)
    np.testing.assert_allclose(s2s.hessian(f)(x), numeric, atol=1e-6)


@pytest.mark.parametrize("x", [1.5, 0.5, -0.5])
def test_hessian_through_elif_chains_descending_ranges_and_continue(tmp_path, x):
    f = load(tmp_path, """
        def f(x):
            if x > 1.0:
                y = x ** 3
            elif x > 0.0:
                y = np.sin(x)
            else:
                y = x * 2.0
            for i in range(3, 0, -1):
                y = np.sin(y) * i
            for c in [1.0, 2.0]:
                y = np.tanh(y * c)
            for i in range(4):
                if i % 2 == 0:
                    continue
                y = y + x ** i
            return y
    """)
    g = s2s.grad(f)
    assert np.isclose(s2s.hessian(f)(x), (g(x + 1e-5) - g(x - 1e-5)) / 2e-5, atol=1e-6)


def test_second_derivatives_that_are_not_supported_say_so(tmp_path):
    f = load(tmp_path, """
        def prod(x):
            return np.prod(x)

        def looped(x):
            for i in range(2):
                x = np.sin(x)
            return x
    """, "prod")
    with pytest.raises(s2s.NoRuleError, match="_prod_adjoint again"):
        s2s.grad(s2s.grad(f))  # reverse over reverse; s2s.hessian covers it
    with pytest.raises(s2s.NoRuleError, match="use s2s.hessian"):
        s2s.grad(s2s.grad(f.__globals__["looped"]))


def test_jacobian_of_arguments_given_by_keyword_or_default(tmp_path):
    f = load(tmp_path, "def f(x, y=2.0, *, z=3.0):\n    return np.sum(x ** y) * z\n")
    x = np.array([0.5, 1.5])
    assert np.isclose(s2s.jacobian(f, wrt="z")(x, z=2.0), np.sum(x ** 2))
    assert np.isclose(s2s.jacobian(f, wrt="y")(x), 3 * np.sum(np.log(x) * x ** 2))


def test_graph_stays_a_function(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sum(x ** 2)\n")
    assert s2s.graph(f).startswith("flowchart TD")  # imports the module behind it
    assert s2s.graph(f, format="dot").startswith("digraph")


def test_boolean_masks_with_and_or(tmp_path):
    f = load(tmp_path, """
        def f(x):
            inside = (x > -0.5) & (x < 0.5) | (x > 2.0)
            return np.sum(np.where(inside, x ** 2, x))
    """)
    np.testing.assert_allclose(s2s.grad(f)(np.array([0.2, 1.0, 3.0])), [0.4, 1.0, 6.0])


def test_newaxis_and_decorated_methods(tmp_path):
    f = load(tmp_path, """
        import s2s

        def outer_sum(x):
            return np.sum(x[:, np.newaxis] * x)

        class Model:
            def __init__(self, k):
                self.k = k

            @s2s.differentiate(wrt="x")
            def loss(self, x):
                return np.sum(np.sin(x) * self.k)
    """, "outer_sum")
    x = np.array([0.3, 0.5])
    np.testing.assert_allclose(s2s.grad(f)(x), 2 * np.sum(x) * np.ones(2))
    model = f.__globals__["Model"](2.0)
    assert np.isclose(model.loss(x), 2 * np.sum(np.sin(x)))
    np.testing.assert_allclose(model.loss.grad(x), 2 * np.cos(x))


def test_hessian_through_a_call_inside_a_loop(tmp_path):
    f = load(tmp_path, """
        def cell(h, x, W):
            return np.tanh(W @ h + x)

        def f(h, xs, W):
            for t in range(xs.shape[0]):
                h = cell(h, xs[t], W=W)
            return np.sum(h ** 2)
    """)
    rng = np.random.default_rng(2)
    h, xs, W = rng.standard_normal(3), rng.standard_normal((4, 3)), rng.standard_normal((3, 3)) * 0.5
    g = s2s.grad(f)
    numeric = np.stack([(g(h + e, xs, W) - g(h - e, xs, W)) / 2e-5 for e in np.eye(3) * 1e-5],
                       axis=-1)
    np.testing.assert_allclose(s2s.hessian(f)(h, xs, W), numeric, atol=1e-6)


def test_complex_numbers_are_refused(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sum(np.abs(x * 1j))\n")
    with pytest.raises(s2s.UnsupportedSyntaxError, match="complex numbers") as info:
        s2s.grad(f)
    assert info.value.lineno == 5


def test_one_element_sequences(tmp_path):
    f = load(tmp_path, """
        def f(x, z):
            for t in (z,):
                x = x * t
            parts = np.concatenate([x])
            return np.sum(np.stack([parts]) ** 2)
    """)
    x, z = np.array([0.5, -1.0]), 0.7
    dx, dz = s2s.grad(f, wrt=(0, 1))(x, z)
    assert np.shape(dz) == () and np.shape(dx) == (2,)
    check_grads(f, [x, z], wrt=(0, 1))


def test_float32_through_log2_literal_gradients_and_loops(tmp_path):
    f = load(tmp_path, """
        def f(x, y):
            j = 0
            while j < 3:
                j += 1
                y = y * np.cos(np.log1p(y))
            return np.sum(np.log2(np.maximum(0.5, y)) + x)
    """)
    x, y = np.array([0.7, 0.2], dtype=np.float32), np.array([0.5, 0.9], dtype=np.float32)
    dx, dy = s2s.grad(f, wrt=(0, 1))(x, y)
    assert dx.dtype == np.float32 and dy.dtype == np.float32
    assert "math.log(2)" in s2s.grad(f, wrt=1).source


SWEEP = """
    def broadcast_carried(x, y):
        h = x + y
        for i in range(2):
            if np.sum(h) > 0:
                continue
            h = 0.1 * h
        return np.sum(h) + np.mean(h)

    def nested_reuse(x):
        for i in range(2):
            x = np.sin(x)
            for k in range(2):
                x = np.sin(x) * 1.1
        return np.sum(x)

    def early_return_then_loop(x):
        h = 2.0 * x
        if np.max(h) <= 1.0:
            return np.sum(h)
        for i in range(2):
            h = 0.5 * h
        return np.mean(h)

    def constant_early_return(x):
        h = 2.0 * x
        if np.sum(h) > 100.0:
            return 0.0
        for i in range(2):
            h = np.sin(h)
        return np.sum(h)
"""


@pytest.mark.parametrize("name, arrays", [
    ("broadcast_carried", [(2, 3), (3,)]), ("nested_reuse", [(3,)]),
    ("early_return_then_loop", [(3,)]), ("constant_early_return", [(3,)]),
])
@pytest.mark.parametrize("scale", [1.0, 0.05])
def test_random_program_sweep_findings(tmp_path, name, arrays, scale):
    f = load(tmp_path, SWEEP, name)
    rng = np.random.default_rng(4)
    args = [scale * rng.uniform(0.2, 1.5, s) for s in arrays]
    check_grads(f, args, wrt=tuple(range(len(args))))


def test_a_loop_not_differentiated_does_not_clobber_values_the_reverse_sweep_reads(tmp_path):
    f = load(tmp_path, """
        def f(x, y, z):
            v = y * 1.0
            r = x / v
            for i in range(2):
                v = np.linalg.norm(z) + v * 0.0
            return np.sum(r) + np.sum(v)
    """)
    x, y, z = np.array([0.5, 2.0]), np.array([0.8, 1.6]), np.array([0.3, 0.4])
    np.testing.assert_allclose(s2s.grad(f)(x, y, z), 1 / y)
    check_grads(f, [x, y, z], wrt=0)


def test_hessian_through_a_list_index(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sum(x[[0, 2, 2]] ** 2)\n")
    np.testing.assert_array_equal(s2s.hessian(f)(np.array([0.3, 0.5, 0.9])), np.diag([2.0, 0.0, 4.0]))


def test_a_loop_reassigning_a_name_read_before_it(tmp_path):
    f = load(tmp_path, """
        def f(y):
            v = np.sin(y)
            w = np.cos(v)
            for i in range(2):
                v = y
            return np.sum(w + v)

        def g(x):
            v = x.T
            w = v * x
            for i in range(3):
                v = np.sum(v)
            return np.sum(w ** 2)
    """)
    y = np.array([0.5, 0.9, 0.3])
    np.testing.assert_allclose(s2s.grad(f)(y), 1 - np.sin(np.sin(y)) * np.cos(y))
    check_grads(f.__globals__["g"], [np.array([[0.5, 0.9, 0.3]])])


def test_float32_with_python_float_weights_at_ties(tmp_path):
    f = load(tmp_path, "def f(x, y):\n    return np.mean(np.maximum(y, x))\n")
    y = np.array([[0.5, 0.9, 0.3], [1.1, 0.7, 0.4]], dtype=np.float32)
    dx, dy = s2s.grad(f, wrt=(0, 1))(np.float32(0.7), y)
    assert dx.dtype == np.float32 and dy.dtype == np.float32
    assert isinstance(s2s.grad(f)(0.7, y.astype(float)), float)


def test_branches_with_a_loop_on_one_side_and_different_shapes(tmp_path):
    f = load(tmp_path, """
        def f(x):
            v = np.sum(x)
            if v >= 100.0:
                for i in range(2):
                    v = v * 2.0
            return v

        def g(x):
            if np.sum(x) >= 1.0:
                v = x @ x.T
            else:
                v = x
            v = v + x
            return np.mean(v)
    """)
    x = np.array([0.5, 0.9, 0.3])
    np.testing.assert_array_equal(s2s.grad(f)(x), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(s2s.grad(f)(100 * x), [4.0, 4.0, 4.0])
    g = f.__globals__["g"]
    for column in (np.array([[0.2], [0.3]]), np.array([[0.6], [0.9]])):
        check_grads(g, [column])


def test_abs_of_a_composition(tmp_path):
    f = load(tmp_path, "def f(x):\n    return np.sum(np.abs(np.cos(np.log(x))))\n")
    check_grads(f, [np.array([0.5, 0.9, 0.3])])


def test_forward_mode_zero_tangents_and_loops_that_do_not_run(tmp_path):
    f = load(tmp_path, """
        def f(x, y):
            h = x + y
            for i in range(0):
                v = h @ x
            return np.sum(h)

        def g(x):
            return (x - np.maximum(x, x))[1]
    """)
    x, y = np.array([0.5, 0.9, 0.3]), np.array([0.1, 0.2, 0.3])
    assert np.isclose(s2s.jvp(f)(x, y, np.ones(3))[1], 3.0)
    value, tangent = s2s.jvp(f.__globals__["g"])(x, np.ones(3))
    assert value == 0.0 and tangent == 0.0


def test_forward_mode_broadcasts_by_operands_that_are_not_differentiated(tmp_path):
    f = load(tmp_path, """
        def f(x, y):
            v = y + x
            return np.sum(0.5 - v)

        def g(z, y):
            return np.sum(z - y + y) ** 2
    """)
    assert np.isclose(s2s.jvp(f)(0.7, np.ones((3, 2)), 1.0)[1], -6.0)
    g = f.__globals__["g"]
    y = np.linspace(0.1, 0.6, 6)
    assert np.isclose(s2s.jvp(g)(0.7, y, 1.0)[1], 50.4)
    assert np.isclose(s2s.hessian(g)(0.7, y), 72.0)


def test_hessian_through_a_loop_inside_a_branch(tmp_path):
    f = load(tmp_path, """
        def f(y):
            if np.sum(y) > 0:
                for i in range(2):
                    y = y * y
            return np.sum(y)
    """)
    y = np.array([0.5, 0.9, 0.3])
    np.testing.assert_allclose(s2s.hessian(f)(y), np.diag(12 * y ** 2))
    np.testing.assert_allclose(s2s.hessian(f)(-y), np.zeros((3, 3)))


def test_hessian_through_stack_along_an_axis(tmp_path):
    f = load(tmp_path, "def f(z):\n    return np.sum(np.stack([z, z], axis=1) ** 2)\n")
    np.testing.assert_allclose(s2s.hessian(f)(np.array([0.5, 0.9])), 4 * np.eye(2))


# ---- log-sum-exp shifts carry no gradient --------------------------------------------

rng = np.random.default_rng(21)

LSE = """
    def f(a):
        top = np.max(a, axis=0)
        return np.sum(top + np.log(np.sum(np.exp(a - top), axis=0)))

    def f_whole(a):
        m = np.max(a)
        return m + np.log(np.sum(np.exp(a - m)))

    def f_kept(a):
        m = np.max(a, axis=1, keepdims=True)
        return np.sum(m + np.log(np.sum(np.exp(a - m), axis=1, keepdims=True)))

    def f_reused(a):
        m = np.max(a)
        return m + np.log(np.sum(np.exp(a - m))) + 0.5 * m

    def log_softmax_loss(a, labels):
        shifted = a - np.max(a, axis=1, keepdims=True)
        return -np.sum(labels * (shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))))

    def shifted_reused(a, labels):
        shifted = a - np.max(a, axis=1, keepdims=True)
        out = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        return -np.sum(labels * out) + np.sum(shifted ** 2)
"""


def softmax(a, axis):
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@pytest.mark.parametrize("name, axis", [("f", 0), ("f_whole", None), ("f_kept", 1)])
def test_logsumexp_shift_is_not_differentiated(tmp_path, name, axis):
    f = load(tmp_path, LSE, name)
    g = s2s.grad(f)
    body = g.source.split(f"def {name}_grad(")[1]
    assert "_extremum_adjoint" not in body
    # max(a, axis) broadcasts into a's shape, and equal reductions have equal shapes:
    # nothing needs summing back
    assert "_unbroadcast" not in body and "_fill" not in body, body
    a = rng.standard_normal((4, 3))
    check_grads(f, [a])
    np.testing.assert_allclose(g(a), softmax(a, axis), rtol=1e-14, atol=1e-16)
    tied = np.ones((4, 3))  # every element a maximum: the softmax, exactly
    np.testing.assert_allclose(g(tied), softmax(tied, axis), rtol=1e-14, atol=1e-16)
    value, tangent = s2s.jvp(f)(a, np.ones_like(a))
    assert np.isclose(tangent, np.sum(softmax(a, axis)))


def test_log_softmax_shift_is_not_differentiated(tmp_path):
    f = load(tmp_path, LSE, "log_softmax_loss")
    g = s2s.grad(f)
    assert "_extremum_adjoint" not in g.source.split("def log_softmax_loss_grad(")[1]
    a, labels = rng.standard_normal((4, 3)), rng.random((4, 3))
    check_grads(f, [a, labels])
    expected = softmax(a, 1) * np.sum(labels, axis=1, keepdims=True) - labels
    np.testing.assert_allclose(g(a, labels), expected, rtol=1e-13, atol=1e-15)
    tied = np.zeros((4, 3))
    np.testing.assert_allclose(g(tied, labels), softmax(tied, 1) * np.sum(
        labels, axis=1, keepdims=True) - labels, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", ["f_reused", "shifted_reused"])
def test_a_maximum_used_elsewhere_keeps_its_gradient(tmp_path, name):
    f = load(tmp_path, LSE, name)
    args = [rng.standard_normal(5)] if name == "f_reused" else \
        [rng.standard_normal((4, 3)), rng.random((4, 3))]
    assert "_extremum_adjoint" in s2s.grad(f).source
    check_grads(f, args)


# ---- found by the random-program sweep (tests/fuzz.py) ------------------------------

def test_jvp_tangent_broadcast_in_the_branch_that_needs_it(tmp_path):
    # the else branch's tangent stands for its broadcast; the then branch broadcast its
    # own first, which used to clear the mark for both (tangent of shape () for (3,))
    f = load(tmp_path, """
        def helper(a, b, scale=0.3):
            return scale

        def f(x):
            if np.sum(x) > 4.5:
                return np.sinh(x[:, 0])
            return helper(x, x) + np.zeros(3)
    """)
    x = np.full((3, 2), 0.3)
    value, tangent = s2s.jvp(f)(x, np.ones((3, 2)))
    assert np.shape(tangent) == (3,) and not np.any(tangent)


def test_hessian_through_a_loop_over_a_tuple_of_numbers(tmp_path):
    # the gradient starts the tuple's adjoint as np.zeros_like(tuple): an array standing
    # for a tuple, which batches of tangents must not take apart along the batch axis
    f = load(tmp_path, """
        def f(x: float):
            v = x
            for t in (v, v * 2.0, v):
                v = math.atan(t) * v
            return v
    """)
    f.__globals__["math"] = __import__("math")
    x = 0.7
    g = s2s.grad(f)
    numeric = (g(x + 1e-6) - g(x - 1e-6)) / 2e-6
    assert np.isclose(s2s.hessian(f)(np.float64(x)), numeric, rtol=1e-6)


def test_hessian_of_a_function_reading_a_number_constant_through_a_helper(tmp_path):
    # the generated module writes SCALE out as a literal: an equal number, not the
    # user's object, and not a conflict
    f = load(tmp_path, """
        SCALE = 0.7

        def helper(a):
            if SCALE > 0.5:
                a = a * SCALE
            return a

        def f(z):
            return np.sum(helper(z) ** 3)
    """)
    z = np.array([0.5, 0.7, 1.1])
    np.testing.assert_allclose(s2s.hessian(f)(z), np.diag(6 * 0.7 ** 3 * z), rtol=1e-12)


def test_hessian_of_an_array_valued_function_says_why(tmp_path):
    f = load(tmp_path, "def f(z):\n    return z.reshape(-1) * 2.0\n")
    with pytest.raises(ValueError, match="returned an array of shape \\(3,\\)"):
        s2s.hessian(f)(np.ones(3))


def test_float32_gradient_that_was_a_broadcast_view_stays_float32(tmp_path):
    # dx starts as _fill(1 / n, x) (a view, copied at the return); the loop's branch
    # weights np.where(c, 1, 0.5) are float64: the copy keeps x's precision too
    f = load(tmp_path, """
        def f(x, y):
            j = 0
            while j < 4:
                j += 1
                if np.max(y) >= 0.37:
                    break
                y = y + 0.1 * np.minimum(y * x, 1.0 / (1.0 + y ** 2))
            return np.mean(x) + np.sum(y)
    """)
    x, y = np.ones(3, np.float32), np.full((1, 3), 0.1, np.float32)
    assert s2s.grad(f)(x, y).dtype == np.float32
    check_grads(f, [x.astype(float), y.astype(float)])


def test_hessian_through_a_helper_whose_adjoint_is_a_tuple_of_mixed_shapes(tmp_path):
    # helper0's adjoints, a tuple of an array and a float, have no tangent: their zero
    # is a tuple of zeros, not np.zeros of the tuple's (inhomogeneous) shape
    f = load(tmp_path, """
        def helper0(a, b, scale=0.5):
            v1, v2 = (a, scale)
            return v2

        def helper1(a, scale=2.0, n=1):
            v1 = helper0(scale, a)
            j = 0
            while j:
                scale = a
            return v1

        def f(x, y):
            return helper1(y) + np.sum(y ** 2)
    """)
    y = rng.standard_normal((3, 2))
    np.testing.assert_allclose(s2s.hessian(f, wrt=1)(np.ones(3), y),
                               2 * np.eye(6).reshape(3, 2, 3, 2), rtol=1e-12)


def test_hessian_where_the_gradient_broadcasts_a_scalar_adjoint_up(tmp_path):
    # the gradient's adjoint of y is a number after the loop, which _unbroadcast(dy, y)
    # broadcasts up to y's shape in the reverse loop; its batch of tangents must too
    f = load(tmp_path, """
        def f(x, y):
            for t in y:
                if np.max(t) < 1.0:
                    y = x
                    return x
                y = 0.5 * y
            return np.mean(y) + np.mean(y)
    """)
    y = rng.uniform(1.1, 1.5, (2, 3))
    H = s2s.hessian(f, wrt=1)(0.4, y)  # f is linear in y here
    assert H.shape == (2, 3, 2, 3) and not np.any(H)


def test_branch_merge_materialises_an_adjoint_that_is_a_stand_in_in_one_branch(tmp_path):
    # the else branch left dv2 as the (1, 1, 1) stand-in of its broadcast (np.mean
    # with keepdims), the then branch as the full array, under the same name
    f = load(tmp_path, """
        def f(z):
            v2 = np.stack([z, z])
            if np.max(v2) < 1.0:
                v3 = z
            else:
                v3 = np.mean(v2, keepdims=True)
            return np.mean(v3) + np.mean(v2)
    """)
    for z in (np.full((2, 3), 2.0), np.full((2, 3), 0.1)):
        np.testing.assert_allclose(s2s.grad(f)(z), np.full((2, 3), 1 / 3), rtol=1e-14)


def test_float32_through_a_product_of_vectors_seeded_with_a_literal(tmp_path):
    f = load(tmp_path, "def f(y):\n    v = np.mean(y, axis=1)\n    return v @ v\n")
    y = np.ones((2, 3), np.float32)
    assert s2s.grad(f)(y).dtype == np.float32
    check_grads(f, [rng.standard_normal((2, 3))])


def test_gradient_of_a_float_argument_is_a_float_even_when_it_is_the_seed(tmp_path):
    f = load(tmp_path, "def f(x, z):\n    for i in range(0):\n        z = x\n    return x\n")
    assert type(s2s.grad(f)(0.48, 2.0)) is float


# ---- found by the 3000-program sweep of tests/fuzz.py --------------------------------

BRANCH_AND_LOOP = """
    def f(x):
        v = 2.0 * x
        if np.sum(x) < 10.0:
            v = np.sin(v)
        else:
            for i in range(2):
                v = 0.5 * v
        return np.sum(v)

    def g(x):
        if np.sum(x) < 10.0:
            x = x * x
        else:
            for i in range(2):
                x = 0.5 * x
        return x

    def h(x, y):
        if x >= 1.0:
            for i in range(2):
                x = x * 2.0
        else:
            x = y
        return np.sum(y)
"""


def test_a_name_assigned_in_one_branch_and_carried_by_a_loop_in_the_other(tmp_path):
    # the loop's carried name took its initial value's name, which the other branch
    # assigned too: v = np.sin(v) then read and wrote one name (wrong in every mode)
    f = load(tmp_path, BRANCH_AND_LOOP, "f")
    x = np.array([0.3, -1.2, 0.8])
    np.testing.assert_allclose(s2s.grad(f)(x), 2 * np.cos(2 * x), rtol=1e-14)
    np.testing.assert_allclose(s2s.jvp(f)(x, np.ones(3))[1], np.sum(2 * np.cos(2 * x)))
    np.testing.assert_allclose(s2s.hessian(f)(x), np.diag(-4 * np.sin(2 * x)), atol=1e-14)
    g = f.__globals__["g"]
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(s2s.jacobian(g, mode=mode)(x), np.diag(2 * x))
    h = f.__globals__["h"]
    assert s2s.grad(h)(0.5, np.ones((2, 3))) == 0.0  # x's gradient has x's shape
    check_grads(h, [1.5, np.ones((2, 3))], wrt=1)


def test_a_return_in_a_loop_in_a_branch_with_a_return_after_the_if(tmp_path):
    f = load(tmp_path, """
        def f(x):
            if np.sum(x) < -10.0:
                for i in range(3):
                    return np.sum(x ** 2)
            return np.sum(x)
    """)
    x = np.array([0.3, -1.2, 0.8])
    np.testing.assert_allclose(s2s.grad(f)(x), np.ones(3))
    np.testing.assert_allclose(s2s.grad(f)(x - 10), 2 * (x - 10))


def test_a_module_list_constant_in_a_product(tmp_path):
    f = load(tmp_path, "W = [1.0, 2.0, 3.0]\n\ndef f(y):\n    return np.sum(y * W)\n")
    np.testing.assert_allclose(s2s.grad(f)(np.ones(3)), [1.0, 2.0, 3.0])


def test_float_path_of_a_formula_with_branches_and_array_constants(tmp_path):
    f = load(tmp_path, """
        WA = np.array([1.0, 2.0])

        def f(y):
            if y > 0:
                return y
            return 2 * y

        def g(x):
            return WA * x
    """)
    assert s2s.grad(f)(1.07) == 1.0 and type(s2s.grad(f)(1.07)) is float
    assert s2s.grad(f)(-1.0) == 2.0
    body = s2s.grad(f).source.split("def f_grad(")[1].split("_check_scalar")[0]
    assert "_unbroadcast" not in body  # every value on the float path is a number
    g = f.__globals__["g"]
    assert "is float" not in s2s.grad(g).source.split("def g_grad(")[1]  # WA is an array
    with pytest.raises(ValueError, match="returned an array"):
        s2s.grad(g)(1.5)


def test_a_reduced_argument_in_a_loop_keeps_float32(tmp_path):
    # fuzz seeds 9458, 9471, 9553: the adjoint of y stands for a broadcast of the
    # adjoint of np.sum(y), which float64 branch weights (0.5 at the clip's kink) widened
    f = load(tmp_path, """
        def f(x, y):
            y = np.sum(y)
            v1 = x
            for i in range(1, 5):
                v1 = y
                v1 = v1 + np.clip(v1, 0.5, 1.0)
            return np.sum(v1 * x)
    """)
    x = np.ones((3, 2), np.float32)
    for y, slope in ((np.full((1, 3), 0.1, np.float32), 6.0), (np.full((1, 3), 0.25, np.float32), 12.0)):
        g = s2s.grad(f, wrt=1)(x, y)
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, np.full((1, 3), slope))


def test_a_repeated_index_is_read_once_and_never_across_a_change(tmp_path):
    f = load(tmp_path, """
        def twice(x):
            out = 0.0
            for i in range(x.shape[0] - 1):
                out = out + (1.0 - x[i]) ** 2 + 100.0 * (x[i + 1] - x[i] ** 2) ** 2
            return out

        def across_a_loop(v):
            a = v[0] * 1.0
            for i in range(2):
                v = v * 2
            return a + v[0] + v[1:] @ v[1:]

        def across_a_branch(v):
            a = np.sum(v[1:])
            if a > 0:
                v = v * 3
            return a + np.sum(v[1:])

        def named(x):
            a = x[0]
            b = x[0]
            return a * b
    """, "twice")
    g = s2s.grad(f)
    forward = g.source.split("def twice_grad(")[1].split("# backward")[0]
    assert forward.count(" = x[i]\n") == 1  # (the comment quotes the line: x[i] twice)
    x = np.array([0.3, -1.2, 0.8, 1.5])
    check_grads(f, (x,))
    check_grads(f, (np.zeros(4),))
    env = f.__globals__
    v = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(s2s.grad(env["across_a_loop"])(v), [5.0, -32.0, 64.0])
    np.testing.assert_allclose(s2s.grad(env["across_a_branch"])(v), [0.0, 4.0, 4.0])
    np.testing.assert_allclose(s2s.grad(env["across_a_branch"])(-v), [0.0, 2.0, 2.0])
    g = s2s.grad(env["named"])
    assert "b = x[0]" in g.source  # the user's names stay
    np.testing.assert_allclose(g(v), [1.0, 0.0, 0.0])


def test_like_gives_a_number_the_precision_of_a_numpy_scalar():
    # np.dtype(None) is float64, so `dtype == None` held for an int against a float64
    # scalar: _like returned the int (fuzz seed 2, a constant gradient in one branch)
    from s2s.runtime import _like
    for x in (np.float64(1.5), np.float32(1.5), np.ones(2, np.float32)):
        assert np.asarray(_like(1, x)).dtype == np.result_type(x, 1.0)
    assert type(_like(1, 1.5)) is float


def test_a_branch_weight_of_a_python_float_is_a_float(tmp_path):
    # np.where(x, 1, 0) of a Python float is an int array: _like passed it through
    # (fuzz seed 33272: the gradient of np.where(x, x, y) came back as int64)
    from s2s.runtime import _like
    assert _like(np.where(1.5, 1, 0), 1.5).dtype == np.float64
    assert _like(np.array([True, False]), 1.5).dtype == np.float64
    assert _like(np.float32(2.0), 1.5).dtype == np.float32  # a float stays as it is
    f = load(tmp_path, """
        def f(x, y):
            return np.where(x, x, y)
        """)
    for x in (-1.4, 0.0, 2.5):
        g = s2s.grad(f, wrt="x")(x, 0.5)
        assert np.asarray(g).dtype == np.float64 and g == (1.0 if x else 0.0)


def test_a_partial_is_never_rewritten_to_divide_by_another_value(tmp_path):
    # v = w * tanh(z) / (1 + z): in_forward_values wrote tanh(z) = v (1 + z) / w, so
    # dw = v * z / w, NaN at w = 0 where the gradient is tanh(z) z / (1 + z) (predates
    # this session; found when forward mode took whole clusters, fuzz seed 18001)
    f = load(tmp_path, """
        def f(w, z):
            v = w * np.tanh(z) / (1 + z)
            return np.sum(v * z + np.tanh(z))
    """)
    w, z = np.array([0.0, 1.0, 2.0]), np.array([0.5, 0.3, 1.2])
    np.testing.assert_allclose(s2s.grad(f)(w, z), np.tanh(z) / (1 + z) * z, rtol=1e-12)
    assert "/ w" not in s2s.grad(f).source
    check_grads(f, (rng.standard_normal(3), rng.random(3)), wrt=(0, 1))
    H = s2s.hessian(f, wrt=1)(w, z)
    assert np.all(np.isfinite(H))


def test_std_of_constant_data_has_a_zero_gradient_not_rounding_noise(tmp_path):
    # np.mean([0.7, 0.7, 0.7]) is not 0.7: x - mean was 1e-16 everywhere, std 1e-16, and
    # the adjoint dy * (x - mean) / (n std) O(1) noise; exactly 0 std gave NaN. The
    # gradient of std(c * ones) along any change of c is 0 (fuzz seed 38338)
    env = load(tmp_path, """
        def f(y):
            s = y @ y
            return np.std(np.sign(s + y) / (1.0 + np.log1p(s) ** 2))

        def g(x):
            return np.std(x) + np.sum(np.std(x, axis=0)) + np.sum(np.var(x, axis=1))

        def h(x, w):
            return np.sum(np.std(x * w, axis=0, ddof=1))
        """).__globals__
    y = np.array([-0.1029455, -0.29414462, 0.87226408])
    np.testing.assert_array_equal(s2s.grad(env["f"])(y), 0.0)
    check_grads(env["f"], [y])
    with np.errstate(divide="ignore"):
        for x in (np.full((2, 3), 0.7), np.ones((2, 3)), np.zeros((2, 3))):
            np.testing.assert_array_equal(s2s.grad(env["g"])(x), 0.0)
    x = rng.standard_normal((3, 4))
    check_grads(env["g"], [x])
    for w in (rng.standard_normal(4), rng.standard_normal((3, 1))):  # broadcast against x
        check_grads(env["h"], [x, w], wrt=(0, 1))
    with np.errstate(divide="ignore"):  # a column of w zero: that std is 0, its gradient 0
        dx, dw = s2s.grad(env["h"], wrt=(0, 1))(x, np.array([1.0, 0.0, 2.0, 3.0]))
    assert np.all(np.isfinite(dx)) and np.all(dx[:, 1] == 0) and dw[1] == 0
    eps = 1e-6
    gx = s2s.grad(env["g"])
    fd = np.stack([(gx(x + eps * e.reshape(x.shape)) - gx(x - eps * e.reshape(x.shape))).ravel()
                   / (2 * eps) for e in np.eye(x.size)], axis=1)
    np.testing.assert_allclose(s2s.hessian(env["g"])(x).reshape(x.size, x.size), fd,
                               rtol=1e-5, atol=1e-5)


def test_a_number_times_a_forward_sum_reads_the_sum():
    # SymPy multiplies numbers into sums: the partial -4 * (a - 2b + c) arrives as
    # -4a + 8b - 4c, which exact replacement did not see as -4 * d2
    import sympy as sp
    from s2s.simplify import in_forward_values
    from s2s.symbolic import symbol
    a, b, c, d2, y = (symbol(n) for n in ("_a", "_b", "_c", "d2", "y"))
    full = a - 2 * b + c
    definitions = [(d2, full, full)]
    assert in_forward_values(-4 * a + 8 * b - 4 * c, definitions) == -4 * d2
    assert in_forward_values(y * (a / 2 - b + c / 2), definitions) == y * d2 / 2
    # not a multiple (the coefficients disagree): left as it is
    assert in_forward_values(-4 * a + 8 * b - 3 * c, definitions) == -4 * a + 8 * b - 3 * c
    assert sp.expand(in_forward_values(2 * full, definitions).subs(d2, full) - 2 * full) == 0


def test_an_early_returns_flag_is_read_by_the_reverse_sweep_as_it_was(tmp_path):
    # fuzz seed 45504 (predates this test): a return inside a loop leaves a flag the code
    # after the loop branches on; a later loop that may return updates the flag, and
    # renaming that loop's copy to the flag's own name made the reverse sweep take the
    # branch of the first loop's return: gradient 0, not 2
    f = load(tmp_path, """
        def f(x):
            for i in range(3):
                if x.sum() < -100:
                    return np.sum(x)
            j = 0
            while j < 4:
                return np.sum(x * 2.0)
            return np.sum(x)
    """)
    x = np.array([-0.06, 0.26, 1.16])
    np.testing.assert_array_equal(s2s.grad(f)(x), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(s2s.grad(f)(x - 200), [1.0, 1.0, 1.0])  # the first return
    check_grads(f, [x])
    np.testing.assert_allclose(s2s.jacobian(f, mode="forward")(x), [2.0, 2.0, 2.0])
    g = load(tmp_path, """
        def g(x):
            for i in range(3):
                if x.sum() < -100:
                    return np.sum(x)
            j = 0
            while (j < 4) & (np.sum(x) <= 1.76):
                v7 = x * 0.5
                return np.mean(v7 + np.diag(v7))
            return np.sum(x)
    """, "g")
    check_grads(g, [x])
    check_grads(g, [x + 1.0])  # the last return


def test_a_module_array_in_both_branches_of_an_if_expression(tmp_path):
    # fuzz seed 46433 (predates this test): comparing the two branches' values (to merge
    # them) compared the arrays elementwise and crashed with NumPy's "truth value of an
    # array is ambiguous" from our internals
    f = load(tmp_path, """
        W = np.array([[1.0], [2.0]])

        def helper(a, scale=0.3):
            if scale:
                return np.tanh(a)
            return np.log(W if scale else W) * a

        def f(x):
            return np.sum(helper(x) + (W if np.sum(x) > 0 else W) * x)
    """)
    x = rng.standard_normal((2, 3))
    check_grads(f, [x])
    h = s2s.hessian(f)(x)
    t = np.tanh(x.ravel())
    np.testing.assert_allclose(h.reshape(6, 6), np.diag(-2 * t * (1 - t**2)), atol=1e-12)
