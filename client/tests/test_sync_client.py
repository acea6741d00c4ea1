"""``import mtgateway as mt5`` against the real daemon and emulated terminal.

Each test drives a :class:`mtgateway.Client` (what the module functions use) from a worker
thread, as a blocking bot would, while the daemon runs on the test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

import mtgateway as mt5
from client.tests.conftest import base_url
from ea_bridge.emulator.terminal import EmulatedTerminal
from mtgateway.credential import TokenKeys, client_message, prove_server
from mtgateway.wire import RATES_DTYPE
from tests.e2e.fixtures import LOGIN, SERVER, Daemon

T = TypeVar("T")


async def in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


@contextlib.contextmanager
def connected(daemon: Daemon, **kwargs: Any) -> Iterator[mt5.Client]:
    with mt5.Client() as client:
        assert client.initialize(token=daemon.token, url=base_url(daemon), **kwargs), \
            client.last_error()
        yield client


def open_symbol(client: mt5.Client) -> str:
    """The first symbol whose market is open now (order_check is not MARKET_CLOSED): the
    forex ones on a weekday, the crypto one any day."""
    for info in client.symbols_get() or ():
        check = client.order_check({"action": mt5.TRADE_ACTION_DEAL, "symbol": info.name,
                                    "type": mt5.ORDER_TYPE_BUY, "volume": info.volume_min})
        if check is not None and check.retcode != mt5.TRADE_RETCODE_MARKET_CLOSED:
            return info.name
    raise AssertionError("no market is open")


async def test_reads_answer_the_packages_named_tuples(daemon: Daemon,
                                                      terminal: EmulatedTerminal) -> None:
    """account_info, terminal_info, symbol_info_tick, version: named tuples, last_error OK."""
    def run() -> None:
        with connected(daemon) as client:
            account = client.account_info()
            assert isinstance(account, mt5.AccountInfo)
            assert (account.login, account.server) == (LOGIN, SERVER)
            assert account._asdict()["balance"] == account.balance
            assert client.last_error() == (mt5.RES_S_OK, "Success")
            assert isinstance(client.terminal_info(), mt5.TerminalInfo)
            tick = client.symbol_info_tick("EURUSD")
            assert isinstance(tick, mt5.Tick) and tick.ask >= tick.bid > 0
            version = client.version()
            assert version is not None and len(version) == 3 and isinstance(version[2], str)
            assert client.symbols_total() == 3
            assert [s.name for s in client.symbols_get(group="*JPY*") or ()] == ["USDJPY"]
            assert client.symbol_select("EURUSD", True) is True
            assert isinstance(client.server_time(), mt5.ServerTime)
            assert client.ping() is not None
    await in_thread(run)


async def test_failures_answer_none_and_last_error_with_the_packages_code(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """An unknown symbol, a bad count, an unknown client_id: None, then the package's code
    (RES_E_NOT_FOUND, RES_E_INVALID_PARAMS, ...) with the gateway's code kept beside it (for
    the unknown symbol, the package's text too, the gateway's in ``.data["reason"]``)."""
    def run() -> None:
        with connected(daemon) as client:
            assert client.symbol_info("NOPE") is None
            assert client.last_error() == (mt5.RES_E_NOT_FOUND, "Terminal: Not found")
            assert client.last_error().gateway_code == -32006
            assert "NOPE" in client.last_error().data["reason"]
            assert client.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M1, 0, 0) is None
            code, description = client.last_error()
            assert code == mt5.RES_E_INVALID_PARAMS and description.startswith("count")
            assert "-32602" in description
            assert client.order_status("never-sent") is None
            assert client.last_error().gateway_code == -32006
            assert client.market_book_release("EURUSD") is False  # never added: False, as MT5
            assert client.account_info() is not None
            assert client.last_error() == (1, "Success")  # the next success clears it
            with pytest.raises(mt5.MtGatewayError) as caught:
                client.call("symbol_info", {"symbol": "NOPE"})
            assert caught.value.error.gateway_code == -32006 == client.last_error().gateway_code
    await in_thread(run)


async def test_initialize_failures_are_false_with_a_reason(daemon: Daemon,
                                                           terminal: EmulatedTerminal) -> None:
    """A bad token, another account, a closed port, no token: False and why, no exception."""
    def run() -> None:
        with mt5.Client() as client:
            assert client.account_info() is None
            assert client.last_error().code == mt5.RES_E_INTERNAL_FAIL_CONNECT
            bad = "mtgw_" + "A" * 38
            assert client.initialize(token=bad, url=base_url(daemon)) is False
            error = client.last_error()
            assert error.gateway_code == -32004 and error.data["reason"] in ("malformed_token",
                                                                     "invalid_token")
            assert bad not in repr(error)
            assert client.initialize(token=daemon.token, url=base_url(daemon), login=LOGIN + 1) \
                is False
            assert client.last_error() == (mt5.RES_E_AUTH_FAILED,
                                           "Terminal: Authorization failed")
            assert client.last_error().data["login"] == LOGIN
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                closed_port = probe.getsockname()[1]
            assert client.initialize(token=daemon.token, url=f"http://127.0.0.1:{closed_port}") \
                is False
            assert client.last_error().code == mt5.RES_E_INTERNAL_FAIL_CONNECT
            assert client.initialize(token=daemon.token, url=base_url(daemon), login=LOGIN,
                                     server=SERVER, password="never sent") is True
            assert client.login(LOGIN, server=SERVER) is True
            assert client.login(LOGIN + 1) is False
    await in_thread(run)


async def test_initialize_waits_for_the_terminal_then_reports_it_offline(
        daemon: Daemon) -> None:
    """With no EA connected, initialize(timeout=0) fails with TERMINAL_OFFLINE (-32001)."""
    def run() -> None:
        with mt5.Client() as client:
            assert client.initialize(token=daemon.token, url=base_url(daemon), timeout=0) is False
            assert client.last_error().gateway_code == -32001
    await in_thread(run)


async def test_initialize_reads_the_environment(daemon: Daemon, terminal: EmulatedTerminal,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """mt5.initialize() with no arguments takes MTGATEWAY_URL and MTGATEWAY_TOKEN."""
    monkeypatch.setenv("MTGATEWAY_URL", base_url(daemon) + "/rpc")
    monkeypatch.setenv("MTGATEWAY_TOKEN", daemon.token)

    def run() -> None:
        with mt5.Client() as client:
            assert client.initialize() is True
            account = client.account_info()
            assert account is not None and account.login == LOGIN
    await in_thread(run)


async def test_trading_round_trip_with_client_id_and_history(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """order_send with SL/TP, a resend deduplicated by client_id, order_status, the close,
    and history_deals_get by dates (datetime, positional) and group (keyword)."""
    def run() -> None:
        with connected(daemon) as client:
            symbol = open_symbol(client)
            info, tick = client.symbol_info(symbol), client.symbol_info_tick(symbol)
            assert info is not None and tick is not None
            distance = max(20 * (tick.ask - tick.bid), 100 * info.point)
            request = {"action": mt5.TRADE_ACTION_DEAL, "symbol": symbol,
                       "volume": info.volume_min, "type": mt5.ORDER_TYPE_BUY, "price": tick.ask,
                       "sl": round(tick.ask - distance, info.digits),
                       "tp": round(tick.ask + distance, info.digits), "deviation": 20,
                       "client_id": "sync-test-1"}
            check = client.order_check(request)
            assert isinstance(check, mt5.OrderCheckResult) and check.retcode == 0
            opened = client.order_send(request)
            assert isinstance(opened, mt5.OrderSendResult), client.last_error()
            assert opened.retcode == mt5.TRADE_RETCODE_DONE and opened.client_id == "sync-test-1"
            assert opened.request.sl == request["sl"]
            again = client.order_send(request)
            assert again is not None and again.deduplicated and again.order == opened.order
            status = client.order_status("sync-test-1")
            assert isinstance(status, mt5.OrderStatus) and status.state == "ACCEPTED"
            positions = client.positions_get(symbol=symbol)
            assert positions is not None and [p.ticket for p in positions] == [opened.order]
            # as the package documents: with a symbol, the ticket is ignored (None before)
            assert client.positions_get(symbol=symbol, ticket=opened.order + 1) == positions
            assert client.orders_get(symbol=symbol, ticket=opened.order + 1) == ()
            assert (positions[0].sl, positions[0].tp) == (request["sl"], request["tp"])
            assert client.positions_total() == 1
            closed = client.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": symbol,
                                        "volume": info.volume_min, "type": mt5.ORDER_TYPE_SELL,
                                        "position": opened.order, "deviation": 20})
            assert closed is not None and closed.retcode == mt5.TRADE_RETCODE_DONE
            assert len(closed.client_id) == 20  # made by the client when the request had none
            assert client.positions_get(ticket=opened.order) == ()
            now = datetime.now(UTC)
            deals = client.history_deals_get(now - timedelta(days=1), now + timedelta(days=1),
                                             group=f"*{symbol[:3]}*")
            assert deals is not None
            ours = [d for d in deals if d.position_id == opened.order]
            assert sorted(d.entry for d in ours) == [mt5.DEAL_ENTRY_IN, mt5.DEAL_ENTRY_OUT]
            assert client.history_deals_total(now - timedelta(days=1), now + timedelta(days=1)) \
                == len(client.history_deals_get(now - timedelta(days=1),
                                                now + timedelta(days=1)) or ())
            orders = client.history_orders_get(position=opened.order)
            assert orders is not None and {o.ticket for o in orders} >= {opened.order}
            margin = client.order_calc_margin(mt5.ORDER_TYPE_BUY, symbol, info.volume_min,
                                              tick.ask)
            assert margin is not None and margin > 0
    await in_thread(run)


async def test_a_request_echoed_in_a_result_is_checked_and_sent_again(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """``result.request._asdict()`` holds every field of the request, its zeros included (0
    tickets, a 0 volume on an SL/TP change, an empty symbol on a removal): as with the package,
    it can be given to order_check and order_send again unchanged, for a deal, an SL/TP change,
    a pending order, its removal and a close by (issue 43 item 1: each was -2 before)."""
    def echo_again(client: mt5.Client, result: mt5.OrderSendResult | None
                   ) -> mt5.OrderSendResult:
        assert result is not None, client.last_error()
        echo = result.request._asdict()
        check = client.order_check(echo)
        assert isinstance(check, mt5.OrderCheckResult), (echo, client.last_error())
        again = client.order_send(echo)
        assert isinstance(again, mt5.OrderSendResult), (echo, client.last_error())
        assert again.request == result.request and not again.deduplicated
        return again

    def run() -> None:
        with connected(daemon) as client:
            symbol = open_symbol(client)
            info, tick = client.symbol_info(symbol), client.symbol_info_tick(symbol)
            assert info is not None and tick is not None
            lot = info.volume_min
            bought = client.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": symbol,
                                        "volume": lot, "type": mt5.ORDER_TYPE_BUY})
            assert bought is not None and bought.request.position == 0
            assert echo_again(client, bought).retcode == mt5.TRADE_RETCODE_DONE
            first, second = (p.ticket for p in client.positions_get(symbol=symbol) or ())
            stop = round(tick.bid * 0.9, info.digits)
            moved = client.order_send({"action": mt5.TRADE_ACTION_SLTP, "symbol": symbol,
                                       "position": first, "sl": stop})
            assert moved is not None and moved.request.volume == 0.0
            assert echo_again(client, moved).retcode in (mt5.TRADE_RETCODE_DONE,
                                                         mt5.TRADE_RETCODE_NO_CHANGES)
            assert [p.sl for p in client.positions_get(ticket=first) or ()] == [stop]
            placed = client.order_send({"action": mt5.TRADE_ACTION_PENDING, "symbol": symbol,
                                        "volume": lot, "type": mt5.ORDER_TYPE_BUY_LIMIT,
                                        "price": round(tick.bid * 0.8, info.digits)})
            assert placed is not None and placed.retcode == mt5.TRADE_RETCODE_DONE
            assert echo_again(client, placed).retcode == mt5.TRADE_RETCODE_DONE
            for order in client.orders_get(symbol=symbol) or ():
                removed = client.order_send({"action": mt5.TRADE_ACTION_REMOVE,
                                             "order": order.ticket})
                assert removed is not None and removed.request.symbol == ""
                echo_again(client, removed)  # removed already: the terminal's answer
            assert client.orders_get(symbol=symbol) == ()
            sold = client.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": symbol,
                                      "volume": lot, "type": mt5.ORDER_TYPE_SELL,
                                      "position": 0})
            assert sold is not None and sold.retcode == mt5.TRADE_RETCODE_DONE
            closed_by = client.order_send({"action": mt5.TRADE_ACTION_CLOSE_BY,
                                           "position": first, "position_by": sold.order})
            assert closed_by is not None and closed_by.retcode == mt5.TRADE_RETCODE_DONE, \
                closed_by
            echo_again(client, closed_by)  # both closed already: the terminal's answer
            assert [p.ticket for p in client.positions_get(symbol=symbol) or ()] == [second]
            closed = client.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": symbol,
                                        "volume": lot, "type": mt5.ORDER_TYPE_SELL,
                                        "position": second})
            assert closed is not None and closed.retcode == mt5.TRADE_RETCODE_DONE
            assert client.positions_total() == 0
    await in_thread(run)


async def test_copy_functions_follow_every_page(daemon: Daemon,
                                                terminal: EmulatedTerminal) -> None:
    """25 000 M1 bars and 15 000 ticks arrive whole, in order, with the package's dtypes."""
    def run() -> None:
        with connected(daemon) as client:
            rates = client.copy_rates_from_pos("BTCUSD", mt5.TIMEFRAME_M1, 0, 25_000)
            assert rates is not None and len(rates) == 25_000
            assert rates.dtype.descr == RATES_DTYPE
            steps = set((rates["time"][1:] - rates["time"][:-1]).tolist())
            assert steps == {60}  # crypto trades every minute: pages joined without hole or overlap
            start = datetime.fromtimestamp(int(rates["time"][0]), UTC)
            ticks = client.copy_ticks_from("BTCUSD", start, 15_000, mt5.COPY_TICKS_ALL)
            assert ticks is not None and len(ticks) == 15_000
            assert ticks.dtype.names == ("time", "bid", "ask", "last", "volume", "time_msc",
                                         "flags", "volume_real")
            assert (ticks["time_msc"][1:] >= ticks["time_msc"][:-1]).all()
            assert ticks["time"][0] >= rates["time"][0]
            span = client.copy_rates_range("BTCUSD", mt5.TIMEFRAME_M1, start,
                                           start + timedelta(minutes=99))
            assert span is not None and span["time"].tolist() == rates["time"][:100].tolist()
            tick_span = client.copy_ticks_range("BTCUSD", start, start + timedelta(minutes=1),
                                                mt5.COPY_TICKS_ALL)
            assert tick_span is not None and len(tick_span) > 0
    await in_thread(run)


