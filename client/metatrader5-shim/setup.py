"""The version of ``mtgateway-metatrader5``: the client's, read from where it is written once.

In the repository that is ``client/src/mtgateway/_version.py``, beside this project. This
project's sdist cannot carry that file (it lies outside the project), so a build from the
sdist reads the version the sdist was made with, from its ``PKG-INFO``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
VERSION_FILE = HERE.parent / "src" / "mtgateway" / "_version.py"


def read_version() -> str:
    """The client's ``__version__`` literal, or the sdist's ``Version:``."""
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


setup(version=read_version())
