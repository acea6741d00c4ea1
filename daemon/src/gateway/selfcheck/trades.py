"""The trading checks of ``mtgateway check --trade``, on a demo or paper account only.

They trade the smallest volume of one symbol that has no open position (so nothing of the
owner's is touched, netting accounts included) and whose ``order_check`` passes now: a market
buy, the same ``client_id`` again (answered from the first, never a second order), its close;
stops computed the way bots compute them (``price - 100 * point``, a percentage, an ATR
multiple: floats that are not the symbol's prices, which MetaTrader 4 refuses unrounded), a
change of them; a pending order placed, moved and removed; and the trade events of all that on
the stream. Whatever they opened is closed or removed before they return, failure or not.

Each order carries what the symbol's execution asks for, as bots written for the MetaTrader5
package do: the price from the current quote and a ``deviation`` (a symbol in Request or
Instant execution refuses a market order without its price: "Market orders of symbols, whose
execution type is 'Market Execution' ... do not require specification of price", the
MqlTradeRequest reference), a filling mode the symbol's ``filling_mode`` allows (FOK where
allowed, else IOC, else RETURN; RETURN for pending orders), and a stop loss on every order
that opens something, because the console's default risk policy refuses an opening order
without one (``-32012``). A requote (the price moved beyond the deviation) is sent again at
the new quote, under a new ``client_id``.

Retcodes are read as the terminal means them: 10009 DONE (and, for a pending order, 10008
PLACED) is a success, worded as one. On a paper account (every answer says ``"paper": true``)
the orders fill in the daemon's paper book, never at the broker, and its trade events are the
ones expected on the stream (each marked paper); an answer that is not the paper book's stops
the checks, as the account left paper trading under them.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

from mtgateway.errors import MtGatewayError
from mtgateway.stream import Gap, TradeEvent
from mtgateway_base import prices

from .probe import Mismatch, Probe, expect, gateway_code
from .report import FAIL, PASS, Check

__all__ = ["TradeSession", "at_digits", "pick_symbol"]

DONE: Final = 10009
PLACED: Final = 10008
#: What a placed pending order may answer: a terminal's OrderSend answers DONE; PLACED is a
#: success too (OrderSendAsync's word, which a bridge may relay).
PLACED_OK: Final = frozenset({DONE, PLACED})
#: What a stop or price off the symbol's grid is refused with (invalid price, invalid stops).
OFF_GRID: Final = frozenset({10015, 10016})
#: The trade events the checks make, at least: two positions opened and closed, a pending
#: order added and removed.
EXPECTED_EVENTS: Final = {"position_opened": 2, "position_closed": 2, "order_added": 1,
                          "order_removed": 1}
#: How long the trade events may follow the answers, in polls of 0.1 s.
EVENT_POLLS: Final = 50
#: The daemon's refusal under the account's risk policy (``-32012``): ``order_check`` refuses
#: what ``order_send`` would, so a symbol the policy does not allow is known before trading.
RISK_LIMIT: Final = -32012
#: The quote moved beyond the deviation (REQUOTE, PRICE_CHANGED): sent again at the new one.
REQUOTED: Final = frozenset({10004, 10020})
#: Market orders tried at most this many times when requoted.
TRIES: Final = 3
#: Points between the market and the stops or the pending order, at least (or 3x the
#: symbol's stop level, or 3x its spread, when that is more).
DISTANCE_POINTS: Final = 100
#: The deviation a market order allows, in points, at least (or twice the spread).
DEVIATION_POINTS: Final = 20
#: ORDER_FILLING_* (MQL5's values) and the SYMBOL_FILLING_* flags of ``filling_mode``.
FILLING_FOK: Final = 0
FILLING_IOC: Final = 1
FILLING_RETURN: Final = 2
ALLOWS_FOK: Final = 1
ALLOWS_IOC: Final = 2


def said(answer: dict[str, Any]) -> str:
    """An answer's retcode as a person reads it: ``10016 TRADE_RETCODE_INVALID_STOPS "Invalid
    stops"``."""
    words = [str(answer.get("retcode"))]
    if answer.get("retcode_name"):
        words.append(str(answer["retcode_name"]))
    if answer.get("comment"):
        words.append(f'"{answer["comment"]}"')
    return " ".join(words)


def tally(counts: dict[str, int]) -> str:
    """Event types counted, in their order: ``2 position_opened, 1 deal_added``."""
    return ", ".join(f"{n} {kind}" for kind, n in counts.items())