class ClosingServer:
    """A tiny HTTP server that answers each request and then closes the connection without
    saying so (no ``Connection: close``): what a kept-alive connection looks like after the
    daemon's keep-alive timeout."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(body) < length:
                    body += conn.recv(65536)
                if head.startswith(b"POST /auth/challenge"):  # it holds the token "t"
                    asked = json.loads(body)
                    keys = TokenKeys.of("t")
                    proof = prove_server(keys.verifier.server_key, client_message(
                        "server", asked["token_hint"], asked["client_nonce"], "5" * 64))
                    answer = json.dumps({"server_nonce": "5" * 64,
                                         "server_proof": proof}).encode()
                elif head.startswith(b"POST /auth/session"):
                    answer = b'{"session":"mtgws_closing"}'
                elif b'"gateway_status"' in body:
                    answer = b'{"jsonrpc":"2.0","id":1,"result":{"terminal":{"connected":true}}}'
                else:
                    answer = b'{"jsonrpc":"2.0","id":1,"result":%d}' % self.connections
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def closing_server() -> Iterator[ClosingServer]:
    server = ClosingServer()
    yield server
    server.close()


def test_a_kept_alive_connection_closed_by_the_server_is_retried_once(
        closing_server: ClosingServer) -> None:
    """Each call after the first finds its connection closed and is sent again on a fresh
    one, transparently."""
    with mt5.Client() as client:
        assert client.initialize(token="t", url=f"http://127.0.0.1:{closing_server.port}")
        assert client.symbols_total() == 4  # after the challenge's two and gateway_status
        assert client.symbols_total() == 5
    assert closing_server.connections == 5
