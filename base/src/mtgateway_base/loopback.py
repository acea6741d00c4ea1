"""Whether a host names this machine only: the test behind every loopback rule of both processes.

The daemon's HTTP and bridge binds, the console's bind, the ``Host`` header check, the metrics
endpoint's remote check and the plain-``http`` authority URL all ask it, so it is written once
for the daemon and the authority. ``ea_bridge`` keeps its own (``ea_bridge.is_loopback``, the
bridge's bind rule): that package imports nothing of ``gateway`` and stands alone, and
``tests/test_shared_facts.py`` holds the two to the same answers.
"""

from __future__ import annotations

import ipaddress
from typing import Final

__all__ = ["is_loopback"]

#: The names a loopback host is almost always given by, answered without parsing an address.
_LOOPBACK_LITERALS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) names this machine only: the one test
    behind every "loopback unless insecure_allow_non_loopback" rule (daemon, console, the
    ``Host`` header check, which runs on every request: hence the literal fast path)."""
    if host in _LOOPBACK_LITERALS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
