"""The console application's typed keys (aiohttp's ``AppKey``): what its route modules read
from the application instead of closing over it.

``console.py`` composes the application and sets each (the pages' error page is set by
``web.mount_pages``); the route modules (``routes/``) and the pages (``web/``) read them per
request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from ..base.edge import HeldRequests
from ..base.throttle import AuthThrottle
from .address import ConsoleAddress
from .keygate import KeyGate
from .metrics import ConsoleMetrics
from .readiness import Readiness
from .service import Authority
from .service.signin import OwnerSignIn

__all__ = ["AUTHORITY", "CLOCKS", "CONSOLE_ADDRESS", "CONSOLE_METRICS", "ERROR_PAGE", "KEY_GATE",
           "LONG_POLLS", "OWNER_SIGN_IN", "OWNER_THROTTLE", "PROOFS_OFF_LOOP", "READINESS",
           "Clocks", "ErrorPage"]


@dataclass(frozen=True, slots=True)
class Clocks:
    """The console's injected clock (tests move it)."""

    #: Epoch seconds: code lifetimes, the account lock, record times, the device-proof window.
    wall: Callable[[], float]


#: The running authority (opened at start-up).
AUTHORITY: Final = web.AppKey("authority", Authority)
CLOCKS: Final = web.AppKey("clocks", Clocks)
#: Where the console is: the address mailed links name, the names its hello signs for
#: (``address.py``; learns the bound port when the console starts).
CONSOLE_ADDRESS: Final = web.AppKey("console_address", ConsoleAddress)
#: The console's Prometheus metrics (``metrics.py``).
CONSOLE_METRICS: Final = web.AppKey("console_metrics", ConsoleMetrics)
#: The owner-credential throttle shared by the API's Basic auth and the pages' sign-in.
OWNER_THROTTLE: Final = web.AppKey("owner_throttle", AuthThrottle)
#: The one rule every door checks owner credentials by (``service/signin.py``), over the
#: throttle above.
OWNER_SIGN_IN: Final = web.AppKey("owner_sign_in", OwnerSignIn)
#: The long-polls held, per device key and per address (``edge.HeldRequests``).
LONG_POLLS: Final = web.AppKey("long_polls", HeldRequests)
#: Proofs of device keys the authority does not know, bounded per peer and in all (``keygate``).
KEY_GATE: Final = web.AppKey("key_gate", KeyGate)
#: What ``/ready`` answers: the state a background check keeps (``readiness``).
READINESS: Final = web.AppKey("readiness", Readiness)
#: Whether device proofs are checked on the database door's workers with their replay row
#: (``[console] public_key_work = "workers"``; ``routes/common.device``).
PROOFS_OFF_LOOP: Final = web.AppKey("proofs_off_loop", bool)

#: A friendly page for an error status answered to a person (not to the JSON API).
ErrorPage = Callable[[web.Request, int], Awaitable[web.StreamResponse]]
#: The pages' error page (set by ``web.mount_pages``): the error middleware
#: (``routes/common.errors``) answers a page's 404, 405 or 503 with it, without importing the
#: pages (the routes and the pages are rooms side by side).
ERROR_PAGE: Final = web.AppKey[ErrorPage]("error_page")
