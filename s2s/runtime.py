"""[runtime] NumPy-only helpers called by generated gradients.

Each helper is a plain top-level function using nothing but ``np`` and the other
helpers here: emit pastes the source of the ones a derivative uses into its module,
so generated code runs without s2s installed.  Names start with ``_`` and say what
they compute; the comment above each gives the math.
"""

import numpy as np


# g was computed for a value broadcast to shape(g); sum it back to shape(x).
def _unbroadcast(g, x):
    if type(x) is float and type(g) is float:
        return g
    if type(g) is int or type(g) is float:  # a literal: in x's precision
        g = np.asarray(g, dtype=np.result_type(x, 1.0))
    return _unbroadcast_to(g, x.shape if hasattr(x, "shape") else np.shape(x))


# g summed back to `shape` over the axes broadcasting added or stretched.
def _unbroadcast_to(g, shape):
    sg = g.shape if hasattr(g, "shape") else np.shape(g)
    if sg == shape:
        return g
    g = g if hasattr(g, "dtype") else np.asarray(g)
    extra = len(sg) - len(shape)
    if extra < 0 or any(m != n and n != 1 for m, n in zip(sg[extra:], shape)):
        g = np.broadcast_to(g, np.broadcast_shapes(sg, shape))  # smaller than shape somewhere
        sg = g.shape
        extra = len(sg) - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and sg[extra + i] != 1)
    return _sum_axes(g, axes).reshape(shape)


# np.sum(g, axis=axes, keepdims=keepdims) of an array g (the axes non-negative).
def _sum_axes(g, axes, keepdims=False):
    if not axes:
        return g
    if axes == tuple(range(len(axes))) or g.dtype.kind not in "fc":
        return np.sum(g, axis=axes, keepdims=keepdims)
    # summing inner axes: einsum walks memory in order, np.sum strides (3x slower)
    total = np.einsum(g, list(range(g.ndim)), [a for a in range(g.ndim) if a not in axes])
    if keepdims:
        return np.reshape(total, tuple(1 if a in axes else n for a, n in enumerate(g.shape)))
    return total


# _unbroadcast(f1 * f2 * ..., x), each axis along which one factor alone varies summed
# in that factor first: sum_i a * g_i = a * sum_i g_i when a does not vary along i.
def _unbroadcast_mul(x, *factors):
    product = _sum_first(factors[0], x, *factors[1:])
    for j in range(1, len(factors)):
        product = product * _sum_first(factors[j], x, *factors[:j], *factors[j + 1:])
    return _unbroadcast(product, x)


# as _unbroadcast, to the shape of a @ b, which need not be kept for it.
def _unbroadcast_matmul(g, a, b):
    sa = a.shape if hasattr(a, "shape") else np.shape(a)
    sb = b.shape if hasattr(b, "shape") else np.shape(b)
    if len(sb) == 1:
        shape = sa[:-1]
    elif len(sa) == 1:
        shape = sb[:-2] + sb[-1:]
    else:
        shape = np.broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1])
    if (g.shape if hasattr(g, "shape") else np.shape(g)) == shape:
        return g
    return _unbroadcast_to(g, shape)


# an array of the broadcast shape of `like` filled with a scalar, in their precision
# (a read-only view).
def _fill(value, *like):
    shape = np.broadcast_shapes(*(np.shape(a) for a in like))
    like = [a if hasattr(a, "dtype") or type(a) in (int, float) else np.asarray(a) for a in like]
    return np.broadcast_to(np.asarray(value, dtype=np.result_type(*like, value)), shape)


# a value computed from literals only (np.where(x > 0, 1, 0.5)), in x's precision.
def _like(value, x):
    if type(x) is float:
        if type(value) is int:
            return float(value)
        kind = value.dtype.kind if hasattr(value, "dtype") else "f"
        return value if kind in "fc" else np.asarray(value, dtype=float)  # where(x, 1, 0)
    dtype = getattr(value, "dtype", None)  # (a dtype equals None: np.dtype(None) is float64)
    if dtype is not None and dtype == getattr(x, "dtype", None) is not None:
        return value
    return np.asarray(value, dtype=np.result_type(x, 1.0))


