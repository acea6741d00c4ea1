"""Eleven more libraries and tools written for the ``MetaTrader5`` package trade on ``mtgateway``.

Installed in this environment as docs/client.md says (``third_party.txt``: pinned by hash,
without their ``MetaTrader5`` requirement; ``import MetaTrader5`` is the client through the
``mtgateway-metatrader5`` distribution), each runs its own trading cycle, unchanged
(``framework/bots_flows.py``), against one ``mtgateway demo`` shared by the module, the
libraries' cycles one after the other in one interpreter:

* **mas** 0.2.9 and **metatrader-ai** 1.2.2, on a live account and again after the owner
  switched it to paper trading on the console;
* **PythonMetaTrader5** 2.3.2 (``from MetaTrader5 import *``; pyautogui, which needs an X
  display, stands in by ``framework/stubs``: it is used only to press a key on a 10027);
* **pyta-trader** 0.1.0, whose ``initialize(path, login, passw, server)`` passes the
  terminal's parameters positionally (it failed before: ``(-2, 'Invalid number of
  arguments')``);
* **doubo** 1.1's command line;
* **contigion-metatrader** 1.0.5 and **mt5se** 0.2.42 on a netting demo: mt5se refuses
  hedging accounts and trades an exchange stock (the demo replays the last weekday's session,
  so its market is open whatever the day), and contigion closes by sending an opposite deal
  with the position as ``ticket``, which the package ignores: it assumes netting.
* **simplemt5** 0.1.0, **shawon-mt5-automation** 2.2.3 (a Flask webhook trading TradingView's
  signals), **crosstrade** 0.1.0 (its live broker adapter) and **twintradeai** 1.0.1 (its
  engine and execution), the four whose whole cycles ran in issue 88's review, on a live
  account and again on paper.

After each test the demo account is left flat.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import mtgateway
from client.tests.thirdpartykit import FRAMEWORK, flatten, package_environment, shim_problem
from mtgateway.aio import AsyncClient
from tests.e2e.fixtures import LOGIN, SERVER, WAIT_S, demo_process
from tests.e2e.paperkit import OwnerApi, switched

pytestmark = pytest.mark.not_on_windows("third-party")

#: The versions ``third_party.txt`` pins for this module.
PINNED = {"mas": "0.2.9", "metatrader-ai": "1.2.2", "mt5se": "0.2.42",
          "PythonMetaTrader5": "2.3.2", "contigion-metatrader": "1.0.5", "doubo": "1.1",
          "pyta-trader": "0.1.0", "simplemt5": "0.1.0", "shawon-mt5-automation": "2.2.3",
          "crosstrade": "0.1.0", "twintradeai": "1.0.1"}
FLOWS = FRAMEWORK / "bots_flows.py"
STUBS = FRAMEWORK / "stubs"


def last_weekday_session(now: datetime) -> str:
    """18:00 UTC on the last weekday before ``now``'s date: the demo replays it, so FX and the
    NASDAQ stock trade whatever day the tests run."""
    day = now.date() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return f"{day.isoformat()}T18:00:00Z"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One hedging `mtgateway demo` for the module; its state file."""
    state_file = tmp_path_factory.mktemp("bots-demo") / "demo.json"
    with demo_process(state_file):
        yield state_file


@pytest.fixture(autouse=True)
def flat_account(demo: Path) -> Iterator[None]:
    """The hedging demo's account with no position and no pending order after the test."""
    yield
    flatten(demo)


def run(argv: list[str | Path], state_file: Path, tmp_path: Path) -> tuple[str, str]:
    """``argv`` against the demo, in the environment of a program written for the package;
    its output and its error output, after checking it exited 0."""
    out = subprocess.run([str(a) for a in argv], cwd=tmp_path, capture_output=True,
                         env=package_environment(state_file, PYTHONPATH=str(STUBS),
                                                 MPLCONFIGDIR=str(tmp_path / "mpl")),
                         timeout=WAIT_S * 12)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    return out.stdout.decode(), out.stderr.decode()


def flows(state_file: Path, tmp_path: Path, *names: str) -> dict[str, list[str]]:
    """Run the named flows in one interpreter; each flow's lines (``step: value``), after
    checking none failed."""
    text, errors = run([sys.executable, FLOWS, *names], state_file, tmp_path)
    assert "FAILED" not in text and text.splitlines()[-1:] == ["done"], text + errors
    lines: dict[str, list[str]] = {name: [] for name in names}
    for line in text.splitlines():
        flow, _, rest = line.partition(" ")
        if flow in lines:
            lines[flow].append(rest)
    return lines


