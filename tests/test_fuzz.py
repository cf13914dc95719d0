"""Random programs (tests/fuzz.py) through grad, jvp, jacobian and hessian: no wrong
number, no crash.  Refusals are allowed.  A failing seed is investigated with

    python -m tests.fuzz --seed SEED --count 1 --max-statements 6 --out DIR

which checks it again and writes the failing program, shrunk, to DIR.
"""

import pytest

import fuzz

FIRST_SEED, COUNT, MAX_STATEMENTS = 0, 30, 6

# Known failures, each to be fixed in s2s (then its xfail turns into an XPASS, which
# fails the run: remove the entry).  None at the moment.
KNOWN = {}


def _seeds():
    for seed in range(FIRST_SEED, FIRST_SEED + COUNT):
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN[seed])] if seed in KNOWN else []
        yield pytest.param(seed, marks=marks, id=f"seed{seed}")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("seed", _seeds())
def test_random_program(seed, workdir):
    program = fuzz.generate(seed, MAX_STATEMENTS)
    result = fuzz.check(program, directory=workdir, timeout=60)
    assert not result.invalid, f"the generator made a program f cannot run: {result.invalid}"
    assert not result.failures, "\n\n".join(
        [program.source] + [f"{f.mode} wrt {f.wrt}: {f.kind} {f.check}\n{f.message}\n{f.detail}"
                            for f in result.failures])