# y = sum(x, axis) -> dx = dy broadcast back along the summed axes.
def _expand(dy, x, axis=None, keepdims=False):
    if axis is not None and not keepdims:
        dy = np.expand_dims(dy, axis)
    return np.broadcast_to(np.asarray(dy, dtype=np.result_type(x, dy, 1.0)), np.shape(x))


# number of elements a reduction over `axis` combines.
def _count(x, axis=None):
    shape = np.shape(x)
    if axis is None:
        return int(np.prod(shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes]))


# y = max(x, axis) -> dx = dy shared equally among the elements equal to the max.
def _extremum_adjoint(dy, x, y, axis=None, keepdims=False):
    hit = (x == _expand(y, x, axis, keepdims))
    share = (hit / np.sum(hit, axis=axis, keepdims=True)).astype(np.result_type(x), copy=False)
    return _expand(dy, x, axis, keepdims) * share


# y = prod(x, axis) -> dx_i = dy * prod_{j != i} x_j (exact when some x_j == 0).
def _prod_adjoint(dy, x, axis=None, keepdims=False):
    x = np.asarray(x)
    axes = tuple(range(x.ndim)) if axis is None else (
        axis if isinstance(axis, tuple) else (axis,))
    axes = tuple(a % x.ndim for a in axes)
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, rest + list(axes))
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (left * right).reshape(moved.shape)
    others = np.transpose(others, np.argsort(rest + list(axes)))
    return _expand(dy, x, axis, keepdims) * others


# y = var(x, axis, ddof) -> dx = dy * 2 (x - mean(x)) / (N - ddof).
def _var_adjoint(dy, x, axis=None, ddof=0, keepdims=False):
    return _expand(dy, x, axis, keepdims) * (2.0 / (_count(x, axis) - ddof)) * \
        _centered(x, axis)


# x minus its mean over axis, exactly 0 where x is constant along it: the mean is taken
# of x - x0 (x0 its first element there), so equal values are not rounded apart (the
# mean of [0.7, 0.7, 0.7] is not 0.7, and 1 / std of it is 1e16).
def _centered(x, axis=None):
    x = np.asarray(x)
    if x.size == 0:
        return x - np.mean(x, axis=axis, keepdims=True)
    axes = range(x.ndim) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    first = [slice(None)] * x.ndim
    for a in axes:
        first[a] = slice(0, 1)
    d = x - x[tuple(first)]
    return d - np.mean(d, axis=axis, keepdims=True)


def _matmul_operands(dy, a, b):
    """(dy, a's shape, b's shape, dy's shape) where one is not an array: a literal dy (the
    seed 1) in a and b's precision."""
    if type(dy) is int or type(dy) is float:
        dy = np.asarray(dy, dtype=np.result_type(a, b, 1.0))
    return dy, np.shape(a), np.shape(b), np.shape(dy)


# y = a @ b -> da = dy @ b^T, with 1-D operands promoted and batch axes summed
# (dy may be computed for a broadcast of y: it is summed back to y's shape first).
def _matmul_adjoint_lhs(dy, a, b):
    try:  # arrays (once a step in a loop: no conversions)
        sa, sb, sy = a.shape, b.shape, dy.shape
    except AttributeError:
        dy, sa, sb, sy = _matmul_operands(dy, a, b)
    if len(sa) == 2 and len(sb) == 2 and sy == (sa[0], sb[1]):
        return dy @ b.T
    if len(sa) == 2 and len(sb) == 1 and sy == sa[:1]:
        return np.outer(dy, b)
    if len(sa) == 1 and len(sb) == 2 and sy == sb[1:]:
        return b @ dy
    dy = _unbroadcast_matmul(dy, a, b)
    if len(sb) == 1:
        dy = np.expand_dims(dy, -1)
        bt = np.asarray(b)[np.newaxis, :]
    else:
        bt = np.swapaxes(b, -1, -2)
    if len(sa) == 1:
        dy = np.expand_dims(dy, -2)
    da = dy @ bt
    if len(sa) == 1:
        da = da[..., 0, :]
    return _unbroadcast(da, a)


