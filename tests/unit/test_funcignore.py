"""The package builder applies .funcignore with Core Tools' rules, not git's."""
from __future__ import annotations

from pathlib import Path

import pytest

from devtools.package import FuncIgnore, package_files

RULES = """
# a comment, then blank lines

docs
/bench
*.md
**/__pycache__
.git*
!docs/openapi.json
"""


@pytest.mark.parametrize(
    "path,shipped",
    [
        ("function_app.py", True),
        ("docs/architecture.md", False),
        ("docs/openapi.json", True),  # a matching `!` line wins, even inside an excluded folder
        ("docsite/index.html", False),  # a pattern is a prefix of the path, not a whole name
        ("bench/fleet.py", False),  # a leading `/` is dropped
        ("README.md", False),
        ("shared/README.md", True),  # `*` never crosses `/`, and patterns start at the root
        ("shared/__pycache__/a.pyc", False),
        ("__pycache__/a.pyc", True),  # `**` needs at least one character
        (".gitignore", False),
        (".git", True),  # `.git*` needs a character after `.git`
        ("# a comment", True),
    ],
)
def test_core_tools_matching(path: str, shipped: bool):
    assert FuncIgnore.parse(RULES).accepts(path) is shipped


def test_always_left_out_whatever_the_rules_say(tmp_path: Path):
    names = ("app.py", "local.settings.json", "sub/local.settings.json", ".git/config", "sub/.vscode/x", ".funcignore")
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / ".funcignore").write_text("!local.settings.json\n")
    assert package_files(tmp_path) == ["app.py"]
