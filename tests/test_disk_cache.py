"""The on-disk cache of generated source: a new process reads a derivative instead of
deriving it; entries that are corrupt or made for other inputs are regenerated;
a cache directory that cannot be written is ignored; the cached derivative is the
one a fresh derivation gives."""

import importlib.util
import itertools
import json
import linecache
import os
import subprocess
import sys
import textwrap
import threading
import traceback

import numpy as np
import pytest

import s2s
import s2s.api
import s2s.cache
import s2s.forward

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_counter = itertools.count()

MODEL = """
import numpy as np

SCALE = 0.5
OFFSET = np.array([0.1, -0.2, 0.3, 0.4])


def helper(z, power=2.0):
    return np.tanh(z) ** power


def loss(w, b, x):
    h = helper(x @ w + b) * SCALE
    return np.sum(h * OFFSET)
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache directory of this test, and an empty in-process memo."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("S2S_CACHE_DIR", str(directory))
    monkeypatch.delenv("S2S_NO_DISK_CACHE", raising=False)
    s2s.cache._MEMO.clear()
    yield directory
    s2s.cache._MEMO.clear()


@pytest.fixture
def derivations(monkeypatch):
    """Counts the derivations s2s runs (reverse and forward mode)."""
    calls = []
    derive, forward = s2s.api.derive, s2s.forward.forward

    def counted(real):
        def run(*args, **kwargs):
            calls.append(real.__name__)
            return real(*args, **kwargs)
        return run
    monkeypatch.setattr(s2s.api, "derive", counted(derive))
    monkeypatch.setattr(s2s.forward, "forward", counted(forward))
    return calls


def no_derivation(monkeypatch):
    """From now on, deriving anything fails the test."""
    def boom(*args, **kwargs):
        raise AssertionError("derived instead of reading the disk cache")
    monkeypatch.setattr(s2s.api, "derive", boom)
    monkeypatch.setattr(s2s.api, "module", boom)
    monkeypatch.setattr(s2s.forward, "forward", boom)


def new_process():
    """What a new process starts with: nothing memoised in memory."""
    s2s.cache._MEMO.clear()


def write_module(path, text):
    """Import the module `text` written to `path` under a new module name."""
    path.write_text(textwrap.dedent(text))
    name = f"s2s_disk_cache_test_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def entries(directory):
    return sorted(p for p in directory.glob("*.json")) if directory.exists() else []


def args():
    rng = np.random.default_rng(0)
    return rng.standard_normal(3), 0.2, rng.standard_normal((4, 3))


def test_a_second_process_reads_the_derivative_without_deriving(cache, tmp_path,
                                                               monkeypatch):
    m = write_module(tmp_path / "model.py", MODEL)
    fresh = s2s.grad(m.loss, wrt=("w", "b"))
    assert len(entries(cache)) == 1
    new_process()
    no_derivation(monkeypatch)
    cached = s2s.grad(m.loss, wrt=("w", "b"))
    assert cached is not fresh
    assert cached.source == fresh.source
    assert cached.__name__ == fresh.__name__ and cached.s2s_origin == fresh.s2s_origin
    assert cached.__doc__ == fresh.__doc__
    for a, b in zip(cached(*args()), fresh(*args())):
        np.testing.assert_array_equal(a, b)


def test_a_new_import_of_the_same_file_reads_the_cache(cache, tmp_path, monkeypatch):
    fresh = s2s.grad(write_module(tmp_path / "model.py", MODEL).loss)
    no_derivation(monkeypatch)
    again = write_module(tmp_path / "model.py", MODEL).loss  # a new function object
    assert s2s.grad(again).source == fresh.source


KINDS = {
    "grad": lambda f: s2s.grad(f, wrt=("w", "b")),
    "value_and_grad": lambda f: s2s.value_and_grad(f, wrt="w"),
    "vjp": lambda f: s2s.vjp(f, wrt="w"),
    "jvp": lambda f: s2s.jvp(f, wrt="w"),
    "jacobian": lambda f: s2s.jacobian(f, wrt="w", mode="forward"),
    "hessian": lambda f: s2s.hessian(f, wrt="w"),
    "hvp": lambda f: s2s.hvp(f, wrt="w"),
}


def call(kind, d):
    w, b, x = args()
    if kind == "vjp":
        return d(w, b, x, 1.5)
    if kind in ("jvp", "hvp"):
        return d(w, b, x, np.array([1.0, -0.5, 2.0]))
    return d(w, b, x)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_from_the_cache_is_the_fresh_derivative(cache, tmp_path, monkeypatch,
                                                           kind):
    m = write_module(tmp_path / "model.py", MODEL)
    fresh = KINDS[kind](m.loss)
    expected = call(kind, fresh)
    new_process()
    no_derivation(monkeypatch)
    cached = KINDS[kind](m.loss)
    assert cached.source == fresh.source
    np.testing.assert_equal(call(kind, cached), expected)


def test_the_cached_source_equals_a_fresh_derivation_without_the_cache(cache, tmp_path,
                                                                       monkeypatch):
    m = write_module(tmp_path / "model.py", MODEL)
    s2s.grad(m.loss, wrt=("w", "b"))
    new_process()
    cached = s2s.grad(m.loss, wrt=("w", "b")).source
    new_process()
    monkeypatch.setenv("S2S_NO_DISK_CACHE", "1")
    assert s2s.grad(m.loss, wrt=("w", "b")).source == cached


def test_tracebacks_show_the_generated_lines_of_a_cached_derivative(cache, tmp_path):
    m = write_module(tmp_path / "model.py", MODEL)
    s2s.grad(m.loss)
    new_process()
    g = s2s.grad(m.loss)
    with pytest.raises(ValueError) as info:
        g(np.ones(3), 0.2, np.ones((4, 5)))  # shapes that do not fit
    frame = [f for f in traceback.extract_tb(info.tb) if f.filename.startswith("<s2s")][-1]
    line = linecache.getline(frame.filename, frame.lineno)
    assert line.strip() and line in g.source


def test_a_real_second_process_reads_the_cache(cache, tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    script = textwrap.dedent("""
        import sys
        import s2s, s2s.api
        sys.path.insert(0, sys.argv[1])
        import model
        if sys.argv[2] == "warm":
            def boom(*args, **kwargs):
                raise AssertionError("derived")
            s2s.api.derive = s2s.api.module = boom
        sys.stdout.write(s2s.grad(model.loss, wrt=("w", "b")).source)
    """)
    env = dict(os.environ, S2S_CACHE_DIR=str(cache), PYTHONPATH=ROOT)
    env.pop("S2S_NO_DISK_CACHE", None)

    def run(mode):
        r = subprocess.run([sys.executable, "-c", script, str(tmp_path), mode],
                           cwd=tmp_path, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stdout
    cold = run("cold")
    assert len(entries(cache)) == 1
    assert run("warm") == cold


def corrupt_garbage(path):
    path.write_bytes(b"\x00\xff garbage \x80" * 10)


def corrupt_truncated(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def corrupt_wrong_key(path):
    entry = json.loads(path.read_text())
    entry["key"]["ir"] = "0" * 64
    entry["source"] = entry["source"].replace("return", "return -1 *")
    path.write_text(json.dumps(entry))


def corrupt_source(path):
    entry = json.loads(path.read_text())
    entry["source"] = entry["source"].replace("def ", "def def ", 1)
    path.write_text(json.dumps(entry))


def corrupt_missing_function(path):
    entry = json.loads(path.read_text())
    entry["name"] = "nothing_of_that_name"
    path.write_text(json.dumps(entry))


def corrupt_namespace(path):
    entry = json.loads(path.read_text())
    entry["namespace"] = entry["namespace"] + ["NOT_A_GLOBAL_OF_THE_FUNCTION"]
    path.write_text(json.dumps(entry))


def corrupt_not_an_object(path):
    path.write_text("[1, 2, 3]")


def corrupt_empty(path):
    path.write_bytes(b"")


@pytest.mark.parametrize("corrupt", [corrupt_garbage, corrupt_truncated, corrupt_wrong_key,
                                     corrupt_source, corrupt_missing_function,
                                     corrupt_namespace, corrupt_not_an_object,
                                     corrupt_empty], ids=lambda c: c.__name__[8:])
def test_a_corrupt_entry_is_regenerated_and_overwritten(cache, tmp_path, monkeypatch,
                                                        derivations, corrupt):
    m = write_module(tmp_path / "model.py", MODEL)
    fresh = s2s.grad(m.loss, wrt=("w", "b"))
    (path,) = entries(cache)
    good = path.read_bytes()
    corrupt(path)
    new_process()
    derivations.clear()
    again = s2s.grad(m.loss, wrt=("w", "b"))
    assert derivations == ["derive"]
    assert again.source == fresh.source
    assert path.read_bytes() == good  # overwritten with the fresh entry
    new_process()
    no_derivation(monkeypatch)
    assert s2s.grad(m.loss, wrt=("w", "b")).source == fresh.source


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_a_cache_directory_that_cannot_be_written_is_ignored(tmp_path, monkeypatch,
                                                             derivations, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    monkeypatch.setenv("S2S_CACHE_DIR", str(blocker if where == "a file" else blocker / "s2s"))
    monkeypatch.delenv("S2S_NO_DISK_CACHE", raising=False)
    new_process()
    m = write_module(tmp_path / "model.py", MODEL)
    g = s2s.grad(m.loss)
    new_process()
    assert s2s.grad(m.loss).source == g.source
    assert derivations == ["derive", "derive"]
    assert blocker.read_text() == "not a directory"


def test_a_failing_write_leaves_no_temporary_file(cache, tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(s2s.cache.os, "replace", full)
    m = write_module(tmp_path / "model.py", MODEL)
    g = s2s.grad(m.loss)
    assert "def loss_grad" in g.source
    assert os.listdir(cache) == []


def test_an_unreadable_entry_is_ignored(cache, tmp_path, monkeypatch, derivations):
    m = write_module(tmp_path / "model.py", MODEL)
    s2s.grad(m.loss)
    real_open = open

    def failing(path, *args, **kwargs):
        if str(path).startswith(str(cache)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr("builtins.open", failing)
    new_process()
    s2s.grad(m.loss)
    assert derivations == ["derive", "derive"]


def test_editing_the_function_derives_again(cache, tmp_path, derivations):
    path = tmp_path / "model.py"
    first = s2s.grad(write_module(path, MODEL).loss)
    edited = MODEL.replace("return np.sum(h * OFFSET)", "return np.sum(h * OFFSET * h)")
    second = s2s.grad(write_module(path, edited).loss)
    assert derivations == ["derive", "derive"]
    assert second.source != first.source and "OFFSET * h" in second.source
    assert len(entries(cache)) == 2


@pytest.mark.parametrize("old, new", [
    ("SCALE = 0.5", "SCALE = 0.25"),                       # a number written into the code
    ("0.3, 0.4]", "0.3, 0.7]"),                            # an array the code reads
    ("np.tanh(z) ** power", "np.sin(z) ** power"),        # a function it calls
    ("power=2.0", "power=3.0"),                            # a default of that function
])
def test_editing_what_the_function_reads_derives_again(cache, tmp_path, monkeypatch,
                                                       derivations, old, new):
    path = tmp_path / "model.py"
    assert old in MODEL
    first = s2s.grad(write_module(path, MODEL).loss)
    m = write_module(path, MODEL.replace(old, new))
    second = s2s.grad(m.loss)
    assert derivations == ["derive", "derive"]
    if "0.7" not in new:  # the array is read at run time: the text stays the same
        assert second.source != first.source
    new_process()
    monkeypatch.setenv("S2S_NO_DISK_CACHE", "1")
    fresh = s2s.grad(m.loss)
    assert fresh.source == second.source
    np.testing.assert_array_equal(second(*args()), fresh(*args()))


def test_a_closure_over_a_different_value_is_a_different_entry(cache, tmp_path,
                                                               derivations):
    m = write_module(tmp_path / "closures.py", """
        import numpy as np

        def make(scale):
            def f(x):
                return np.sum(np.sin(x) * scale)
            return f
    """)
    x = np.array([0.1, 0.2])
    assert np.allclose(s2s.grad(m.make(2.0))(x), 2.0 * np.cos(x))
    assert np.allclose(s2s.grad(m.make(3.0))(x), 3.0 * np.cos(x))
    assert derivations == ["derive", "derive"]
    assert len(entries(cache)) == 2


def test_different_wrt_and_kinds_are_different_entries(cache, tmp_path):
    m = write_module(tmp_path / "model.py", MODEL)
    sources = {s2s.grad(m.loss, wrt="w").source, s2s.grad(m.loss, wrt="b").source,
               s2s.grad(m.loss, wrt=("w",)).source, s2s.value_and_grad(m.loss).source}
    assert len(sources) == 4
    assert len(entries(cache)) == 4
    s2s.grad(m.loss, wrt=0)  # wrt=0 is wrt="w": the same derivative, the same entry
    assert len(entries(cache)) == 4


def test_the_working_directory_is_part_of_the_key(cache, tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    m = write_module(tmp_path / "sub" / "model.py", MODEL)
    monkeypatch.chdir(tmp_path)
    here = s2s.grad(m.loss).source
    new_process()
    monkeypatch.chdir(tmp_path / "sub")
    there = s2s.grad(m.loss).source
    assert "sub/model.py" in here and "sub/model.py" not in there


@pytest.mark.parametrize("setting", [{"S2S_NO_DISK_CACHE": "1"}, {"S2S_CACHE_DIR": ""}])
def test_the_disk_cache_can_be_disabled(tmp_path, monkeypatch, setting):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("S2S_CACHE_DIR", str(tmp_path / "cache"))
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    new_process()
    assert s2s.cache.cache_dir() is None
    s2s.grad(write_module(tmp_path / "model.py", MODEL).loss)
    assert not [p for p in tmp_path.rglob("*.json")]


def test_the_default_location(tmp_path, monkeypatch):
    monkeypatch.delenv("S2S_CACHE_DIR", raising=False)
    monkeypatch.delenv("S2S_NO_DISK_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert s2s.cache.cache_dir() == tmp_path / ".cache" / "s2s"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert s2s.cache.cache_dir() == tmp_path / "xdg" / "s2s"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert s2s.cache.cache_dir() == tmp_path / ".cache" / "s2s"


def test_clear_cache_empties_memory_and_disk(cache, tmp_path, derivations):
    m = write_module(tmp_path / "model.py", MODEL)
    s2s.grad(m.loss)
    s2s.grad(m.loss, wrt="b")
    (cache / "unrelated.txt").write_text("kept")
    assert s2s.clear_cache() == 2
    assert entries(cache) == [] and (cache / "unrelated.txt").exists()
    s2s.grad(m.loss)
    assert derivations == ["derive", "derive", "derive"]


def test_concurrent_writers_of_one_entry_leave_a_whole_entry(cache, tmp_path):
    m = write_module(tmp_path / "model.py", MODEL)
    fresh = s2s.grad(m.loss)
    (path,) = entries(cache)
    good = path.read_bytes()
    entry = s2s.cache._Entry.make(m.loss, s2s.api.to_ir(m.loss),
                                  (("w",), True, "grad"))
    assert entry.path == path
    namespace = s2s.cache._namespace(entry.functions, json.loads(good)["namespace"])
    seen = []

    def write():
        for _ in range(20):
            entry.write(fresh.source, "loss_grad", namespace)

    def read():
        for _ in range(200):
            seen.append(entry.read())
    threads = [threading.Thread(target=write) for _ in range(4)] + \
        [threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert path.read_bytes() == good
    assert all(s is not None and s[0] == fresh.source for s in seen)
    assert os.listdir(cache) == [path.name]


def test_values_s2s_cannot_describe_are_not_cached(cache, tmp_path, derivations):
    m = write_module(tmp_path / "objects.py", """
        import numpy as np

        TABLE = np.array([1.0, 2.0], dtype=object)

        def f(x):
            return np.sum(np.sin(x)) + 0.0 * np.sum(TABLE)
    """)
    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(s2s.grad(m.f)(x), np.cos(x))
    assert entries(cache) == []  # derived every time instead