# y = a @ b -> db = a^T @ dy, with 1-D operands promoted and batch axes summed
# (dy may be computed for a broadcast of y: it is summed back to y's shape first).
def _matmul_adjoint_rhs(dy, a, b):
    try:  # arrays (once a step in a loop: no conversions)
        sa, sb, sy = a.shape, b.shape, dy.shape
    except AttributeError:
        dy, sa, sb, sy = _matmul_operands(dy, a, b)
    if len(sa) == 2 and (len(sb) == 2 and sy == (sa[0], sb[1]) or len(sb) == 1 and sy == sa[:1]):
        return a.T @ dy
    if len(sa) == 1 and len(sb) == 2 and sy == sb[1:]:
        return np.outer(a, dy)
    dy = _unbroadcast_matmul(dy, a, b)
    if len(sb) == 1:
        dy = np.expand_dims(dy, -1)
    if len(sa) == 1:
        dy = np.expand_dims(dy, -2)
        at = np.asarray(a)[:, np.newaxis]
    else:
        at = np.swapaxes(a, -1, -2)
    db = at @ dy
    if len(sb) == 1:
        db = db[..., 0]
    return _unbroadcast(db, b)


# _unbroadcast(_matmul_adjoint_lhs(dy, a, b), x) for an x that a is a broadcast of: the
# rows of dy summed first where x has one row (sum_i dy_i @ b^T = (sum_i dy_i) @ b^T).
# For matrices dy may come summed already (_sum_first).
def _matmul_adjoint_lhs_to(dy, a, b, x):
    sa, sb, sx = np.shape(a), np.shape(b), np.shape(x)
    if len(sa) < 2 or len(sb) < 2 or np.ndim(dy) < 2:
        return _unbroadcast(_matmul_adjoint_lhs(dy, a, b), x)
    dy = np.asarray(dy)
    if dy.shape[-1] != sb[-1]:  # dy of y broadcast along its columns
        dy = _sum_axes(dy, (dy.ndim - 1,), keepdims=True)
    if (len(sx) < 2 or sx[-2] == 1) and dy.shape[-2] != 1:
        dy = _sum_axes(dy, (dy.ndim - 2,), keepdims=True)
    return _unbroadcast(dy @ np.swapaxes(b, -1, -2), x)


# _unbroadcast(_matmul_adjoint_rhs(dy, a, b), x) for an x that b is a broadcast of: the
# columns of dy summed first where x has one column.  For matrices dy may come summed
# already (_sum_first).
def _matmul_adjoint_rhs_to(dy, a, b, x):
    sa, sb, sx = np.shape(a), np.shape(b), np.shape(x)
    if len(sa) < 2 or len(sb) < 2 or np.ndim(dy) < 2:
        return _unbroadcast(_matmul_adjoint_rhs(dy, a, b), x)
    dy = np.asarray(dy)
    if dy.shape[-2] != sa[-2]:  # dy of y broadcast along its rows
        dy = _sum_axes(dy, (dy.ndim - 2,), keepdims=True)
    if (not sx or sx[-1] == 1) and dy.shape[-1] != 1:
        dy = _sum_axes(dy, (dy.ndim - 1,), keepdims=True)
    return _unbroadcast(np.swapaxes(a, -1, -2) @ dy, x)


# g summed (keeping its axes) over the axes that summing to shape(x) sums and that
# nothing g is multiplied by varies along: the `factors` of g * f, the b of the product
# a @ b whose adjoint dy @ b^T is taken (lhs=(a, b)), the a of a^T @ dy (rhs=(a, b)).
# The terms that take g then take this sum in its place, and the sum is taken once.
def _sum_first(g, x, *factors, lhs=None, rhs=None):
    sg, sx = np.shape(g), np.shape(x)
    shapes = [np.shape(f) for f in factors]
    for pair, rows in ((lhs, True), (rhs, False)):
        if pair is not None:
            sa, sb = np.shape(pair[0]), np.shape(pair[1])
            if len(sa) < 2 or len(sb) < 2 or len(sg) < 2:
                return g  # vectors: the adjoint helpers sum dy themselves
            # what g meets in the product, in g's axes (y = a @ b)
            shapes.append(sb[:-2] + (1, sb[-1]) if rows else sa[:-2] + (sa[-2], 1))
    n, extra = len(sg), len(sg) - len(sx)
    axes = tuple(i for i in range(n) if sg[i] != 1 and (i < extra or sx[i - extra] == 1)
                 and all(len(s) < n - i or s[i - n] == 1 for s in shapes))
    return _sum_axes(np.asarray(g), axes, keepdims=True) if axes else g


