"""The ground floor's distribution (``mtgateway-base``): its compiled build.

Everything else, its version included, is declared in ``pyproject.toml``. With
``MTGATEWAY_MYPYC=1`` the modules of ``[tool.mtgateway-base] compiled`` are built with mypyc,
as the daemon's are (``daemon/setup.py``); without it the build is pure Python.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent


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


setup(ext_modules=compiled_modules())
