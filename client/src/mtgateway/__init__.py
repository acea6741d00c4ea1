"""MT Gateway's Python client: ``import mtgateway as mt5`` and keep your MetaTrader5 code.

The module-level functions are the ``MetaTrader5`` package's, with its signatures, constants,
named tuples and ``None`` + ``last_error()`` on failure, talking to an MT Gateway daemon over
its public JSON-RPC wire instead of to a local terminal::

    import mtgateway as mt5

    if not mt5.initialize(token="mtgw_...", url="http://127.0.0.1:8710"):
        raise SystemExit(mt5.last_error())
    print(mt5.account_info().balance)
    rates = mt5.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M1, 0, 50_000)  # numpy array

What differs, on purpose: ``initialize`` takes the gateway's ``token`` and ``url`` (or reads
``MTGATEWAY_TOKEN`` / ``MTGATEWAY_URL`` / ``MTGATEWAY_STATE_FILE``), and the token picks the
terminal; ``last_error()`` answers the package's ``RES_E_*`` codes with the gateway's own
code and error data kept (``.gateway_code``, ``.data``); ``order_send`` requests
carry a ``client_id`` (made for you when absent) that ``order_status`` reports on. The
functions act on one default :class:`Client`; make more ``Client`` objects for several
terminals. ``mtgateway.aio`` is the same API for asyncio, with tick and event streams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import constants
from ._version import __version__
from .client import Client, new_client_id
from .constants import *  # noqa: F403 - the package exports its constants at top level
from .errors import LastError, MtGatewayError
from .helpers import bind as _bind_helpers
from .records import (
    AccountInfo,
    BookInfo,
    OrderCheckResult,
    OrderSendResult,
    OrderStatus,
    ServerTime,
    SymbolInfo,
    TerminalInfo,
    Tick,
    TradeDeal,
    TradeOrder,
    TradePosition,
    TradeRequest,
)

__author__ = "MT Gateway"

#: The client the module-level functions use (the package keeps one connection per process
#: too). Nothing connects until ``initialize``.
_default = Client()

# The default client's functions are the module's: every function of the table
# ``calls.Functions``, then the client's own ``call``, named from the class
# (``functions.module_functions``), never written out here. Type checkers, which do not run
# that, read the same names with their signatures from the stub ``_module_functions.pyi``,
# written from the table by ``python -m mtgateway.stubs`` (why a stub: ``stubs.py``).
if TYPE_CHECKING:
    # The names, and the stub's __all__: mypy takes exports from a literal __all__ only.
    from ._module_functions import *  # noqa: F403 - the stub written from the table
    from ._module_functions import __all__ as __all__
else:
    from .functions import module_functions

    globals().update(module_functions(_default))
    __all__ = list(module_functions(_default))
    del module_functions

#: The package's Python helpers (``MetaTrader5/__init__.py``), over the default client.
#: ``_RawOrder`` stays out of ``__all__``: the package's module has none, so ``from
#: MetaTrader5 import *`` gives it no underscore name either.
Buy, Sell, Close, _RawOrder = _bind_helpers(_default)

# Extended in a form type checkers read (``+=`` a written list). A checker follows
# ``constants.__all__`` into no star import (``MetaTrader5``'s): the constants reach it
# through the stub's list, which ``stubs.py`` writes with them.
__all__ += [
    "AccountInfo",
    "Buy",
    "Close",
    "Sell",
    "BookInfo",
    "Client",
    "LastError",
    "MtGatewayError",
    "OrderCheckResult",
    "OrderSendResult",
    "OrderStatus",
    "ServerTime",
    "SymbolInfo",
    "TerminalInfo",
    "Tick",
    "TradeDeal",
    "TradeOrder",
    "TradePosition",
    "TradeRequest",
    "__version__",
    "new_client_id",
]
__all__ += constants.__all__

# No helper of this module's stays in dir(mtgateway): its names are the package's.
del TYPE_CHECKING