# the sum of _matmul_adjoint_lhs(dy, a, b) over saved (dy, b) pairs: one product of
# the stacked vectors where they are vectors, as a loop over them otherwise.
def _matmul_adjoint_lhs_sum(dys, a, bs):
    if not dys:
        return np.zeros(np.shape(a), dtype=np.result_type(a, 1.0))
    if np.ndim(a) == 2 and np.ndim(bs[0]) == 1 and np.shape(dys[0]) == np.shape(a)[:1]:
        try:  # np.array, not np.stack: 3x faster for many small arrays
            stacked = np.array(dys)
        except ValueError:  # not all of y's shape: one at a time below
            stacked = None
        if stacked is not None and stacked.ndim == 2:
            return stacked.T @ np.array(bs)
    total = _matmul_adjoint_lhs(dys[0], a, bs[0])
    for dy, b in zip(dys[1:], bs[1:]):
        total = total + _matmul_adjoint_lhs(dy, a, b)
    return total


# the sum of _unbroadcast(g, x) over saved terms g: added up first where they agree in shape.
def _unbroadcast_sum(terms, x):
    if not terms:
        return np.zeros(np.shape(x), dtype=np.result_type(x, 1.0))
    try:  # np.array, not np.stack: 3x faster for many small arrays
        return _unbroadcast(np.sum(np.array(terms), axis=0), x)
    except ValueError:  # terms of different shapes: one at a time
        pass
    total = _unbroadcast(terms[0], x)
    for t in terms[1:]:
        total = total + _unbroadcast(t, x)
    return total


# y = x[index] -> dx = zeros like x with dy added at index (repeats accumulate);
# for a tuple x, a tuple of zeros with dy at index.
def _getitem_adjoint(dy, x, index):
    if isinstance(x, tuple):
        return tuple(dy if i == index else np.zeros_like(v) for i, v in enumerate(x))
    dx = np.zeros(np.shape(x), dtype=np.result_type(dy, x))
    if _basic_index(index):
        dx[index] = dy  # a basic index selects each element at most once
    else:
        np.add.at(dx, index, dy)
    return dx


# whether x[index] is basic indexing (ints, slices, None, ...: each element at most once).
def _basic_index(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice))
               for p in parts)


# dx with dy added at index, in dx itself: an array the gradient made and owns (the
# accumulator of a reverse loop: O(1) a step, not a new array of x's size).  Unless dx
# holds floats and dy is real, a new array instead.
def _add_at(dx, dy, index):
    complex_dy = dy.dtype.kind == "c" if hasattr(dy, "dtype") else isinstance(dy, complex)
    if dx.dtype.kind != "f" or complex_dy:
        return dx + _getitem_adjoint(dy, dx, index)  # (NumPy would cast to dx's kind)
    if type(index) is int or _basic_index(index):
        dx[index] += dy
    else:
        np.add.at(dx, index, dy)
    return dx


# tangent of _add_at(dx, dy, index) along dots = (dx_dot, dy_dot) (None: no tangent;
# batched: batches of them): dx_dot with dy_dot added at index, in a new array.
def _add_at_jvp(dots, dx, dy, index, batched=False):
    dx_dot, dy_dot = dots
    if dy_dot is None:
        if dx_dot is not None:
            return dx_dot
        return np.zeros((1,) + np.shape(dx)) if batched else np.zeros_like(dx)
    scattered = (_getitem_adjoint_batch if batched else _getitem_adjoint)(dy_dot, dx, index)
    return scattered if dx_dot is None else dx_dot + scattered


