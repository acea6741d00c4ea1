"""Agent servers written for the ``MetaTrader5`` package trade on ``mtgateway``, unchanged,
driven over their own protocols as an agent host or a client program drives them.

Servers nobody here wrote, each spawned by its own command from an environment made on first
use (``third_party_agents.txt``, and ``third_party_agents_fastmcp3.txt`` for those on FastMCP
3 / mcp 1.30: every file pinned by hash, the client and the ``mtgateway-metatrader5``
distribution standing in for ``MetaTrader5``, as docs/client.md says), against one ``mtgateway
demo`` shared by the module. Each trades a cycle on BTCUSD (it trades every day) through its
own tools: a market order, its stops modified, part of it closed, a pending order placed,
modified and cancelled, the position closed, the history read. Where a server has no tool for a
step, its test says so. Over stdio MCP (``mcpkit.py``):

* **meta-trader-mcp** 1.2.2 (``serve --mode windows-native --enable-trading``), and a refusal
  by the account's risk policy reaching it as a refusal with its reason;
* **metatrader5-mcp** 1.0.0 (its raw ``mt5_order_send`` tool, as its docs tell an agent);
* **mcp-metatrader5-server** 0.1.7 (``mt5mcp``: its request model has no ``position`` or
  ``order``, so it cannot modify, close or cancel; its history tools pass ``symbol=``, which
  the package answers ``None`` and the tool shows as ``[]``);
* **mt5-mcp-server** 0.6.1 (``metatrader-mcp-server --transport stdio``; no partial close);
* **yugen-mt5-mcp** 1.0.3 (its allow-list and live-trading switch set by its variables);
* **mt5-trading-mcp** 1.6.1 (``python -m mt5_mcp serve``, its consent layer in full-open mode);
* **mt5-mcp** 0.6.3 (``mt5-mcp``, read-only: queries and its Python sandbox);
* **mt5-bridge** 1.9.0's MCP server, over its REST server.

And over their own wire: **mt5-bridge**'s REST API through its client, and
**mt5-grpc-server** 0.2.1's gRPC services.

After each test the demo account is left flat, so one server's failure cannot become another's.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

import mtgateway
from client.tests.mcpkit import McpServer, ToolAnswer
from client.tests.thirdpartykit import (
    FRAMEWORK,
    agents_fastmcp3_python,
    agents_python,
    apart,
    flatten,
    package_environment,
    versions_in,
)
from tests.e2e.fixtures import LOGIN, SERVER, WAIT_S, demo_process

pytestmark = [
    pytest.mark.not_on_windows("third-party"),
    # the first test makes the servers' environment from the package index (minutes on a cold
    # machine), beyond the suite's 60 s per test; each tool call is bounded by the host
    pytest.mark.timeout(900),
]

#: The versions ``third_party_agents.txt`` pins.
PINNED = {"meta-trader-mcp": "1.2.2", "metatrader5-mcp": "1.0.0",
          "mcp-metatrader5-server": "0.1.7", "mt5-mcp-server": "0.6.1",
          "yugen-mt5-mcp": "1.0.3", "mt5-bridge": "1.9.0", "mt5-grpc-server": "0.2.1"}
#: The versions ``third_party_agents_fastmcp3.txt`` pins.
PINNED_FASTMCP3 = {"mt5-mcp": "0.6.3", "fastmcp-slim": "3.4.11", "mcp": "1.30.0"}
SYMBOL = "BTCUSD"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One `mtgateway demo` process on free ports for the module; its state file."""
    state_file = tmp_path_factory.mktemp("agent-servers-demo") / "demo.json"
    with demo_process(state_file):
        yield state_file


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    """The agent servers' environment's scripts directory, the environment made on first use
    (a few minutes from the package index on a cold machine)."""
    python = agents_python(Path(sys.prefix) / "test-environments")
    assert versions_in(python, *PINNED) == PINNED
    return python.parent


