"""The module-level functions as type checkers see them: two stubs written from the table.

The module-level functions of ``mtgateway`` and ``mtgateway.aio`` are their default client's,
named at run time from the client's class (``functions.module_functions``), so the table
``calls.Functions`` is their one list: a function declared there is a module function, in
``__all__``, of both modules. Type checkers and IDEs do not run that code. They read the same
names from ``_module_functions.pyi`` and ``_aio_module_functions.pyi`` beside this file, which
this module writes from the same table::

    python -m mtgateway.stubs

A stub types each name as its default client's attribute (``copy_rates_range =
_default.copy_rates_range``), so the signature is still the table's declaration's (the
overloads of ``Function.__get__``). client/tests/test_api_surface.py holds the files equal to
what this module writes, so a stale stub fails a test that names this command.

Why a written stub: a type checker sees a module's names only where they are written at module
scope, and the table is a class, so each name must be written a second time somewhere. Written
by a program, it is written by no one: a hand-written list in ``__init__.py`` and another in
``aio.py``, each with its ``__all__``, were four copies of every name. A module ``__getattr__``
would type every function as its one return type (``Any``), and a mypy plugin runs in no IDE.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from . import constants
from .functions import module_function_names

__all__ = ["STUBS", "main", "stub"]

#: Each stub, beside this module, by the module of the client class whose default it types
#: and the class's name.
STUBS = {
    "_module_functions.pyi": ("client", "Client"),
    "_aio_module_functions.pyi": ("aio", "AsyncClient"),
}

_HEADER = '''\
# The module-level functions of mtgateway{dot_module} as type checkers see them: the default
# {cls}'s, each with the signature the table (calls.Functions) declares. Written by
# `python -m mtgateway.stubs` from the table; do not edit (client/tests/test_api_surface.py).
'''


def stub(cls: type) -> str:
    """The text of the stub of ``cls``'s module-level functions (``cls`` a client class), its
    ``__all__`` listing the package's constants after them: a type checker follows ``from
    mtgateway import *`` (``MetaTrader5``'s) by a written list, and not by ``__all__ +=
    constants.__all__`` (mypy took the functions only, and ``mt5.TIMEFRAME_M1`` was an error in
    a bot's IDE)."""
    names = module_function_names(cls)
    module = cls.__module__.removeprefix("mtgateway.")
    return "\n".join([
        _HEADER.format(dot_module="" if module == "client" else f".{module}", cls=cls.__name__),
        "# ruff: noqa: F403, F405 - the constants' names are constants.__all__, listed below",
        f"from .{module} import {cls.__name__}",
        "from .constants import *",
        "",
        "__all__: list[str] = [",
        *(f'    "{name}",' for name in names),
        "    # the package's constants (constants.__all__)",
        *(f'    "{name}",' for name in constants.__all__),
        "]",
        "",
        f"_default: {cls.__name__}",
        "",
        *(f"{name} = _default.{name}" for name in names),
        "",
    ])


def _client_class(module: str, name: str) -> type:
    cls: type = getattr(importlib.import_module(f"{__package__}.{module}"), name)
    return cls


def main() -> None:
    """Write both stubs beside this module."""
    for filename, (module, name) in STUBS.items():
        Path(__file__).with_name(filename).write_text(stub(_client_class(module, name)),
                                                      encoding="utf-8")


if __name__ == "__main__":
    main()
