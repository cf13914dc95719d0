"""Every refusal: class, `file:line:col`, the quoted line with a caret, and a hint.

Each case is a tiny function written to a real file by `gradcheck.load`; the
offending line carries the comment `# <-`, and the expected line number is read
back from that file, so the tests never hard-code line numbers.  `at` is the text
the caret must point at (``err.line[err.col_offset:]`` starts with it).
"""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import s2s
from gradcheck import check_grads, load

MARK = "# <-"


def file_of(f):
    return Path(sys.modules[f.__module__].__file__)


def marked_lineno(f):
    """1-based number of the line holding MARK in the file `f` was loaded from."""
    lines = file_of(f).read_text().splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if MARK in line]
    assert len(hits) == 1, f"test source needs exactly one {MARK!r} marker"
    return hits[0]


def refusal(f, wrt=0, cls=s2s.DifferentiationError):
    with pytest.raises(cls) as info:
        s2s.grad(f, wrt=wrt)
    return info.value


def check_rendering(err):
    """str(err): `file:LINE:COL: message`, quoted line, caret under col_offset, hint."""
    rendered = str(err).split("\n")
    assert len(rendered) == 4, rendered
    head, quote, caret, hint = rendered
    assert head == f"{err.filename}:{err.lineno}:{err.col_offset + 1}: {err.message}"
    line = err.line.rstrip("\n")
    indent = len(line) - len(line.lstrip())
    assert quote == "    " + line.lstrip()
    assert caret.strip() == "^"
    column = caret.index("^")
    assert column - 4 == err.col_offset - indent
    assert quote[column] == line[err.col_offset]  # the caret sits under the offending text
    assert hint == f"hint: {err.hint}"


def check_refusal(err, f, phrase, at):
    """The common assertions for a refusal located in the user's file."""
    path = file_of(f)
    lineno = marked_lineno(f)
    assert err.filename == str(path)
    assert err.filename.endswith(".py")
    assert err.lineno == lineno
    file_line = path.read_text().splitlines()[lineno - 1]
    assert err.line.rstrip("\n") == file_line
    assert 0 <= err.col_offset < len(file_line)
    assert file_line[err.col_offset:].startswith(at), (
        f"caret at column {err.col_offset} points at {file_line[err.col_offset:]!r}, "
        f"expected {at!r}")
    assert phrase in err.message
    assert isinstance(err.hint, str) and err.hint.strip()
    assert "internal error" not in str(err)
    check_rendering(err)


def case(name, source, cls, phrase, at, wrt=0, marks=()):
    return pytest.param(source, wrt, cls, phrase, at, id=name, marks=marks)


Unsupported = s2s.UnsupportedSyntaxError
NoRule = s2s.NoRuleError


# ---- syntax outside the accepted subset ---------------------------------------------