@pytest.fixture(scope="module")
def fastmcp3_bin() -> Path:
    """The scripts directory of the environment of the servers on FastMCP 3 / mcp 1.30."""
    python = agents_fastmcp3_python(Path(sys.prefix) / "test-environments")
    assert versions_in(python, *PINNED_FASTMCP3) == PINNED_FASTMCP3
    return python.parent


@pytest.fixture(autouse=True)
def flat_account(demo: Path) -> Iterator[None]:
    """The demo account with no position and no pending order after the test."""
    yield
    flatten(demo)


def serve(argv: list[str | Path], demo: Path, tmp_path: Path, **env: str) -> McpServer:
    """The server ``argv`` as an agent host starts it, in the environment of a program
    written for the package (``initialize()`` finds the demo)."""
    return McpServer(argv, env=package_environment(demo, **env), cwd=tmp_path,
                     timeout_s=WAIT_S * 6)


def ok(answer: ToolAnswer) -> Any:
    """The answer's data, after checking it reports no failure in any of the servers' ways:
    the protocol's ``isError``, ``{"error": true}``, ``{"success": false}``, a status of
    FAILED or ERROR."""
    assert not answer.is_error, answer.text
    data = answer.data
    if isinstance(data, dict):
        assert data.get("error") not in (True,) and data.get("success") is not False, data
        assert str(data.get("status", "")).upper() not in ("FAILED", "ERROR"), data
    return data


def quote() -> tuple[float, float]:
    """BTCUSD's bid and ask now, read through the client."""
    tick = mtgateway.symbol_info_tick(SYMBOL)
    assert tick is not None, mtgateway.last_error()
    return tick.bid, tick.ask


def account(demo: Path) -> mtgateway.Client:
    client = mtgateway.Client()
    assert client.initialize(state_file=demo), client.last_error()
    return client


def test_the_pinned_versions_are_installed(bin_dir: Path) -> None:
    """The servers are the pinned releases, each with its command."""
    for command in ("meta-trader-mcp", "metatrader5-mcp", "mt5mcp", "metatrader-mcp-server",
                    "yugen-mt5-mcp"):
        assert (bin_dir / command).is_file(), command


def test_meta_trader_mcp_trades_a_cycle(demo: Path, tmp_path: Path, bin_dir: Path) -> None:
    """meta-trader-mcp 1.2.2: a market buy, SL/TP, a partial close, a buy limit placed
    (reported SUCCESS: its test is retcode 10009), modified and cancelled, the close, the
    position's deals in its history."""
    assert mtgateway.initialize(state_file=demo)
    argv = [bin_dir / "meta-trader-mcp", "serve", "--mode", "windows-native",
            "--enable-trading"]
    with serve(argv, demo, tmp_path) as server, account(demo) as client:
        assert len(server.tools) > 100
        assert ok(server.call("get_account_info"))["login"] == LOGIN
        bid, ask = quote()
        bought = ok(server.call("place_market_order", symbol=SYMBOL, volume=0.02, action="BUY"))
        ticket = bought["ticket"]
        ok(server.call("modify_position", ticket=ticket, sl=round(bid * 0.95, 2),
                       tp=round(ask * 1.05, 2)))
        ok(server.call("close_position", ticket=ticket, volume=0.01))
        (position,) = client.positions_get(ticket=ticket) or ()
        assert (position.volume, position.sl) == (0.01, round(bid * 0.95, 2))
        placed = ok(server.call("place_pending_order", symbol=SYMBOL, volume=0.01,
                                action="BUY", price=round(ask * 0.9, 2), order_type="LIMIT"))
        ok(server.call("modify_pending_order", ticket=placed["ticket"],
                       price=round(ask * 0.89, 2), sl=round(ask * 0.85, 2)))
        (order,) = client.orders_get(ticket=placed["ticket"]) or ()
        assert order.price_open == round(ask * 0.89, 2)
        ok(server.call("cancel_pending_order", ticket=placed["ticket"]))
        ok(server.call("close_position", ticket=ticket))
        assert client.positions_get(symbol=SYMBOL) == () and client.orders_get() == ()
        deals = ok(server.call("get_deals_history", days=2))
        assert len([d for d in deals if d["position_id"] == ticket]) == 3, deals
    mtgateway.shutdown()


