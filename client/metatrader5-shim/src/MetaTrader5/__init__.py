"""``import MetaTrader5`` is MT Gateway's client, ``mtgateway``, in this environment.

This package (distribution ``mtgateway-metatrader5``) holds nothing else. Code written for the
``MetaTrader5`` package that cannot change its import -- a framework, an agent server, a
command line tool -- then runs on an MT Gateway daemon: the import gives the ``mtgateway``
module itself, not a copy, so there is one default client and one ``last_error()`` whichever
name a program uses, ``from MetaTrader5 import *`` gives exactly the client's names, and
``MetaTrader5.<submodule>`` (``MetaTrader5.aio``) is ``mtgateway.<submodule>``: loading a
second copy of the client's modules under this name would give two ``Tick`` classes that do
not recognise each other's records. ``MetaTrader5.__version__`` is the client's version and
``__author__`` ``'MT Gateway'``: they name what is installed (docs/client.md).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

try:
    import mtgateway
except ModuleNotFoundError as missing:
    if missing.name != "mtgateway":
        raise
    raise ImportError(
        "MetaTrader5 is MT Gateway's client in this environment (mtgateway-metatrader5), but "
        "the client is not installed: from MT Gateway's repository, "
        "pip install './client[numpy]' ./client/metatrader5-shim") from None
# What a type checker sees of this module (it reads this file, not the module it becomes); at
# run time the names are the client's, and the module itself is replaced below.
from mtgateway import *  # noqa: E402, F403
from mtgateway import __author__ as __author__  # noqa: E402
from mtgateway import __version__ as __version__  # noqa: E402

_NAME = __name__
_REAL = mtgateway.__name__


class _Submodules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``MetaTrader5.<name>`` as the module ``mtgateway.<name>`` (the same object)."""

    def find_spec(self, fullname: str, path: object = None, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_NAME + "."):
            return None
        if importlib.util.find_spec(_REAL + fullname[len(_NAME):]) is None:
            return None  # "No module named 'MetaTrader5.x'", as for any missing module
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(_REAL + spec.name[len(_NAME):])
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system has just given the module this alias's spec: it keeps its own.
        alias = module.__spec__
        assert alias is not None
        module.__spec__ = alias.loader_state


if not any(isinstance(finder, _Submodules) for finder in sys.meta_path):
    sys.meta_path.insert(0, _Submodules())
sys.modules[_NAME] = mtgateway
