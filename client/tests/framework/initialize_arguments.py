"""A program written for the ``MetaTrader5`` package, as such a program is written: it says
``import MetaTrader5`` itself and calls ``initialize()`` with the terminal's arguments.

The test runs it in a fresh virtual environment holding only the client and the
``mtgateway-metatrader5`` distribution, installed with docs/client.md's one command, against a
real daemon found through ``MTGATEWAY_URL``/``MTGATEWAY_TOKEN`` or ``MTGATEWAY_STATE_FILE``. The
account it names comes from ``ACCOUNT_LOGIN``/``ACCOUNT_SERVER``/``ACCOUNT_PASSWORD``. Each
step prints one line the test checks.
"""

import importlib.metadata
import os
import sys

import MetaTrader5 as mt5
from MetaTrader5 import *  # noqa: F403 - as programs written for the package do

LOGIN, SERVER = int(os.environ["ACCOUNT_LOGIN"]), os.environ["ACCOUNT_SERVER"]
PASSWORD = os.environ["ACCOUNT_PASSWORD"]

print("module:", mt5.__name__, mt5 is sys.modules["mtgateway"], mt5.__version__, mt5.__author__)
print("star import:", TIMEFRAME_H1, initialize is mt5.initialize, last_error is mt5.last_error)  # noqa: F405
try:
    importlib.metadata.version("MetaTrader5")
except importlib.metadata.PackageNotFoundError:
    print("distribution: no 'MetaTrader5';",
          "mtgateway-metatrader5", importlib.metadata.version("mtgateway-metatrader5"))
import MetaTrader5.records  # noqa: E402

print("submodule:", mt5.records is sys.modules["mtgateway.records"],
      sys.modules["MetaTrader5.records"] is sys.modules["mtgateway.records"],
      sys.modules["mtgateway.records"].__spec__.name)
try:
    import MetaTrader5._core  # noqa: F401 - the package's C extension: not here
except ModuleNotFoundError as missing:
    print("no module:", missing.name)

# The terminal's arguments: path and portable name a terminal64.exe to start (the daemon's
# terminal is the token's), the password is the account's (never sent), timeout the wait.
ok = mt5.initialize(r"C:\Program Files\MetaTrader 5\terminal64.exe", login=LOGIN,
                    password=PASSWORD, server=SERVER, timeout=10_000, portable=True)
print("initialize:", ok, mt5.last_error())
print("account:", mt5.account_info().login, mt5.account_info().server)
# Another account than the token's: as the package fails for an account that refuses it.
print("other login:", mt5.initialize(login=LOGIN + 1, password=PASSWORD, server=SERVER),
      mt5.last_error())
print("other server:", mt5.initialize(login=LOGIN, password=PASSWORD, server="Other-Server"),
      mt5.last_error())
print("login:", mt5.initialize(), mt5.login(LOGIN, PASSWORD, SERVER),
      mt5.login(LOGIN + 1, password=PASSWORD, server=SERVER), mt5.last_error())
mt5.shutdown()
print("after shutdown:", mt5.account_info(), mt5.last_error()[0])