def market_filling(info: dict[str, Any]) -> int:
    """The filling mode of a market order of the symbol: FOK where ``filling_mode`` allows
    it, else IOC, else RETURN. In Request and Instant execution the server fills a market order
    as FOK whatever it says ("there is no need to specify a fill policy", SYMBOL_FILLING_MODE);
    in Exchange execution RETURN is taken, and in Market execution MetaTrader 5's help says it
    is not (the reference's ENUM_ORDER_TYPE_FILLING says it is: a symbol of Market execution
    with neither FOK nor IOC is the one case ``check --trade`` may see refused, 10030)."""
    mask = int(info.get("filling_mode") or 0)
    return FILLING_FOK if mask & ALLOWS_FOK else FILLING_IOC if mask & ALLOWS_IOC \
        else FILLING_RETURN


def distance(info: dict[str, Any]) -> float:
    """How far from the market the stops and the pending order go: clear of the spread and
    the symbol's stop level."""
    level = int(info.get("trade_stops_level") or 0)
    spread = int(info.get("spread") or 0)
    return float(max(DISTANCE_POINTS, 3 * level, 3 * spread) * info["point"])


def on_grid(info: dict[str, Any], x: float) -> float:
    """``x`` on the symbol's price grid: a multiple of its tick size, at its digits."""
    size = float(info.get("trade_tick_size") or 0)
    if size > 0:
        x = round(x / size) * size
    return round(x, int(info["digits"]))


def at_digits(info: dict[str, Any], x: float) -> str:
    """A price as the report writes it: at the symbol's digits, as the terminal shows it
    (``6367.40`` for a 2-digit index, ``147.520`` for a 3-digit pair), a computed price off the
    grid included (the report says how it went beside it); the console's pages write theirs
    with the same function (``mtgateway_base/prices.py``)."""
    return prices.at_digits(x, int(info["digits"]))


def market(info: dict[str, Any], tick: dict[str, Any], request: dict[str, Any]
           ) -> dict[str, Any]:
    """``request``, a market order (an opening or a close), priced at ``tick`` with the
    deviation and filling the symbol takes (its own, when it carries them)."""
    buy = request.get("type") == 0
    return {"price": tick["ask"] if buy else tick["bid"],
            "deviation": max(DEVIATION_POINTS, 2 * int(info.get("spread") or 0)),
            "type_filling": market_filling(info), **request}


def opening_buy(info: dict[str, Any], tick: dict[str, Any]) -> dict[str, Any]:
    """The smallest buy of the symbol at ``tick``, with its stop loss (the default risk
    policy refuses an opening order without one)."""
    return market(info, tick, {"action": 1, "type": 0, "symbol": info["name"],
                               "volume": info["volume_min"],
                               "sl": on_grid(info, tick["ask"] - distance(info))})


async def pick_symbol(p: Probe, wanted: str | None) -> tuple[str | None, str, bool]:
    """The symbol to trade, or None and why none: ``wanted``, else the first Market Watch
    symbol with no open position whose order_check of its smallest buy passes; and whether a
    symbol was there to be had (False: the account's risk policy refused every one tried,
    the checks are not applicable to it as it stands, not failing: a symbol it allows is
    named with ``--symbol``)."""
    candidates = [wanted] if wanted else [p.symbol] + [s for s in p.market_watch if s != p.symbol]
    why = "no Market Watch symbol"
    refused: list[str] = []
    tried = 0
    for name in candidates[:20]:
        if await p.call("positions_get", {"symbol": name}):
            why = f"{name} has an open position (the checks never touch the owner's)"
            continue
        tried += 1
        info = await p.call("symbol_info", [name])
        tick = await p.call("symbol_info_tick", [name])
        try:
            check = await p.call("order_check", {"request": opening_buy(info, tick)})
        except MtGatewayError as exc:
            if gateway_code(exc) != RISK_LIMIT:
                raise
            refused.append(f"{name}: {exc.error.description}")
            continue
        if check["retcode"] == 0:
            return name, f"{name}: order_check of {info['volume_min']:g} lot passes", True
        why = f"{name}: order_check answered {check['retcode']} ({check.get('comment')})"
    if refused and len(refused) == tried:
        return None, ("the account's risk policy refuses the smallest buy of "
                      + ("the symbol asked for" if wanted else "every symbol tried")
                      + f" ({'; '.join(refused[:3])}); run again with --symbol naming a "
                      "symbol the policy allows"), False
    return None, why, True


