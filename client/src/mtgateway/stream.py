"""What the ``/ws`` streams deliver, and the loss detector, without I/O.

A stream yields notifications in order, and a :class:`Gap` wherever something may be missing,
at the place it is missing, so a consumer cannot overlook it:

* ``seq`` (per subscription, +1 per notification) jumped: ``lost`` notifications are gone;
* the connection dropped and the stream resubscribed: what happened meanwhile is unknown
  (``lost`` is None); resync from ``positions_get`` / ``orders_get`` for trade events;
* the daemon reports trade events its terminal's EA missed (``missed`` on ``trade_event``).

Conflated ticks are not a gap: the daemon merged ticks of a symbol for a slow client on
purpose, and each tick says how many it stands for (``conflated``).

These records are the stream's declaration: the daemon describes each notification
(``rpc.discover``) with a model built from the record here, as it does for the MT5 records
(``mtgateway.records``), and a notification's fields are read by the record's own names. A
tick's fields are the MT5 ``Tick``'s; a bar's are :class:`Rate`'s.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from .records import (
    AccountInfo,
    BookInfo,
    Record,
    Tick,
    TradeDeal,
    TradeOrder,
    TradePosition,
    WireMismatch,
    from_wire,
)

__all__ = ["TRADE_EVENT_TYPES", "Candle", "CandleSnapshot", "Gap", "Rate", "SeqTracker",
           "StreamBook", "StreamTick", "TerminalStatus", "TradeEvent", "parse_event"]


class StreamTick(NamedTuple):
    """One ``tick`` notification: the package's Tick fields (:class:`~mtgateway.Tick`, in its
    order) with the symbol first, then how many ticks of that symbol were merged into it
    (``conflated``) and its ``seq``."""

    symbol: str
    time: int
    bid: float
    ask: float
    last: float
    volume: int
    time_msc: int
    flags: int
    volume_real: float
    conflated: int
    seq: int


class StreamBook(NamedTuple):
    """One ``book`` notification: the symbol's whole depth of market after a change, as
    ``market_book_get`` answers it (BookInfo levels, sells first), and its ``seq``."""

    symbol: str
    book: tuple[BookInfo, ...]
    seq: int


class TerminalStatus(NamedTuple):
    """One ``terminal_status`` notification: the EA's link, the broker's, Algo Trading."""

    connected: bool
    reason: str
    broker_connected: bool | None
    trade_allowed: bool | None
    seq: int


class Rate(NamedTuple):
    """One bar as ``copy_rates_*`` has it (MT5's MqlRates; ``time`` is the broker server's)."""

    time: int
    open: float
    high: float
    low: float
    close: float
    tick_volume: int
    spread: int
    real_volume: int


class CandleSnapshot(NamedTuple):
    """A ``candles`` stream's first notification (and its first after a reconnect): the last
    closed bars of ``symbol`` on ``timeframe`` (a ``TIMEFRAME_*`` value), oldest first."""

    symbol: str
    timeframe: int
    bars: tuple[Rate, ...]
    seq: int


class Candle(NamedTuple):
    """One ``candle`` notification: a bar of ``symbol`` on ``timeframe``. ``closed`` False: the
    forming bar, as the ticks so far make it (a newer one of the same ``time`` replaces it);
    True: the bar is done and, when ``confirmed``, its values are the terminal's own (what
    ``copy_rates_range`` answers for it), else the daemon's count from the ticks (the terminal
    could not be asked)."""

    symbol: str
    timeframe: int
    bar: Rate
    closed: bool
    confirmed: bool
    seq: int


def _rate(fields: dict[str, Any]) -> Rate:
    return Rate._make(fields[name] for name in Rate._fields)


def _tick(params: dict[str, Any]) -> StreamTick:
    return StreamTick._make((params["symbol"], *(params[name] for name in Tick.__match_args__),
                             params.get("conflated", 0), params["seq"]))


#: The ``type`` of each trade event and the record it carries, as the terminal reports them
#: (``docs/protocol.md``, "trade").
TRADE_EVENT_TYPES: Final[dict[str, str]] = {
    "order_added": "order", "order_updated": "order", "order_removed": "order",
    "position_opened": "position", "position_updated": "position",
    "position_closed": "position", "deal_added": "deal", "account_updated": "account",
}


class TradeEvent(NamedTuple):
    """One ``trade_event`` notification, typed as the records are: what changed (``type``:
    ``order_added``, ``order_updated``, ``order_removed``, ``position_opened``,
    ``position_updated``, ``position_closed``, ``deal_added``, ``account_updated``), when
    (``time_msc``, the terminal's clock), the record it carries as the package's struct
    sequence -- ``order`` a :class:`~mtgateway.TradeOrder`, ``position`` a
    :class:`~mtgateway.TradePosition`, ``deal`` a :class:`~mtgateway.TradeDeal`, ``account``
    an :class:`~mtgateway.AccountInfo`; the others None -- its ``seq``, and whether it
    happened in the daemon's paper book (``paper``; False for the terminal's own: a paper
    account's book has tickets of its own, which may name another order at the broker)."""

    type: str
    time_msc: int
    order: TradeOrder | None
    position: TradePosition | None
    deal: TradeDeal | None
    account: AccountInfo | None
    seq: int
    paper: bool = False

    @property
    def record(self) -> TradeOrder | TradePosition | TradeDeal | AccountInfo | None:
        """The one record the event carries (None for a type this client does not know)."""
        return self.order or self.position or self.deal or self.account

    @property
    def book(self) -> str:
        """Whose identifiers the record's are: ``"paper"`` (the daemon's paper book) or
        ``"live"`` (the broker's), as the daemon's ``book`` says; a property, not a field,
        so the tuple keeps its length for code that unpacks it."""
        return "paper" if self.paper else "live"

    @property
    def data(self) -> dict[str, Any]:
        """The event as a plain dict (``type``, ``time_msc`` and its record's fields by
        name), as this class held it before its fields were typed. Deprecated: read the
        typed fields; ``data`` goes in the next release."""
        warnings.warn("TradeEvent.data is deprecated: read .type, .time_msc and the typed "
                      ".order / .position / .deal / .account", DeprecationWarning, stacklevel=2)
        out: dict[str, Any] = {"type": self.type, "time_msc": self.time_msc}
        for name in ("order", "position", "deal", "account"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value._asdict()
        return out


_RECORDS: Final[dict[str, type[Record]]] = {
    "order": TradeOrder, "position": TradePosition, "deal": TradeDeal, "account": AccountInfo}


def _trade_event(params: dict[str, Any]) -> TradeEvent:
    """A ``trade_event``'s params as a :class:`TradeEvent`; each record read by field name.

    Raises:
        KeyError: no ``type``, ``time_msc`` or ``seq``, or no record where its type names one.
        WireMismatch: a record that is not the package's.
    """
    kind = params["type"]
    records: dict[str, Any] = {name: (from_wire(cls, params[name]) if name in params else None)
                               for name, cls in _RECORDS.items()}
    wanted = TRADE_EVENT_TYPES.get(kind)
    if wanted is not None and records[wanted] is None:
        raise KeyError(wanted)
    return TradeEvent(kind, params["time_msc"], records["order"], records["position"],
                      records["deal"], records["account"], params["seq"],
                      params.get("paper") is True)


@dataclass(frozen=True)
class Gap:
    """Notifications may be missing here.

    Attributes:
        channel: ``ticks``, ``trades``, ``terminal`` or ``book``.
        reason: ``seq`` (a jump), ``reconnected`` (after a drop; ``detail`` says why it
            dropped), or ``missed_upstream`` (the EA lost trade events).
        lost: how many are missing, None when unknown.
        detail: a human-readable account.
    """

    channel: str
    reason: str
    lost: int | None
    detail: str


class SeqTracker:
    """Checks one subscription's ``seq`` runs 1, 2, 3, ...; a jump is a :class:`Gap`."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._last: int | None = None

    def observe(self, seq: int) -> Gap | None:
        """Record ``seq``; the gap before it, if any."""
        last, self._last = self._last, seq
        expected = 1 if last is None else last + 1
        if seq == expected:
            return None
        if seq > expected:
            lost = seq - expected
            return Gap(self.channel, "seq", lost,
                       f"seq went from {last if last is not None else 0} to {seq}: "
                       f"{lost} notification(s) lost")
        return Gap(self.channel, "seq", None,
                   f"seq went back from {last} to {seq}: the stream restarted")


def parse_event(method: str, params: dict[str, Any]
                ) -> StreamTick | StreamBook | TerminalStatus | TradeEvent | Candle | \
        CandleSnapshot:
    """The notification ``method`` with ``params`` as its record.

    Raises:
        ValueError: an unknown notification, or one missing a field.
    """
    try:
        if method == "tick":
            return _tick(params)
        if method == "book":
            return StreamBook(params["symbol"],
                              tuple(from_wire(BookInfo, level) for level in params["book"]),
                              params["seq"])
        if method == "terminal_status":
            return TerminalStatus(params["connected"], params["reason"],
                                  params.get("broker_connected"), params.get("trade_allowed"),
                                  params["seq"])
        if method == "trade_event":
            return _trade_event(params)
        if method == "candle":
            return Candle(params["symbol"], params["timeframe"], _rate(params),
                          params["closed"], params["confirmed"], params["seq"])
        if method == "candle_snapshot":
            return CandleSnapshot(params["symbol"], params["timeframe"],
                                  tuple(_rate(bar) for bar in params["bars"]), params["seq"])
    except KeyError as exc:
        raise ValueError(f"{method} notification without {exc.args[0]!r}") from None
    except WireMismatch as exc:
        raise ValueError(f"{method} notification: {exc}") from None
    raise ValueError(f"unknown notification {method!r}")
