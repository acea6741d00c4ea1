"""What the ``/ws`` streams deliver, and the loss detector, without I/O.

A stream yields notifications in order, and a :class:`Gap` wherever something may be missing,
at the place it is missing, so a consumer cannot overlook it:

* ``seq`` (per subscription, +1 per notification) jumped: ``lost`` notifications are gone;
* the connection dropped and the stream resubscribed: what happened meanwhile is unknown
  (``lost`` is None); resync from ``positions_get`` / ``orders_get`` for trade events;
* the daemon reports trade events its terminal's EA missed (``missed`` on ``trade_event``).

Conflated ticks are not a gap: the daemon merged ticks of a symbol for a slow client on
purpose, and each tick says how many it stands for (``conflated``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from .records import BookInfo, from_wire

__all__ = ["Gap", "SeqTracker", "StreamBook", "StreamTick", "TerminalStatus", "TradeEvent",
           "parse_event"]


class StreamTick(NamedTuple):
    """One ``tick`` notification: the package's Tick fields with the symbol first, then how
    many ticks of that symbol were merged into it (``conflated``) and its ``seq``."""

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


@dataclass(frozen=True)
class TradeEvent:
    """One ``trade_event`` notification: an order, position, deal or account change, as the
    terminal reported it (``data``), with its ``seq``."""

    seq: int
    data: dict[str, Any]

    @property
    def type(self) -> Any:
        """The event's kind as the terminal named it (``data["type"]``)."""
        return self.data.get("type")


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
                ) -> StreamTick | StreamBook | TerminalStatus | TradeEvent:
    """The notification ``method`` with ``params`` as its record.

    Raises:
        ValueError: an unknown notification, or one missing a field.
    """
    try:
        if method == "tick":
            return StreamTick(params["symbol"], params["time"], params["bid"], params["ask"],
                              params["last"], params["volume"], params["time_msc"],
                              params["flags"], params["volume_real"],
                              params.get("conflated", 0), params["seq"])
        if method == "book":
            return StreamBook(params["symbol"],
                              tuple(from_wire(BookInfo, level) for level in params["book"]),
                              params["seq"])
        if method == "terminal_status":
            return TerminalStatus(params["connected"], params["reason"],
                                  params.get("broker_connected"), params.get("trade_allowed"),
                                  params["seq"])
        if method == "trade_event":
            data = {k: v for k, v in params.items() if k not in ("subscription", "seq")}
            return TradeEvent(params["seq"], data)
    except KeyError as exc:
        raise ValueError(f"{method} notification without {exc.args[0]!r}") from None
    raise ValueError(f"unknown notification {method!r}")
