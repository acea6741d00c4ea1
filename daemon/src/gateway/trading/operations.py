"""Trade operations above ``order_send``: closes, partial closes, closes by symbol, and the
"rejected is an error" answer of the convenience methods.

Why here and not in ``gateway/methods/``: a close is trading logic -- it reads the position,
builds the opposite deal, derives ``client_id``s for a batch, and must be idempotent like any
order -- and it used to live among the thin RPC methods, where it checked the journal itself.
The methods now validate their params and call one of these with plain values.

**Idempotent closes.** A close has to read the terminal first (the position's symbol, side and
volume), so a retry of a close that already executed cannot simply be sent again: the position
is gone. So a close with a ``client_id`` first waits for any close under the same id still in
flight (a retry sent while the first is held waits for it, then answers its outcome with
``deduplicated: true``: exactly one close reaches the terminal), then replays a journaled
outcome if there is one, and only then reads the position and sends.
``close_positions_by_symbol`` sends one close per open position of the symbol, each under a
``client_id`` derived from the call's (:func:`derived_id`), so a retry replays the closes
already made and closes only what is still open.

**Rejections.** The convenience methods answer a success retcode (placed, done, done
partially, no changes) with the ``order_send`` result, and any other retcode with
``TradeRejected`` (``-32010``), saying whether the same request may succeed later
(:data:`RETRYABLE_RETCODES`, under a NEW ``client_id``: the old one keeps its outcome).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from mt5model.mt5 import SUCCESS_RETCODES, OrderType, TradeAction, TradeRetcode

from ..auth import Principal
from ..errors import IdempotencyConflict, NotFound, TradeRejected
from .gate import TradeGate
from .journal import OrderJournal, OrderRow
from .requests import SendRequest

__all__ = ["RETRYABLE_RETCODES", "Desk", "OrderOptions", "TradeOperations", "answer",
           "derived_id"]

#: Retcodes after which the same request, sent again later under a new ``client_id``, may
#: succeed: the market moved or was busy, not the request being wrong.
RETRYABLE_RETCODES: Final = frozenset({
    TradeRetcode.REQUOTE, TradeRetcode.PRICE_CHANGED, TradeRetcode.PRICE_OFF,
    TradeRetcode.TOO_MANY_REQUESTS, TradeRetcode.LOCKED, TradeRetcode.FROZEN,
    TradeRetcode.ORDER_CHANGED, TradeRetcode.MARKET_CLOSED, TradeRetcode.REJECT,
})


class Desk(Protocol):
    """What the operations need of the trading desk (``desk.py``, which builds them)."""

    journal: OrderJournal
    gate: TradeGate

    async def send(self, principal: Principal, request: SendRequest) -> dict[str, Any]:
        """Idempotent ``order_send``."""
        ...

    def replay(self, row: OrderRow) -> dict[str, Any]:
        """A journaled outcome, ``deduplicated: true``."""
        ...

    def read(self, principal: Principal, method: str, params: dict[str, Any], *,
             live_book: bool = False) -> Awaitable[Any]:
        """A read at the caller's venue (with ``live_book``: at the terminal itself); its
        awaitable."""
        ...


@dataclass(frozen=True, slots=True)
class OrderOptions:
    """MetaApi's ``options`` of every convenience method (absent: None)."""

    comment: str | None = None
    client_id: str | None = None
    magic: int | None = None


