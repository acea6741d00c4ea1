"""The daemon's distribution (``mtgateway``): its version, its exact pins and its extras.

Everything else is declared in ``pyproject.toml``. What this file adds is what a static
``[project]`` table cannot say: the version, read from the one place it is written --
``client/src/mtgateway/_version.py``, the client's own (every distribution of this repository
is released together) -- and, among the run-time dependencies, ``mtgateway-base==<that
version>`` (the ground floor the daemon and the console share, ``base/``) and
``mtgateway-client==<that version>``: exact pins, so the daemon never runs beside a ground floor
or a client of another release, and never resolves them from a package index (``docs/
client.md``, "Installing": the names are not ours on any index, so a looser requirement could
install someone else's code). The extras ``console`` and ``postgres`` pin the console
(``console/``, ``mtgateway-console``) the same way. The rest of the dependencies are
``[tool.mtgateway] dependencies`` in ``pyproject.toml``, with their reasons, and the other
extras ``[tool.mtgateway.extras]``.
"""

from __future__ import annotations

import ast
import os
import tomllib
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
#: The one version source (the client's project directory, inside this repository and inside
#: this distribution's sdist: MANIFEST.in).
VERSION_FILE = HERE / "client" / "src" / "mtgateway" / "_version.py"


def read_version(path: Path) -> str:
    """The string literal assigned to ``__version__`` in ``path``, read without importing."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets):
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return value.value
    raise SystemExit(f"{path}: no __version__ = '<literal>'")


VERSION = read_version(VERSION_FILE)
TOOL = tomllib.loads((HERE / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mtgateway"]
DEPENDENCIES = TOOL["dependencies"]
#: What composes the console into the daemon's process (local mode, the demo, the operator's
#: commands), and the demo's SMTP sink; and a local authority on PostgreSQL.
EXTRAS = {**TOOL["extras"],
          "console": [f"mtgateway-console=={VERSION}", "aiosmtpd>=1.4"],
          "postgres": [f"mtgateway-console[postgres]=={VERSION}"]}


def compiled_modules() -> list[object]:
    """The mypyc extensions of ``[tool.mtgateway] compiled`` when ``MTGATEWAY_MYPYC=1``; none
    otherwise (the pure-Python build, the default)."""
    asked = os.environ.get("MTGATEWAY_MYPYC", "")
    if asked not in ("", "0", "1"):  # "true" or "yes" would otherwise build pure, silently
        raise SystemExit(f"MTGATEWAY_MYPYC={asked!r}: set 1 for the compiled build, 0 or "
                         "nothing for the pure-Python one")
    if asked != "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        raise SystemExit("MTGATEWAY_MYPYC=1 compiles with mypyc, which comes with mypy: "
                         "install it (the compiled extra), then build with pip install "
                         "--no-build-isolation "
                         "(docs/operations.md, \"The compiled build\")") from None
    # mypyc type-checks what the modules import with the project's strict settings; the
    # optional extras (psycopg, numpy) may be absent where the daemon is built, and are then
    # read as untyped, not refused
    relaxed = ["--ignore-missing-imports", "--allow-subclassing-any", "--no-warn-unused-ignores"]
    return list(mypycify([*relaxed, *TOOL["compiled"]], opt_level="3"))


setup(version=VERSION, install_requires=[*DEPENDENCIES, f"mtgateway-base=={VERSION}",
                                         f"mtgateway-client=={VERSION}"],
      extras_require=EXTRAS, ext_modules=compiled_modules())