def test_metatrader5_mcp_trades_a_cycle_with_raw_requests(demo: Path, tmp_path: Path,
                                                         bin_dir: Path) -> None:
    """metatrader5-mcp 1.0.0's ``mt5_order_send`` as its docs tell an agent: a market buy with
    magic and comment, SL/TP, a partial close, a buy limit placed, modified and removed, the
    close; the position's deals by ``position``."""
    assert mtgateway.initialize(state_file=demo)
    argv = [bin_dir / "metatrader5-mcp", "--login", str(LOGIN), "--password", "unused",
            "--server", SERVER]
    with serve(argv, demo, tmp_path) as server:
        bid, ask = quote()
        sent = ok(server.call("mt5_order_send", params={
            "action": 1, "symbol": SYMBOL, "volume": 0.02, "type": 0, "price": ask,
            "deviation": 20, "magic": 777, "comment": "mcp buy", "type_filling": 1}))
        assert sent["retcode"] == 10009, sent
        position = sent["order"]
        sltp = ok(server.call("mt5_order_send", params={
            "action": 6, "symbol": SYMBOL, "position": position,
            "sl": round(bid * 0.95, 2), "tp": round(ask * 1.05, 2)}))
        part = ok(server.call("mt5_order_send", params={
            "action": 1, "symbol": SYMBOL, "volume": 0.01, "type": 1, "position": position,
            "price": bid, "deviation": 20, "type_filling": 1}))
        (held,) = ok(server.call("mt5_positions_get", params={"ticket": position}))
        assert (held["volume"], held["magic"], held["comment"]) == (0.01, 777, "mcp buy")
        placed = ok(server.call("mt5_order_send", params={
            "action": 5, "symbol": SYMBOL, "volume": 0.01, "type": 2,
            "price": round(ask * 0.9, 2), "type_filling": 2}))
        modified = ok(server.call("mt5_order_send", params={
            "action": 7, "order": placed["order"], "price": round(ask * 0.89, 2),
            "sl": round(ask * 0.85, 2)}))
        removed = ok(server.call("mt5_order_send", params={"action": 8,
                                                           "order": placed["order"]}))
        closed = ok(server.call("mt5_order_send", params={
            "action": 1, "symbol": SYMBOL, "volume": 0.01, "type": 1, "position": position,
            "price": quote()[0], "deviation": 20, "type_filling": 1}))
        assert [r["retcode"] for r in (sltp, part, placed, modified, removed, closed)] == \
            [10009] * 6
        deals = ok(server.call("mt5_history_deals_get", params={"position": position}))
        assert len(deals) == 3, deals
    mtgateway.shutdown()


def test_mcp_metatrader5_server_trades_and_its_history_tools_answer(
        demo: Path, tmp_path: Path, bin_dir: Path) -> None:
    """mcp-metatrader5-server 0.1.7: initialize and login with a terminal's arguments (a wrong
    account answers False), a market buy with SL/TP, a sell, a buy limit placed; its two
    history tools, which call the package with ``symbol=`` and ``from``/``to`` keywords it
    does not take, answer ``[]`` as on a terminal instead of failing; ``shutdown`` answers
    True. Its request model has no ``position`` or ``order``: modifying, closing and
    cancelling are not in its tools."""
    assert mtgateway.initialize(state_file=demo)
    with serve([bin_dir / "mt5mcp"], demo, tmp_path) as server, account(demo) as client:
        assert ok(server.call("initialize", path=r"C:\Program Files\MetaTrader 5\terminal64.exe"))
        assert ok(server.call("login", login=LOGIN, password="unused", server=SERVER)) is True
        assert server.call("login", login=1, password="unused", server=SERVER).data is False
        bid, ask = quote()
        ok(server.call("order_send", request={
            "action": 1, "symbol": SYMBOL, "volume": 0.02, "type": 0, "price": ask,
            "sl": round(bid * 0.95, 2), "tp": round(ask * 1.05, 2), "deviation": 20,
            "magic": 123456, "comment": "Buy order"}))
        ok(server.call("order_send", request={"action": 1, "symbol": SYMBOL, "volume": 0.01,
                                              "type": 1, "price": bid}))
        ok(server.call("order_send", request={"action": 5, "symbol": SYMBOL, "volume": 0.01,
                                              "type": 2, "price": round(ask * 0.9, 2),
                                              "type_filling": 2}))
        assert sorted(p.volume for p in client.positions_get(symbol=SYMBOL) or ()) == [0.01,
                                                                                       0.02]
        assert len(client.orders_get(symbol=SYMBOL) or ()) == 1
        since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        for tool in ("history_deals_get", "history_orders_get"):
            answer = server.call(tool, symbol=SYMBOL, from_date=since, to_date=until)
            assert not answer.is_error and answer.data in (None, []), (tool, answer)
        assert ok(server.call("shutdown")) is True
    mtgateway.shutdown()


