"""The books of the simulated broker: account money, orders, positions, deals, and what the
market does to them.

``broker.py`` decides whether a request is admitted (the MT5 retcodes); this module holds the
state it changes and carries changes out, so that both client requests and server-side events
(pending activation, SL/TP, expiry, stop out -- see :meth:`Ledger.walk`) go through the same
code: :meth:`Ledger.fill` turns an executed order into its history order, deal, position
change and trade events exactly once. The MT5 semantics are described in ``broker.py``'s
module docstring.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mt5model.margin import MoneyCalculator, NoQuoteError
from mt5model.mt5 import (
    DealEntry,
    DealReason,
    DealType,
    OrderFilling,
    OrderReason,
    OrderState,
    OrderTime,
    OrderType,
    PositionReason,
    PositionType,
    TradeRetcode,
)
from mt5model.orders import COMMENT_LENGTH, Deal, MT5Dict, Order, Position
from mt5model.rules import BUY_TYPES, Rejection
from mt5model.types import AccountMarginMode, MarketView, SymbolSpec, Tick

__all__ = ["AccountSettings", "AccountState", "Fill", "Leg", "Ledger", "money", "rollovers",
           "round_volume", "swap_share", "weekday"]

#: ACCOUNT_TRADE_MODE_DEMO.
_ACCOUNT_TRADE_MODE_DEMO = 0
#: ACCOUNT_STOPOUT_MODE_PERCENT.
_ACCOUNT_STOPOUT_MODE_PERCENT = 0
_DAY_MS = 86_400_000
_SATURDAY, _SUNDAY = 5, 6


def rollovers(after_msc: int, until_msc: int) -> list[int]:
    """Server midnights in ``(after_msc, until_msc]`` (epoch ms of the server clock)."""
    first = (after_msc // _DAY_MS + 1) * _DAY_MS
    return list(range(first, until_msc + 1, _DAY_MS))


def weekday(time_msc: int) -> int:
    """Monday = 0 ... Sunday = 6 of a server time (1970-01-01 was a Thursday)."""
    return (time_msc // _DAY_MS + 3) % 7


def swap_share(swap: float, closed: float, volume: float) -> float:
    """The part of a position's accumulated swap that a close of ``closed`` lots realizes."""
    if volume <= 0 or closed >= volume:
        return swap
    return money(swap * closed / volume)


def round_volume(volume: float) -> float:
    """A volume without floating-point noise (8 decimals)."""
    return round(volume, 8)


def money(value: float) -> float:
    """An amount in the account currency, rounded to its 2 digits."""
    return round(value, 2)


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """The account's fixed properties, as ``account_info`` reports them."""

    login: int
    server: str
    company: str
    name: str
    currency: str
    leverage: int
    margin_mode: AccountMarginMode
    margin_so_call: float
    margin_so_so: float
    limit_orders: int


@dataclass(frozen=True, slots=True)
class Leg:
    """A position reduced to what the account arithmetic needs."""

    symbol: str
    is_buy: bool
    volume: float
    price_open: float
    swap: float = 0.0


@dataclass(frozen=True, slots=True)
class AccountState:
    """Account money values at one instant, rounded to the currency's 2 digits."""

    balance: float
    profit: float
    equity: float
    margin: float
    margin_free: float
    margin_level: float


@dataclass(frozen=True, slots=True)
class Fill:
    """What one executed order does to the positions.

    ``target``: the position closed/reduced/reversed/added to (None: a new position opens);
    ``close_volume``: volume of ``target`` closed; ``open_volume``: volume opened as a new
    position or, in netting, left after a reversal; ``add``: netting addition to ``target``.
    """

    spec: SymbolSpec
    is_buy: bool
    volume: float
    price: float
    target: Position | None
    close_volume: float
    open_volume: float
    add: bool