class TradeSession:
    """The trading checks on one symbol, remembering what they opened to undo it; ``paper``:
    the account trades on the daemon's paper book (every answer must say so)."""

    def __init__(self, p: Probe, symbol: str, *, paper: bool = False) -> None:
        self.p, self.symbol, self.paper = p, symbol, paper
        self.tag = f"selfcheck-{secrets.token_hex(4)}"
        self.count = 0
        self.info: dict[str, Any] = {}
        self.positions: set[int] = set()
        self.orders: set[int] = set()
        self.events: list[TradeEvent] = []
        self.gaps: list[Gap] = []
        self.stream_error: str = ""

    def client_id(self) -> str:
        self.count += 1
        return f"{self.tag}-{self.count}"

    async def still_paper(self) -> bool:
        """Whether the daemon still sends this token's orders to its paper book."""
        status = await self.p.call("gateway_status")
        return status.get("trading", {}).get("paper") is True

    async def send(self, request: dict[str, Any], client_id: str | None = None) -> Any:
        """``order_send`` of ``request``; on a paper account only while it is one (a real
        account may trade on paper: once switched back, nothing more is sent).

        Raises:
            Mismatch: the account left paper trading during the check.
        """
        expect(not self.paper or await self.still_paper(),
               "the account left paper trading during the check: nothing more was sent")
        sent = await self.p.call("order_send", {"request": {
            **request, "client_id": client_id or self.client_id()}})
        expect(not self.paper or sent.get("paper") is True,
               f"order {sent.get('order')} was answered by the broker, not the paper book: "
               "the account left paper trading during the check")
        return sent

    async def send_market(self, build: Callable[[dict[str, Any]], dict[str, Any]]
                          ) -> tuple[Any, dict[str, Any], str]:
        """The market order ``build(tick)`` makes, priced at the current quote (see
        :func:`market`) and sent again at the next one when requoted; the last answer, the
        request and its ``client_id``."""
        for attempt in range(1, TRIES + 1):
            tick = await self.p.call("symbol_info_tick", [self.symbol])
            request, cid = market(self.info, tick, build(tick)), self.client_id()
            sent = await self.send(request, cid)
            if sent["retcode"] not in REQUOTED or attempt == TRIES:
                break
        return sent, request, cid

    def unrounded(self, x: float) -> float:
        """``x`` off the symbol's price grid by a third of a point: what bots compute."""
        return float(x + self.info["point"] / 3)

    async def quote(self) -> dict[str, Any]:
        return dict(await self.p.call("symbol_info_tick", [self.symbol]))

    async def send_computed(self, build: Callable[[dict[str, Any]], dict[str, Any]],
                            want: frozenset[int], *, priced: bool = False
                            ) -> tuple[Any, dict[str, Any], str]:
        """The order ``build(tick)`` makes from the current quote, with prices off the
        symbol's grid as bots compute them (``priced``: a market order, priced and requoted
        as :meth:`send_market` does); the answer, the request and how it went. MT4's server
        refuses such prices (129, 130), so the MT4 EA rounds them: they must go through. On
        MT5 they are tried as they are, and put on the symbol's price grid (:func:`on_grid`)
        when refused (10015 invalid price, 10016 invalid stops), which the report says with
        the refusal's retcode: brokers differ. ``want``: the retcodes that mean it went
        through."""
        async def send(make: Callable[[dict[str, Any]], dict[str, Any]]
                       ) -> tuple[Any, dict[str, Any]]:
            if priced:
                sent, request, _ = await self.send_market(make)
                return sent, request
            request = make(await self.quote())
            return await self.send(request), request

        sent, request = await send(build)
        if self.p.mt4 or sent["retcode"] in want or sent["retcode"] not in OFF_GRID:
            return sent, request, "sent as computed"
        refused = said(sent)

        def rounded(tick: dict[str, Any]) -> dict[str, Any]:
            return {k: on_grid(self.info, v) if k in ("price", "sl", "tp") else v
                    for k, v in build(tick).items()}
        sent, request = await send(rounded)
        return sent, request, (f"as computed they were refused with {refused}; on the "
                               "symbol's price grid they went through")

    def at(self, x: float) -> str:
        """``x`` at the symbol's digits (:func:`at_digits`)."""
        return at_digits(self.info, x)

    @property
    def distance(self) -> float:
        """How far from the market the stops and the pending order go (:func:`distance`)."""
        return distance(self.info)

    async def run(self) -> list[Check]:
        """Every trading check; what they opened is undone before this returns."""
        p = self.p
        self.info = await p.call("symbol_info", [self.symbol])
        listener = asyncio.ensure_future(self._listen())
        await p.sleep(0.5)  # the stream subscribes before the first order
        results: list[Check] = []
        try:
            for name, step in (("market_order", self.market_order),
                               ("computed_stops", self.computed_stops),
                               ("pending_order", self.pending_order)):
                try:
                    results.append(Check(name, PASS, await step()))
                except (MtGatewayError, Mismatch, ArithmeticError, KeyError, TypeError,
                        ValueError) as exc:
                    results.append(Check(name, FAIL, f"{type(exc).__name__}: {exc}"))
            results.append(await self.trade_events())
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await self.undo()
        return results

    async def _listen(self) -> None:
        try:
            async for item in self.p.client.trade_events():
                if isinstance(item, Gap):
                    self.gaps.append(item)
                else:
                    self.events.append(item)
        except MtGatewayError as exc:
            self.stream_error = exc.error.description

    async def _position(self) -> dict[str, Any]:
        open_now = await self.p.call("positions_get", {"symbol": self.symbol})
        expect(len(open_now) == 1, f"{len(open_now)} positions of {self.symbol} after one buy")
        self.positions.add(open_now[0]["ticket"])
        return dict(open_now[0])

    async def _close(self, position: dict[str, Any]) -> None:
        closed, _, _ = await self.send_market(lambda _: {
            "action": 1, "type": 1, "symbol": self.symbol, "volume": position["volume"],
            "position": position["ticket"]})
        expect(closed["retcode"] == DONE, f"the close answered {closed['retcode']} "
               f"({closed.get('comment')})")
        self.positions.discard(position["ticket"])

    async def market_order(self) -> str:
        vmin = self.info["volume_min"]
        sent, buy, cid = await self.send_market(lambda tick: opening_buy(self.info, tick))
        expect(sent["retcode"] == DONE,
               f"the buy answered {sent['retcode']} ({sent.get('comment')})")
        position = await self._position()
        again = await self.send(buy, cid)
        expect(again["order"] == sent["order"] and again.get("deduplicated") is True,
               f"the same client_id again answered order {again['order']}, deduplicated "
               f"{again.get('deduplicated')!r}")
        await self._position()
        await self._close(position)
        deals: list[dict[str, Any]] = []
        for _ in range(50):  # the closing deal reaches the history a moment after the answer
            deals = await self.p.call("history_deals_get", {"position": position["ticket"]})
            if len(deals) >= 2:
                break
            await self.p.sleep(0.1)
        expect(sorted(d["entry"] for d in deals) == [0, 1],
               f"history_deals_get(position) shows entries {[d['entry'] for d in deals]}")
        return (f"bought {vmin:g} {self.symbol} at {sent['price']} (order {sent['order']}, "
                f"filling {buy['type_filling']}); the same client_id again answered from the "
                "first; closed; deals in and out in history")

    async def computed_stops(self) -> str:
        d = self.distance
        # the package's example formula, and a percentage
        sent, buy, how = await self.send_computed(lambda tick: {
            "action": 1, "type": 0, "symbol": self.symbol, "volume": self.info["volume_min"],
            "sl": self.unrounded(tick["ask"] - d), "tp": self.unrounded(tick["ask"] * 1.01)},
            frozenset({DONE}), priced=True)
        sl, tp = buy["sl"], buy["tp"]
        expect(sent["retcode"] == DONE, f"a buy with stops {self.at(sl)} / {self.at(tp)} answered "
               f"{said(sent)}")
        position = await self._position()
        expect((position["sl"], position["tp"]) == (on_grid(self.info, sl),
                                                    on_grid(self.info, tp)),
               f"the position's stops are {position['sl']} / {position['tp']}")
        moved, change, _ = await self.send_computed(lambda tick: {
            "action": 6, "symbol": self.symbol, "position": position["ticket"],
            "sl": self.unrounded(tick["bid"] - 1.5 * d), "tp": tp}, frozenset({DONE}))
        atr_sl = change["sl"]
        expect(moved["retcode"] == DONE, f"moving the stop to {self.at(atr_sl)} answered "
               f"{said(moved)}")
        position = await self._position()
        expect(position["sl"] == on_grid(self.info, atr_sl), f"the moved stop is {position['sl']}")
        await self._close(position)
        return (f"stops {self.at(sl)} / {self.at(tp)} ({how}), {self.at(position['tp'])} "
                f"taken; moved to {self.at(atr_sl)}, {self.at(position['sl'])} taken")

    async def pending_order(self) -> str:
        d = self.distance

        def limit(tick: dict[str, Any], away: float) -> dict[str, Any]:
            price = self.unrounded(tick["bid"] - away * d)
            return {"price": price, "sl": self.unrounded(price - d)}

        placed, request, how = await self.send_computed(lambda tick: {
            "action": 5, "type": 2, "symbol": self.symbol, "volume": self.info["volume_min"],
            "type_filling": FILLING_RETURN, **limit(tick, 5)}, PLACED_OK)
        price = request["price"]
        expect(placed["retcode"] in PLACED_OK, f"a buy limit at {self.at(price)} answered "
               f"{said(placed)}")
        order = placed["order"]
        self.orders.add(order)
        moved, change, _ = await self.send_computed(lambda tick: {
            "action": 7, "order": order, "symbol": self.symbol, **limit(tick, 6)},
            frozenset({DONE}))
        lower = change["price"]
        expect(moved["retcode"] == DONE, f"moving it to {self.at(lower)} answered {said(moved)}")
        [live] = await self.p.call("orders_get", {"ticket": order})
        expect(live["price_open"] == on_grid(self.info, lower),
               f"the moved order is at {live['price_open']}")
        removed = await self.send({"action": 8, "order": order})
        expect(removed["retcode"] == DONE, f"removing it answered {said(removed)}")
        self.orders.discard(order)
        [gone] = await self.p.call("history_orders_get", {"ticket": order})
        expect(gone["state"] == 2, f"the removed order's state is {gone['state']}, not cancelled")
        return (f"buy limit at {self.at(price)} ({how}) placed at "
                f"{self.at(on_grid(self.info, price))} ({said(placed)}), moved to "
                f"{self.at(live['price_open'])}, removed (cancelled in history)")

    def _kinds(self) -> list[str]:
        """The types of the events of this account's venue (the paper book's on a paper
        account, the terminal's otherwise), in order."""
        return [str(e.type) for e in self.events if e.paper == self.paper]

    async def trade_events(self) -> Check:
        """The trades above on the ``trades`` stream: every expected event, none lost."""
        kinds: list[str] = []
        for _ in range(EVENT_POLLS):  # events follow the answers by a moment
            kinds = self._kinds()
            if all(kinds.count(k) >= n for k, n in EXPECTED_EVENTS.items()):
                break
            await self.p.sleep(0.1)
        if self.stream_error:
            return Check("trade_events", FAIL, f"the trade event stream failed: "
                         f"{self.stream_error}")
        if self.gaps:
            return Check("trade_events", FAIL, f"trade events lost: {self.gaps[0].detail}")
        book, other = ("the paper book", "the terminal") if self.paper else (
            "the terminal", "the paper book")
        missing = {k: n - kinds.count(k) for k, n in EXPECTED_EVENTS.items()
                   if kinds.count(k) < n}
        if missing:
            seen = (f"{len(kinds)} of {book}'s: {tally(Counter(kinds))}" if kinds
                    else f"none of {book}'s in {EVENT_POLLS / 10:g} s")
            others = len(self.events) - len(kinds)
            if others:
                seen += f" (and {others} of {other}'s)"
            return Check("trade_events", FAIL, (
                f"expected {book}'s events of the trades above ({tally(EXPECTED_EVENTS)}), "
                f"missing {tally(missing)}; the stream showed {seen}"))
        return Check("trade_events", PASS, (
            f"{len(kinds)} events{' of the paper book' if self.paper else ''}: "
            f"{kinds.count('position_opened')} positions opened, "
            f"{kinds.count('position_closed')} closed, orders added and removed, none lost"))

    async def undo(self) -> None:
        """Close what is still open of what the checks opened (a failed step left it), in the
        venue they were opened in: the paper book's tickets may name other orders at the
        broker, so on an account that left paper trading meanwhile nothing is touched."""
        if self.paper and not await self.still_paper():
            return
        for ticket in list(self.positions):
            for position in await self.p.call("positions_get", {"ticket": ticket}):
                if (position.get("paper") is True) != self.paper:
                    continue
                try:
                    await self._close(position)
                except (MtGatewayError, Mismatch):
                    pass
        for order in list(self.orders):
            try:
                await self.send({"action": 8, "order": order})
            except (MtGatewayError, Mismatch):
                pass