SYNTAX = [
    case("for-else", """
        def f(x):
            for i in range(3):
                x = x * 2.0
            else:
                x = x + 1.0  # <-
            return x
        """, Unsupported, "cannot differentiate a loop with an `else` block", "x = x + 1.0"),
    case("loop-over-zip", """
        def f(x):
            for a, b in zip(x, x):  # <-
                x = x * a
            return x
        """, Unsupported, "the loop variable must be a single name", "a, b"),
    case("loop-over-enumerate", """
        def f(x):
            for a in enumerate(x):  # <-
                x = x * 2.0
            return np.sum(x)
        """, Unsupported, "cannot differentiate a loop over enumerate()", "enumerate(x)"),
    case("assigned-in-one-branch", """
        def f(x):
            if x > 0:
                y = x * 2.0
            return y  # <-
        """, Unsupported, "'y' is assigned in only one branch", "y"),
    case("loop-variable-after-loop", """
        def f(x):
            for i in range(3):
                x = x * 2.0
            return x * i  # <-
        """, Unsupported, "the loop variable 'i' is read after its loop", "i"),
    case("not-every-path-returns", """
        def f(x):
            if x > 0:
                return x
            y = x  # <-
        """, Unsupported, "does not end with `return`", "y = x"),
    case("try-except", """
        def f(x):
            try:  # <-
                y = x * 2.0
            except ValueError:
                y = x
            return y
        """, Unsupported, "cannot differentiate `try`/`except`", "try:"),
    case("with", """
        def f(x):
            with np.errstate(all="ignore"):  # <-
                y = x * 2.0
            return y
        """, Unsupported, "cannot differentiate a `with` block", "with np.errstate"),
    case("yield-expression", """
        def f(x):
            y = yield x  # <-
            return y
        """, Unsupported, "cannot differentiate `yield`", "yield x"),
    case("generator-function", """
        def f(x):
            yield x * 2.0  # <-
            return x
        """, Unsupported, "yield", "yield x"),
    case("lambda-in-body", """
        def f(x):
            g = lambda t: t * 2.0  # <-
            return x
        """, Unsupported, "cannot differentiate a lambda", "lambda t"),
    case("global", """
        G = 1.0

        def f(x):
            global G  # <-
            return x * G
        """, Unsupported, "cannot differentiate a `global` statement", "global G"),
    case("nonlocal", """
        def outer():
            s = 1.0

            def f(x):
                nonlocal s  # <-
                return x * s
            return f

        f = outer()
        """, Unsupported, "cannot differentiate a `nonlocal` statement", "nonlocal s"),
    case("list-comprehension", """
        def f(x):
            y = np.sum([t * 2.0 for t in x])  # <-
            return y
        """, Unsupported, "cannot differentiate a comprehension", "[t * 2.0 for"),
    case("generator-expression", """
        def f(x):
            y = sum(t * 2.0 for t in x)  # <-
            return y
        """, Unsupported, "cannot differentiate a generator expression", "(t * 2.0 for"),
    case("nested-def", """
        def f(x):
            def g(t):  # <-
                return t
            return x
        """, Unsupported, "cannot differentiate a nested `def`", "def g"),
    case("assert", """
        def f(x):
            assert x > 0  # <-
            return x
        """, Unsupported, "cannot differentiate `assert`", "assert x"),
    case("del-item", """
        def f(x):
            y = x * 2.0
            del y[0]  # <-
            return np.sum(y)
        """, Unsupported, "cannot differentiate `del` of anything but a local name", "y[0]"),
    case("read-after-del", """
        def f(x):
            y = x * 2.0
            del y
            return y  # <-
        """, Unsupported, "'y' is read after `del y` at line 7", "y"),
    case("import", """
        def f(x):
            import math as m  # <-
            return x * m.pi
        """, Unsupported, "cannot differentiate an import inside the function", "import math"),
    case("chained-comparison", """
        def f(a, b, c):
            m = a < b < c  # <-
            return a
        """, Unsupported, "cannot differentiate a chained comparison", "a < b < c"),
    case("and", """
        def f(a, b):
            m = a and b  # <-
            return a
        """, Unsupported, "cannot differentiate `and`/`or`", "a and b"),
    case("or", """
        def f(a, b):
            m = a or b  # <-
            return a
        """, Unsupported, "cannot differentiate `and`/`or`", "a or b"),
    case("star-args", """
        def f(x, *args):  # <-
            return x
        """, Unsupported, "*args or **kwargs", "args)"),
    case("star-kwargs", """
        def f(x, **kwargs):  # <-
            return x
        """, Unsupported, "*args or **kwargs", "kwargs)"),
]


@pytest.mark.parametrize("source, wrt, cls, phrase, at", SYNTAX)
def test_unsupported_syntax(tmp_path, source, wrt, cls, phrase, at):
    f = load(tmp_path, source)
    err = refusal(f, wrt, cls)
    check_refusal(err, f, phrase, at)


# ---- mutation ---------------------------------------------------------------------

