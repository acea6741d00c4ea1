"""One version: every distribution's, every exact pin between them and the code's, held equal.

The five distributions are released together (the workspace's own ``pyproject.toml``, never
released, says their number too). Each ``pyproject.toml`` declares the version
statically, the daemon and the console pin what they require of the others exactly, and the
client's ``_version.py`` writes it for the code (``mtgateway --version``, ``/health``,
``mtgateway.__version__``). ``deploy/version.py`` lists those places and rewrites them
(``python -m deploy.version X.Y.Z``); this file holds them equal, holds the list complete
against the tree, and runs the rewrite on a copy.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import tomllib
from pathlib import Path

import pytest

import mtgateway
from deploy import version as release
from gateway._version import __version__ as daemon_version

ROOT = Path(__file__).resolve().parents[1]
#: Never read for projects or code: this checkout's environments, caches and build litter.
_LITTER = {".venv", ".git", "build", "dist", "node_modules", ".mypy_cache", ".ruff_cache",
           ".pytest_cache", ".hypothesis", ".import_linter_cache", "__pycache__"}
#: Where our code lives, each package's tree read for a ``__version__`` of its own.
_CODE = ("daemon/src", "client/src", "client/metatrader5-shim/src",
         "base/src", "console/src")


def _ours(root: Path, suffix: str) -> list[Path]:
    """The files under ``root`` whose names end in ``suffix``, litter left unwalked."""
    found = []
    for parent, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _LITTER and not d.endswith(".egg-info")]
        found += [Path(parent) / f for f in files if f.endswith(suffix)]
    return sorted(found)


def _copy(into: Path) -> Path:
    """The files :mod:`deploy.version` reads, copied where they stand under ``into``."""
    for name in [f"{p}/pyproject.toml" for p in release.PROJECTS] + [release.LITERAL]:
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, into / name)
    return into


def test_every_place_says_one_version() -> None:
    """Each project's [project] version, each exact pin of one of ours and the code's literal
    agree; a failure names each place that differs and what it says."""
    found = release.places()
    assert release.odd_ones(found) == []
    assert len(found) == 6 + 6 + 1, found  # six projects (the workspace one), six pins, one literal
    assert set(found.values()) == {mtgateway.__version__}


def test_the_code_reports_that_version() -> None:
    """The client, the daemon (``/health``, ``mtgateway --version``) and the MetaTrader5 shim
    answer the declared version; it is a release's, X.Y.Z."""
    import MetaTrader5

    declared = release.places()["pyproject.toml [project] version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", declared), declared
    assert mtgateway.__version__ == daemon_version == MetaTrader5.__version__ == declared


def test_the_list_of_places_is_complete() -> None:
    """Every pyproject.toml of the tree is a project listed, no project's version is dynamic
    (read at build time by a helper), and the one ``__version__`` literal in our code is the
    one listed (the others import it)."""
    projects = {p.parent.relative_to(ROOT).as_posix() for p in _ours(ROOT, ".toml")
                if p.name == "pyproject.toml"}
    assert projects == set(release.PROJECTS), projects
    for project in release.PROJECTS:
        table = tomllib.loads((ROOT / project / "pyproject.toml").read_text(encoding="utf-8"))
        assert "dynamic" not in table["project"], project
    literals = []
    for top in _CODE:
        for path in _ours(ROOT / top, ".py"):
            text = path.read_text(encoding="utf-8")
            if "__version__" not in text:  # parsed only where it may be assigned
                continue
            for node in ast.walk(ast.parse(text)):
                targets = (node.targets if isinstance(node, ast.Assign)
                           else [node.target] if isinstance(node, ast.AnnAssign) else [])
                if "__version__" in {ast.unparse(t) for t in targets}:
                    literals.append(path.relative_to(ROOT).as_posix())
    assert literals == [release.LITERAL]


@pytest.mark.parametrize("name, old, new, odd", [
    ("console/pyproject.toml", 'version = "0.1.0"', 'version = "0.1.1"',
     "console/pyproject.toml [project] version says '0.1.1', the others '0.1.0'"),
    ("daemon/pyproject.toml", '"mtgateway-console[postgres]==0.1.0"',
     '"mtgateway-console[postgres]==0.2"',
     "daemon/pyproject.toml [postgres] mtgateway-console says '0.2', the others '0.1.0'"),
    ("pyproject.toml", 'version = "0.1.0"', 'version = "0.2.0"',
     "pyproject.toml [project] version says '0.2.0', the others '0.1.0'"),
    ("console/pyproject.toml", '"mtgateway-base==0.1.0"', '"mtgateway-base>=0.1.0"',
     "console/pyproject.toml dependencies mtgateway-base says '>=0.1.0', the others '0.1.0'"),
    ("client/src/mtgateway/_version.py", '__version__ = "0.1.0"', '__version__ = "0.1.0.dev1"',
     "client/src/mtgateway/_version.py __version__ says '0.1.0.dev1', the others '0.1.0'"),
])
def test_a_place_that_differs_is_named(tmp_path: Path, name: str, old: str, new: str,
                                       odd: str) -> None:
    """A copy of the files with one odd version (a project's, a pin in an extra, a pin that
    is not exact, the code's literal): the check names that place and what it says, and the
    command exits 1."""
    root = _copy(tmp_path)
    text = (root / name).read_text(encoding="utf-8")
    assert text.count(old.replace("0.1.0", mtgateway.__version__)) == 1
    (root / name).write_text(text.replace(old, new), encoding="utf-8")
    assert release.odd_ones(release.places(root)) == [odd]
    assert release.main([], root) == 1


def test_the_release_command_rewrites_every_place(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m deploy.version 1.2.3`` on a copy: every place says 1.2.3, only the version's
    lines changed, and the check passes; a word that is not a version is refused."""
    root = _copy(tmp_path)
    before = {name: (root / name).read_text(encoding="utf-8").splitlines()
              for name in [f"{p}/pyproject.toml" for p in release.PROJECTS] + [release.LITERAL]}
    assert release.main(["1.2.3"], root) == 0
    assert set(release.places(root).values()) == {"1.2.3"}
    assert capsys.readouterr().out.splitlines()[-1] == "1.2.3"
    changed = 0
    for name, lines in before.items():
        after = (root / name).read_text(encoding="utf-8").splitlines()
        assert len(after) == len(lines), name
        for old, new in zip(lines, after, strict=True):
            if old != new:
                changed += 1
                assert old.replace(mtgateway.__version__, "1.2.3") == new, (name, old, new)
    assert changed == 6 + 6 + 1  # six projects, six pins, one literal
    assert release.main(["one.two"], root) == 1
    assert set(release.places(root).values()) == {"1.2.3"}


def test_nothing_else_repeats_the_version() -> None:
    """What installs, builds or documents the projects names them by path, never by version:
    a file outside the list that wrote it would be left behind by a release."""
    for name in ("daemon/setup.py", "base/setup.py", "daemon/src/gateway/_version.py",
                 "deploy/Containerfile", ".ci/run", "README.md", "client/README.md"):
        assert mtgateway.__version__ not in (ROOT / name).read_text(encoding="utf-8"), \
            f"{name} writes the version again"
