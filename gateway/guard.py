"""The daemon's connection guard: the edge module it shares with the console
(:mod:`gateway.authority.guard`, issue 16 F6), with the daemon's own refusal answers.

The guard is written once, under ``gateway.authority`` (the console may import nothing else of
``gateway``); the daemon's parts import it from here. What is the daemon's: the 421 and 503
answers come from the one error table (``errors.py``), as every other refusal of the daemon
does, and the body deadline stays in the handlers (408 from ``http_rpc``, ``rest`` and
``client_auth``), so the daemon's limits (``app.py``) leave the guard's own body deadline off.
"""

from __future__ import annotations

from typing import Final

from .authority.guard import (
    ConnectionBudget,
    ConnectionLimits,
    GuardedProtocol,
    GuardedSite,
    HeaderWatch,
    ParsesRequests,
    Refusals,
)
from .errors import MISDIRECTED, TOO_MANY_CONNECTIONS

__all__ = ["DAEMON_REFUSALS", "ConnectionBudget", "ConnectionLimits", "GuardedProtocol",
           "GuardedSite", "HeaderWatch", "ParsesRequests", "Refusals"]

#: The guard's answers in the daemon's error shape (the one table, ``errors.py``).
DAEMON_REFUSALS: Final = Refusals(misdirected=MISDIRECTED.raw(),
                                  busy=TOO_MANY_CONNECTIONS.raw())