INPLACE = [
    case("setitem", """
        def f(x):
            x[0] = 0.0  # <-
            return np.sum(x)
        """, Unsupported, "in-place assignment", "x[0] = 0.0"),
    case("augmented-setitem", """
        def f(x, i, v):
            x[i] += v  # <-
            return np.sum(x)
        """, Unsupported, "in-place assignment", "x[i] += v"),
    case("setattr", """
        def f(x):
            x.attr = 1  # <-
            return np.sum(x)
        """, Unsupported, "in-place assignment", "x.attr = 1"),
    case("tuple-target-subscript", """
        def f(x):
            a, x[0] = 1.0, 2.0  # <-
            return np.sum(x) * a
        """, Unsupported, "in-place assignment", "x[0]"),
]


@pytest.mark.parametrize("source, wrt, cls, phrase, at", INPLACE)
def test_inplace_assignment(tmp_path, source, wrt, cls, phrase, at):
    f = load(tmp_path, source)
    err = refusal(f, wrt, cls)
    check_refusal(err, f, phrase, at)
    assert "without mutation" in err.hint


def test_inplace_refused_through_every_entry_point(tmp_path):
    f = load(tmp_path, """
        def f(x):
            x[0] = 0.0  # <-
            return np.sum(x)
        """)
    for build in (lambda: s2s.value_and_grad(f),
                  lambda: s2s.differentiate(f).grad,
                  lambda: s2s.differentiate(wrt="x")(f).value_and_grad):
        with pytest.raises(Unsupported) as info:
            build()
        check_refusal(info.value, f, "in-place assignment", "x[0] = 0.0")


# ---- calls without a derivative rule ----------------------------------------------

NO_RULE = [
    case("inside-a-called-user-function", """
        def helper(t):
            return np.cumsum(t) * 2.0  # <-

        def f(x):
            y = helper(x)
            return np.sum(y)
        """, NoRule, "no derivative rule for np.cumsum()", "np.cumsum(t)"),
    case("np.cumsum", """
        def f(x):
            y = np.cumsum(x)  # <-
            return np.sum(y)
        """, NoRule, "no derivative rule for np.cumsum()", "np.cumsum(x)"),
    case("mod", """
        def f(x):
            y = x % 2.0  # <-
            return np.sum(y)
        """, NoRule, "no derivative rule for %", "x % 2.0"),
    case("mod-after-active-op", """
        def f(x):
            return np.sum(np.sin(x) % 2.0)  # <-
        """, NoRule, "no derivative rule for %", "np.sin(x) % 2.0"),
    case("np.cumsum-on-second-argument", """
        def f(x, y):
            z = x * y
            w = np.cumsum(y)  # <-
            return np.sum(z * w)
        """, NoRule, "no derivative rule for np.cumsum()", "np.cumsum(y)", wrt="y"),
    case("call-on-continuation-line", """
        def f(x):
            y = (x +
                 np.cumsum(x))  # <-
            return np.sum(y)
        """, NoRule, "no derivative rule for np.cumsum()", "np.cumsum(x)"),
]


@pytest.mark.parametrize("source, wrt, cls, phrase, at", NO_RULE)
def test_no_rule_on_differentiated_path(tmp_path, source, wrt, cls, phrase, at):
    f = load(tmp_path, source)
    err = refusal(f, wrt, cls)
    check_refusal(err, f, phrase, at)


INACTIVE_CALLS = [
    # (statement computing n from y only, n as NumPy computes it)
    pytest.param("n = helper(y)", lambda y: 2.0 * np.cumsum(y) + 1.0, id="user-function"),
    pytest.param("n = np.cumsum(y)", np.cumsum, id="np.cumsum"),
    pytest.param("n = y % 2.0", lambda y: y % 2.0, id="mod"),
]