def _csv_rows(text: str) -> list[dict[str, str]]:
    """The rows of the CSV text a metatrader-mcp-server list tool answers (a DataFrame's)."""
    return list(csv.DictReader(io.StringIO(text)))


def test_mt5_mcp_server_trades_a_cycle_and_exits_cleanly(demo: Path, tmp_path: Path,
                                                         bin_dir: Path) -> None:
    """mt5-mcp-server 0.6.1: a market buy, SL/TP, a buy limit placed, modified and
    cancelled, the close, the deals; then the session ends and the server exits 0, its
    lifespan's disconnect no longer raising (it takes ``shutdown()``'s answer for success).
    Its tools close whole positions only."""
    assert mtgateway.initialize(state_file=demo)
    argv = [bin_dir / "metatrader-mcp-server", "--login", str(LOGIN), "--password", "unused",
            "--server", SERVER, "--transport", "stdio"]
    server = serve(argv, demo, tmp_path)
    with server, account(demo) as client:
        bid, ask = quote()
        ok(server.call("place_market_order", symbol=SYMBOL, volume=0.02, type="BUY"))
        (position,) = _csv_rows(server.call("get_all_positions").text)
        ticket = int(position["id"])
        ok(server.call("modify_position", id=ticket, stop_loss=round(bid * 0.95, 2),
                       take_profit=round(ask * 1.05, 2)))
        ok(server.call("place_pending_order", symbol=SYMBOL, volume=0.01, type="BUY",
                       price=round(ask * 0.9, 2)))
        (pending,) = _csv_rows(server.call("get_all_pending_orders").text)
        ok(server.call("modify_pending_order", id=int(pending["id"]),
                       price=round(ask * 0.89, 2), stop_loss=round(ask * 0.85, 2)))
        (order,) = client.orders_get(symbol=SYMBOL) or ()
        assert (order.price_open, order.sl) == (round(ask * 0.89, 2), round(ask * 0.85, 2))
        ok(server.call("cancel_pending_order", id=int(pending["id"])))
        ok(server.call("close_position", id=ticket))
        assert client.positions_get(symbol=SYMBOL) == () and client.orders_get() == ()
        deals = _csv_rows(server.call("get_deals", symbol=SYMBOL).text)
        assert len([d for d in deals if d.get("position_id") == str(ticket)]) == 2, deals
    assert server.close() == 0
    assert "DisconnectionError" not in server.stderr(), server.stderr()[-3000:]
    mtgateway.shutdown()