def holds(lines: list[str], *expected: str) -> None:
    assert [line for line in expected if line not in lines] == [], lines


def test_the_pinned_versions_are_installed_with_the_shim() -> None:
    assert shim_problem() is None, shim_problem()
    assert {name: version(name) for name in PINNED} == PINNED


MAS = ("login: True", "version: 500", f"account: {LOGIN}", "symbols: True", "bars: 3",
       "check: 0", "book: True", "bought: (True, 0.02)", "stops moved: (True, True)",
       "pending: (1, True, True)", "cancelled: (True, 0)", "closed: []",
       "history orders: True", "position deals: [0, 1]", "shutdown: None")
METATRADER_AI = ("open: True", f"account: {LOGIN}", "symbol: 2", "bars: 3",
                 "series: [True, True, True, True, True]", "pip value: True", "buy: True",
                 "sell: True", "positions: [0.01, 0.02]", "opened: True", "modified: True",
                 "limit: True", "order modified: True", "order deleted: (True, 0)",
                 "closed: [True, True]", "left: []")


def test_libraries_trade_their_cycles_on_a_live_account(demo: Path, tmp_path: Path) -> None:
    """mas, metatrader-ai, PythonMetaTrader5 and pyta-trader, each its cycle in one
    interpreter: reads, a market order with SL/TP, its stops moved, a pending order placed,
    modified and removed, the close, history; pyta-trader's positional ``initialize``."""
    lines = flows(demo, tmp_path, "mas", "metatrader-ai", "pythonmetatrader5", "pyta-trader")
    holds(lines["mas"], *MAS)
    holds(lines["metatrader-ai"], *METATRADER_AI)
    holds(lines["pythonmetatrader5"], "position: (10009, True, True)",
          "buy sell: (10009, 10009)", "positions: [(0, 0.01), (0, 0.02), (1, 0.01)]",
          "as dicts: [0.01, 0.01, 0.02]", "limits: [2, 3]", "cancelled: ()", "closed: ()")
    holds(lines["pyta-trader"], "init: (True, (1, 'Success'))",
          "chart: (True, 100, ['close', 'high', 'low', 'open'])", "update: True",
          "after: None")


SIMPLEMT5 = ("init: True", "data: (20, ['time', 'open', 'high', 'low', 'close'], True)",
             "account: (['balance', 'equity', 'margin', 'margin_free', 'margin_level', "
             "'profit'], True)",
             "opened: [('BUY', 0.01, 1000.0, -1000.0), ('SELL', 0.01, -1000.0, 1000.0)]",
             "held: [('simplemt5 buy', 12345, True, True), ('Simple Sell', 12345, True, True)]",
             "positions: True", "simple: [('BUY', 0.01), ('SELL', 0.01)]",
             "modified: (True, 3500.0)", "modified simple: (True, 4100.0)",
             "closed: (True, [])", "buy deals: True", "after: None")
SHAWON = ("no key: (401, {'message': 'API Key required', 'status': 'error'})",
          "wrong key: (403, {'message': 'Invalid API Key', 'status': 'error'})",
          "buy: (200, 'success', 'BUY order executed')",
          "bought: (0, 0.01, 'Webhook Trade', 123456)",
          "sell: (200, 'success', 'SELL order executed')", "sold: [(1, 0.01, 'Webhook Trade')]",
          "buy closed: [(0, 'Webhook Trade'), (1, 'Auto-close by webhook')]",
          "unknown signal: (400, {'message': 'Invalid signal', 'status': 'error'})",
          "close all: (True, ())", "shutdown: True")
CROSSTRADE = ("connect: None", "account: (True, True, True)",
              "bars: (300, ['timestamp', 'open', 'high', 'low', 'close', 'volume'], True)",
              "orders: (10009, 0.01, 10009, 0.01)",
              "buy held: (0, True, True, 'crosstrade', 234000)",
              "stops: [(0, True), (1, 0.0)]", "closed: ()",
              "buy deals: [(0, 'crosstrade'), (1, 'crosstrade close')]",
              "disconnect: (None, None)")
TWINTRADEAI = ("initialize: True", "bars: [(200, True), (200, True), (200, True)]",
               "signal: (True, True, True, True)",
               "placed: (True, [10009, 10009, 10009], [0.02, 0.01, 0.01])",
               "held: [('TwinTradeAi TP1', True, True), ('TwinTradeAi TP2', True, True), "
               "('TwinTradeAi TP3', True, True)]", "has position: True",
               "again: {'success': False, 'orders': [], 'reason': 'Duplicate position blocked'}",
               "modified: (10009, True)", "partial: (10009, 0.02)",
               "positions: [(0, 0.01, 'TwinTradeAi TP2'), (0, 0.01, 'TwinTradeAi TP3'), "
               "(0, 0.02, 'TwinTradeAi TP1'), (1, 0.02, 'TwinTradeAi Partial Close')]",
               "trailing: (4, True)", "left: ()")
