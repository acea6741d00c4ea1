"""Whether the console can be composed into this process: the one check that it is installed.

Some commands run the console inside the daemon's process: local mode's embedded authority,
the demo, the operator's commands on the local authority, ``mtgateway setup`` pairing with it.
The daemon's distribution leaves the console out (its ``console`` extra brings it), for a
daemon whose console runs elsewhere needs none; so each of those commands asks here first and,
without the console, ends with :class:`~gateway.errors.ConsoleMissing`, which says what to
install, instead of an ``ImportError`` from deep inside.

The package is looked up, not imported: the daemon imports the console only in its
composition roots (the ``protected`` import contract in ``pyproject.toml``), and a command
that asks has not decided yet to compose it. A console that is installed but cannot be
imported (a dependency of its own missing) is not "not installed": its import fails loudly,
naming what is missing.
"""

from __future__ import annotations

import importlib.util
from typing import Final

from .errors import ConsoleMissing

__all__ = ["CONSOLE_PACKAGE", "console_installed", "require_console"]

#: The console's package (distribution ``mtgateway-console``).
CONSOLE_PACKAGE: Final = "mtgateway_console"


def console_installed() -> bool:
    """Whether the console's package is installed beside the daemon (found, not imported)."""
    return importlib.util.find_spec(CONSOLE_PACKAGE) is not None


def require_console(what: str) -> None:
    """Return when the console is installed, for ``what`` to compose it.

    Args:
        what: the command that needs it, as the user typed it (``"mtgateway demo"``).

    Raises:
        ConsoleMissing: the console is not installed; the message names ``what`` and what to
            install.
    """
    if not console_installed():
        raise ConsoleMissing(what)