class Ledger:
    """Account balance, pending orders, positions, history and the pending trade events."""

    def __init__(self, market: MarketView, settings: AccountSettings, balance: float,
                 first_ticket: int, now: int) -> None:
        self.market = market
        self.settings = settings
        self.calc = MoneyCalculator(market, settings.currency, settings.leverage)
        self.hedging = settings.margin_mode == AccountMarginMode.RETAIL_HEDGING
        self.balance = money(balance)
        #: Credit the broker extends (counts in equity, never in balance; MT5's
        #: ``ACCOUNT_CREDIT``).
        self.credit = 0.0
        #: The balance and credit operations applied, by the caller's operation id: their
        #: deal tickets (an operation is applied once, whatever asks twice).
        self.operations: dict[str, int] = {}
        self.orders: dict[int, Order] = {}
        self.positions: dict[int, Position] = {}
        self.history_orders: list[Order] = []
        self.deals: list[Deal] = []
        self.events: list[MT5Dict] = []
        self.next_ticket = first_ticket
        self.trade_allowed = True
        if self.balance:
            self.deals.append(Deal(
                ticket=self.ticket(), order=0, time_msc=now, type=DealType.BALANCE,
                entry=DealEntry.IN, magic=0, position_id=0, reason=DealReason.CLIENT,
                volume=0.0, price=0.0, profit=self.balance, symbol="",
                comment="Initial deposit",
            ))

    def walk(self, last: int, now: int) -> None:
        """Apply the market between ``last`` (excluded) and ``now`` (included) to the books.

        Walks, in time order, the ticks of every symbol with an open position or pending order
        and applies pending activation (and Stop Limit conversion), SL/TP, order expiry and
        stop out. Returns at once when nothing is open.
        """
        if not self.orders and not self.positions:
            return
        symbols = sorted({o.symbol for o in self.orders.values()}
                         | {p.symbol for p in self.positions.values()})
        stream: list[tuple[int, int, Tick, str]] = []
        for index, symbol in enumerate(symbols):
            stream.extend((tick.time_msc, index, tick, symbol)
                          for tick in self.market.ticks_between(symbol, last, now))
        stream.sort(key=lambda item: (item[0], item[1]))
        midnights = rollovers(last, now)
        for time_msc, _, tick, symbol in stream:
            while midnights and midnights[0] <= time_msc:
                self.rollover(midnights.pop(0))
            self.expire(time_msc)
            self.on_tick(symbol, tick)
        for midnight in midnights:
            self.rollover(midnight)
        self.expire(now)

    # ----------------------------------------------------------------------------- plumbing

    def ticket(self) -> int:
        """The next ticket (orders and deals share one counter)."""
        ticket = self.next_ticket
        self.next_ticket += 1
        return ticket

    def emit(self, kind: str, time_msc: int, key: str, payload: MT5Dict) -> None:
        """Queue a trade event ``{"type": kind, "time_msc": ..., key: payload}``."""
        self.events.append({"type": kind, "time_msc": time_msc, key: payload})

    def tick(self, symbol: str, time_msc: int) -> Tick | None:
        """The symbol's quote at ``time_msc`` (None before its first tick)."""
        return self.market.tick_at(symbol, time_msc)

    def close_price(self, symbol: str, is_buy: bool, time_msc: int, default: float) -> float:
        """The price a position closes at now: Bid for a buy, Ask for a sell."""
        tick = self.tick(symbol, time_msc)
        if tick is None:
            return default
        return tick.bid if is_buy else tick.ask

    def order_price(self, order: Order, time_msc: int) -> float:
        """ORDER_PRICE_CURRENT of a pending order: Ask for buy types, Bid for sell types."""
        tick = self.tick(order.symbol, time_msc)
        if tick is None:
            return 0.0
        return tick.ask if order.type in BUY_TYPES else tick.bid

    # ------------------------------------------------------------------------ account maths

    @staticmethod
    def leg(position: Position) -> Leg:
        """The position as a :class:`Leg`."""
        return Leg(position.symbol, position.type == PositionType.BUY, position.volume,
                   position.price_open, position.swap)

    def leg_profit(self, leg: Leg, time_msc: int) -> float:
        """Floating profit of ``leg`` at ``time_msc`` in the account currency, rounded."""
        spec = self.market.spec(leg.symbol)
        close = self.close_price(leg.symbol, leg.is_buy, time_msc, leg.price_open)
        return money(self.calc.profit(spec, leg.is_buy, leg.volume, leg.price_open, close,
                                      time_msc))

    def leg_margin(self, leg: Leg, time_msc: int) -> float:
        """Margin of ``leg`` (at its open price) in the account currency, unrounded."""
        spec = self.market.spec(leg.symbol)
        return self.calc.margin(spec, leg.volume, leg.price_open, time_msc)

    def state(self, time_msc: int, legs: Iterable[Leg] | None = None,
              balance: float | None = None) -> AccountState:
        """Account values at ``time_msc`` for ``legs`` (default: the open positions)."""
        if legs is None:
            legs = [self.leg(p) for p in self.positions.values()]
        legs = list(legs)
        balance = self.balance if balance is None else balance
        profit = 0.0
        margin = 0.0
        factors = self.hedged_factors(legs)
        for leg in legs:
            profit += self.leg_profit(leg, time_msc) + leg.swap
            margin += self.leg_margin(leg, time_msc) * factors.get((leg.symbol, leg.is_buy), 1.0)
        profit = money(profit)
        margin = money(margin)
        equity = money(balance + self.credit + profit)
        level = money(equity / margin * 100.0) if margin > 0 else 0.0
        return AccountState(balance=money(balance), profit=profit, equity=equity,
                            margin=margin, margin_free=money(equity - margin),
                            margin_level=level)

    def hedged_factors(self, legs: list[Leg]) -> dict[tuple[str, bool], float]:
        """``(symbol, is_buy)`` → the share of a leg's full margin it holds on a hedging account.

        MT5 computes the margin of the covered volume of a symbol (``min(buy lots, sell
        lots)``) with ``SYMBOL_MARGIN_HEDGED`` as the contract size, and the uncovered rest
        with the full one (``margin_hedged_use_leg`` false, as published). Spread over a side's
        legs pro rata: covered share ``c`` of a side costs ``(1 - c) + c * hedged / contract``.
        """
        if not self.hedging:
            return {}
        volumes: dict[tuple[str, bool], float] = {}
        for leg in legs:
            volumes[(leg.symbol, leg.is_buy)] = volumes.get((leg.symbol, leg.is_buy), 0.0) \
                + leg.volume
        factors: dict[tuple[str, bool], float] = {}
        for (symbol, is_buy), volume in volumes.items():
            covered = min(volume, volumes.get((symbol, not is_buy), 0.0))
            if covered <= 0 or volume <= 0:
                continue
            spec = self.market.spec(symbol)
            ratio = spec.margin_hedged / spec.trade_contract_size
            share = covered / volume
            factors[(symbol, is_buy)] = (1.0 - share) + share * ratio
        return factors

    def account_dict(self, state: AccountState) -> MT5Dict:
        """``AccountInfo`` for the money values of ``state``."""
        return {
            "login": self.settings.login,
            "trade_mode": _ACCOUNT_TRADE_MODE_DEMO,
            "leverage": self.settings.leverage,
            "limit_orders": self.settings.limit_orders,
            "margin_so_mode": _ACCOUNT_STOPOUT_MODE_PERCENT,
            "trade_allowed": True,
            "trade_expert": self.trade_allowed,
            "margin_mode": int(self.settings.margin_mode),
            "currency_digits": 2,
            "fifo_close": False,
            "balance": state.balance,
            "credit": self.credit,
            "profit": state.profit,
            "equity": state.equity,
            "margin": state.margin,
            "margin_free": state.margin_free,
            "margin_level": state.margin_level,
            "margin_so_call": self.settings.margin_so_call,
            "margin_so_so": self.settings.margin_so_so,
            "margin_initial": 0.0,
            "margin_maintenance": 0.0,
            "assets": 0.0,
            "liabilities": 0.0,
            "commission_blocked": 0.0,
            "name": self.settings.name,
            "server": self.settings.server,
            "currency": self.settings.currency,
            "company": self.settings.company,
        }

    def position_dict(self, position: Position, time_msc: int) -> MT5Dict:
        """``TradePosition`` with the price and profit at ``time_msc``."""
        leg = self.leg(position)
        price = self.close_price(position.symbol, leg.is_buy, time_msc, position.price_open)
        return position.to_dict(price, self.leg_profit(leg, time_msc))

    def emit_account(self, time_msc: int) -> None:
        """Queue ``account_updated`` with the account at ``time_msc``."""
        self.emit("account_updated", time_msc, "account",
                  self.account_dict(self.state(time_msc)))

    def netting_position(self, symbol: str) -> Position | None:
        """The symbol's position (the only one on a netting account), or None."""
        for position in self.positions.values():
            if position.symbol == symbol:
                return position
        return None

    # -------------------------------------------------------------------------------- fills

    def plan_fill(self, spec: SymbolSpec, is_buy: bool, volume: float, price: float,
                  explicit: Position | None) -> Fill:
        """How a fill of ``volume`` at ``price`` combines with the existing positions."""
        target = explicit
        if target is None and not self.hedging:
            target = self.netting_position(spec.name)
        if target is None:
            return Fill(spec, is_buy, volume, price, None, 0.0, volume, False)
        if (target.type == PositionType.BUY) == is_buy:
            return Fill(spec, is_buy, volume, price, target, 0.0, 0.0, True)
        closed = min(volume, target.volume)
        return Fill(spec, is_buy, volume, price, target, closed,
                    round_volume(volume - closed), False)

    def after(self, fill: Fill, now: int) -> AccountState:
        """The account once ``fill`` is executed, at the current prices."""
        legs: list[Leg] = []
        realized = 0.0
        for position in self.positions.values():
            leg = self.leg(position)
            if position is not fill.target:
                legs.append(leg)
            elif fill.add:
                volume = leg.volume + fill.volume
                price = (leg.price_open * leg.volume + fill.price * fill.volume) / volume
                legs.append(Leg(leg.symbol, leg.is_buy, volume, price))
            else:
                realized += money(self.calc.profit(fill.spec, leg.is_buy, fill.close_volume,
                                                   leg.price_open, fill.price, now))
                share = swap_share(leg.swap, fill.close_volume, leg.volume)
                realized += share
                rest = round_volume(leg.volume - fill.close_volume)
                if rest > 0:
                    legs.append(Leg(leg.symbol, leg.is_buy, rest, leg.price_open,
                                    money(leg.swap - share)))
        if fill.open_volume > 0:
            legs.append(Leg(fill.spec.name, fill.is_buy, fill.open_volume, fill.price))
        return self.state(now, legs, self.balance + realized)

    def check_money(self, fill: Fill, now: int) -> AccountState:
        """NO_MONEY when the fill raises the margin beyond the equity; the state after."""
        before = self.state(now)
        after = self.after(fill, now)
        if after.margin > before.margin and after.margin_free < 0:
            raise Rejection(TradeRetcode.NO_MONEY)
        return after

    def fill(self, order: Order, fill: Fill, now: int, reason: int) -> Deal:
        """Execute ``order`` as ``fill``: history order, deal, position change, events."""
        spec, target = fill.spec, fill.target
        realized = 0.0
        swap = 0.0
        closed: MT5Dict | None = None
        if target is None:
            position = Position(
                ticket=order.ticket, time_msc=now,
                type=PositionType.BUY if fill.is_buy else PositionType.SELL, magic=order.magic,
                identifier=order.ticket,
                reason=order.reason if order.reason <= PositionReason.EXPERT
                else PositionReason.EXPERT,
                volume=fill.volume, price_open=fill.price, symbol=spec.name,
                comment=order.comment, sl=order.sl, tp=order.tp, time_update_msc=now,
            )
            self.positions[position.ticket] = position
            entry, kind = DealEntry.IN, "position_opened"
        elif fill.add:
            position = target
            volume = round_volume(position.volume + fill.volume)
            position.price_open = round(
                (position.price_open * position.volume + fill.price * fill.volume) / volume, 10)
            position.volume = volume
            position.sl = order.sl or position.sl
            position.tp = order.tp or position.tp
            position.time_update_msc = now
            entry, kind = DealEntry.IN, "position_updated"
        else:
            position = target
            was_buy = position.type == PositionType.BUY
            realized = money(self.calc.profit(spec, was_buy, fill.close_volume,
                                              position.price_open, fill.price, now))
            swap = swap_share(position.swap, fill.close_volume, position.volume)
            position.swap = money(position.swap - swap)
            rest = round_volume(position.volume - fill.close_volume)
            position.time_update_msc = now
            if fill.open_volume > 0:
                # MT5 netting: a reversal keeps POSITION_IDENTIFIER but the position takes
                # the reversing order's ticket (POSITION_TICKET).
                del self.positions[position.ticket]
                position.ticket = order.ticket
                self.positions[position.ticket] = position
                position.type = PositionType.BUY if fill.is_buy else PositionType.SELL
                position.volume = fill.open_volume
                position.price_open = fill.price
                position.sl, position.tp = order.sl, order.tp
                entry, kind = DealEntry.INOUT, "position_updated"
            elif rest > 0:
                position.volume = rest
                entry, kind = DealEntry.OUT, "position_updated"
            else:
                del self.positions[position.ticket]
                closed = position.to_dict(fill.price, realized)
                entry, kind = DealEntry.OUT, "position_closed"
        order.position_id = position.identifier
        order.state = OrderState.FILLED
        order.time_done_msc = now
        order.volume_current = 0.0
        order.price_done = fill.price
        if self.orders.pop(order.ticket, None) is not None:
            self.history_orders.append(order)
            self.emit("order_removed", now, "order", order.to_dict(fill.price))
        else:
            self.history_orders.append(order)
        deal = Deal(
            ticket=self.ticket(), order=order.ticket, time_msc=now,
            type=DealType.BUY if fill.is_buy else DealType.SELL, entry=entry, magic=order.magic,
            position_id=position.identifier, reason=reason, volume=fill.volume,
            price=fill.price, profit=realized, symbol=spec.name, comment=order.comment,
            swap=swap,
        )
        self.deals.append(deal)
        self.balance = money(self.balance + realized + swap)
        self.emit("deal_added", now, "deal", deal.to_dict())
        self.emit(kind, now, "position",
                  closed if closed is not None else self.position_dict(position, now))
        return deal

    def rollover(self, midnight_msc: int) -> None:
        """Charge the swap of every open position at a server midnight (``DEAL_REASON_ROLLOVER``
        in MT5; here accumulated in ``POSITION_SWAP`` and realized by the closing deal).

        ``SYMBOL_SWAP_MODE_POINTS`` as published: ``swap_long``/``swap_short`` points per lot a
        night, converted from the profit currency at the midnight's quote. A night is charged
        when the symbol traded on the day that ended; the day named by ``swap_rollover3days``
        is charged three nights for symbols closed at the weekend (the weekend's nights are
        charged then, as brokers do); a symbol trading every day pays each night once.
        """
        ended = weekday(midnight_msc - 1)
        charged = False
        for position in list(self.positions.values()):
            if position.time_msc >= midnight_msc:
                continue
            spec = self.market.spec(position.symbol)
            days = {s.weekday for s in spec.sessions}
            if ended not in days:
                continue
            nights = 1
            weekend_closed = _SATURDAY not in days and _SUNDAY not in days
            if weekend_closed and (ended + 1) % 7 == spec.swap_rollover3days:
                nights = 3
            is_buy = position.type == PositionType.BUY
            points = spec.swap_long if is_buy else spec.swap_short
            if points == 0:
                continue
            price = self.close_price(spec.name, is_buy, midnight_msc, position.price_open)
            try:
                rate = self.calc.rate(spec.currency_profit, midnight_msc, spec.name, price)
            except NoQuoteError:
                continue  # no quote to convert at: not charged rather than charged wrongly
            charge = money(points * spec.point * spec.trade_contract_size * position.volume
                           * nights * rate)
            position.swap = money(position.swap + charge)
            self.emit("position_updated", midnight_msc, "position",
                      self.position_dict(position, midnight_msc))
            charged = True
        if charged:
            self.emit_account(midnight_msc)

    def retire(self, order: Order, state: int, time_msc: int) -> None:
        """Move a pending order to the history unfilled (canceled, expired, rejected)."""
        del self.orders[order.ticket]
        order.state = state
        order.time_done_msc = time_msc
        order.price_done = self.order_price(order, time_msc)
        self.history_orders.append(order)
        self.emit("order_removed", time_msc, "order", order.to_dict(order.price_done))

    # ------------------------------------------------------------------------- market walk

    def expire(self, time_msc: int) -> None:
        """Expire every pending order whose expiry instant is at or before ``time_msc``."""
        due = sorted((o for o in self.orders.values()
                      if o.expires_msc is not None and o.expires_msc <= time_msc),
                     key=lambda o: (o.expires_msc or 0, o.ticket))
        for order in due:
            self.retire(order, OrderState.EXPIRED, order.expires_msc or time_msc)

    def on_tick(self, symbol: str, tick: Tick) -> None:
        """Pending activation, SL/TP and stop out for one tick of ``symbol``."""
        for order in [o for o in self.orders.values() if o.symbol == symbol]:
            self._check_pending(order, tick)
        for position in [p for p in self.positions.values() if p.symbol == symbol]:
            self._check_sltp(position, tick)
        if self.positions:
            self._check_stop_out(tick.time_msc)

    def _check_pending(self, order: Order, tick: Tick) -> None:
        spec = self.market.spec(order.symbol)
        eps = spec.point * 1e-3
        price = order.price_open
        if order.type == OrderType.BUY_STOP_LIMIT and tick.ask >= price - eps \
                or order.type == OrderType.SELL_STOP_LIMIT and tick.bid <= price + eps:
            order.type = OrderType.BUY_LIMIT if order.type == OrderType.BUY_STOP_LIMIT \
                else OrderType.SELL_LIMIT
            order.price_open, order.price_stoplimit = order.price_stoplimit, 0.0
            self.emit("order_updated", tick.time_msc, "order",
                      order.to_dict(tick.ask if order.type in BUY_TYPES else tick.bid))
            price = order.price_open
        kind = order.type
        triggered = (
            kind == OrderType.BUY_LIMIT and tick.ask <= price + eps
            or kind == OrderType.SELL_LIMIT and tick.bid >= price - eps
            or kind == OrderType.BUY_STOP and tick.ask >= price - eps
            or kind == OrderType.SELL_STOP and tick.bid <= price + eps
        )
        if not triggered:
            return
        is_buy = kind in BUY_TYPES
        fill = self.plan_fill(spec, is_buy, order.volume_current,
                              tick.ask if is_buy else tick.bid, None)
        now = tick.time_msc
        try:
            self.check_money(fill, now)
        except Rejection:
            self.retire(order, OrderState.REJECTED, now)
            return
        self.fill(order, fill, now, DealReason.EXPERT)
        self.emit_account(now)

    def _check_sltp(self, position: Position, tick: Tick) -> None:
        spec = self.market.spec(position.symbol)
        eps = spec.point * 1e-3
        if position.type == PositionType.BUY:
            price = tick.bid
            hit_sl = position.sl > 0 and price <= position.sl + eps
            hit_tp = position.tp > 0 and price >= position.tp - eps
        else:
            price = tick.ask
            hit_sl = position.sl > 0 and price >= position.sl - eps
            hit_tp = position.tp > 0 and price <= position.tp + eps
        if hit_sl:
            self._close(position, price, tick.time_msc, OrderReason.SL,
                        f"[sl {position.sl:.{spec.digits}f}]")
        elif hit_tp:
            self._close(position, price, tick.time_msc, OrderReason.TP,
                        f"[tp {position.tp:.{spec.digits}f}]")

    def _check_stop_out(self, time_msc: int) -> None:
        while self.positions:
            state = self.state(time_msc)
            if state.margin <= 0 or state.margin_level >= self.settings.margin_so_so:
                return
            worst = min(self.positions.values(),
                        key=lambda p: (self.leg_profit(self.leg(p), time_msc), p.ticket))
            is_buy = worst.type == PositionType.BUY
            price = self.close_price(worst.symbol, is_buy, time_msc, worst.price_open)
            self._close(worst, price, time_msc, OrderReason.SO,
                        f"[so {state.margin_level:.2f}%]")

    def _close(self, position: Position, price: float, time_msc: int, reason: OrderReason,
               comment: str) -> None:
        """Close a whole position by a server-side market order (SL, TP, stop out)."""
        spec = self.market.spec(position.symbol)
        close_buy = position.type == PositionType.SELL
        order = Order(
            ticket=self.ticket(), time_setup_msc=time_msc,
            type=OrderType.BUY if close_buy else OrderType.SELL, type_time=OrderTime.GTC,
            type_filling=OrderFilling.FOK, state=OrderState.STARTED, magic=position.magic,
            reason=reason, volume_initial=position.volume, volume_current=position.volume,
            price_open=price, symbol=spec.name, comment=comment[:COMMENT_LENGTH],
        )
        fill = Fill(spec, close_buy, position.volume, price, position, position.volume, 0.0,
                    False)
        self.fill(order, fill, time_msc, DealReason(int(reason)))
        self.emit_account(time_msc)
