"""The broker test harness: a SimulatedBroker on a scripted market with a manual clock."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from ea_bridge.emulator.scripted import ManualClock, ScriptedMarket, sample_specs
from mt5model.broker import SimulatedBroker
from mt5model.types import SymbolSpec, Tick

T0 = 1_704_103_200_000  # 2024-01-01 10:00:00 server time, a Monday
S0 = T0 // 1000
BUY, SELL = 0, 1
BUY_LIMIT, SELL_LIMIT, BUY_STOP, SELL_STOP, BUY_STOP_LIMIT, SELL_STOP_LIMIT = range(2, 8)
DEAL, PENDING, SLTP, MODIFY, REMOVE, CLOSE_BY = 1, 5, 6, 7, 8, 10


class CountingMarket(ScriptedMarket):
    """A scripted market that counts ``ticks_between`` calls (to test that idle is cheap)."""

    def __init__(self, specs: list[SymbolSpec]) -> None:
        super().__init__(specs)
        self.walks = 0

    def ticks_between(self, symbol: str, after_msc: int, until_msc: int) -> list[Tick]:
        self.walks += 1
        return super().ticks_between(symbol, after_msc, until_msc)


class Env:
    """A broker on a scripted market with EURUSD 1.10000/1.10010 and USDJPY 150.000/150.020."""

    QUOTES: ClassVar[tuple[tuple[str, float, float], ...]] = (
        ("EURUSD", 1.1, 1.1001), ("USDJPY", 150.0, 150.02))

    def __init__(self, specs: list[SymbolSpec] | None = None, **account: Any) -> None:
        self.clock = ManualClock(T0)
        self.market = CountingMarket(specs if specs is not None else sample_specs())
        names = {s.name for s in self.market.specs()}
        for symbol, bid, ask in self.QUOTES:
            if symbol in names:
                self.market.set_price(symbol, bid, ask, T0)
        self.broker = SimulatedBroker(self.market, clock=self.clock, login=5001,
                                      server="Sim-Demo", **account)

    def quote(self, symbol: str, bid: float, ask: float, after_ms: int = 1000) -> int:
        """Move the clock and set a new quote at the new time."""
        now = self.clock.advance(after_ms)
        self.market.set_price(symbol, bid, ask, now)
        return now

    def deal(self, order_type: int, volume: float, symbol: str = "EURUSD",
             **extra: Any) -> dict[str, Any]:
        """Send a market order with IOC filling (allowed on every sample symbol)."""
        return self.broker.order_send({"action": DEAL, "symbol": symbol, "volume": volume,
                                       "type": order_type, "type_filling": 1, **extra})

    def pending(self, order_type: int, price: float, volume: float = 1.0,
                symbol: str = "EURUSD", **extra: Any) -> dict[str, Any]:
        """Place a pending order with RETURN filling."""
        return self.broker.order_send({"action": PENDING, "symbol": symbol, "volume": volume,
                                       "type": order_type, "price": price, "type_filling": 2,
                                       **extra})

    def with_spec(self, **changes: Any) -> None:
        """Change EURUSD's specification."""
        self.market.set_spec(dataclasses.replace(self.market.spec("EURUSD"), **changes))
