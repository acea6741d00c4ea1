"""What only the compiled EA can show, against the real ``Bridge``: the tick recipe loses and
repeats nothing when ticks share a millisecond, trade events come from OnTradeTransaction,
the terminal state is announced, unsynchronised history answers -32008 at once, answers are
capped with ``truncated``, and a non-finite number is never sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from daemon.tests.ea_mql.conftest import SYMBOLS, TICK_RATE_HZ, TOKEN
from daemon.tests.ea_mql.conftest import make_fixture as fixture
from daemon.tests.ea_mql.eakit import CompiledEA
from ea_bridge import Bridge, EAError
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from tests.bridgekit import RecordingListener
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import LOGIN, SERVER, TERMINAL, WAIT_S


async def test_every_live_tick_arrives_once_in_order(
        bridge: tuple[Bridge, RecordingListener], ea_binary: Path, tmp_path: Path) -> None:
    """Live ticks come in threes that share a millisecond and arrive 20 ms apart, so the
    later ones of a millisecond arrive after it was sent: asking from the last millisecond and
    skipping what was sent delivers each tick exactly once (the +1 recipe would lose two of
    every three)."""
    b, listener = bridge
    path, fx = fixture(tmp_path)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        for name in ("EURUSD", "BTCUSD"):
            live = fx["symbols"][name]["live"]

            def arrived(name: str = name, live: list[Any] = live) -> bool:
                return sum(1 for _, s, _ in listener.ticks_seen if s == name) >= len(live)

            await listener.wait_for(arrived)
            rows = [row for _, s, row in listener.ticks_seen if s == name]
            assert rows == live
    assert all(missed == 0 for *_, missed in listener.events)


#: The Saturday after :data:`WEDNESDAY_MS`, 14:00 UTC: only BTCUSD trades.
SATURDAY_MS = WEDNESDAY_MS + 3 * 86_400_000


async def test_the_weeks_first_ticks_follow_fridays_close(
        bridge: tuple[Bridge, RecordingListener], ea_binary: Path, tmp_path: Path) -> None:
    """The EA started on a weekend (a fixed Saturday, whatever today is): EURUSD's quote is
    Friday's close, hours old, and its next ticks come after the gap, as at Monday's open. A
    quote that old may follow a hole in the tick database, so the stream starts with the first
    tick the EA sees after it, sent as the quote shows it, then every tick after that
    millisecond, in order, none twice and none from before the gap; BTCUSD, quoted live,
    loses nothing."""
    b, listener = bridge
    saturday = EmulatedTerminal("mtgw_unused", settings=EmulatorSettings(
        login=LOGIN, server=SERVER, symbols=SYMBOLS, tick_rate_hz=TICK_RATE_HZ),
        utc_clock_ms=SteppedClock(SATURDAY_MS))
    path, fx = fixture(tmp_path, saturday)
    eurusd = fx["symbols"]["EURUSD"]
    assert fx["now_ms"] - eurusd["ticks"][-1][0] > 3_600_000  # Friday's close, hours old
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        live = eurusd["live"]
        await listener.wait_for(
            lambda: any(s == "EURUSD" and row == live[-1] for _, s, row in listener.ticks_seen))
        first, *rest = [row for _, s, row in listener.ticks_seen if s == "EURUSD"]
        # the first one seen is the first live one unless the EA woke late (a loaded machine)
        assert first in live and rest == [t for t in live if t[0] > first[0]]
        btc = fx["symbols"]["BTCUSD"]["live"]
        await listener.wait_for(
            lambda: sum(1 for _, s, _ in listener.ticks_seen if s == "BTCUSD") >= len(btc))
        assert [row for _, s, row in listener.ticks_seen if s == "BTCUSD"] == btc
    assert all(missed == 0 for *_, missed in listener.events)


async def test_terminal_state_and_trade_events(
        bridge: tuple[Bridge, RecordingListener], ea_binary: Path, tmp_path: Path) -> None:
    """After welcome the terminal state is announced; a market buy through the EA produces,
    from OnTradeTransaction, order_added, deal_added and position_opened, then closing it
    deal_added and position_closed, in that order, with MT5 objects."""
    b, listener = bridge
    path, _ = fixture(tmp_path)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await listener.wait_for(lambda: any(n == "terminal" for _, n, _, _ in listener.events))
        [state] = [p for _, n, p, _ in listener.events if n == "terminal"]
        assert state == {"connected": True, "trade_allowed": True}
        sent = await b.call(TERMINAL, "order_send", {"request": {
            "action": 1, "type": 0, "symbol": "BTCUSD", "volume": 0.01}}, WAIT_S)
        assert sent["retcode"] == 10009
        await b.call(TERMINAL, "order_send", {"request": {
            "action": 1, "type": 1, "symbol": "BTCUSD", "volume": 0.01,
            "position": sent["order"]}}, WAIT_S)

        def trades() -> list[dict[str, Any]]:
            return [p for _, n, p, _ in listener.events if n == "trade"]

        await listener.wait_for(
            lambda: sum(t["type"] == "order_removed" for t in trades()) == 2)
        kinds = [t["type"] for t in trades() if t["type"] != "account_updated"]
        assert kinds == ["order_added", "deal_added", "position_opened", "order_removed",
                         "order_added", "deal_added", "position_closed", "order_removed"]
        opened = next(t for t in trades() if t["type"] == "position_opened")
        assert opened["position"]["ticket"] == sent["order"]
        assert opened["position"]["symbol"] == "BTCUSD" and isinstance(opened["time_msc"], int)


async def test_history_that_never_loads_answers_minus_32008_after_the_wait(
        bridge: tuple[Bridge, RecordingListener], ea_binary: Path, tmp_path: Path) -> None:
    """Bars, ticks and trade history that never finish loading: each call is held for the
    EA's HistoryWaitMs, then answered -32008 with a retry hint (the EA never copies history
    that is not local, which would block it for up to 45 s)."""
    b, _ = bridge
    path, _ = fixture(tmp_path, history_synchronized=False)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port,
                          inputs={"HistoryWaitMs": "300"}):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        for method, params in [
            ("copy_rates_from_pos", {"symbol": "EURUSD", "timeframe": 1, "start_pos": 0,
                                     "count": 10}),
            ("copy_ticks_range", {"symbol": "EURUSD", "date_from": 0, "date_to": 10,
                                  "flags": -1}),
            ("history_deals_get", {"date_from": 0, "date_to": 10}),
        ]:
            with pytest.raises(EAError) as info:
                await b.call(TERMINAL, method, params, WAIT_S)
            assert info.value.code == -32008 and "ask again" in info.value.message


async def test_answers_are_capped_with_truncated(
        bridge: tuple[Bridge, RecordingListener], ea_binary: Path, tmp_path: Path) -> None:
    b, _ = bridge
    path, fx = fixture(tmp_path)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port, max_rows=50):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        now = fx["now_ms"] // 1000
        ticks = await b.call(TERMINAL, "copy_ticks_range", {
            "symbol": "BTCUSD", "date_from": now - 600, "date_to": now, "flags": -1}, WAIT_S)
        assert len(ticks["rows"]) == 50 and ticks["truncated"] is True
        rates = await b.call(TERMINAL, "copy_rates_from_pos", {
            "symbol": "BTCUSD", "timeframe": 1, "start_pos": 0, "count": 80}, WAIT_S)
        assert len(rates["rows"]) == 50 and rates["truncated"] is True
        newest = await b.call(TERMINAL, "copy_rates_from_pos", {
            "symbol": "BTCUSD", "timeframe": 1, "start_pos": 0, "count": 50}, WAIT_S)
        assert rates["rows"] == newest["rows"] and newest["truncated"] is False


async def test_a_non_finite_number_is_never_sent(
        bridge: tuple[Bridge, RecordingListener], ea_binary: Path, tmp_path: Path) -> None:
    """A terminal value that is NaN or Inf makes the answer an error naming the field; the
    session survives (the daemon would close it on a NaN)."""
    b, _ = bridge
    path, fx = fixture(tmp_path)
    fx["symbols"]["USDJPY"]["info"]["swap_long"] = float("nan")
    fx["symbols"]["USDJPY"]["info"]["margin_hedged"] = float("inf")
    path.write_text(json.dumps(fx), encoding="utf-8")
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port):
        first = await b.wait_for_terminal(TERMINAL, WAIT_S)
        with pytest.raises(EAError) as info:
            await b.call(TERMINAL, "symbol_info", {"symbol": "USDJPY"}, WAIT_S)
        assert info.value.code == -32603 and "swap_long" in info.value.message
        assert (await b.call(TERMINAL, "symbol_info", {"symbol": "EURUSD"}, WAIT_S))["name"] \
            == "EURUSD"
        assert b.session(TERMINAL) == first


@pytest.mark.parametrize(("method", "params", "code", "fragment"), [
    ("no_such_method", {}, -32601, "no_such_method"),
    ("symbol_info", {}, -32602, "symbol"),
    ("symbol_info", {"symbol": 5}, -32602, "symbol"),
    ("symbol_info", {"symbol": "EURUSD", "colour": "red"}, -32602, "colour"),
    ("copy_rates_from_pos", {"symbol": "EURUSD", "timeframe": 7, "start_pos": 0, "count": 1},
     -32602, "timeframe"),
    ("copy_ticks_from", {"symbol": "EURUSD", "date_from": 0, "count": 1, "flags": 6}, -32602,
     "flags"),
    ("symbol_info_tick", {"symbol": "EURUSX"}, -32006, "EURUSX"),
    ("order_send", {"request": "buy"}, -32602, "request"),
])
async def test_ea_refuses_bad_requests_with_protocol_codes(
        bridge: tuple[Bridge, RecordingListener], ea_binary: Path, tmp_path: Path,
        method: str, params: dict[str, Any], code: int, fragment: str) -> None:
    b, _ = bridge
    path, _ = fixture(tmp_path)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        with pytest.raises(EAError) as info:
            await b.call(TERMINAL, method, params, WAIT_S)
        assert info.value.code == code and fragment in info.value.message


async def test_algo_trading_off_refuses_order_send(
        bridge: tuple[Bridge, RecordingListener], ea_binary: Path, tmp_path: Path) -> None:
    b, listener = bridge
    path, _ = fixture(tmp_path, trade_allowed=False)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        with pytest.raises(EAError) as info:
            await b.call(TERMINAL, "order_send", {"request": {
                "action": 1, "type": 0, "symbol": "BTCUSD", "volume": 0.01}}, WAIT_S)
        assert info.value.code == -32007 and "Algo Trading" in info.value.message
        await listener.wait_for(lambda: any(n == "terminal" for _, n, _, _ in listener.events))
        assert [p for _, n, p, _ in listener.events if n == "terminal"] == [
            {"connected": True, "trade_allowed": False}]


async def test_money_is_in_the_accounts_currency(
        bridge: tuple[Bridge, RecordingListener], ea_binary: Path, tmp_path: Path) -> None:
    """Profit and margin of a yen-quoted pair on a dollar account come in dollars, as the
    terminal reports them (OrderCalcProfit and OrderCalcMargin answer in the deposit
    currency). The kit once counted yen as dollars: 0.01 lot of USDJPY moving 0.1 yen read as
    a loss of 100.00 instead of about 0.67, so the self-check's pending order passed or failed
    the console's 1 % risk policy on a 10,000 account by chance (CI, 2026-11-25). A position's
    profit, the account's equity and its margin follow the same rule."""
    b, _ = bridge
    path, fx = fixture(tmp_path)
    info, leverage = fx["symbols"]["USDJPY"]["info"], fx["account"]["leverage"]
    usd_per_jpy = info["trade_tick_value"] / (info["trade_tick_size"]
                                              * info["trade_contract_size"])
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        profit = await b.call(TERMINAL, "order_calc_profit", {
            "action": 0, "symbol": "USDJPY", "volume": 0.01, "price_open": 150.0,
            "price_close": 149.9}, WAIT_S)
        margin = await b.call(TERMINAL, "order_calc_margin", {
            "action": 0, "symbol": "USDJPY", "volume": 0.01, "price": 150.0}, WAIT_S)
        same = await b.call(TERMINAL, "order_calc_profit", {
            "action": 1, "symbol": "BTCUSD", "volume": 0.1, "price_open": 100_000.0,
            "price_close": 99_000.0}, WAIT_S)
    assert profit == pytest.approx(-0.1 * 1_000 * usd_per_jpy, abs=0.01)  # -0.67, not -100.00
    assert -1 < profit < 0
    assert margin == pytest.approx(1_000 * 150.0 / leverage * usd_per_jpy, abs=0.01)  # ~10 USD
    assert same == pytest.approx(100.0)  # a dollar-quoted symbol: unchanged
