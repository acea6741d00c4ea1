"""The daemon's distribution (``mtgateway``): its compiled build.

Everything else, its version and its exact pins included, is declared in ``pyproject.toml``.
What a static ``[project]`` table cannot say is whether to compile: with
``MTGATEWAY_MYPYC=1`` the modules of ``[tool.mtgateway] compiled`` are built with mypyc
(docs/operations.md, "The compiled build"); without it the build is pure Python.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent


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
    tool = tomllib.loads((HERE / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    # mypyc type-checks what the modules import with the project's strict settings; the
    # optional extras (psycopg, numpy) may be absent where the daemon is built, and are then
    # read as untyped, not refused
    relaxed = ["--ignore-missing-imports", "--allow-subclassing-any", "--no-warn-unused-ignores"]
    return list(mypycify([*relaxed, *tool["mtgateway"]["compiled"]], opt_level="3"))


setup(ext_modules=compiled_modules())
