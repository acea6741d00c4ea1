"""The test tree's layout: no test module imports another test module.

A test module that imports another one runs that module's import-time work, couples two
files that look independent (a renamed helper in one breaks the other), and re-exported
fixtures (``from tests.x.test_y import fixture as fixture  # noqa``) hide where a fixture comes
from. What tests share lives in a helpers module whose name does not start with ``test_``
(``tests/testkit.py``, ``tests/e2e/clocks.py``, ...) or, for a fixture, in the ``conftest.py``
above the tests that use it. The imports are read from the source with :mod:`ast` (those inside
functions too), so a reformatted import cannot slip past.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _is_test_module(path: Path) -> bool:
    """What pytest collects by default (``python_files``: ``test_*.py``, ``*_test.py``)."""
    return path.suffix == ".py" and (path.name.startswith("test_") or path.stem.endswith("_test"))


def _module_name(path: Path, top: Path) -> str:
    parts = list(path.relative_to(top).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _targets(node: ast.Import | ast.ImportFrom, name: str, is_package: bool) -> set[str]:
    """Every dotted name the import could load as a module: each named module, its parents,
    and for ``from base import n`` also ``base.n`` (``n`` may be a submodule)."""
    if isinstance(node, ast.Import):
        bases = [alias.name for alias in node.names]
        names: list[str] = []
    else:
        if node.level:
            anchor = name.split(".")
            anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
            base = ".".join(anchor + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        bases = [base]
        names = [alias.name for alias in node.names]
    found: set[str] = set()
    for base in bases:
        parts = base.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        found.update(f"{base}.{n}" for n in names)
    return found


def imports_of_test_modules(*roots: Path, top: Path | None = None) -> list[str]:
    """Each ``file:line imports module`` where a file under ``roots`` imports a test module;
    modules are named from ``top`` (the folder above the first root unless given: the
    workspace's root, where each distribution's tests are ``<dist>.tests``)."""
    top = top or roots[0].parent
    files = sorted(path for root in roots for path in root.rglob("*.py"))
    test_modules = {_module_name(path, top) for path in files if _is_test_module(path)}
    found: list[str] = []
    for path in files:
        name = _module_name(path, top)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in sorted(_targets(node, name, path.name == "__init__.py") & test_modules):
                found.append(f"{path.relative_to(top).as_posix()}:{node.lineno} imports {target}")
    return found


def test_the_checker_sees_every_form_of_import(tmp_path: Path) -> None:
    """Absolute, relative, ``from package import test_module``, inside a function, and a test
    module importing itself are all found; a helpers module and a conftest are not test modules."""
    root = tmp_path / "tests"
    (root / "e2e").mkdir(parents=True)
    (root / "__init__.py").write_text("", encoding="utf-8")
    (root / "e2e" / "__init__.py").write_text("", encoding="utf-8")
    (root / "kit.py").write_text("X = 1\n", encoding="utf-8")
    (root / "e2e" / "conftest.py").write_text("from tests.kit import X\n", encoding="utf-8")
    (root / "e2e" / "test_a.py").write_text("from tests.kit import X\nA = X\n", encoding="utf-8")
    (root / "e2e" / "test_b.py").write_text(
        "from tests.e2e.test_a import A\n"
        "from tests.e2e import test_a\n"
        "from . import test_a as again\n"
        "def f() -> None:\n"
        "    import tests.e2e.test_a\n", encoding="utf-8")
    (root / "e2e" / "test_c.py").write_text("from .test_a import A\nimport tests.e2e.test_c\n",
                                            encoding="utf-8")
    (root / "e2e" / "helper.py").write_text("from ..e2e.test_b import f\n", encoding="utf-8")
    assert imports_of_test_modules(root) == [
        "tests/e2e/helper.py:1 imports tests.e2e.test_b",
        "tests/e2e/test_b.py:1 imports tests.e2e.test_a",
        "tests/e2e/test_b.py:2 imports tests.e2e.test_a",
        "tests/e2e/test_b.py:3 imports tests.e2e.test_a",
        "tests/e2e/test_b.py:5 imports tests.e2e.test_a",
        "tests/e2e/test_c.py:1 imports tests.e2e.test_a",
        "tests/e2e/test_c.py:2 imports tests.e2e.test_c",
    ]


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in a helpers module or a conftest.py, never in a test module: in the
    workspace's tests and in each distribution's."""
    workspace = TESTS.parent
    roots = [TESTS, *(workspace / dist / "tests" for dist in ("base", "client", "console",
                                                              "daemon"))]
    assert all(root.is_dir() for root in roots), roots
    assert imports_of_test_modules(*roots, top=workspace) == []


#: The workspace's distributions, each with its tests in ``<dist>/tests`` (the package
#: ``<dist>.tests``).
DISTRIBUTIONS = ("base", "client", "console", "daemon")


def imports_of_other_distributions_tests(workspace: Path) -> list[str]:
    """Each ``file:line imports module`` where a distribution's test code imports another
    distribution's tests, so ``pytest <dist>`` would need a folder it does not run. What two
    distributions' tests share is a kit of the workspace (``tests/``)."""
    found: list[str] = []
    for dist in DISTRIBUTIONS:
        others = tuple(f"{other}.tests" for other in DISTRIBUTIONS if other != dist)
        for path in sorted((workspace / dist / "tests").rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    if name in others or name.startswith(tuple(f"{o}." for o in others)):
                        found.append(f"{path.relative_to(workspace).as_posix()}:{node.lineno} "
                                     f"imports {name}")
    return found


def test_the_checker_finds_one_distributions_tests_importing_anothers(tmp_path: Path) -> None:
    """A client test that imports the daemon's test kit is found; one that imports the
    workspace's kit, or its own distribution's, is not."""
    for dist in DISTRIBUTIONS:
        (tmp_path / dist / "tests").mkdir(parents=True)
    (tmp_path / "client" / "tests" / "test_a.py").write_text(
        "from tests.e2e.fixtures import WAIT_S\n"
        "from client.tests.kit import K\n"
        "from daemon.tests.ea_mql.kit.mqlref import reference_file\n"
        "def f() -> None:\n"
        "    import console.tests.dbkit\n", encoding="utf-8")
    assert imports_of_other_distributions_tests(tmp_path) == [
        "client/tests/test_a.py:3 imports daemon.tests.ea_mql.kit.mqlref",
        "client/tests/test_a.py:5 imports console.tests.dbkit",
    ]


def test_each_distributions_tests_stand_on_their_own_and_the_workspace_kits() -> None:
    """``pytest base``, ``pytest client``, ``pytest console`` and ``pytest daemon`` each run a
    distribution's tests alone: none imports another distribution's tests."""
    assert imports_of_other_distributions_tests(TESTS.parent) == []