# y = concatenate(parts, axis) -> the adjoints of the parts are dy split along axis.
def _split_adjoint(dy, parts, axis=0):
    ends = np.cumsum([np.shape(p)[axis] for p in parts])[:-1]
    return np.split(dy, ends, axis=axis)


# y = diag(x) -> dx = diag(dy) (1-D x), or dy on the diagonal of zeros (2-D x).
def _diag_adjoint(dy, x):
    if np.ndim(x) == 1:
        return np.diag(dy)
    dx = np.zeros(np.shape(x), dtype=np.result_type(dy, x))
    np.fill_diagonal(dx, dy)
    return dx


# y = trace(x) -> dx = dy * identity.
def _trace_adjoint(dy, x):
    return dy * np.eye(*np.shape(x), dtype=np.result_type(dy, x))


# y = outer(a, b) -> da = dy @ b, db = a @ dy (on the raveled operands).
def _outer_adjoint_lhs(dy, a, b):
    return np.reshape(dy @ np.ravel(b), np.shape(a))


def _outer_adjoint_rhs(dy, a, b):
    return np.reshape(np.ravel(a) @ dy, np.shape(b))


# y = norm(x) (2-norm, Frobenius) -> dx = dy * x / y, and 0 where y == 0 (a subgradient).
def _norm_adjoint(dy, x, y, vectors_only=False):
    if vectors_only and np.ndim(x) != 1:
        raise ValueError("s2s: np.linalg.norm(x, 2) of a matrix is its spectral norm, which "
                         "s2s does not differentiate; use the Frobenius norm or write it out")
    safe = np.where(y == 0, 1.0, y)
    return np.where(y == 0, 0.0, dy * (x / safe))


