"""The compiled build (``MTGATEWAY_MYPYC=1``, setup.py) and the pure one run the same source.

CI runs the whole suite on the pure-Python install, then builds the modules of
``[tool.mtgateway] compiled`` with mypyc in a copy of the tree and runs the tests of those
modules again there with ``MTGATEWAY_EXPECT_COMPILED=1`` (``.ci/run``). This file is what makes
each run say which build it tested: a compiled run whose modules silently stayed Python, or a
pure run that picked up stray extension modules, fails here.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _listed(project: Path, tool: str) -> list[str]:
    """A project's ``[tool.<tool>] compiled`` paths, relative to the repository's root."""
    table = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    return [(project / path).relative_to(ROOT).as_posix() for path in table[tool]["compiled"]]


#: The daemon's compiled modules and the ground floor's (its own distribution, built the same
#: way: base/setup.py).
COMPILED: list[str] = [*_listed(ROOT / "daemon", "mtgateway"),
                       *_listed(ROOT / "base", "mtgateway-base")]
EXPECT_COMPILED = os.environ.get("MTGATEWAY_EXPECT_COMPILED", "") == "1"


def module_of(path: str) -> str:
    return path.split("/src/", 1)[1].removesuffix(".py").replace("/", ".")


def test_every_listed_module_exists_and_is_one_of_the_packages() -> None:
    assert COMPILED, "[tool.mtgateway] compiled is empty"
    for path in COMPILED:
        assert (ROOT / path).is_file(), path
        assert module_of(path).split(".")[0] in {"gateway", "ea_bridge", "mtgateway_base"}, path


def test_the_listed_modules_are_loaded_as_this_run_expects() -> None:
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    loaded = {module_of(p): str(importlib.import_module(module_of(p)).__file__)
              for p in COMPILED}
    if EXPECT_COMPILED:
        python = sorted(name for name, file in loaded.items() if not file.endswith(suffixes))
        assert not python, f"expected compiled, loaded as Python: {python}"
    else:
        compiled = sorted(name for name, file in loaded.items() if file.endswith(suffixes))
        assert not compiled, f"a pure-Python run loaded extension modules: {compiled}"


def test_the_daemon_says_which_build_it_is() -> None:
    out = subprocess.run([sys.executable, "-m", "gateway", "--version"], cwd=Path.cwd(),
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("mtgateway "), out
    assert ("(compiled with mypyc)" in out) is EXPECT_COMPILED, out


def test_no_compiled_function_names_two_kinds_of_exception_alike() -> None:
    """``except A as exc`` then ``except B as exc`` in one function: CPython binds each; a
    compiled build gives ``exc`` the first clause's type and raises ``TypeError`` when the
    second is taken (the parse error of ``Dispatcher.handle``, an order's journal failures),
    so only the compiled run would see it, and only on that path."""
    found = []
    for path in COMPILED:
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            kinds: dict[str, set[str]] = {}
            for node in ast.walk(fn):
                if isinstance(node, ast.ExceptHandler) and node.name and node.type:
                    kinds.setdefault(node.name, set()).add(ast.unparse(node.type))
            found += [f"{path}: {fn.name}: {name} {sorted(types)}"
                      for name, types in kinds.items() if len(types) > 1]
    assert not found, found


def test_a_build_flag_that_is_not_0_or_1_is_refused() -> None:
    """``MTGATEWAY_MYPYC=true`` would otherwise build pure Python without a word."""
    env = {**os.environ, "MTGATEWAY_MYPYC": "true"}
    for project in (ROOT / "daemon", ROOT / "base"):
        done = subprocess.run([sys.executable, "setup.py", "--version"], cwd=project, env=env,
                              capture_output=True, text=True)
        assert done.returncode != 0
        assert "MTGATEWAY_MYPYC='true': set 1 for the compiled build" in done.stderr


def test_the_objects_of_every_rpc_call_are_built_by_a_compiled_init() -> None:
    # A dataclass's generated __init__ (a frozen one's above all: each field set through
    # object.__setattr__) is Python code made at import, interpreted even in the compiled
    # build: ~0.3 us a construction there against ~0.03 us for one written in the class. The
    # classes built for every /rpc call write theirs.
    from ea_bridge.connection import ResponseReceived
    from ea_bridge.messages import Response
    from mtgateway_base.httpedge import EdgeRequest

    generated = [cls.__name__ for cls in (EdgeRequest, Response, ResponseReceived)
                 if getattr(getattr(cls.__init__, "__code__", None), "co_filename", "")
                 == "<string>"]
    assert generated == []
    request = EdgeRequest()  # and the defaults are fresh for each request
    request.hosts.append(b"h")
    request.body += b"x"
    assert EdgeRequest().hosts == [] and EdgeRequest().body == bytearray()
    assert Response(3, {"a": 1}) == Response(3, {"a": 1}) != Response(4, {"a": 1})
