"""mt5-bridge's REST server started as its ``server`` command starts it, on a machine that is
not Windows.

Its ``mt5-bridge server`` command refuses any platform but ``win32``, and its handler module
imports ``MetaTrader5`` only there (``if sys.platform == 'win32': import MetaTrader5 as mt5``).
So this does what those lines do on Windows, and nothing else: binds the handler module's
``mt5`` to ``import MetaTrader5`` (the client, through the ``mtgateway-metatrader5``
distribution), gives the handler the account as ``--mt5-login/--mt5-password/--mt5-server``
would, and runs the package's own ``app`` with ``uvicorn.run(app, host=..., port=...)`` as the
command does. Arguments: HOST PORT LOGIN SERVER.
"""

from __future__ import annotations

import sys

import MetaTrader5
import mt5_bridge.mt5_handler
import uvicorn
from mt5_bridge.main import app, mt5_handler

mt5_bridge.mt5_handler.mt5 = MetaTrader5
host, port, login, server = sys.argv[1:5]
mt5_handler.login, mt5_handler.password, mt5_handler.server = int(login), "unused", server
uvicorn.run(app, host=host, port=int(port))