@pytest.mark.parametrize("statement, n_of", INACTIVE_CALLS)
def test_call_without_rule_accepted_off_the_differentiated_path(tmp_path, statement, n_of):
    f = load(tmp_path, f"""
        def helper(t):
            return np.cumsum(t) * 2.0 + 1.0

        def f(x, y):
            {statement}
            return np.sum(np.sin(x) * n + x ** 2)
        """)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(4), rng.uniform(0.5, 3.0, 4)
    check_grads(f, [x, y], wrt="x")  # central differences
    np.testing.assert_allclose(s2s.grad(f, wrt="x")(x, y), np.cos(x) * n_of(y) + 2.0 * x,
                               rtol=1e-12)
    with pytest.raises(NoRule):  # the same call is refused once it is on the path
        s2s.grad(f, wrt="y")


# ---- returns ------------------------------------------------------------------------

RETURNS = [
    case("no-return", """
        def f(x):
            y = x * 2.0  # <-
        """, Unsupported, "does not end with `return`", "y = x * 2.0"),
    case("bare-return", """
        def f(x):
            y = x * 2.0
            return  # <-
        """, Unsupported, "returns nothing", "return"),
    case("code-after-return", """
        def f(x):
            return x * 2.0
            y = x  # <-
        """, Unsupported, "code after `return`", "y = x"),
    case("tuple-return", """
        def f(x, y):
            return x, y  # <-
        """, Unsupported, "cannot differentiate a function returning a tuple", "x, y"),
]


@pytest.mark.parametrize("source, wrt, cls, phrase, at", RETURNS)
def test_return_shape(tmp_path, source, wrt, cls, phrase, at):
    f = load(tmp_path, source)
    err = refusal(f, wrt, cls)
    check_refusal(err, f, phrase, at)


# ---- attributes and names -----------------------------------------------------------

NAMES = [
    case("unsupported-method", """
        def f(x):
            y = x.cumsum()  # <-
            return np.sum(y)
        """, s2s.NoRuleError, "no derivative rule for the method .cumsum()", "x.cumsum()"),
    case("unknown-attribute", """
        def f(x):
            y = x.foo  # <-
            return np.sum(y)
        """, Unsupported, "unsupported attribute .foo", "x.foo"),
    case("undefined-name", """
        def f(x):
            y = x * undefined_name  # <-
            return y
        """, Unsupported, "name 'undefined_name' is not defined", "undefined_name"),
    case("undefined-function", """
        def f(x):
            y = undefined_function(x)  # <-
            return y
        """, Unsupported, "name 'undefined_function' is not defined", "undefined_function"),
    case("undefined-name-as-index", """
        def f(x):
            return np.sum(x[undefined_index])  # <-
        """, Unsupported, "name 'undefined_index' is not defined", "undefined_index"),
    case("undefined-name-as-keyword", """
        def f(x):
            return np.sum(np.sum(x, axis=undefined_axis))  # <-
        """, Unsupported, "name 'undefined_axis' is not defined", "undefined_axis"),
    case("missing-numpy-function", """
        def f(x):
            return np.sum(np.cumsumm(x))  # <-
        """, Unsupported, "'np.cumsumm' does not exist", "np.cumsumm"),
]


@pytest.mark.parametrize("source, wrt, cls, phrase, at", NAMES)
def test_attributes_and_names(tmp_path, source, wrt, cls, phrase, at):
    f = load(tmp_path, source)
    err = refusal(f, wrt, cls)
    check_refusal(err, f, phrase, at)


# ---- wrt ------------------------------------------------------------------------------

