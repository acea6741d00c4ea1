"""The commands' environment variables, read through one door so a renamed one keeps working.

Release 0.1.0 gave every variable the client's prefix, ``MTGATEWAY_``: ``MTGW_CONFIG``,
``MTGW_TOKEN``, ``MTGW_OWNER_PASSWORD`` and ``MTGW_OWNER_EMAIL`` were renamed. Scripts and
service files that still set an old name would otherwise break silently (``owner create``
asking for a password it was given), so for one more release the old name is read, with a
WARNING naming the new one; when both are set the new one wins (and the old one is reported as
ignored). The next minor release drops :data:`RENAMED`.

It lives on the ground floor because every reader of a renamed variable may import it: the
emulator (``ea_bridge`` imports nothing of ``gateway``), the daemon's commands and the
console's. Only names are logged, never values (they hold passwords).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["RENAMED", "read_env"]

log = logging.getLogger(__name__)

#: Each current name and the name it had before (read, with a warning, for one release).
RENAMED: Final[Mapping[str, str]] = MappingProxyType({
    "MTGATEWAY_CONFIG": "MTGW_CONFIG",
    "MTGATEWAY_TOKEN": "MTGW_TOKEN",
    "MTGATEWAY_OWNER_PASSWORD": "MTGW_OWNER_PASSWORD",
    "MTGATEWAY_OWNER_EMAIL": "MTGW_OWNER_EMAIL",
})

#: Old names already warned about in this process (a command may read one several times).
_warned: set[str] = set()


def read_env(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """``name``'s value, else its old name's (:data:`RENAMED`) with a deprecation warning;
    None when neither is set (an empty value is a value, as ``os.environ.get`` has it)."""
    env = os.environ if environ is None else environ
    value = env.get(name)
    old = RENAMED.get(name)
    if old is None or old not in env:
        return value
    if old not in _warned:
        _warned.add(old)
        if value is None:
            log.warning("%s is deprecated and read for this release only: set %s instead",
                        old, name)
        else:
            log.warning("%s is set and ignored: %s (its new name) is set too and wins; "
                        "unset %s", old, name, old)
    return env[old] if value is None else value
