"""The trading checks of ``mtgateway check --trade``, on a demo account only.

They trade the smallest volume of one symbol that has no open position (so nothing of the
owner's is touched, netting accounts included) and whose ``order_check`` passes now: a market
buy, the same ``client_id`` again (answered from the first, never a second order), its close;
stops computed the way bots compute them (``price - 100 * point``, a percentage, an ATR
multiple: floats that are not the symbol's prices, which MetaTrader 4 refuses unrounded), a
change of them; a pending order placed, moved and removed; and the trade events of all that on
the stream. Whatever they opened is closed or removed before they return, failure or not.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any, Final

from mtgateway.errors import MtGatewayError
from mtgateway.stream import Gap, TradeEvent

from .probe import Mismatch, Probe, expect
from .report import FAIL, PASS, Check

__all__ = ["TradeSession", "pick_symbol"]

DONE: Final = 10009
PLACED: Final = 10008
#: Points between the market and the stops or the pending order, at least (or 3x the
#: symbol's stop level, or 3x its spread, when that is more).
DISTANCE_POINTS: Final = 100


async def pick_symbol(p: Probe, wanted: str | None) -> tuple[str | None, str]:
    """The symbol to trade, or None and why none: ``wanted``, else the first Market Watch
    symbol with no open position whose order_check of its smallest buy passes."""
    candidates = [wanted] if wanted else [p.symbol] + [s for s in p.market_watch if s != p.symbol]
    why = "no Market Watch symbol"
    for name in candidates[:20]:
        if await p.call("positions_get", {"symbol": name}):
            why = f"{name} has an open position (the checks never touch the owner's)"
            continue
        info = await p.call("symbol_info", [name])
        check = await p.call("order_check", {"request": {
            "action": 1, "type": 0, "symbol": name, "volume": info["volume_min"]}})
        if check["retcode"] == 0:
            return name, f"{name}: order_check of {info['volume_min']:g} lot passes"
        why = f"{name}: order_check answered {check['retcode']} ({check.get('comment')})"
    return None, why


class TradeSession:
    """The trading checks on one symbol, remembering what they opened to undo it."""

    def __init__(self, p: Probe, symbol: str) -> None:
        self.p, self.symbol = p, symbol
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

    async def send(self, request: dict[str, Any], client_id: str | None = None) -> Any:
        return await self.p.call("order_send", {"request": {
            **request, "client_id": client_id or self.client_id()}})

    def unrounded(self, x: float) -> float:
        """``x`` off the symbol's price grid by a third of a point: what bots compute."""
        return float(x + self.info["point"] / 3)

    async def send_computed(self, request: dict[str, Any], want: int) -> tuple[Any, str]:
        """``request`` with prices off the symbol's grid, as bots compute them. MT4's server
        refuses those (129, 130), so the MT4 EA rounds them: they must go through. On MT5 they
        are tried as they are, and rounded to the symbol's digits when refused (10015 invalid
        price, 10016 invalid stops), which the report says: brokers differ."""
        sent = await self.send(request)
        if self.p.mt4 or sent["retcode"] == want or sent["retcode"] not in (10015, 10016):
            return sent, "sent as computed"
        dg = self.info["digits"]
        rounded = {k: round(v, dg) if k in ("price", "sl", "tp") else v
                   for k, v in request.items()}
        return await self.send(rounded), (f"MT5 refused them as computed ({sent['retcode']}), "
                                          "took them rounded to the symbol's digits")

    @property
    def distance(self) -> float:
        """How far from the market the stops and the pending order go: clear of the spread
        and the symbol's stop level."""
        level = int(self.info.get("trade_stops_level") or 0)
        spread = int(self.info.get("spread") or 0)
        return float(max(DISTANCE_POINTS, 3 * level, 3 * spread) * self.info["point"])

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
        closed = await self.send({"action": 1, "type": 1, "symbol": self.symbol,
                                  "volume": position["volume"], "position": position["ticket"]})
        expect(closed["retcode"] == DONE, f"the close answered {closed['retcode']} "
               f"({closed.get('comment')})")
        self.positions.discard(position["ticket"])

    async def market_order(self) -> str:
        vmin = self.info["volume_min"]
        buy = {"action": 1, "type": 0, "symbol": self.symbol, "volume": vmin}
        cid = self.client_id()
        sent = await self.send(buy, cid)
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
        return (f"bought {vmin:g} {self.symbol} at {sent['price']} (order {sent['order']}); "
                "the same client_id again answered from the first; closed; deals in and out "
                "in history")

    async def computed_stops(self) -> str:
        tick = await self.p.call("symbol_info_tick", [self.symbol])
        dg, d = self.info["digits"], self.distance
        # the package's example formula, and a percentage
        sl, tp = self.unrounded(tick["ask"] - d), self.unrounded(tick["ask"] * 1.01)
        sent, how = await self.send_computed({"action": 1, "type": 0, "symbol": self.symbol,
                                              "volume": self.info["volume_min"], "sl": sl,
                                              "tp": tp}, DONE)
        expect(sent["retcode"] == DONE, f"a buy with stops {sl!r} / {tp!r} answered "
               f"{sent['retcode']} ({sent.get('comment')})")
        position = await self._position()
        expect((position["sl"], position["tp"]) == (round(sl, dg), round(tp, dg)),
               f"the position's stops are {position['sl']} / {position['tp']}")
        atr_sl = self.unrounded(tick["bid"] - 1.5 * d)
        moved, _ = await self.send_computed({"action": 6, "symbol": self.symbol,
                                             "position": position["ticket"], "sl": atr_sl,
                                             "tp": tp}, DONE)
        expect(moved["retcode"] == DONE, f"moving the stop to {atr_sl!r} answered "
               f"{moved['retcode']} ({moved.get('comment')})")
        position = await self._position()
        expect(position["sl"] == round(atr_sl, dg), f"the moved stop is {position['sl']}")
        await self._close(position)
        return (f"stops {sl!r} / {tp!r} ({how}), {position['tp']} taken; moved to "
                f"{atr_sl!r}, {position['sl']} taken")

    async def pending_order(self) -> str:
        tick = await self.p.call("symbol_info_tick", [self.symbol])
        dg, d = self.info["digits"], self.distance
        price = self.unrounded(tick["bid"] - 5 * d)
        placed, how = await self.send_computed({"action": 5, "type": 2, "symbol": self.symbol,
                                                "volume": self.info["volume_min"],
                                                "price": price}, PLACED)
        expect(placed["retcode"] == PLACED, f"a buy limit at {price!r} answered "
               f"{placed['retcode']} ({placed.get('comment')})")
        order = placed["order"]
        self.orders.add(order)
        lower = self.unrounded(tick["bid"] - 6 * d)
        moved, _ = await self.send_computed({"action": 7, "order": order, "symbol": self.symbol,
                                             "price": lower}, DONE)
        expect(moved["retcode"] == DONE, f"moving it to {lower!r} answered {moved['retcode']} "
               f"({moved.get('comment')})")
        [live] = await self.p.call("orders_get", {"ticket": order})
        expect(live["price_open"] == round(lower, dg),
               f"the moved order is at {live['price_open']}")
        removed = await self.send({"action": 8, "order": order})
        expect(removed["retcode"] == DONE, f"removing it answered {removed['retcode']}")
        self.orders.discard(order)
        [gone] = await self.p.call("history_orders_get", {"ticket": order})
        expect(gone["state"] == 2, f"the removed order's state is {gone['state']}, not cancelled")
        return (f"buy limit at {price!r} ({how}) placed at {round(price, dg)}, moved to "
                f"{live['price_open']}, removed (cancelled in history)")

    async def trade_events(self) -> Check:
        kinds: list[str] = []
        for _ in range(50):  # events follow the answers by a moment
            kinds = [str(e.type) for e in self.events]
            if kinds.count("position_closed") >= 2 and "order_removed" in kinds:
                break
            await self.p.sleep(0.1)
        if self.stream_error:
            return Check("trade_events", FAIL, f"the trade event stream failed: "
                         f"{self.stream_error}")
        if self.gaps:
            return Check("trade_events", FAIL, f"trade events lost: {self.gaps[0].detail}")
        opened, closed = kinds.count("position_opened"), kinds.count("position_closed")
        if opened < 2 or closed < 2 or "order_added" not in kinds:
            return Check("trade_events", FAIL, f"the stream showed {kinds}")
        return Check("trade_events", PASS, f"{len(kinds)} events: {opened} positions opened, "
                     f"{closed} closed, orders added and removed, none lost")

    async def undo(self) -> None:
        """Close what is still open of what the checks opened (a failed step left it)."""
        for ticket in list(self.positions):
            for position in await self.p.call("positions_get", {"ticket": ticket}):
                try:
                    await self._close(position)
                except (MtGatewayError, Mismatch):
                    pass
        for order in list(self.orders):
            try:
                await self.send({"action": 8, "order": order})
            except MtGatewayError:
                pass