@pytest.mark.parametrize("wrt, phrase, hint_phrase", [
    pytest.param("q", "f has no argument named 'q'", "x, y", id="missing-name"),
    pytest.param(5, "wrt=5 is out of range: f takes 2 arguments", "below 2", id="out-of-range"),
    pytest.param(-3, "wrt=-3 is out of range", "below 2", id="negative-out-of-range"),
    pytest.param(1.5, "wrt=1.5 is neither an argument name nor a position", "x, y",
                 id="float"),
    pytest.param(True, "wrt=True is neither", "x, y", id="bool"),
    pytest.param(("x", "q"), "no argument named 'q'", "x, y", id="missing-name-in-tuple"),
    pytest.param(("x", 0), "wrt names 'x' twice", "once", id="duplicate"),
    pytest.param((), "wrt is empty", "at least one", id="empty"),
])
def test_bad_wrt_points_at_def_line(tmp_path, wrt, phrase, hint_phrase):
    f = load(tmp_path, """
        def f(x, y):  # <-
            return np.sum(x * y)
        """)
    err = refusal(f, wrt)
    assert not isinstance(err, s2s.InternalError)
    check_refusal(err, f, phrase, "def f(x, y)")
    assert hint_phrase in err.hint


def test_bad_wrt_in_method_points_at_indented_def(tmp_path):
    f = load(tmp_path, """
        class Model:
            def f(self, x):  # <-
                return np.sum(x ** 2)
        """, name="Model").f
    err = refusal(f, "q")
    check_refusal(err, f, "no argument named 'q'", "def f(self, x)")
    assert err.col_offset == 4


# ---- source unavailable -------------------------------------------------------------

@pytest.mark.parametrize("func", [np.sin, math.sin, len], ids=["np.sin", "math.sin", "len"])
def test_builtin_has_no_source(func):
    err = refusal(func, 0, s2s.SourceUnavailableError)
    assert "not a function of yours" in err.message
    assert func.__name__ in err.message
    assert err.hint and "def" in err.hint
    assert str(err).endswith("\nhint: " + err.hint)


def test_exec_function_has_no_source():
    namespace = {"np": np}
    exec("def g(x):\n    return x * 2.0\n", namespace)
    err = refusal(namespace["g"], 0, s2s.SourceUnavailableError)
    assert "cannot read the source of 'g'" in err.message
    assert err.filename == "<string>"
    assert err.lineno == 1
    assert err.hint and "exec" in err.hint
    assert str(err).startswith("<string>:1:1: cannot read the source of 'g'")


def test_lambda_assigned_in_a_file(tmp_path):
    f = load(tmp_path, """
        f = lambda x: x * 2  # <-
        """)
    err = refusal(f, 0, s2s.SourceUnavailableError)
    check_refusal(err, f, "its source is not a `def` statement", "f = lambda")
    assert "lambda" in err.hint


def test_quoted_line_has_no_trailing_newline(tmp_path):
    f = load(tmp_path, """
        f = lambda x: x * 2  # <-
        """)
    err = refusal(f, 0, s2s.SourceUnavailableError)
    assert err.line == "f = lambda x: x * 2  # <-"


# ---- the rendering, in full -----------------------------------------------------------

def test_str_of_error_in_full(tmp_path):
    f = load(tmp_path, """
        def f(x):
            y = x * 2.0
            a, x[0] = 1.0, 2.0  # <-
            return np.sum(x * y) * a
        """)
    err = refusal(f, 0, Unsupported)
    path = file_of(f)
    # load() prepends 3 lines; then the blank line opening the string, `def`, `y = ...`
    assert err.lineno == 7 == marked_lineno(f)
    assert str(err) == (
        f"{path}:7:8: cannot differentiate an in-place assignment\n"
        "    a, x[0] = 1.0, 2.0  # <-\n"
        "       ^\n"
        "hint: s2s differentiates code without mutation; build a new array instead: "
        "x = np.where(mask, 0.0, x), or np.concatenate(...).")


def test_error_survives_pickling(tmp_path):
    import pickle

    f = load(tmp_path, """
        def f(x):
            y = np.cumsum(x)  # <-
            return np.sum(y)
        """)
    err = refusal(f, 0, NoRule)
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err)
    assert (copy.filename, copy.lineno, copy.col_offset, copy.line, copy.hint) == \
        (err.filename, err.lineno, err.col_offset, err.line, err.hint)
    assert str(copy) == str(err)
