"""The console application's typed keys (aiohttp's ``AppKey``): what its route modules read
from the application instead of closing over it.

``console.py`` composes the application and sets each; the console's door (``door/``) and its
entry points (``routes/``, ``mt4api/``, ``web/``) read them per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from mtgateway_base.edge import HeldRequests
from mtgateway_base.throttle import AuthThrottle

from .address import ConsoleAddress
from .fairshare import FairShare
from .keygate import KeyGate
from .metrics import ConsoleMetrics
from .readiness import Readiness
from .service import Authority
from .service.signin import OwnerSignIn

__all__ = ["AUTHORITY", "CLOCKS", "CONSOLE_ADDRESS", "CONSOLE_METRICS", "FAIR_SHARE", "KEY_GATE",
           "LONG_POLLS", "OWNER_SIGN_IN", "OWNER_THROTTLE", "PROOFS_OFF_LOOP", "READINESS",
           "Clocks"]


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
#: The fair-share rule (``fairshare.py``): what every caller shares and each one's
#: bound; the door, the password hashes, the database's lane and the rows ask it.
FAIR_SHARE: Final = web.AppKey("fair_share", FairShare)
#: The long-polls held, per device key and per address (``edge.HeldRequests``).
LONG_POLLS: Final = web.AppKey("long_polls", HeldRequests)
#: Proofs of device keys the authority does not know, bounded per peer and in all (``keygate``).
KEY_GATE: Final = web.AppKey("key_gate", KeyGate)
#: What ``/ready`` answers: the state a background check keeps (``readiness``).
READINESS: Final = web.AppKey("readiness", Readiness)
#: Whether device proofs are checked on the database door's workers with their replay row
#: (``[console] public_key_work = "workers"``; ``door/callers.device``).
PROOFS_OFF_LOOP: Final = web.AppKey("proofs_off_loop", bool)
