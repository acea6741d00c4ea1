"""mt5cli 1.7.1's command line, as its README uses it, on ``mtgateway`` as ``MetaTrader5``.

mt5cli exports MetaTrader 5 data to CSV, JSON and SQLite and sends and closes orders, on
pdmt5; it is installed as its README says, beside the ``mtgateway-metatrader5`` distribution
(``import MetaTrader5`` is the client), and connects with the account from ``MT5_LOGIN``,
``MT5_SERVER`` and ``MT5_PASSWORD``, as its README's "credentials from env" line does (the
password is never sent anywhere); ``initialize()`` finds the demo through
``MTGATEWAY_STATE_FILE``. Each command runs through mt5cli's own Typer application, in this one
interpreter (typer's ``CliRunner``: the command line parsed and run as ``mt5cli`` runs it,
without a new interpreter and a new pandas import for each), and what it wrote is read back.
BTCUSD, which the emulated terminal trades every day; times are the trade server's wall clock
(the demo's is UTC), as mt5cli requires.

Each step prints one line the test checks; a command that fails ends the run.
"""

import json
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mt5cli
import pandas as pd
from mt5cli.cli import app
from typer.testing import CliRunner

SYMBOL = "BTCUSD"
runner = CliRunner()


def mt5cli_run(*args: str) -> None:
    """``mt5cli ARGS``, which must exit 0."""
    result = runner.invoke(app, list(args), catch_exceptions=False)
    if result.exit_code != 0:
        sys.exit(f"mt5cli {' '.join(args)} exited {result.exit_code}:\n{result.output}")


def rows(path: str, table: str = "data") -> pd.DataFrame:
    """What a command wrote: a CSV or JSON file, or a table of an SQLite file."""
    if path.endswith(".csv"):
        return (pd.read_csv(path) if Path(path).read_text(encoding="utf-8").strip()
                else pd.DataFrame())
    if path.endswith(".json"):
        return pd.DataFrame(json.loads(Path(path).read_text(encoding="utf-8")))
    with sqlite3.connect(path) as db:
        return pd.read_sql_query(f"SELECT * FROM {table}", db)


print("mt5cli", mt5cli.__version__)
now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)  # the demo's server: UTC
since, until = (now - timedelta(hours=2)).isoformat(), (now + timedelta(hours=1)).isoformat()

mt5cli_run("-o", "account.csv", "account-info")
account = rows("account.csv")
print("account:", list(account["login"]), list(account["server"]), list(account["currency"]))
mt5cli_run("-o", "terminal.json", "terminal-info")
print("terminal connected:", list(rows("terminal.json")["connected"]))
mt5cli_run("-o", "version.csv", "version")
print("version columns:", list(rows("version.csv").columns))
mt5cli_run("-o", "data.db", "--table", "symbols", "symbols", "--group", "*USD*")
print("symbols:", SYMBOL in set(rows("data.db", "symbols")["name"]))
mt5cli_run("-o", "symbol.csv", "symbol-info", "--symbol", SYMBOL)
info = rows("symbol.csv")
print("symbol info:", list(info["name"]), list(info["digits"]))
mt5cli_run("-o", "tick.csv", "symbol-info-tick", "--symbol", SYMBOL)
tick = rows("tick.csv")
print("tick:", bool((tick["ask"] >= tick["bid"]).all()))
mt5cli_run("-o", "rates.csv", "rates-from-pos", "--symbol", SYMBOL, "--timeframe", "M1",
           "--start-pos", "0", "--count", "100")
print("rates:", len(rows("rates.csv")), list(rows("rates.csv").columns)[:5])
mt5cli_run("-o", "ticks.json", "ticks-range", "--symbol", SYMBOL, "--date-from",
           (now - timedelta(minutes=10)).isoformat(), "--date-to", now.isoformat(),
           "--flags", "ALL")
print("ticks:", len(rows("ticks.json")) > 0)
mt5cli_run("-o", "margins.csv", "minimum-margins", "--symbol", SYMBOL)
print("minimum margins:", bool((rows("margins.csv").filter(like="margin") > 0).all().all()))

volume = float(info["volume_min"][0])
request = json.dumps({"action": 1, "symbol": SYMBOL, "volume": volume, "type": 0,
                      "type_time": 0, "comment": "mt5cli"})
mt5cli_run("-o", "check.json", "order-check", "--request", request)
print("order check:", list(rows("check.json")["retcode"]))
mt5cli_run("-o", "sent.json", "order-send", "--yes", "--request", request)
sent = rows("sent.json")
print("order send:", list(sent["retcode"]))
mt5cli_run("-o", "positions.csv", "positions", "--symbol", SYMBOL)
print("positions:", list(rows("positions.csv")["comment"]))
mt5cli_run("-o", "snapshot.db", "snapshot")
with sqlite3.connect("snapshot.db") as db:
    tables = sorted(name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'"))
print("snapshot tables:", len(tables) >= 4)
mt5cli_run("-o", "dry.csv", "close-positions", "--symbol", SYMBOL, "--dry-run")
print("close dry run:", list(rows("dry.csv")["dry_run"]))
mt5cli_run("-o", "closed.csv", "close-positions", "--symbol", SYMBOL, "--yes")
closed = rows("closed.csv")
print("closed:", list(closed["status"]), list(closed["retcode"]))
mt5cli_run("-o", "left.csv", "positions", "--symbol", SYMBOL)
print("positions left:", len(rows("left.csv")))
mt5cli_run("-o", "deals.csv", "history-deals", "--date-from", since, "--date-to", until,
           "--symbol", SYMBOL)
deals = rows("deals.csv")
print("history deals:", set(deals["position_id"]) >= set(sent["order"]))
mt5cli_run("-o", "history.db", "collect-history", "--symbol", SYMBOL, "--date-from", since,
           "--date-to", until, "--dataset", "rates", "--dataset", "history-deals")
with sqlite3.connect("history.db") as db:
    print("collected:", db.execute("SELECT count(*) FROM history_deals").fetchone()[0] >= 2,
          db.execute("SELECT count(*) FROM rates").fetchone()[0] > 0)
print("done")