def test_yugen_mt5_mcp_trades_a_cycle(demo: Path, tmp_path: Path, bin_dir: Path) -> None:
    """yugen-mt5-mcp 1.0.3, BTCUSD allowed and live trading switched on by its variables: a
    market buy, SL/TP, a partial close, a buy limit placed, modified and cancelled, the close,
    the history of its audit-free read tool."""
    assert mtgateway.initialize(state_file=demo)
    env = {"YUGEN_MT5_ALLOWED_SYMBOLS": SYMBOL, "YUGEN_MT5_ALLOW_LIVE_TRADING": "true",
           "YUGEN_MT5_AUDIT_PATH": str(tmp_path / "audit.sqlite3")}
    with serve([bin_dir / "yugen-mt5-mcp"], demo, tmp_path, **env) as server, \
            account(demo) as client:
        assert ok(server.call("get_account"))["login"] == LOGIN
        bid, ask = quote()
        keys = iter(f"key-{n}" for n in range(100))

        def trade(tool: str, **arguments: Any) -> Any:
            done = ok(server.call(tool, session_id="tests", idempotency_key=next(keys),
                                  symbol=SYMBOL, **arguments))
            assert done["retcode"] == 10009, done
            return done

        ticket = trade("place_market_order", side="buy", volume="0.02")["order"]
        trade("modify_position", ticket=ticket, stop_loss=round(bid * 0.95, 2),
              take_profit=round(ask * 1.05, 2))
        trade("close_position", volume="0.01", ticket=ticket)
        (position,) = client.positions_get(ticket=ticket) or ()
        assert (position.volume, position.tp) == (0.01, round(ask * 1.05, 2))
        order = trade("place_pending_order", order_type="buy_limit", volume="0.01",
                      price=round(ask * 0.9, 2))["order"]
        trade("modify_pending_order", ticket=order, price=round(ask * 0.89, 2))
        trade("cancel_pending_order", ticket=order)
        trade("close_position", volume="0.01", ticket=ticket)
        assert client.positions_get(symbol=SYMBOL) == () and client.orders_get() == ()
        now = datetime.now(UTC)
        history = ok(server.call("get_history", start=(now - timedelta(days=1)).isoformat(),
                                 end=(now + timedelta(hours=1)).isoformat(), symbol=SYMBOL))
        assert len([d for d in history["deals"] if d["order"] == ticket]) == 1, history
    mtgateway.shutdown()


def test_mt5_trading_mcp_trades_a_cycle(demo: Path, tmp_path: Path,
                                        fastmcp3_bin: Path) -> None:
    """mt5-trading-mcp 1.6.1 (module ``mt5_mcp``, installed apart: mt5-mcp's module has its
    name), its consent layer in its default full-open mode: reads, a market buy with a
    comment, SL/TP, a partial close, the close, a buy limit placed, modified and cancelled, a
    sell stop cancelled, history; every trade answers the server's 10009."""
    assert mtgateway.initialize(state_file=demo)
    keys = iter(f"key-{n}" for n in range(100))
    argv = [fastmcp3_bin / "python", "-m", "mt5_mcp", "serve"]
    server = McpServer(argv, env=package_environment(
        demo, PYTHONPATH=str(apart(fastmcp3_bin / "python")), **own_directories(tmp_path)),
        cwd=tmp_path, timeout_s=WAIT_S * 6)
    with server, account(demo) as client:
        assert ok(server.call("get_account_info"))["login"] == LOGIN
        assert ok(server.call("ping"))

        def trade(tool: str, **arguments: Any) -> Any:
            done = ok(server.call(tool, idempotency_key=next(keys), **arguments))
            assert "10009" in str(done), done
            return done

        bid, ask = quote()
        done = trade("place_order", symbol=SYMBOL, side="buy", type="market", volume="0.02",
                     comment="mcp buy")
        (position,) = client.positions_get(symbol=SYMBOL) or ()
        assert (position.ticket, position.volume, position.comment) == (done["ticket"], 0.02,
                                                                        "mcp buy")
        trade("modify_order", ticket=position.ticket, sl=f"{bid * 0.95:.2f}",
              tp=f"{ask * 1.05:.2f}")
        trade("close_position", ticket=position.ticket, volume="0.01")
        (held,) = client.positions_get(ticket=position.ticket) or ()
        assert (held.volume, held.sl) == (0.01, round(bid * 0.95, 2))
        trade("close_position", ticket=position.ticket)
        trade("place_order", symbol=SYMBOL, side="buy", type="limit", volume="0.01",
              price=f"{bid * 0.9:.2f}")
        (order,) = client.orders_get(symbol=SYMBOL) or ()
        trade("modify_order", ticket=order.ticket, price=f"{bid * 0.89:.2f}")
        assert client.orders_get(ticket=order.ticket)[0].price_open == round(bid * 0.89, 2)  # type: ignore[index]
        trade("cancel_order", ticket=order.ticket)
        trade("place_order", symbol=SYMBOL, side="sell", type="stop", volume="0.01",
              price=f"{bid * 0.9:.2f}")
        (stop,) = client.orders_get(symbol=SYMBOL) or ()
        trade("cancel_order", ticket=stop.ticket)
        assert client.positions_get(symbol=SYMBOL) == () and client.orders_get() == ()
        now = datetime.now(UTC)
        history = ok(server.call("get_history", from_ts=(now - timedelta(hours=1)).isoformat(),
                                 to_ts=(now + timedelta(hours=1)).isoformat()))
        assert str(position.ticket) in str(history)
    mtgateway.shutdown()


