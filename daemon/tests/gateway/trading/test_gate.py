"""The trade gate on its own (``gateway/trading/gate.py``): one row per rule, the order they
are applied in, and the error each raises; a real bridge on loopback with a scripted EA."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ea_bridge import Bridge, TerminalId, TerminalNotConnected
from ea_bridge.connection import Welcomed
from gateway.auth import Principal
from gateway.auth.records import RiskPolicy
from gateway.errors import (
    NotFound,
    RiskLimit,
    TradeRejected,
    TradingHalted,
    Unauthorized,
    Unavailable,
)
from gateway.trading.gate import ORDER_RULES, PAIRING, RULES, Reason, TradeGate, other_token
from tests.bridgekit import EAFactory, StaticVerifier

API_MD = Path(__file__).resolve().parents[4] / "docs" / "api.md"

TOKEN = "mtgw_" + "a" * 38
TERMINAL = TerminalId(1001, "Test-Server")


@pytest.fixture
async def bridge() -> AsyncIterator[Bridge]:
    running = Bridge(StaticVerifier({TOKEN: (TERMINAL, "tok-a")}), port=0)
    await running.start()
    yield running
    await running.close()


@pytest.fixture
async def online(bridge: Bridge) -> AsyncIterator[Bridge]:
    """The bridge with the terminal's EA connected with token record ``tok-a``."""
    make = EAFactory()
    assert isinstance(await make(TOKEN).connect(bridge.port), Welcomed)
    yield bridge
    await make.close_all()


def caller(*, token_id: str = "tok-a", scopes: frozenset[str] = frozenset({"read", "trade"}),
           fresh: bool = True, auto_trade: bool = True, halted: bool = False) -> Principal:
    return Principal(token_id, TERMINAL, scopes,
                     RiskPolicy(auto_trade_enabled=auto_trade, trading_halted=halted),
                     freshness=lambda: fresh)


def test_every_reason_has_exactly_one_row() -> None:
    """The table is the rules: one row per :class:`Reason`, in the documented order."""
    assert [rule.reason for rule in RULES] == list(Reason)
    assert [rule.reason for rule in RULES if rule.caller] == [Reason.SCOPE, Reason.AUTH_STALE]
    assert [rule.reason for rule in RULES if rule.opening_only] == [Reason.AUTO_TRADE_ENABLED]


async def test_everything_that_holds_is_listed_in_order(bridge: Bridge) -> None:
    reconciling = {TERMINAL}
    gate = TradeGate(bridge, reconciling.__contains__)
    worst = caller(scopes=frozenset({"read"}), fresh=False, auto_trade=False, halted=True)
    assert gate.refusals(worst) == [Reason.SCOPE, Reason.AUTH_STALE, Reason.TRADING_HALTED,
                                    Reason.TERMINAL_OFFLINE, Reason.RECONCILING,
                                    Reason.AUTO_TRADE_ENABLED]
    reconciling.clear()
    assert gate.refusals(caller()) == [Reason.TERMINAL_OFFLINE]
    assert gate.refusals(caller()) == ["terminal_offline"]  # the word gateway_status shows


async def test_the_callers_rules_come_first_and_alone(bridge: Bridge) -> None:
    """check_caller raises the caller's rules only (the route's are after a replay)."""
    gate = TradeGate(bridge, lambda _: True)
    with pytest.raises(Unauthorized) as scope:
        gate.check_caller(caller(scopes=frozenset({"read"}), fresh=False))
    assert scope.value.reason == "scope"
    with pytest.raises(Unavailable) as stale:
        gate.check_caller(caller(fresh=False))
    assert stale.value.reason == "auth_stale"
    gate.check_caller(caller())  # offline and reconciling, but those are the route's


async def test_the_route_refuses_the_first_that_holds(online: Bridge) -> None:
    passes: set[TerminalId] = set()
    gate = TradeGate(online, passes.__contains__)
    gate.check_route(caller(), opening=True)
    with pytest.raises(Unauthorized) as other:
        gate.check_route(caller(token_id="tok-b"), opening=True)
    assert other.value.reason == "terminal_mismatch"
    passes.add(TERMINAL)
    with pytest.raises(Unavailable) as busy:
        gate.check_route(caller(auto_trade=False), opening=True)
    assert busy.value.reason == "reconciling"
    passes.clear()
    with pytest.raises(RiskLimit) as risk:
        gate.check_route(caller(auto_trade=False), opening=True)
    assert risk.value.rule == "auto_trade_enabled"
    gate.check_route(caller(auto_trade=False), opening=False)  # closing stays allowed


async def test_offline_is_the_bridges_error(bridge: Bridge) -> None:
    gate = TradeGate(bridge, lambda _: False)
    with pytest.raises(TerminalNotConnected, match="1001@Test-Server|Test-Server"):
        gate.check_route(caller(), opening=False)


