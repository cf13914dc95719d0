import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True, scope="session")
def s2s_environment(tmp_path_factory):
    """s2s's on-disk cache lives in a directory of this test session, never in the
    user's home; subprocesses the tests start inherit it, and import s2s from this
    checkout (not from wherever an installed s2s points)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("S2S_CACHE_DIR", str(tmp_path_factory.mktemp("s2s-cache")))
        patch.setenv("PYTHONPATH", os.pathsep.join(
            [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        yield