def test_mt5_mcp_answers_its_queries_and_its_sandbox(demo: Path, tmp_path: Path,
                                                     fastmcp3_bin: Path) -> None:
    """mt5-mcp 0.6.3, read-only by design, through its command ``mt5-mcp``: the version, the
    account, a tick, bars, ticks, its sandbox's Python on the package. Its calculator
    passes the order type as text (``"BUY"``), which the package refuses: the tool says
    ``Invalid "action" argument``, the package's words. Its limiter allows 10 requests a
    minute on stdio too (its ``--rate-limit`` does not reach the server its module builds at
    import), so the cycle is nine requests, the tool list among them."""
    now = int(datetime.now(UTC).timestamp())
    with serve([fastmcp3_bin / "mt5-mcp"], demo, tmp_path, MPLCONFIGDIR=str(tmp_path / "mpl"),
               **own_directories(tmp_path)) as server:
        assert server.tools == {"mt5_query", "mt5_analyze", "mt5_execute"}

        def query(operation: str, symbol: str | None = None, **parameters: Any) -> Any:
            answer = ok(server.call("mt5_query", operation=operation, parameters=parameters,
                                    **({"symbol": symbol} if symbol else {})))
            assert answer["success"] is True, answer
            return answer["data"]

        assert query("version")[0] == 500
        assert query("account_info")["login"] == LOGIN
        assert query("symbol_info_tick", SYMBOL)["bid"] > 0
        assert len(query("copy_rates_from_pos", SYMBOL, timeframe="H1", start_pos=0,
                         count=5)) == 5
        assert query("copy_ticks_range", SYMBOL, date_from=now - 120, date_to=now + 5)
        refused = server.call("mt5_query", operation="order_calc_margin", symbol=SYMBOL,
                              parameters={"action": "BUY", "volume": 0.1, "price": 1.0})
        assert 'Invalid \\"action\\" argument' in refused.text or \
            'Invalid "action" argument' in refused.text, refused.text
        sandbox = ok(server.call("mt5_execute",
                                 command="result = mt5.account_info()._asdict()"))
        assert sandbox["login"] == LOGIN and "paper" not in sandbox