async def test_one_rule_by_its_reason(online: Bridge) -> None:
    """``check`` takes a :class:`Reason` (a misspelt one fails before it runs); the pairing
    check is the mismatch rule alone."""
    gate = TradeGate(online, lambda _: True)
    with pytest.raises(Unavailable):
        gate.check(caller(), Reason.RECONCILING)
    gate.check(caller(), Reason.TERMINAL_OFFLINE)
    gate.check_pairing(caller())
    with pytest.raises(Unauthorized):
        gate.check_pairing(caller(token_id="tok-b"))
    with pytest.raises(KeyError):
        gate.check(caller(), "reconcilin")  # type: ignore[arg-type]


async def test_the_pairing_rule_on_a_session_looked_up_once(online: Bridge) -> None:
    """``other_token`` (the plain read's one look-up: ``Bridge.route`` then the call) is the
    mismatch rule, and ``PAIRING``'s error the one ``check_pairing`` raises."""
    gate = TradeGate(online, lambda _: False)
    session = online.route(TERMINAL)
    assert session is not None and session.info is not None
    assert not other_token(session.info, caller())
    assert not other_token(None, caller())  # offline: the bridge's call says so, not this rule
    assert other_token(session.info, caller(token_id="tok-b"))
    mismatch = PAIRING.error(TERMINAL)
    assert isinstance(mismatch, Unauthorized)
    with pytest.raises(Unauthorized) as by_table:
        gate.check_pairing(caller(token_id="tok-b"))
    assert (mismatch.reason, str(mismatch)) == (by_table.value.reason, str(by_table.value))
    assert online.route(TerminalId(9, "Nowhere")) is None


async def test_the_kill_switch_refuses_every_order_first_of_the_route(online: Bridge) -> None:
    """Issue 46 item 5: with the owner's kill switch on (``risk.trading_halted``), opening
    and closing orders alike are refused ``trading_halted`` while the EA stays connected,
    before any other rule of the route; the caller's own rules still come first."""
    gate = TradeGate(online, lambda _: True)
    for opening in (True, False):
        with pytest.raises(TradingHalted) as halted:
            gate.check_route(caller(halted=True, auto_trade=False), opening=opening)
        assert halted.value.rule == "trading_halted"
    assert online.session(TERMINAL) is not None  # still connected
    with pytest.raises(Unauthorized):
        gate.check_caller(caller(halted=True, scopes=frozenset({"read"})))


def _answers(answer: Any) -> Callable[[], Awaitable[Any]]:
    """A venue's ``order_check`` that answers ``answer``."""
    async def check() -> Any:
        return answer
    return check


def _fails(error: Exception) -> Callable[[], Awaitable[Any]]:
    """A venue's ``order_check`` that cannot answer: it raises ``error``."""
    async def check() -> Any:
        raise error
    return check


async def test_a_closed_market_is_said_where_the_table_puts_it(bridge: Bridge) -> None:
    """Issue 88 item 5: ``market_first`` answers the venue's check when it says 10018 for a
    refusal of a rule after ``market_closed`` (the lot cap, the stop, the pricing); any other
    answer, or a check that cannot answer, leaves the rule's own refusal, unchanged. A rule
    before it (the account's symbols) is said without asking."""
    gate = TradeGate(bridge, lambda _: False)
    closed = {"retcode": 10018, "comment": "Market closed", "request": {"symbol": "EURUSD"}}
    for refusal in (RiskLimit("max_lot_size", "too many lots"), RiskLimit("risk_pct", "no stop"),
                    TradeRejected(10021, retryable=True, result={"retcode": 10021})):
        assert await gate.market_first(refusal, _answers(closed)) is closed
        for check in (_answers({"retcode": 0}), _answers({"retcode": 10016}), _answers(None),
                      _fails(TerminalNotConnected("gone")), _fails(NotFound("no symbol"))):
            with pytest.raises(type(refusal)) as said:
                await gate.market_first(refusal, check)
            assert said.value is refusal
    asked: list[str] = []

    async def never() -> Any:
        asked.append("order_check")
        return closed
    symbols = RiskLimit("allowed_symbols", "not among the account's symbols")
    with pytest.raises(RiskLimit) as before:
        await gate.market_first(symbols, never)
    assert (before.value, asked) == (symbols, [])
    assert ORDER_RULES.index("allowed_symbols") < ORDER_RULES.index("market_closed") \
        < ORDER_RULES.index("max_lot_size")


def test_the_order_of_refusals_is_the_one_docs_api_md_says() -> None:
    """docs/api.md's "The order of refusals" names the gate's reasons, then the order's
    rules, in the order the gate and the desk apply them (a reason added to either table
    must be placed there too)."""
    text = API_MD.read_text(encoding="utf-8")
    section = text.split("**The order of refusals.**", 1)[1].split("\n- ", 1)[0]
    words = [rule.reason.value for rule in RULES] + list(ORDER_RULES)
    places = [section.find(f"`{word}`") for word in words]
    assert -1 not in places, dict(zip(words, places, strict=True))
    assert places == sorted(places), re.sub(r"\s+", " ", section)
