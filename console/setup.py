"""The console's distribution (``mtgateway-console``): its version and its exact pins.

Everything else is declared in ``pyproject.toml``. The version is the one every distribution
of this repository is released at, read from where it is written once:
``client/src/mtgateway/_version.py``, beside this project in the repository; this project's
sdist cannot carry that file (it lies outside the project), so a build from the sdist reads
the version the sdist was made with, from its ``PKG-INFO``. Among the run-time dependencies it
adds ``mtgateway-base==<that version>`` (the ground floor: the wire contract the console and
the daemon share) and ``mtgateway-client==<that version>`` (the token's proofs): exact, so the
console never runs beside a ground floor of another release, and never resolves either from a
package index (neither name is ours on any index).
"""

from __future__ import annotations

import ast
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


VERSION = read_version()
TOOL = tomllib.loads((HERE / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
setup(version=VERSION, install_requires=[*TOOL["mtgateway-console"]["dependencies"],
                                         f"mtgateway-base=={VERSION}",
                                         f"mtgateway-client=={VERSION}"])
