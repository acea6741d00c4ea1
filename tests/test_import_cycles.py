"""No import circle among our packages: every module's imports, read from the source (those
under ``if TYPE_CHECKING:`` too, since a circle there still ties two modules together), form a
graph without a cycle. The directions between packages are pinned by import-linter
(``[tool.importlinter]`` in ``pyproject.toml``); this catches circles inside a package."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Each package and the directory that holds it (the client's, the ground floor's and
#: the console's are their own projects' src/).
PACKAGES = {"gateway": ROOT / "daemon" / "src", "ea_bridge": ROOT / "daemon" / "src",
            "mtgateway": ROOT / "client" / "src",
            "mt5model": ROOT / "daemon" / "src", "mtgateway_base": ROOT / "base" / "src",
            "mtgateway_console": ROOT / "console" / "src"}


def _modules(packages: Mapping[str, Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, base in packages.items():
        assert (base / package / "__init__.py").is_file(), f"no package {package} in {base}"
        for path in sorted((base / package).rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            bases = [alias.name for alias in node.names]
            names: list[str] = []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = name.split(".")
                anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            bases = [base]
            names = [alias.name for alias in node.names]
        else:
            continue
        for base in bases:
            # ``from pkg import mod`` names a module; ``from mod import thing`` names the module
            subs = [f"{base}.{n}" for n in names if f"{base}.{n}" in modules]
            if subs:
                targets.update(subs)
            if len(subs) < len(names) or not names:
                module = base
                while module and module not in modules:
                    module = module.rpartition(".")[0]
                if module:
                    targets.add(module)
    targets.discard(name)
    # a module's own package (and its ancestors) run first anyway: not an edge of interest
    return {t for t in targets if not name.startswith(t + ".")}


def find_cycles(packages: Mapping[str, Path] = PACKAGES) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan) among the modules of
    ``packages`` (each package and the directory that holds it), sorted."""
    modules = _modules(packages)
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return sorted(groups)


def test_the_checker_sees_a_circle(tmp_path: Path) -> None:
    """The checker itself finds a two-module circle (so an empty answer means something)."""
    pkg = tmp_path / "gateway"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "a.py").write_text("from .b import x\n", encoding="utf-8")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from gateway.a import y\n", encoding="utf-8")
    assert find_cycles({"gateway": tmp_path}) == [["gateway.a", "gateway.b"]]


def test_no_import_cycle() -> None:
    """No module of ours imports, directly or through others, a module that imports it."""
    assert find_cycles() == []