# np.dot: a product for scalars, matmul for 1-D and 2-D operands.
def _dot_adjoint_lhs(dy, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _unbroadcast(dy * b, a)
    if np.ndim(b) > 2:
        raise NotImplementedError("s2s: np.dot with a second operand of more than 2 "
                                  "dimensions; use np.matmul (@) instead")
    return _matmul_adjoint_lhs(dy, a, b)


def _dot_adjoint_rhs(dy, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _unbroadcast(dy * a, b)
    if np.ndim(b) > 2:
        raise NotImplementedError("s2s: np.dot with a second operand of more than 2 "
                                  "dimensions; use np.matmul (@) instead")
    return _matmul_adjoint_rhs(dy, a, b)


# tangent of _norm_adjoint(dy, x, y) along dots = (dy_dot, x_dot, y_dot) (None: no
# tangent; batched: each a batch of them): d(dy x / y) = dy_dot x / y + dy x_dot / y
# - dy x y_dot / y^2, and 0 where y == 0 as the adjoint itself.
def _norm_adjoint_jvp(dots, dy, x, y, vectors_only=False, batched=False):
    dy_dot, x_dot, y_dot = (t if t is None or not batched else _lift(t, x) for t in dots)
    safe = np.where(y == 0, 1.0, y)
    total = 0.0
    if dy_dot is not None:
        total = total + dy_dot * (x / safe)
    if x_dot is not None:
        total = total + dy * x_dot / safe
    if y_dot is not None:
        total = total - dy * x * y_dot / (safe * safe)
    return np.where(y == 0, 0.0, total)


# tangent of _prod_adjoint(dy, x, axis, keepdims) along dots = (dy_dot, x_dot) (batched:
# batches of them): the products of the other elements and their tangents, from
# running products on the left and on the right (exact at zeros, as _prod_adjoint).
def _prod_adjoint_jvp(dots, dy, x, axis=None, keepdims=False, batched=False):
    dy_dot, x_dot = dots
    x = np.asarray(x)
    total = 0.0
    if dy_dot is not None:
        total = _over_batch(_prod_adjoint, 0, dy_dot, x, axis, keepdims) if batched \
            else _prod_adjoint(dy_dot, x, axis, keepdims)
    if x_dot is None:
        return total
    lead = 1 if batched else 0
    axes = tuple(range(x.ndim)) if axis is None else (
        axis if isinstance(axis, tuple) else (axis,))
    axes = tuple(a % x.ndim for a in axes)
    rest = [a for a in range(x.ndim) if a not in axes]
    order = rest + list(axes)
    moved = np.transpose(x, order)
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    moved_dot = np.transpose(np.broadcast_to(x_dot, np.shape(x_dot)[:lead] + x.shape),
                             list(range(lead)) + [a + lead for a in order])
    flat_dot = moved_dot.reshape(moved_dot.shape[:lead + len(rest)] + (-1,))
    n = flat.shape[-1]
    left, left_dot = [np.ones(flat.shape[:-1])], [np.zeros(flat_dot.shape[:-1])]
    right, right_dot = [np.ones(flat.shape[:-1])], [np.zeros(flat_dot.shape[:-1])]
    for i in range(n - 1):
        left_dot.append(left_dot[-1] * flat[..., i] + left[-1] * flat_dot[..., i])
        left.append(left[-1] * flat[..., i])
        j = n - 1 - i
        right_dot.append(right_dot[-1] * flat[..., j] + right[-1] * flat_dot[..., j])
        right.append(right[-1] * flat[..., j])
    right, right_dot = right[::-1], right_dot[::-1]
    others_dot = np.stack([left_dot[i] * right[i] + left[i] * right_dot[i] for i in range(n)],
                          axis=-1).reshape(moved_dot.shape)
    inverse = np.argsort(order)
    others_dot = np.transpose(others_dot, list(range(lead)) + [a + lead for a in inverse])
    return total + _expand(dy, x, axis, keepdims) * others_dot


# adjoints of a tuple of values add entry by entry.
def _add_tuples(a, b):
    return tuple(u + v for u, v in zip(a, b))


# ---- batches of tangents (forward mode over many directions at once) ----------------
# A batch of tangents of a value x has a leading batch axis: shape (n,) + shape(x), or a
# shape that broadcasts to it once size-1 axes are put after the batch axis (_lift).

# the batch t of tangents of a value that broadcasts to y, with size-1 axes after its
# batch axis so that it lines up with the batches of y's shape.
def _lift(t, y):
    return _lift_ndim(t, np.ndim(y))


# the batch t with size-1 axes after its batch axis, to `ndim` axes after it.
def _lift_ndim(t, ndim):
    missing = ndim + 1 - np.ndim(t)
    if missing <= 0:
        return t
    t = np.asarray(t)
    return np.reshape(t, t.shape[:1] + (1,) * missing + t.shape[1:])


# np.broadcast_to(t, shape) of each tangent in the batch t.
def _broadcast_to_batch(t, shape):
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    t = _lift_ndim(t, len(shape))
    return np.broadcast_to(t, np.shape(t)[:1] + shape)


# _fill(value, *like) of each tangent in the batch `value`.
def _fill_batch(value, *like):
    return _broadcast_to_batch(value, np.broadcast_shapes(*(np.shape(a) for a in like)))


# np.array(t) of a batch of tangents: of a list of them (np.array([a, b])), the batch
# axis stays first.
def _array_batch(t, **kwargs):
    if isinstance(t, (list, tuple)):
        return np.moveaxis(np.array(t, **kwargs), 0, 1)
    return np.array(t, **kwargs)


# _unbroadcast(g, x) of each tangent in the batch g (the helper is linear in g); like
# _unbroadcast, a g smaller than x is broadcast to it.
def _unbroadcast_batch(g, x):
    shape = x.shape if hasattr(x, "shape") else np.shape(x)
    g = _lift(np.asarray(g), x)
    extra = g.ndim - 1 - len(shape)
    if extra:  # axes broadcasting put between the batch axis and x's
        g = np.sum(g, axis=tuple(range(1, 1 + extra)))
    return _unbroadcast_to(g, g.shape[:1] + shape)


# a @ b where operand `which` (0: a, 1: b) is a batch of tangents.
def _matmul_batch(a, b, which):
    if which == 0:
        p, q = np.ndim(a) - 1, np.ndim(b)
        if q == 1:
            return a @ b
        if p == 1:  # rows of a: a matrix n x k, then the batch axis first
            return a @ b if q == 2 else np.moveaxis(a @ b, -2, 0)
        return _lift_ndim(a, q) @ b
    p, q = np.ndim(a), np.ndim(b) - 1
    if q == 1:
        if p == 1:
            return b @ a
        y = b @ np.swapaxes(a, -1, -2)
        return y if p == 2 else np.moveaxis(y, -2, 0)
    return a @ (b if p == 1 else _lift_ndim(b, p))


# np.dot where operand `which` is a batch of tangents (as matmul for 1-D and 2-D).
def _dot_batch(a, b, which):
    other = b if which == 0 else a
    if np.ndim(other) == 0:
        return (a if which == 0 else b) * other
    if np.ndim(a) - (which == 0) == 0:
        return _lift(a, other) * b
    if np.ndim(b) - (which == 1) == 0:
        return a * _lift(b, other)
    if np.ndim(a) - (which == 0) <= 2 and np.ndim(b) - (which == 1) <= 2:
        return _matmul_batch(a, b, which)
    return _over_batch(np.dot, which, a, b)


# np.outer where operand `which` is a batch of tangents.
def _outer_batch(a, b, which):
    if which == 0:
        return np.reshape(a, (len(a), -1, 1)) * np.ravel(b)
    return np.ravel(a)[:, None] * np.reshape(b, (len(b), 1, -1))


# _getitem_adjoint(dy, x, index) of each tangent in the batch dy.
def _getitem_adjoint_batch(dy, x, index):
    if isinstance(x, tuple):
        return _over_batch(_getitem_adjoint, 0, dy, x, index)
    dx = np.zeros(np.shape(dy)[:1] + np.shape(x), dtype=np.result_type(dy, x))
    if _basic_index(index):
        dx[_batch_index(index)] = dy
    else:
        np.add.at(dx, _batch_index(index), dy)
    return dx


# the index into a batch of tangents (a leading batch axis) of index i into the value.
def _batch_index(i):
    return (slice(None),) + (i if isinstance(i, tuple) else (i,))


# f applied to each tangent of the batch in argument i (f is linear in it), stacked
# (entry by entry when f returns a tuple).  A list in argument i (saved values) holds
# one batch per value: f gets the list of their tangents in each direction.
def _over_batch(f, i, *args, **kwargs):
    batch = args[i]
    if isinstance(batch, list):
        if not batch:  # nothing saved: f's zero, as a batch of one that broadcasts
            return np.expand_dims(np.asarray(f(*args, **kwargs)), 0)
        batch = [[t[j] for t in batch] for j in range(len(batch[0]))]
    results = [f(*args[:i], t, *args[i + 1:], **kwargs) for t in batch]
    if results and isinstance(results[0], tuple):
        return tuple(np.stack(parts) for parts in zip(*results))
    return np.stack(results)


# _add_tuples for batches of tangents: a tuple of batches, or an array standing for a
# tuple of values (np.zeros_like of a tuple of numbers) with its batch axis first.
def _add_tuples_batch(a, b):
    a = a if isinstance(a, tuple) else tuple(np.moveaxis(np.asarray(a), 1, 0))
    b = b if isinstance(b, tuple) else tuple(np.moveaxis(np.asarray(b), 1, 0))
    return _add_tuples(a, b)


# a zero tangent for `value` (a tuple of them for a tuple), a batch of n of them if n
# is given.
def _zero_tangent(value, n=None):
    if isinstance(value, tuple):
        return tuple(_zero_tangent(v, n) for v in value)
    return np.zeros_like(value) if n is None else np.zeros((n,) + np.shape(value))


# t[index] for tangents: entry `index` of a tuple of them, or the tangents at `index`
# of a batch of them.
def _batch_getitem(t, index):
    if isinstance(t, (tuple, list)):
        return t[index]
    return t[_batch_index(index)]


# a gradient is defined for a scalar result only: the result broadcasts `values`.
def _check_scalar(function, *values):
    for v in values:
        if type(v) is not float and type(v) is not int:
            break
    else:
        return
    if np.broadcast(*values).ndim != 0:
        raise ValueError(f"{function} returned an array of shape "
                         f"{np.broadcast(*values).shape}; a gradient needs a scalar result "
                         "(use s2s.vjp or s2s.jacobian)")
