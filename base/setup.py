"""The ground floor's distribution (``mtgateway-base``): its version, and its compiled build.

Everything else is declared in ``pyproject.toml``. The version is the one every distribution
of this repository is released at, read from where it is written once:
``client/src/mtgateway/_version.py``, beside this project in the repository. This project's
sdist cannot carry that file (it lies outside the project), so a build from the sdist reads
the version the sdist was made with, from its ``PKG-INFO`` (as the ``MetaTrader5`` shim does).
With ``MTGATEWAY_MYPYC=1`` the modules of ``[tool.mtgateway-base] compiled`` are built with
mypyc, as the daemon's are (the root's ``setup.py``).
"""

from __future__ import annotations

import ast
import os
import tomllib
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
VERSION_FILE = HERE.parent / "client" / "src" / "mtgateway" / "_version.py"


def read_version() -> str:
    """The ``__version__`` literal of the one version file, or the sdist's ``Version:``."""
    if VERSION_FILE.is_file():
        for node in ast.parse(VERSION_FILE.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets):
                value = node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    return value.value
        raise SystemExit(f"{VERSION_FILE}: no __version__ = '<literal>'")
    for line in (HERE / "PKG-INFO").read_text(encoding="utf-8").splitlines():
        if line.startswith("Version: "):
            return line.removeprefix("Version: ").strip()
    raise SystemExit(f"no {VERSION_FILE} and no Version in {HERE / 'PKG-INFO'}")


def compiled_modules() -> list[object]:
    """The mypyc extensions of ``[tool.mtgateway-base] compiled`` when ``MTGATEWAY_MYPYC=1``;
    none otherwise (the pure-Python build, the default)."""
    asked = os.environ.get("MTGATEWAY_MYPYC", "")
    if asked not in ("", "0", "1"):
        raise SystemExit(f"MTGATEWAY_MYPYC={asked!r}: set 1 for the compiled build, 0 or "
                         "nothing for the pure-Python one")
    if asked != "1":
        return []
    from mypyc.build import mypycify

    tool = tomllib.loads((HERE / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    relaxed = ["--ignore-missing-imports", "--allow-subclassing-any", "--no-warn-unused-ignores"]
    return list(mypycify([*relaxed, *tool["mtgateway-base"]["compiled"]], opt_level="3"))


setup(version=read_version(), ext_modules=compiled_modules())
