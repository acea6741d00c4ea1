"""The simulated broker and account of the emulated MetaTrader 5 terminal (paper trading).

``SimulatedBroker`` answers the trading half of the official ``MetaTrader5`` Python package --
``account_info``, ``orders_*``, ``positions_*``, ``history_*``, ``order_calc_*``,
``order_check`` and ``order_send`` -- with the same method and parameter names and with plain
dicts carrying MT5's field names. Its answers must be the ones a real MT5 trade server gives,
because the product lets strategies written against MT5 run on it unchanged.

The code is split by concern: admission rules (retcodes) in ``rules.py``, margin/profit and
currency conversion in ``margin.py``, records and request parsing in ``orders.py``, the books
and what fills, triggers and expiry do to them in ``ledger.py``; this module decides which
request is admitted and exposes the MT5 API.

MT5 semantics followed
----------------------
* A broker refusal is a *result* with a ``TRADE_RETCODE_*`` (see ``rules.py`` for the admission
  rules); only a request that cannot be read raises ``EmulatorError(INVALID_PARAMS)``.
* Tickets come from one counter (orders and deals share it, so every ticket is unique); a
  position's ticket and identifier are the ticket of the order that opened it, and the
  identifier never changes (netting additions, reductions and reversals keep it; a reversal
  gives the position the reversing order's ticket).
* Hedging (``ACCOUNT_MARGIN_MODE_RETAIL_HEDGING``): every deal opens a new position unless the
  request names ``position``, which it then closes (fully or partly). ``TRADE_ACTION_CLOSE_BY``
  closes a position by an opposite one: one ``ORDER_TYPE_CLOSE_BY`` order and two
  ``DEAL_ENTRY_OUT_BY`` deals for the smaller volume; both deals are priced at the open price of
  ``position_by``, so the first carries the whole locked-in profit and the second 0. The larger
  position keeps the remainder.
* Netting (``RETAIL_NETTING``, and ``EXCHANGE`` treated alike): one position per symbol; a deal
  in the same direction adds (entry IN, volume-weighted open price), an opposite one reduces or
  closes (OUT) or reverses (one INOUT deal for the whole volume, the position keeps its
  identifier, takes the reversing order's ticket as ``POSITION_TICKET``, the deal price and
  the request's SL/TP).
* ``order_send`` answers as a terminal's synchronous ``OrderSend`` does (the call the Python
  package makes): 10009 DONE for every request carried out, a placed pending order included,
  with ``order``, ``volume`` and the quote (``bid``, ``ask``; ``price`` and ``deal`` 0), as
  a live terminal's answer to a buy limit, logged by a public script written for the
  package, shows: ``OrderSendResult(retcode=10009, deal=0, order=47247595, volume=0.05,
  price=0.0, bid=65348.46, ask=65380.34, ...)``. 10008 PLACED is what ``OrderSendAsync``
  reports for a request it sent, "order placed" (www.mql5.com/en/docs/trading/ordersendasync),
  and the package has no asynchronous send.
* Market orders fill at Ask (buy) / Bid (sell) of the current quote. Pending orders trigger on
  the first tick where Buy Limit: Ask <= price, Sell Limit: Bid >= price, Buy Stop: Ask >=
  price, Sell Stop: Bid <= price, and fill at that tick's Ask/Bid. A Stop Limit order becomes
  the Limit order (same ticket, ``price_open`` = its ``stoplimit``) when its stop price is
  reached. SL/TP close a buy at Bid and a sell at Ask, with order and deal reason SL/TP and
  comment ``[sl 1.09500]`` / ``[tp ...]`` as MT5 writes them.
* Expiry: ORDER_TIME_DAY at the end of the server day of placement, SPECIFIED at
  ``expiration``, SPECIFIED_DAY at the end of the ``expiration`` day; state EXPIRED.
* Stop out: after each processed tick, while ``margin_level < margin_so_so`` the most losing
  position is closed (reason SO, comment ``[so 45.23%]``).
* Account: ``equity = balance + credit + profit``, ``margin_free = equity - margin``,
  ``margin_level = equity / margin * 100`` (0 without margin); money rounded to 2 digits.
  Margin and profit per ``margin.py``. A market order is refused with NO_MONEY when it raises
  the margin and leaves ``margin_free`` below 0.
* History: every executed market order is in the order history (state FILLED, ``time_done`` =
  ``time_setup``), pending orders join it when filled, canceled, expired or rejected; the
  initial deposit is a ``DEAL_TYPE_BALANCE`` deal. ``ticket``/``position`` selection ignores
  dates, as in MT5; ``date_from``/``date_to`` are inclusive epoch seconds (None = open bound).

Simplified, and why
-------------------
* No commission or fees (0 in every structure): the catalogue carries no such settings.
  Swaps are charged at each server midnight from the ``swap_long``/``swap_short`` points
  ``symbol_info`` publishes, triple on ``swap_rollover3days`` (see :meth:`Ledger.rollover`);
  they accumulate in the position's ``swap`` (and the account's profit and equity) and the
  closing deal realizes the closed share of them (``DEAL_SWAP``) into the balance.
* Hedging: the covered volume of a symbol holds margin computed with the published
  ``margin_hedged`` as contract size (:meth:`Ledger.hedged_factors`); a position's margin uses
  its open price; pending orders hold no margin (retail FX behaviour).
* Fills are always complete (no liquidity model): FOK/IOC/RETURN only matter for admission.
  No requotes in market execution; in instant execution a ``price`` further than
  ``deviation`` points from the market gives REQUOTE.
* A market order (``TRADE_ACTION_DEAL``, closes included) needs ``price`` unless the symbol
  is in market or exchange execution: "Market orders of symbols, whose execution type is
  'Market Execution' ... do not require specification of price" (the MqlTradeRequest
  reference), so in request and instant execution a price of 0 is INVALID_PRICE.
* A pending order that cannot be filled for lack of money is removed with state REJECTED.
* ``advance`` walks only the ticks of symbols with open positions or orders; a position's
  profit in a third currency is re-valued on those ticks, not on the conversion pair's own.
* An unknown ``symbol`` in a trade request raises ``EmulatorError(NOT_FOUND)``, the answer
  every other method gives for that symbol (``symbol_info``, ``copy_*``, ``order_calc_*``), so
  a client sees one answer for one mistake whatever it called; a symbol without a quote yet
  (or whose conversion pair has none) answers PRICE_OFF (10021).
* ``order_check`` of a pending order, SL/TP or order modification reports the account as it is
  (those requests do not change balance or margin in this model).

Trade events (``drain_events``)
-------------------------------
Each event is ``{"type": ..., "time_msc": int, <key>: <MT5 structure dict>}``, in the order
they happened:

* ``order_added`` (``order``): a pending order was placed;
* ``order_updated`` (``order``): a pending order was modified, or a Stop Limit order became
  a Limit order;
* ``order_removed`` (``order``, the history order): a pending order left the book -- state
  FILLED, CANCELED, EXPIRED or REJECTED;
* ``position_opened`` / ``position_updated`` / ``position_closed`` (``position``): a position
  appeared; changed volume, price, type or SL/TP; was closed (last state, ``price_current`` =
  close price, ``profit`` = the closing deal's profit);
* ``deal_added`` (``deal``): a deal was executed;
* ``account_updated`` (``account``): balance, margin or trading permission changed (after
  each executed deal batch or Algo Trading switch), the ``account_info`` dict at that time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from mt5model.ledger import (
    AccountSettings,
    AccountState,
    Ledger,
    Leg,
    money,
    round_volume,
    swap_share,
)
from mt5model.margin import NoQuoteError
from mt5model.mt5 import (
    DealEntry,
    DealReason,
    DealType,
    OrderFilling,
    OrderReason,
    OrderState,
    OrderTime,
    OrderType,
    PositionType,
    TradeAction,
    TradeRetcode,
)
from mt5model.orders import (
    COMMENT_LENGTH,
    RETCODE_COMMENTS,
    Deal,
    MT5Dict,
    Order,
    Position,
    TradeRequest,
    check_float,
    check_int,
    check_str,
    check_time,
    parse_request,
)
from mt5model.rules import (
    BUY_TYPES,
    PENDING_TYPES,
    Rejection,
    check_filling,
    check_order_mode,
    check_pending_price,
    check_stops,
    check_trade_mode,
    check_volume,
    expiry,
    order_frozen,
    position_frozen,
)
from mt5model.types import (
    SYMBOL_ORDER_CLOSEBY,
    SYMBOL_TRADE_EXECUTION_INSTANT,
    SYMBOL_TRADE_EXECUTION_REQUEST,
    AccountMarginMode,
    EmulatorError,
    ErrorCode,
    MarketView,
    SymbolSpec,
    Tick,
    match_group,
)

__all__ = ["SimulatedBroker"]

_VOLUME_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class _Plan:
    """An admitted request: the account after it, and how to carry it out."""

    after: AccountState
    run: Callable[[], MT5Dict]


class SimulatedBroker:
    """The account and trade server of the emulated terminal (see the module docstring)."""

    def __init__(
        self,
        market: MarketView,
        *,
        clock: Callable[[], int],
        login: int,
        server: str,
        company: str = "MT Gateway Simulated Broker",
        name: str = "Demo Trader",
        currency: str = "USD",
        balance: float = 10_000.0,
        leverage: int = 100,
        margin_mode: AccountMarginMode = AccountMarginMode.RETAIL_HEDGING,
        margin_so_call: float = 100.0,
        margin_so_so: float = 50.0,
        limit_orders: int = 200,
        first_ticket: int = 1_000,
    ) -> None:
        if leverage <= 0:
            raise EmulatorError(ErrorCode.INVALID_PARAMS, "leverage: must be positive")
        self._market = market
        self._clock = clock
        self._limit_orders = limit_orders
        self._request_id = 0
        now = clock()
        self._last_msc = now
        settings = AccountSettings(
            login=login, server=server, company=company, name=name, currency=currency,
            leverage=leverage, margin_mode=AccountMarginMode(margin_mode),
            margin_so_call=margin_so_call, margin_so_so=margin_so_so, limit_orders=limit_orders,
        )
        self._book = Ledger(market, settings, balance, first_ticket, now)

    def _sync(self) -> int:
        """Process the market up to now and return now (every public method starts here)."""
        self.advance()
        return self._last_msc

    # ------------------------------------------------------------------------------ queries

    def account_info(self) -> MT5Dict:
        """``AccountInfo``: balance, equity, margin and levels at the current price."""
        now = self._sync()
        return self._book.account_dict(self._book.state(now))

    def set_trade_allowed(self, enabled: bool) -> None:
        """The terminal's Algo Trading button: off makes ``order_send`` answer 10027."""
        if not isinstance(enabled, bool):
            raise EmulatorError(ErrorCode.INVALID_PARAMS, "enabled: expected a bool")
        if enabled != self._book.trade_allowed:
            self._book.trade_allowed = enabled
            self._book.emit_account(self._sync())

    def drain_events(self) -> list[MT5Dict]:
        """Trade events since the last call, oldest first (see the module docstring)."""
        events, self._book.events = self._book.events, []
        return events

    @staticmethod
    def _filters(symbol: object, group: object, ticket: object) -> tuple[str | None, str | None,
                                                                         int | None]:
        return (None if symbol is None else check_str("symbol", symbol),
                None if group is None else check_str("group", group),
                None if ticket is None else check_int("ticket", ticket))

    def orders_total(self) -> int:
        """Number of active pending orders."""
        self._sync()
        return len(self._book.orders)

    def orders_get(self, symbol: str | None = None, group: str | None = None,
                   ticket: int | None = None) -> list[MT5Dict]:
        """Active pending orders (``TradeOrder``), optionally by symbol, group or ticket."""
        sym, grp, tkt = self._filters(symbol, group, ticket)
        now = self._sync()
        return [o.to_dict(self._book.order_price(o, now)) for o in self._book.orders.values()
                if (sym is None or o.symbol == sym) and match_group(o.symbol, grp)
                and (tkt is None or o.ticket == tkt)]

    def positions_total(self) -> int:
        """Number of open positions."""
        self._sync()
        return len(self._book.positions)

    def positions_get(self, symbol: str | None = None, group: str | None = None,
                      ticket: int | None = None) -> list[MT5Dict]:
        """Open positions (``TradePosition``) with live ``price_current`` and ``profit``."""
        sym, grp, tkt = self._filters(symbol, group, ticket)
        now = self._sync()
        return [self._book.position_dict(p, now) for p in self._book.positions.values()
                if (sym is None or p.symbol == sym) and match_group(p.symbol, grp)
                and (tkt is None or p.ticket == tkt)]

    @staticmethod
    def _in_dates(time_msc: int, date_from: float | None, date_to: float | None) -> bool:
        seconds = time_msc // 1000
        return (date_from is None or seconds >= date_from) and \
            (date_to is None or seconds <= date_to)

    @staticmethod
    def _history_args(date_from: object, date_to: object, group: object, ticket: object,
                      position: object) -> tuple[float | None, float | None, str | None,
                                                 int | None, int | None]:
        return (None if date_from is None else check_time("date_from", date_from),
                None if date_to is None else check_time("date_to", date_to),
                None if group is None else check_str("group", group),
                None if ticket is None else check_int("ticket", ticket),
                None if position is None else check_int("position", position))

    def _select_orders(self, date_from: object, date_to: object, group: object = None,
                       ticket: object = None, position: object = None) -> list[Order]:
        dfrom, dto, grp, tkt, pos = self._history_args(date_from, date_to, group, ticket,
                                                       position)
        self._sync()
        if tkt is not None:
            return [o for o in self._book.history_orders if o.ticket == tkt]
        if pos is not None:
            return [o for o in self._book.history_orders if o.position_id == pos]
        return [o for o in self._book.history_orders
                if self._in_dates(o.time_setup_msc, dfrom, dto) and match_group(o.symbol, grp)]

    def _select_deals(self, date_from: object, date_to: object, group: object = None,
                      ticket: object = None, position: object = None) -> list[Deal]:
        dfrom, dto, grp, tkt, pos = self._history_args(date_from, date_to, group, ticket,
                                                       position)
        self._sync()
        if tkt is not None:  # MT5: the deals of ORDER ``ticket`` (their DEAL_ORDER)
            return [d for d in self._book.deals if d.order == tkt]
        if pos is not None:
            return [d for d in self._book.deals if d.position_id == pos]
        return [d for d in self._book.deals
                if self._in_dates(d.time_msc, dfrom, dto) and match_group(d.symbol, grp)]

    def history_orders_total(self, date_from: float, date_to: float) -> int:
        """Number of history orders set up between the dates (epoch seconds, inclusive)."""
        return len(self._select_orders(date_from, date_to))

    def history_orders_get(self, date_from: float | None = None, date_to: float | None = None,
                           group: str | None = None, ticket: int | None = None,
                           position: int | None = None) -> list[MT5Dict]:
        """History orders (``TradeOrder``); ``ticket``/``position`` select regardless of dates."""
        return [o.to_dict(o.price_done)
                for o in self._select_orders(date_from, date_to, group, ticket, position)]

    def history_deals_total(self, date_from: float, date_to: float) -> int:
        """Number of deals between the dates (epoch seconds, inclusive)."""
        return len(self._select_deals(date_from, date_to))

    def history_deals_get(self, date_from: float | None = None, date_to: float | None = None,
                          group: str | None = None, ticket: int | None = None,
                          position: int | None = None) -> list[MT5Dict]:
        """Deals (``TradeDeal``) incl. the initial balance deal.

        ``ticket`` selects the deals of the ORDER with that ticket (``DEAL_ORDER``), as MT5's
        ``history_deals_get(ticket=...)`` does -- so ``history_deals_get(ticket=result.order)``
        finds the deal an ``order_send`` made; ``position`` the deals of that position
        identifier. Both ignore the dates.
        """
        return [d.to_dict()
                for d in self._select_deals(date_from, date_to, group, ticket, position)]

    # -------------------------------------------------------------------------- calculators

    def _calc_args(self, action: object, symbol: object, volume: object) -> tuple[bool,
                                                                                  SymbolSpec,
                                                                                  float]:
        act = check_int("action", action)
        if act not in (OrderType.BUY, OrderType.SELL):
            raise EmulatorError(ErrorCode.INVALID_PARAMS,
                                "action: must be ORDER_TYPE_BUY or ORDER_TYPE_SELL")
        spec = self._market.spec(check_str("symbol", symbol))
        vol = check_float("volume", volume)
        if vol < 0:
            raise EmulatorError(ErrorCode.INVALID_PARAMS, "volume: must not be negative")
        return act == OrderType.BUY, spec, vol

    def order_calc_margin(self, action: int, symbol: str, volume: float, price: float) -> float:
        """Margin of a trade in the account currency (MT5 formula per calc mode, ``margin.py``).

        Raises:
            EmulatorError: ``INVALID_PARAMS`` for bad arguments, ``NOT_FOUND`` for an unknown
                symbol, ``HISTORY_NOT_READY`` when a conversion pair has no quote yet.
        """
        _, spec, vol = self._calc_args(action, symbol, volume)
        at = check_float("price", price)
        now = self._sync()
        return money(self._book.calc.margin(spec, vol, at, now))

    def order_calc_profit(self, action: int, symbol: str, volume: float, price_open: float,
                          price_close: float) -> float:
        """Profit of a trade from ``price_open`` to ``price_close`` in the account currency."""
        is_buy, spec, vol = self._calc_args(action, symbol, volume)
        popen = check_float("price_open", price_open)
        pclose = check_float("price_close", price_close)
        now = self._sync()
        return money(self._book.calc.profit(spec, is_buy, vol, popen, pclose, now))

    # ------------------------------------------------------------------------ trade requests

    def order_check(self, request: dict[str, Any], refused: Rejection | None = None
                    ) -> MT5Dict:
        """``OrderCheckResult``: retcode 0 and the account AFTER the trade, or the rejection.

        ``refused``: a rejection decided outside the engine (a ticket the caller's book does
        not reach, ``gateway/trading/venue.py``), answered as the engine answers its own: the
        request is not planned."""
        req = parse_request(request)
        now = self._sync()
        retcode = 0
        comment: str | None = None
        try:
            if refused is not None:
                raise refused
            after = self._plan(req, now).after
        except Rejection as rejection:
            retcode, comment = rejection.retcode, rejection.comment
            after = self._book.state(now)
        return {
            "retcode": retcode,
            "balance": after.balance,
            "equity": after.equity,
            "profit": after.profit,
            "margin": after.margin,
            "margin_free": after.margin_free,
            "margin_level": after.margin_level,
            "comment": comment or RETCODE_COMMENTS.get(retcode, ""),
            "request": req.as_dict(),
        }

    def order_send(self, request: dict[str, Any], refused: Rejection | None = None
                   ) -> MT5Dict:
        """``OrderSendResult``: execute the request, or answer the MT5 rejection retcode
        (``refused``: one decided outside the engine, as :meth:`order_check` takes it; nothing
        is executed).

        Raises:
            EmulatorError: ``INVALID_PARAMS`` naming the field when the request cannot be read.
        """
        req = parse_request(request)
        now = self._sync()
        self._request_id += 1
        try:
            if refused is not None:
                raise refused
            if not self._book.trade_allowed:
                raise Rejection(TradeRetcode.CLIENT_DISABLES_AT)
            fields = self._plan(req, now).run()
        except Rejection as rejection:
            fields = {"retcode": rejection.retcode}
            if rejection.comment:
                fields["comment"] = rejection.comment
        result: MT5Dict = {"retcode": 0, "deal": 0, "order": 0, "volume": 0.0, "price": 0.0,
                           "bid": 0.0, "ask": 0.0, "comment": "",
                           "request_id": self._request_id, "retcode_external": 0,
                           "request": req.as_dict()}
        result.update(fields)
        if not result["comment"]:
            result["comment"] = RETCODE_COMMENTS.get(result["retcode"], "")
        return result

    def _plan(self, req: TradeRequest, now: int) -> _Plan:
        if "action" not in req.present:
            raise Rejection(TradeRetcode.INVALID, "Invalid request: no action")
        try:
            if req.action == TradeAction.DEAL:
                return self._plan_deal(req, now)
            if req.action == TradeAction.PENDING:
                return self._plan_pending(req, now)
            if req.action == TradeAction.SLTP:
                return self._plan_sltp(req, now)
            if req.action == TradeAction.MODIFY:
                return self._plan_modify(req, now)
            if req.action == TradeAction.REMOVE:
                return self._plan_remove(req, now)
            if req.action == TradeAction.CLOSE_BY:
                return self._plan_close_by(req, now)
        except NoQuoteError as error:
            raise Rejection(TradeRetcode.PRICE_OFF) from error
        raise Rejection(TradeRetcode.INVALID, "Invalid request: unknown action")

    # --- shared checks

    def _spec_of(self, req: TradeRequest) -> SymbolSpec:
        """The request's symbol; an unknown one raises the ``NOT_FOUND`` error every other
        method (``symbol_info``, ``copy_*``, ``order_calc_*``) gives for it."""
        if not req.symbol:
            raise Rejection(TradeRetcode.INVALID, "Invalid request: no symbol")
        return self._market.spec(req.symbol)

    def _open_quote(self, spec: SymbolSpec, now: int) -> Tick:
        """The current quote, if the market is open (MARKET_CLOSED) and quoted (PRICE_OFF)."""
        if not self._market.is_trading(spec.name, now):
            raise Rejection(TradeRetcode.MARKET_CLOSED)
        tick = self._book.tick(spec.name, now)
        if tick is None:
            raise Rejection(TradeRetcode.PRICE_OFF)
        return tick

    def _check_volume_limit(self, spec: SymbolSpec, is_buy: bool, volume: float) -> None:
        """LIMIT_VOLUME: open and pending volume in one direction above ``volume_limit``."""
        if spec.volume_limit <= 0:
            return
        total = volume
        total += sum(p.volume for p in self._book.positions.values()
                     if p.symbol == spec.name and (p.type == PositionType.BUY) == is_buy)
        total += sum(o.volume_current for o in self._book.orders.values()
                     if o.symbol == spec.name and (o.type in BUY_TYPES) == is_buy)
        if total > spec.volume_limit + _VOLUME_EPS:
            raise Rejection(TradeRetcode.LIMIT_VOLUME)

    # --- TRADE_ACTION_DEAL

    def _plan_deal(self, req: TradeRequest, now: int) -> _Plan:
        spec = self._spec_of(req)
        if req.type not in (OrderType.BUY, OrderType.SELL):
            raise Rejection(TradeRetcode.INVALID_ORDER)
        if "volume" not in req.present:
            raise Rejection(TradeRetcode.INVALID, "Invalid request: no volume")
        is_buy = req.type == OrderType.BUY
        explicit: Position | None = None
        if req.position:
            explicit = self._book.positions.get(req.position)
            if explicit is None:
                raise Rejection(TradeRetcode.POSITION_CLOSED)
            if explicit.symbol != spec.name or (explicit.type == PositionType.BUY) == is_buy:
                raise Rejection(TradeRetcode.INVALID, "Invalid request: position mismatch")
        check_trade_mode(spec, None)
        check_order_mode(spec, req.type)
        tick = self._open_quote(spec, now)
        check_volume(spec, req.volume)
        if explicit is not None and req.volume > explicit.volume + _VOLUME_EPS:
            raise Rejection(TradeRetcode.INVALID_CLOSE_VOLUME)
        check_filling(spec, req.type_filling, req.type)
        priced = spec.trade_exemode in (SYMBOL_TRADE_EXECUTION_REQUEST,
                                         SYMBOL_TRADE_EXECUTION_INSTANT)
        if req.price < 0 or (priced and req.price == 0):
            raise Rejection(TradeRetcode.INVALID_PRICE)
        price = tick.ask if is_buy else tick.bid
        if spec.trade_exemode == SYMBOL_TRADE_EXECUTION_INSTANT and req.price > 0 \
                and abs(req.price - price) > req.deviation * spec.point + spec.point * 1e-3:
            raise Rejection(TradeRetcode.REQUOTE)
        fill = self._book.plan_fill(spec, is_buy, round_volume(req.volume), price, explicit)
        opens = fill.add or fill.open_volume > 0
        if opens:
            check_trade_mode(spec, is_buy)
            check_stops(spec, is_buy, tick.bid if is_buy else tick.ask, req.sl, req.tp)
            self._check_volume_limit(spec, is_buy, fill.volume if fill.add else fill.open_volume)
        after = self._book.check_money(fill, now)

        def run() -> MT5Dict:
            order = Order(
                ticket=self._book.ticket(), time_setup_msc=now, type=req.type,
                type_time=OrderTime.GTC, type_filling=req.type_filling,
                state=OrderState.STARTED, magic=req.magic, reason=OrderReason.EXPERT,
                volume_initial=fill.volume, volume_current=fill.volume, price_open=price,
                symbol=spec.name, comment=req.comment[:COMMENT_LENGTH],
                sl=req.sl if opens else 0.0, tp=req.tp if opens else 0.0,
            )
            deal = self._book.fill(order, fill, now, DealReason.EXPERT)
            self._book.emit_account(now)
            return {"retcode": TradeRetcode.DONE, "deal": deal.ticket, "order": order.ticket,
                    "volume": fill.volume, "price": price, "bid": tick.bid, "ask": tick.ask}

        return _Plan(after, run)

    # --- TRADE_ACTION_PENDING

    def _plan_pending(self, req: TradeRequest, now: int) -> _Plan:
        spec = self._spec_of(req)
        if req.type not in PENDING_TYPES:
            raise Rejection(TradeRetcode.INVALID_ORDER)
        if "volume" not in req.present:
            raise Rejection(TradeRetcode.INVALID, "Invalid request: no volume")
        is_buy = req.type in BUY_TYPES
        check_trade_mode(spec, is_buy)
        check_order_mode(spec, req.type)
        tick = self._open_quote(spec, now)
        check_volume(spec, req.volume)
        check_filling(spec, req.type_filling, req.type)
        time_expiration, expires = expiry(spec, req.type_time, req.expiration, now)
        stop_limit = req.type in (OrderType.BUY_STOP_LIMIT, OrderType.SELL_STOP_LIMIT)
        check_pending_price(spec, req.type, req.price, req.stoplimit, tick)
        check_stops(spec, is_buy, req.stoplimit if stop_limit else req.price, req.sl, req.tp)
        if 0 < self._limit_orders <= len(self._book.orders):
            raise Rejection(TradeRetcode.LIMIT_ORDERS)
        self._check_volume_limit(spec, is_buy, req.volume)

        def run() -> MT5Dict:
            volume = round_volume(req.volume)
            order = Order(
                ticket=self._book.ticket(), time_setup_msc=now, type=req.type,
                type_time=req.type_time, type_filling=req.type_filling,
                state=OrderState.PLACED, magic=req.magic, reason=OrderReason.EXPERT,
                volume_initial=volume, volume_current=volume, price_open=req.price,
                symbol=spec.name, comment=req.comment[:COMMENT_LENGTH], sl=req.sl, tp=req.tp,
                price_stoplimit=req.stoplimit if stop_limit else 0.0,
                time_expiration=time_expiration, expires_msc=expires,
            )
            self._book.orders[order.ticket] = order
            self._book.emit("order_added", now, "order",
                            order.to_dict(self._book.order_price(order, now)))
            # A terminal's synchronous OrderSend answers a placed order 10009 DONE with the
            # quote, as for a deal; 10008 PLACED is OrderSendAsync's "sent" (see the module
            # docstring), which the Python package never answers.
            return {"retcode": TradeRetcode.DONE, "order": order.ticket, "volume": volume,
                    "bid": tick.bid, "ask": tick.ask}

        return _Plan(self._book.state(now), run)

    # --- TRADE_ACTION_SLTP

    def _plan_sltp(self, req: TradeRequest, now: int) -> _Plan:
        if req.position:
            position = self._book.positions.get(req.position)
            if position is None:
                raise Rejection(TradeRetcode.POSITION_CLOSED)
            if req.symbol and req.symbol != position.symbol:
                raise Rejection(TradeRetcode.INVALID, "Invalid request: position mismatch")
        elif not self._book.hedging and req.symbol:
            self._spec_of(req)
            found = self._book.netting_position(req.symbol)
            if found is None:
                raise Rejection(TradeRetcode.POSITION_CLOSED)
            position = found
        else:
            raise Rejection(TradeRetcode.INVALID, "Invalid request: no position")
        spec = self._market.spec(position.symbol)
        check_trade_mode(spec, None)
        tick = self._open_quote(spec, now)
        eps = spec.point * 1e-3
        if abs(req.sl - position.sl) < eps and abs(req.tp - position.tp) < eps:
            raise Rejection(TradeRetcode.NO_CHANGES)
        is_buy = position.type == PositionType.BUY
        if position_frozen(spec, is_buy, position.sl, position.tp, tick):
            raise Rejection(TradeRetcode.FROZEN)
        check_stops(spec, is_buy, tick.bid if is_buy else tick.ask, req.sl, req.tp)

        def run() -> MT5Dict:
            position.sl, position.tp = req.sl, req.tp
            position.time_update_msc = now
            self._book.emit("position_updated", now, "position",
                            self._book.position_dict(position, now))
            return {"retcode": TradeRetcode.DONE, "bid": tick.bid, "ask": tick.ask}

        return _Plan(self._book.state(now), run)

    # --- TRADE_ACTION_MODIFY / TRADE_ACTION_REMOVE

    def _pending_of(self, req: TradeRequest) -> Order:
        if not req.order:
            raise Rejection(TradeRetcode.INVALID, "Invalid request: no order")
        order = self._book.orders.get(req.order)
        if order is None:
            raise Rejection(TradeRetcode.INVALID, "Invalid request: order not found")
        return order

    def _plan_modify(self, req: TradeRequest, now: int) -> _Plan:
        order = self._pending_of(req)
        spec = self._market.spec(order.symbol)
        check_trade_mode(spec, None)
        tick = self._open_quote(spec, now)
        stop_limit = order.type in (OrderType.BUY_STOP_LIMIT, OrderType.SELL_STOP_LIMIT)
        stoplimit = req.stoplimit if stop_limit else 0.0
        time_expiration, expires = expiry(spec, req.type_time, req.expiration, now)
        if req.type_time == OrderTime.DAY and order.type_time == OrderTime.DAY:
            expires = order.expires_msc  # the day of placement, not of the modification
        eps = spec.point * 1e-3
        if (abs(req.price - order.price_open) < eps and abs(req.sl - order.sl) < eps
                and abs(req.tp - order.tp) < eps
                and abs(stoplimit - order.price_stoplimit) < eps
                and req.type_time == order.type_time
                and time_expiration == order.time_expiration):
            raise Rejection(TradeRetcode.NO_CHANGES)
        if order_frozen(spec, order.type, order.price_open, tick):
            raise Rejection(TradeRetcode.FROZEN)
        check_pending_price(spec, order.type, req.price, stoplimit, tick)
        check_stops(spec, order.type in BUY_TYPES, stoplimit if stop_limit else req.price,
                    req.sl, req.tp)

        def run() -> MT5Dict:
            order.price_open, order.sl, order.tp = req.price, req.sl, req.tp
            order.price_stoplimit = stoplimit
            order.type_time, order.time_expiration, order.expires_msc = \
                req.type_time, time_expiration, expires
            self._book.emit("order_updated", now, "order",
                            order.to_dict(self._book.order_price(order, now)))
            return {"retcode": TradeRetcode.DONE, "order": order.ticket,
                    "volume": order.volume_current, "price": order.price_open}

        return _Plan(self._book.state(now), run)

    def _plan_remove(self, req: TradeRequest, now: int) -> _Plan:
        order = self._pending_of(req)
        spec = self._market.spec(order.symbol)
        tick = self._open_quote(spec, now)
        if order_frozen(spec, order.type, order.price_open, tick):
            raise Rejection(TradeRetcode.FROZEN)

        def run() -> MT5Dict:
            self._book.retire(order, OrderState.CANCELED, now)
            return {"retcode": TradeRetcode.DONE, "order": order.ticket}

        return _Plan(self._book.state(now), run)

    # --- TRADE_ACTION_CLOSE_BY

    def _plan_close_by(self, req: TradeRequest, now: int) -> _Plan:
        if not self._book.hedging:
            raise Rejection(TradeRetcode.INVALID, "Invalid request: close by needs hedging")
        if not req.position or not req.position_by:
            raise Rejection(TradeRetcode.INVALID, "Invalid request: no position")
        position = self._book.positions.get(req.position)
        by = self._book.positions.get(req.position_by)
        if position is None or by is None:
            raise Rejection(TradeRetcode.POSITION_CLOSED)
        if position is by or position.symbol != by.symbol or position.type == by.type:
            raise Rejection(TradeRetcode.INVALID, "Invalid request: positions not opposite")
        spec = self._market.spec(position.symbol)
        check_trade_mode(spec, None)
        if not spec.order_mode & SYMBOL_ORDER_CLOSEBY:
            raise Rejection(TradeRetcode.INVALID_ORDER)
        self._open_quote(spec, now)
        volume = min(position.volume, by.volume)
        price = by.price_open
        legs: list[Leg] = []
        swaps = {position.ticket: swap_share(position.swap, volume, position.volume),
                 by.ticket: swap_share(by.swap, volume, by.volume)}
        for p in self._book.positions.values():
            rest = round_volume(p.volume - volume) if p is position or p is by else p.volume
            if rest > 0:
                legs.append(Leg(p.symbol, p.type == PositionType.BUY, rest, p.price_open,
                                money(p.swap - swaps.get(p.ticket, 0.0))))
        profit = money(self._book.calc.profit(spec, position.type == PositionType.BUY, volume,
                                          position.price_open, price, now))
        after = self._book.state(now, legs, self._book.balance + profit + sum(swaps.values()))

        def run() -> MT5Dict:
            order = Order(
                ticket=self._book.ticket(), time_setup_msc=now, type=OrderType.CLOSE_BY,
                type_time=OrderTime.GTC, type_filling=OrderFilling.FOK,
                state=OrderState.FILLED, magic=req.magic, reason=OrderReason.EXPERT,
                volume_initial=volume, volume_current=0.0, price_open=0.0, symbol=spec.name,
                comment=req.comment[:COMMENT_LENGTH], time_done_msc=now,
                position_id=position.identifier, position_by_id=by.identifier,
                price_done=price,
            )
            self._book.history_orders.append(order)
            first = 0
            for leg, leg_profit in ((position, profit), (by, 0.0)):
                deal = Deal(
                    ticket=self._book.ticket(), order=order.ticket, time_msc=now,
                    type=DealType.SELL if leg.type == PositionType.BUY else DealType.BUY,
                    entry=DealEntry.OUT_BY, magic=req.magic, position_id=leg.identifier,
                    reason=DealReason.EXPERT, volume=volume, price=price, profit=leg_profit,
                    symbol=spec.name, comment=order.comment, swap=swaps[leg.ticket],
                )
                first = first or deal.ticket
                self._book.deals.append(deal)
                self._book.emit("deal_added", now, "deal", deal.to_dict())
                rest = round_volume(leg.volume - volume)
                leg.swap = money(leg.swap - swaps[leg.ticket])
                leg.time_update_msc = now
                if rest > 0:
                    leg.volume = rest
                    self._book.emit("position_updated", now, "position",
                                    self._book.position_dict(leg, now))
                else:
                    del self._book.positions[leg.ticket]
                    self._book.emit("position_closed", now, "position",
                                    leg.to_dict(price, leg_profit))
            self._book.balance = money(self._book.balance + profit + sum(swaps.values()))
            self._book.emit_account(now)
            return {"retcode": TradeRetcode.DONE, "deal": first, "order": order.ticket,
                    "volume": volume, "price": price}

        return _Plan(after, run)

    # --------------------------------------------------------------------- money operations

    def balance_operation(self, operation_id: str, kind: str, amount: float,
                          comment: str = "") -> MT5Dict:
        """Move money as a broker's back office does: a deposit or withdrawal (a
        ``DEAL_TYPE_BALANCE`` deal of ``+amount`` or ``-amount``) or credit (a
        ``DEAL_TYPE_CREDIT`` deal; a negative ``amount`` takes credit away). Applied once per
        ``operation_id``: asked again, it answers the first deal without a new one.

        Answers ``{"retcode", "deal", "balance", "credit", "comment"}``: 10009 DONE with the
        deal's ticket, or 10019 NO_MONEY (nothing done) for a withdrawal beyond the free
        margin or a credit removal beyond the credit. Paper trading's deposits use it
        (``gateway/trading/paper.py``).

        Raises:
            EmulatorError: ``INVALID_PARAMS`` for another kind, a non-finite or zero amount,
                or a deposit or withdrawal that is not positive.
        """
        book = self._book
        if kind not in ("deposit", "withdraw", "credit") or not math.isfinite(amount) \
                or amount == 0 or (kind != "credit" and amount < 0):
            raise EmulatorError(ErrorCode.INVALID_PARAMS,
                                f"balance operation: bad kind or amount ({kind} {amount})")
        now = self._sync()
        done = book.operations.get(operation_id)
        if done is not None:
            return self._operation_answer(TradeRetcode.DONE, done, "Operation done before")
        free = book.state(now).margin_free
        change = money(-amount if kind == "withdraw" else amount)
        if (kind == "withdraw" and amount > free) or (
                kind == "credit" and (-change > book.credit or -change > free)):
            return self._operation_answer(TradeRetcode.NO_MONEY, 0,
                                          RETCODE_COMMENTS[TradeRetcode.NO_MONEY])
        deal = Deal(ticket=book.ticket(), order=0, time_msc=now,
                    type=DealType.CREDIT if kind == "credit" else DealType.BALANCE,
                    entry=DealEntry.IN, magic=0, position_id=0, reason=DealReason.CLIENT,
                    volume=0.0, price=0.0, profit=change, symbol="",
                    comment=comment or kind.capitalize())
        book.deals.append(deal)
        if kind == "credit":
            book.credit = money(book.credit + change)
        else:
            book.balance = money(book.balance + change)
        book.operations[operation_id] = deal.ticket
        book.emit("deal_added", now, "deal", deal.to_dict())
        book.emit_account(now)
        return self._operation_answer(TradeRetcode.DONE, deal.ticket,
                                      RETCODE_COMMENTS[TradeRetcode.DONE])

    def _operation_answer(self, retcode: int, deal: int, comment: str) -> MT5Dict:
        return {"retcode": int(retcode), "deal": deal, "balance": self._book.balance,
                "credit": self._book.credit, "comment": comment}

    # ---------------------------------------------------------------------------- snapshot

    #: The version of :meth:`snapshot`'s layout; :meth:`restore` refuses any other.
    SNAPSHOT_VERSION = 1

    @property
    def next_ticket(self) -> int:
        """The identifier the next order, deal or position takes (they share one counter)."""
        return self._book.next_ticket

    def number_from(self, ticket: int) -> None:
        """Number what comes next from ``ticket`` on, if that is further on than now (never
        back): the daemon's paper books keep their numbers where the broker's are not
        (``gateway/trading/numbering.py``)."""
        self._book.next_ticket = max(self._book.next_ticket, ticket)

    def snapshot(self) -> dict[str, Any]:
        """The book as plain JSON values: balance, pending orders, positions, history, the
        next ticket and the time processed so far (pending trade events are not kept).

        Why: the daemon's paper books persist across restarts (``gateway/trading/paper.py``);
        the account's settings are the caller's to keep (it makes the broker again with them).
        """
        book = self._book
        return {
            "version": self.SNAPSHOT_VERSION, "balance": book.balance,
            "credit": book.credit, "operations": dict(book.operations),
            "next_ticket": book.next_ticket, "request_id": self._request_id,
            "last_msc": self._last_msc, "trade_allowed": book.trade_allowed,
            "orders": [asdict(o) for o in book.orders.values()],
            "positions": [asdict(p) for p in book.positions.values()],
            "history_orders": [asdict(o) for o in book.history_orders],
            "deals": [asdict(d) for d in book.deals],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Replace the book with a :meth:`snapshot` of one (of a broker made with the same
        account settings).

        Raises:
            EmulatorError: ``INVALID_PARAMS`` for a snapshot of another layout or with a
                malformed record (the book is left as it was).
        """
        if not isinstance(state, dict) or state.get("version") != self.SNAPSHOT_VERSION:
            raise EmulatorError(ErrorCode.INVALID_PARAMS, "paper book snapshot: unknown layout")
        try:
            orders = {o.ticket: o for o in (Order(**d) for d in state["orders"])}
            positions = {p.ticket: p for p in (Position(**d) for d in state["positions"])}
            history = [Order(**d) for d in state["history_orders"]]
            deals = [Deal(**d) for d in state["deals"]]
            balance, next_ticket = float(state["balance"]), int(state["next_ticket"])
            # absent from a book saved before balance operations: none, no credit
            credit = float(state.get("credit", 0.0))
            operations = {str(k): int(v) for k, v in dict(state.get("operations", {})).items()}
            request_id, last_msc = int(state["request_id"]), int(state["last_msc"])
            trade_allowed = bool(state["trade_allowed"])
        except (KeyError, TypeError, ValueError) as exc:
            raise EmulatorError(ErrorCode.INVALID_PARAMS,
                                f"paper book snapshot: {type(exc).__name__}: {exc}") from None
        book = self._book
        book.balance, book.next_ticket, book.trade_allowed = balance, next_ticket, trade_allowed
        book.credit, book.operations = credit, operations
        book.orders, book.positions, book.history_orders, book.deals = (
            orders, positions, history, deals)
        book.events.clear()
        self._request_id, self._last_msc = request_id, last_msc

    # ------------------------------------------------------------------------------ advance

    def advance(self) -> None:
        """Process the market from the last processed time to ``clock()``.

        Walks, in time order, the ticks of every symbol with an open position or pending order
        and applies pending activation (and Stop Limit conversion), SL/TP, order expiry and
        stop out (see :meth:`Ledger.walk`). Cheap when nothing is open: no tick is read.
        """
        now = self._clock()
        if now > self._last_msc:
            self._book.walk(self._last_msc, now)
            self._last_msc = now