def answer(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` when its retcode is a success, else ``TradeRejected``.

    Raises:
        TradeRejected: with the retcode, whether it is retryable, and the result.
    """
    retcode = result.get("retcode")
    if retcode not in SUCCESS_RETCODES:
        raise TradeRejected(int(retcode) if isinstance(retcode, int) else 0,
                            retryable=retcode in RETRYABLE_RETCODES, result=result)
    return result


def _one(found: Any) -> bool:
    """Whether a ``positions_get`` answer holds a record."""
    return isinstance(found, list) and bool(found) and isinstance(found[0], dict)


def derived_id(client_id: str, ticket: int) -> str:
    """A ``client_id`` for one position of a batch close: stable for (id, ticket), 24 chars."""
    digest = hashlib.sha256(f"{client_id}/{ticket}".encode()).digest()
    return client_id[:11] + "-" + base64.b32encode(digest).decode()[:12].lower()


class TradeOperations:
    """The operations of one daemon over its desk.

    Args:
        desk: sends, replays and reads (the :class:`Desk` protocol).
    """

    def __init__(self, desk: Desk) -> None:
        self._desk = desk
        #: (token_id, client_id) → set when the close under that id in flight ends.
        self._closing: dict[tuple[str, str], asyncio.Event] = {}

    def request(self, options: OrderOptions, **fields: Any) -> SendRequest:
        """The TradeRequest for ``fields`` plus ``options`` (absent ones left out).

        Raises:
            pydantic.ValidationError: a field out of the bounds of ``requests.py``.
        """
        body = {k: v for k, v in fields.items() if v is not None}
        for name in ("comment", "client_id", "magic"):
            value = getattr(options, name)
            if value is not None:
                body[name] = value
        return SendRequest.model_validate(body)

    async def send(self, principal: Principal, request: SendRequest) -> dict[str, Any]:
        """``order_send`` through the desk; a non-success retcode is ``TradeRejected``."""
        return answer(await self._desk.send(principal, request))

    async def close(self, principal: Principal, position_id: int, *,
                    volume: float | None = None, slippage: int | None = None,
                    options: OrderOptions = OrderOptions()) -> dict[str, Any]:
        """Close ``volume`` of a position (all of it when None) at market.

        Raises:
            NotFound: no open position ``position_id`` (and no close journaled under the id).
            IdempotencyConflict: the ``client_id`` is journaled for another request.
            TradeRejected, OutcomeUnknown, ...: as ``order_send``.
        """
        self._desk.gate.check_caller(principal)  # before anything of the journal is shown
        client_id = options.client_id
        if client_id is None:
            return await self._close(principal, position_id, volume, slippage, options)
        key = (principal.token_id, client_id)
        while (first := self._closing.get(key)) is not None:
            await first.wait()  # a retry while the first close is held: its outcome
        done = self._closing[key] = asyncio.Event()
        try:
            return await self._close(principal, position_id, volume, slippage, options)
        finally:
            del self._closing[key]
            done.set()

    async def _close(self, principal: Principal, position_id: int, volume: float | None,
                     slippage: int | None, options: OrderOptions) -> dict[str, Any]:
        stored = self._replayed(principal, options.client_id, TradeAction.DEAL,
                                position=position_id)
        if stored is not None:  # a retry: its outcome, whatever the position has become since
            return answer(stored)
        position = await self._position(principal, position_id)
        close_type = OrderType.SELL if position.get("type") == 0 else OrderType.BUY
        request = self.request(options, action=TradeAction.DEAL, symbol=position.get("symbol"),
                               type=close_type, volume=volume or position.get("volume"),
                               position=position_id, deviation=slippage)
        return await self.send(principal, request)

    async def close_by_symbol(self, principal: Principal, symbol: str, *,
                              slippage: int | None = None,
                              options: OrderOptions = OrderOptions()) -> dict[str, Any]:
        """Close every open position of ``symbol``: ``{"results": [...]}``, one per close.

        Raises:
            TradeRejected: a close was refused (the closes before it stand; ``data.result``
                is the refused one); a retry under the same ``client_id`` closes what is still
                open, and never closes a position twice (each close keeps its derived id).
        """
        self._desk.gate.check_caller(principal)
        positions = await self._desk.read(principal, "positions_get", {"symbol": symbol})
        results = []
        for position in positions if isinstance(positions, list) else []:
            ticket = position.get("ticket") if isinstance(position, dict) else None
            if not isinstance(ticket, int):
                continue
            one = OrderOptions(comment=options.comment, magic=options.magic,
                               client_id=None if options.client_id is None
                               else derived_id(options.client_id, ticket))
            results.append(await self.close(principal, ticket, slippage=slippage,
                                            options=one))
        return {"results": results}

    def _replayed(self, principal: Principal, client_id: str | None, action: int,
                  **wanted: Any) -> dict[str, Any] | None:
        """The stored outcome when ``client_id`` is already journaled for a request of
        ``action`` whose fields equal ``wanted`` (a retry), else None.

        Raises:
            IdempotencyConflict: the id is journaled for another request.
            OutcomeUnknown: it is, and its outcome is not settled yet.
        """
        if client_id is None:
            return None
        journal = self._desk.journal
        row = journal.get(principal.token_id, client_id)
        if row is None:
            return None
        sent = row.request
        if sent.get("action") != action or any(sent.get(k) != v for k, v in wanted.items()):
            journal.note(row, "conflict")
            raise IdempotencyConflict(client_id)
        return self._desk.replay(row)

    async def _position(self, principal: Principal, ticket: int) -> dict[str, Any]:
        """The open position ``ticket`` at the caller's venue; else, when the live book holds
        it (a position left at the broker while the account trades on paper), that one: the
        close built from it is sent, and the caller's venue answers it (the paper book
        refuses a ticket of the live book, ``venue.py``), rather than "no open position" for
        a position still running at the broker."""
        found = await self._desk.read(principal, "positions_get", {"ticket": ticket})
        if not _one(found):
            found = await self._desk.read(principal, "positions_get", {"ticket": ticket},
                                          live_book=True)
        if not _one(found):
            raise NotFound(f"no open position {ticket}")
        position: dict[str, Any] = found[0]
        return position