#: Their flows (``framework/bots_flows.py``), what each must answer, and the magic number it
#: puts on its orders itself.
ROUND_EIGHT = {"simplemt5": (SIMPLEMT5, 12345), "shawon": (SHAWON, 123456),
               "crosstrade": (CROSSTRADE, 234000), "twintradeai": (TWINTRADEAI, 123456)}


def test_simplemt5_shawon_crosstrade_and_twintradeai_trade_their_cycles(demo: Path,
                                                                       tmp_path: Path) -> None:
    """simplemt5, shawon-mt5-automation, crosstrade and twintradeai, each its whole cycle in
    one interpreter: bars, the account, market orders with SL/TP, their stops moved, the
    positions read back, the closes and their deals; shawon's through its webhook."""
    lines = flows(demo, tmp_path, *ROUND_EIGHT)
    for name, (expected, _) in ROUND_EIGHT.items():
        holds(lines[name], *expected)


class Console:
    """The demo's owner on its console API (docs/authority.md), signed in."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.api = str(state["api_url"])
        self.password = str(state["owner_password"])
        form = urllib.parse.urlencode({"username": state["owner_email"],
                                       "password": self.password}).encode()
        signed_in = self._send("POST", "/auth/login", form)
        self.auth = {"Authorization": f"Bearer {signed_in['access_token']}"}

    def _send(self, method: str, path: str, body: bytes, **headers: str) -> Any:
        request = urllib.request.Request(self.api + path, data=body, method=method,
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=WAIT_S) as answer:
            return json.loads(answer.read() or b"null")

    def registered(self) -> bool:
        """Whether the demo's account is registered on the console."""
        try:
            self._send("GET", f"/users/{LOGIN}", b"", **self.auth)
        except urllib.error.HTTPError as refused:
            if refused.code == 404:
                return False
            raise
        return True

    def send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        return self._send(method, path, json.dumps(body).encode(),
                          **{"Content-Type": "application/json", **self.auth})


def paper(state_file: Path, on: bool) -> None:
    """Until the daemon says the demo's token trades on paper (or live): the switch reaches
    it by the revocation feed's push and shows only in its answers, asked again after each
    report of the daemon the owner's live page hears (:func:`tests.e2e.paperkit.switched`)."""
    state = json.loads(state_file.read_text(encoding="utf-8"))

    async def until_switched() -> None:
        async with aiohttp.ClientSession() as http, AsyncClient() as client:
            assert await client.initialize(state_file=state_file), client.last_error()
            owner = OwnerApi(http, state)
            try:
                await owner.sign_in()
                await switched(client, owner, paper=on)
            finally:
                await owner.close()
    asyncio.run(until_switched())


@contextmanager
def on_paper(state_file: Path) -> Iterator[None]:
    """The demo's account on paper, until the daemon trades it there: registered by its owner
    on the console's API with paper trading on (or, registered already by another test on
    this demo, switched to paper); switched back to live after, until the daemon trades it
    live. The module's other bots may have left live trades open (doubo's stay): paper starts
    over them, as an owner confirms it (without, 409 live_trades_open)."""
    console = Console(json.loads(state_file.read_text(encoding="utf-8")))
    if console.registered():
        console.send("PUT", f"/users/{LOGIN}", {"paper_trade_enabled": True,
                                                "owner_password": console.password,
                                                "confirm_live_open": True})
    else:
        console.send("POST", "/users/", {"name": "Demo paper", "broker": "MT Gateway",
                                         "login": LOGIN, "server": SERVER,
                                         "paper_trade_enabled": True, "max_lot_size": 1,
                                         "risk_pct": 1, "confirm_live_open": True})
    paper(state_file, True)
    try:
        yield
    finally:
        console.send("PUT", f"/users/{LOGIN}", {"paper_trade_enabled": False,
                                                "owner_password": console.password})
        paper(state_file, False)


def all_deals(state_file: Path) -> tuple[Any, ...]:
    """Every deal of the book the demo's token trades now."""
    with mtgateway.Client() as client:
        assert client.initialize(state_file=state_file), client.last_error()
        return client.history_deals_get(0, time.time() + 86_400) or ()