def own_directories(tmp_path: Path) -> dict[str, str]:
    """The user's data, configuration, state and cache directories of a server, in the test's
    own: mt5-trading-mcp keeps its idempotency keys and audit log there (a key reused from
    another run would replay that run's answer), FastMCP its caches."""
    return {name: str(tmp_path / name.lower()) for name in (
        "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serving(name: str, argv: list[str | Path], demo: Path,
             tmp_path: Path) -> subprocess.Popen[bytes]:
    """A server started in the background, its output in ``<name>.log``."""
    with (tmp_path / f"{name}.log").open("wb") as log:
        return subprocess.Popen([str(a) for a in argv], stdout=log, stderr=subprocess.STDOUT,
                                cwd=tmp_path, env=package_environment(demo))


@contextlib.contextmanager
def _listening(said: bytes, argv: list[str | Path], demo: Path,
               tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A server started in the background, once it has printed ``said`` (what it prints when
    it listens), stopped at the end: its output is read to the end by a thread (a full pipe
    would stop the server), which says when ``said`` came or the output ended.

    Raises:
        AssertionError: the server ended or said nothing of the kind within ``WAIT_S * 3``,
            with what it printed.
    """
    server = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, cwd=tmp_path,
                              env=package_environment(demo))
    assert server.stdout is not None
    printed: list[bytes] = []
    heard = threading.Event()

    def read(out: IO[bytes]) -> None:
        with out:
            for line in out:
                printed.append(line)
                if said in line:
                    heard.set()
        heard.set()  # the end of its output: it stopped
    reader = threading.Thread(target=read, args=(server.stdout,), daemon=True)
    reader.start()
    try:
        heard.wait(WAIT_S * 3)
        assert any(said in line for line in printed), \
            f"{argv[1]} never said {said!r}:\n" + b"".join(printed).decode(errors="replace")
        yield server
    finally:
        server.terminate()
        try:
            server.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        reader.join()


def _lines(argv: list[str | Path], demo: Path, tmp_path: Path, prefix: str) -> list[str]:
    """The ``prefix`` lines a flow printed, after checking it exited 0."""
    out = subprocess.run([str(a) for a in argv], cwd=tmp_path, capture_output=True,
                         env=package_environment(demo), timeout=WAIT_S * 6)
    text = out.stdout.decode()
    assert out.returncode == 0, text + out.stderr.decode()
    return [line.removeprefix(prefix) for line in text.splitlines() if line.startswith(prefix)]


def test_mt5_bridge_trades_over_its_rest_api_and_its_mcp_server(demo: Path, tmp_path: Path,
                                                                bin_dir: Path) -> None:
    """mt5-bridge 1.9.0: its REST server (started as its Windows-only ``server`` command
    starts it: ``framework/bridge_server.py``), its client through the API (account, health,
    tick, bars, a market buy with a comment, SL/TP, the close, the deals), then its MCP
    server over the same API (a sell, its stop loss, the deals, the close). It has no
    pending-order endpoint."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # uvicorn says so once its socket listens and the app has started
    with _listening(b"Uvicorn running on", [
            bin_dir / "python", FRAMEWORK / "bridge_server.py", "127.0.0.1", port, LOGIN,
            SERVER], demo, tmp_path):
        lines = _lines([bin_dir / "python", FRAMEWORK / "bridge_flow.py", url], demo, tmp_path,
                       "bridge ")
        assert lines == [f"account: {LOGIN}", "health: (True, '1.9.0')", "tick: True",
                         "rates: 3", "bought: (0.02, 5151, 'bridge buy')", "modified: True",
                         "closed: []", "deals: ['IN', 'OUT']"], lines
        assert mtgateway.initialize(state_file=demo)
        with serve([bin_dir / "python", "-m", "mt5_bridge.mcp_server"], demo, tmp_path,
                   MT5_BRIDGE_BASE_URL=url) as mcp:
            bid, _ = quote()
            sold = ok(mcp.call("send_order", symbol=SYMBOL, side="SELL", volume=0.01,
                               comment="mcp sell"))
            ok(mcp.call("modify_position", ticket=sold["ticket"], sl=round(bid * 1.05, 2),
                        update_sl=True))
            (held,) = [p for p in ok(mcp.call("list_positions"))
                       if p["ticket"] == sold["ticket"]]
            assert (held["type"], held["sl"], held["comment"]) == ("SELL", round(bid * 1.05, 2),
                                                                   "mcp sell")
            ok(mcp.call("close_position", ticket=sold["ticket"]))
            deals = ok(mcp.call("get_history_deals", position=sold["ticket"]))
            assert [d["entry"] for d in deals] == ["IN", "OUT"], deals
        mtgateway.shutdown()


def test_mt5_grpc_server_serves_a_trading_cycle_over_grpc(demo: Path, tmp_path: Path,
                                                          bin_dir: Path) -> None:
    """mt5-grpc-server 0.2.1's command, unchanged, called through its services by a gRPC
    client (``framework/grpc_flow.py``): connect, log in, reads, a market buy, SL/TP, the
    close, a buy limit placed and removed, the deals, the last error, and ``Shutdown``, whose
    success is ``shutdown()``'s ``True``."""
    port = _free_port()
    server = _serving("grpc_server", [bin_dir / "mt5-grpc-server", "--host", "127.0.0.1",
                                      "--port", port], demo, tmp_path)
    try:
        lines = _lines([bin_dir / "python", FRAMEWORK / "grpc_flow.py", port, LOGIN, SERVER],
                       demo, tmp_path, "grpc ")
    finally:
        server.terminate()
        server.wait(timeout=WAIT_S)
    assert lines == ["connect: 0", "login: True", "version: 500.4755.24 Jan 2025",
                     f"account: {LOGIN}", "tick: True", "rates: 3", "ticks: True",
                     "margin: True", "bought: 10009", "sltp: 10009",
                     "position: [(0.02, 7070, True)]", "closed: 10009", "limit: 10009",
                     "orders: [True]", "removed: 10009", "deals: 2", "last error: 1",
                     "shutdown: True"], lines


def test_a_risk_policy_refusal_reaches_meta_trader_mcp_as_a_refusal(
        demo: Path, tmp_path: Path, bin_dir: Path) -> None:
    """The owner registers the account with a 0.05-lot limit on the console: meta-trader-mcp's
    0.1-lot market order is refused with the policy's rule and reason in the tool's answer
    (it read a ``None`` as "terminal connection lost?" before), nothing is opened, and a
    0.02-lot order still goes."""
    state = json.loads(demo.read_text(encoding="utf-8"))
    register(state, max_lot_size=0.05)
    assert mtgateway.initialize(state_file=demo)
    probe = {"action": mtgateway.TRADE_ACTION_DEAL, "symbol": SYMBOL, "volume": 0.1,
             "type": mtgateway.ORDER_TYPE_BUY, "type_filling": mtgateway.ORDER_FILLING_RETURN}
    deadline = time.monotonic() + WAIT_S * 3
    while mtgateway.order_send(probe).retcode != mtgateway.TRADE_RETCODE_INVALID_VOLUME:  # type: ignore[union-attr]
        # before the daemon has the policy, the terminal refuses the filling (10030) and
        # nothing trades; after, the policy refuses the volume first
        assert time.monotonic() < deadline, "the policy never reached the daemon"
        time.sleep(0.05)
    argv = [bin_dir / "meta-trader-mcp", "serve", "--mode", "windows-native",
            "--enable-trading"]
    with serve(argv, demo, tmp_path) as server:
        refused = server.call("place_market_order", symbol=SYMBOL, volume=0.1, action="BUY")
        text = refused.text
        assert "max_lot_size" in text and "0.05" in text, text
        assert "connection lost" not in text and "10014" in text, text
        assert mtgateway.positions_get(symbol=SYMBOL) == ()
        assert ok(server.call("place_market_order", symbol=SYMBOL, volume=0.02,
                              action="BUY"))["ticket"]
    mtgateway.shutdown()


def register(state: dict[str, Any], **policy: Any) -> None:
    """Register the demo's account on its console with ``policy`` (the owner's API)."""
    form = urllib.parse.urlencode({"username": state["owner_email"],
                                   "password": state["owner_password"]}).encode()
    with urllib.request.urlopen(urllib.request.Request(
            f"{state['api_url']}/auth/login", data=form), timeout=WAIT_S) as answer:
        access = json.loads(answer.read())["access_token"]
    body = {"name": "Demo", "broker": "MT Gateway", "login": LOGIN, "server": SERVER,
            "risk_pct": 1, **policy}
    request = urllib.request.Request(f"{state['api_url']}/users/",
                                     data=json.dumps(body).encode(), method="POST", headers={
                                         "Authorization": f"Bearer {access}",
                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=WAIT_S) as answer:
        assert answer.status == 201
