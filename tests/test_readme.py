"""The README stays true: its first lines are the two commands, and the generated
source it shows is what s2s generates today."""

import re
import sys
from pathlib import Path

import s2s

ROOT = Path(__file__).resolve().parent.parent


def test_readme_opens_with_the_install_and_test_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```bash") + 1:lines.index("```bash") + 3]
    assert block[0].startswith("pip install -e . && python examples/quickstart.py")
    assert block[1].startswith("pip install -e '.[test]' && pytest")


def test_readme_shows_the_current_generated_source(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    sys.modules.pop("examples.logistic_regression", None)
    from examples.logistic_regression import loss
    source = s2s.grad(loss, wrt=("w", "b")).source
    generated = source[source.index("def loss_grad"):].rstrip("\n")
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"```python\n(def loss_grad.*?)\n```", readme, re.S).group(1)
    assert shown == generated


def test_readme_shows_a_generated_module_in_full():
    module = (ROOT / "generated" / "quickstart_grad.py").read_text().rstrip("\n")
    assert "```python\n" + module + "\n```" in (ROOT / "README.md").read_text()