#: What runs on paper below: the flows, and the magic numbers their orders carry.
ON_PAPER = {"mas": (MAS, 4242), "metatrader-ai": (METATRADER_AI, 4242),
            **{name: flow for name, flow in ROUND_EIGHT.items() if name != "simplemt5"}}


def test_libraries_trade_their_cycles_on_a_paper_account(demo: Path, tmp_path: Path) -> None:
    """The owner switches the account to paper trading (the console's API); mas,
    metatrader-ai, shawon-mt5-automation, crosstrade and twintradeai run the same cycles,
    unchanged, and what they trade fills in the paper book (the live account's history has
    none of it); switched back to live."""
    live_deals = len(all_deals(demo))
    with on_paper(demo):
        lines = flows(demo, tmp_path, *ON_PAPER)
        for name, (expected, _) in ON_PAPER.items():
            holds(lines[name], *expected)
        deals = all_deals(demo)
        assert {d.magic for d in deals} >= {magic for _, magic in ON_PAPER.values()}
        assert all(d.paper for d in deals)
    assert len(all_deals(demo)) == live_deals


def test_simplemt5_trades_its_cycle_on_a_paper_account(demo: Path, tmp_path: Path) -> None:
    """simplemt5's cycle, as on the live account, on paper: its close's comment, "Close
    position #<ticket>", fits MT5's 31 characters with a paper ticket as with a live one (a
    16-digit paper ticket made it 32, which the package refuses)."""
    with on_paper(demo):
        holds(flows(demo, tmp_path, "simplemt5")["simplemt5"], *SIMPLEMT5)
        assert {d.paper for d in all_deals(demo)} == {True}


def test_doubo_places_a_buy_and_a_sell_from_its_command_line(demo: Path,
                                                            tmp_path: Path) -> None:
    """``doubo place SYMBOL VOLUME --sl --tp`` and its short form ``doubo p``: a buy and a sell
    each time, with their stops (in points) and comments."""
    command = Path(sys.executable).parent / "doubo"
    out, _ = run([command, "place", "BTCUSD", "0.01", "--sl", "100000", "--tp", "150000"],
                 demo, tmp_path)
    assert "Buy order placed with ticket" in out and "Done." in out, out
    out, _ = run([command, "p", "BTCUSD", "0.02", "--sl", "50000", "--tp", "80000"], demo,
                 tmp_path)
    assert "Done." in out, out
    with mtgateway.Client() as client:
        assert client.initialize(state_file=demo)
        placed = sorted((p.type, p.volume, round(abs(p.price_open - p.sl), 2),
                         p.comment.startswith("doubo@"))
                        for p in client.positions_get(symbol="BTCUSD") or ())
    # doubo sets the stops from the quote it read; the fill is at the quote the order meets,
    # which a tick in between moves (on a loaded machine: 500.46 for 500): within 5.0, the
    # stops are in points (100000 points: 1000.0), not in price (100000.0) or pips
    assert [(kind, volume, comment) for kind, volume, _, comment in placed] == [
        (0, 0.01, True), (0, 0.02, True), (1, 0.01, True), (1, 0.02, True)]
    assert all(abs(distance - expected) < 5.0 for (_, _, distance, _), expected
               in zip(placed, (1000.0, 500.0, 1000.0, 500.0), strict=True)), placed


def test_contigion_and_mt5se_trade_on_a_netting_account(tmp_path: Path) -> None:
    """contigion-metatrader (its close is an opposite deal) and mt5se (a stock bought, a buy
    limit placed and cancelled, sold back) on a netting demo replaying a weekday's session."""
    state_file = tmp_path / "netting.json"
    with demo_process(state_file, "--netting", "--start-time",
                      last_weekday_session(datetime.now(UTC))):
        lines = flows(state_file, tmp_path, "contigion", "mt5se")
        holds(lines["contigion"], "connect: None", "bars: 49", "symbols: True",
              "point: (0.01, True)", "long: (10009, True)", "short: 10009", "netted: 0.01",
              "stops: [10009, 10009, 10009]", "profit: 10.0", "closed: ()", "history: (2, 2)")
        holds(lines["mt5se"], "connect: True", f"account: ({LOGIN}, True)", "bars: (10, 30)",
              "shares: 0", "affordable: True", "check: True", "bought: (True, 1.0)",
              "positions: 1", "limit: (True, 1)", "cancelled: 0", "sold: (True, 0)",
              "deals: ['AAPL', 'AAPL']", "shutdown: True")
        flatten(state_file)
