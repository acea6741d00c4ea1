"""What the daemon knows about connected terminals, fed by the bridge.

:class:`TerminalDirectory` is the daemon's :class:`~ea_bridge.BridgeListener`: it records which
terminals are connected, since when, and what they pushed (counts of ticks, events and events
missed). It is the listener that streams the pushes (other listeners hear them too: the
reporter, the metrics, the candles, paper trading): it hands them to the
:class:`~gateway.hub.Hub` -- ticks, trade events, books, and the terminal's connection state
(EA session up/down and the EA's own ``terminal`` report) -- each under the
:class:`~gateway.hub.StreamKey` of the session it came from, so only clients of that session's
token record receive it. Which event goes to which stream is one table (:data:`_STREAMED`), by
the event names the bridge declares. No aiohttp here: it is plain state, tested without a
server.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ea_bridge import SessionInfo, TerminalId
from ea_bridge.messages import EVENT_BOOK, EVENT_TERMINAL, EVENT_TRADE
from mtgateway_base.wire.records import RiskPolicy, SignedRecord

from .hub import Hub, StreamKey

__all__ = ["TERMS_CHANGED", "TerminalDirectory", "TerminalState"]

log = logging.getLogger(__name__)

#: The ``terminal_status`` reason when a token's trading terms changed (its record arrived
#: with another risk policy: paper on or off, halted, other limits or symbols).
TERMS_CHANGED: Final = "trading_terms"
#: The token records whose terms :class:`TerminalDirectory` remembers (more: it starts again,
#: and the next record of each token is its first).
_TERMS_KEPT: Final = 4096


@dataclass(slots=True)
class TerminalState:
    """One terminal as last heard of."""

    terminal: TerminalId
    session: SessionInfo | None = None
    disconnect_reason: str | None = None
    ticks_received: int = 0
    events_received: int = 0
    events_missed: int = 0

    @property
    def connected(self) -> bool:
        """Whether an EA session is live."""
        return self.session is not None


class TerminalDirectory:
    """Connected terminals and their latest data; the bridge's listener.

    Args:
        hub: where pushes are streamed to clients; a private one when not given.
    """

    def __init__(self, hub: Hub | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._states: dict[TerminalId, TerminalState] = {}
        self.hub = hub if hub is not None else Hub()
        self._clock = clock
        self._started_at = clock()
        #: Each token record's trading terms as last stored, by token id.
        self._terms: dict[str, RiskPolicy] = {}

    def uptime_s(self) -> float:
        """Seconds since this daemon's directory was created (the daemon's start)."""
        return self._clock() - self._started_at

    def state(self, terminal: TerminalId) -> TerminalState | None:
        """What is known of ``terminal``, or None if it never connected."""
        return self._states.get(terminal)

    def states(self) -> list[TerminalState]:
        """Every terminal ever seen by this daemon run."""
        return list(self._states.values())

    def _get(self, terminal: TerminalId) -> TerminalState:
        state = self._states.get(terminal)
        if state is None:
            state = self._states[terminal] = TerminalState(terminal)
        return state

    # -- BridgeListener --------------------------------------------------------------------

    def session_up(self, info: SessionInfo) -> None:
        """Record the live session."""
        state = self._get(info.terminal)
        state.session, state.disconnect_reason = info, None
        self.hub.publish_status(_key(info), "ea_connected", connected=True)

    def session_down(self, info: SessionInfo, reason: str) -> None:
        """Record the loss and its reason."""
        state = self._get(info.terminal)
        if state.session is not None and state.session.session_id == info.session_id:
            state.session, state.disconnect_reason = None, reason
            self.hub.publish_status(_key(info), reason, connected=False)

    def ticks(self, terminal: TerminalId, symbol: str, rows: list[list[Any]]) -> None:
        """Count the batch and stream it."""
        if not rows:
            return
        state = self._get(terminal)
        state.ticks_received += len(rows)
        if state.session is not None:
            self.hub.publish_ticks(_key(state.session), symbol, rows)

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any], missed: int) -> None:
        """Count events and losses, and stream the ones :data:`_STREAMED` names."""
        state = self._get(terminal)
        state.events_received += 1
        state.events_missed += missed
        if state.session is None:
            log.debug("EA %s: event %r outside a session not streamed", terminal, name)
            return
        stream = _STREAMED.get(name)
        if stream is None:
            log.debug("EA %s: event %r not streamed", terminal, name)
            return
        stream(self.hub, _key(state.session), payload, missed)

    def record_stored(self, record: SignedRecord) -> None:
        """A token's record arrived (``RecordCache.on_stored``): when its trading terms differ
        from the ones it came with before, the token's ``terminal`` subscribers are told
        (``terminal_status``, reason :data:`TERMS_CHANGED`), so a bot streaming learns that
        paper went on or off, or its limits changed, as it happens, rather than at its next
        answer; ``gateway_status().trading`` says the rest. A token's first record is no
        change."""
        before = self._terms.get(record.token_id)
        if len(self._terms) >= _TERMS_KEPT and before is None:
            self._terms.clear()
        self._terms[record.token_id] = record.risk
        if before is not None and before != record.risk:
            self.hub.publish_status(
                StreamKey(TerminalId(record.login, record.server), record.token_id),
                TERMS_CHANGED)

    def stream_trade(self, terminal: TerminalId, payload: dict[str, Any]) -> None:
        """Stream a trade event the daemon made rather than the EA (the paper book's, marked
        ``"paper": true``) to the clients of the terminal's live session, as the EA's own go;
        not counted among the EA's events. Without a session nobody may receive it (as for
        the EA's events outside one)."""
        state = self._states.get(terminal)
        if state is None or state.session is None:
            log.debug("trade event of %s outside a session not streamed", terminal)
            return
        self.hub.publish_trade(_key(state.session), payload)


def _trade(hub: Hub, key: StreamKey, payload: dict[str, Any], missed: int) -> None:
    """The EA's trade event, of the live book: it says so (``book``), and nothing the EA sent
    can make it say ``paper`` (only the daemon's own paper book marks its events)."""
    body = {k: v for k, v in payload.items() if k not in _BOOK_KEYS}
    body["book"] = "live"
    hub.publish_trade(key, body, missed)


#: The keys by which a trade event says its book: the daemon's to set, never the EA's.
_BOOK_KEYS: Final = frozenset({"book", "paper"})


def _book(hub: Hub, key: StreamKey, payload: dict[str, Any], missed: int) -> None:
    symbol = payload.get("symbol")
    if isinstance(symbol, str):
        hub.publish_book(key, symbol, payload.get("book"))


def _terminal(hub: Hub, key: StreamKey, payload: dict[str, Any], missed: int) -> None:
    broker, allowed = payload.get("connected"), payload.get("trade_allowed")
    hub.publish_status(key, "terminal_state",
                       broker_connected=broker if isinstance(broker, bool) else None,
                       trade_allowed=allowed if isinstance(allowed, bool) else None)


#: Which EA event goes to which stream, by the bridge's event names (``ticks`` come through
#: :meth:`TerminalDirectory.ticks`); a name not here is counted and not streamed.
_STREAMED: Final[dict[str, Callable[[Hub, StreamKey, dict[str, Any], int], None]]] = {
    EVENT_TRADE: _trade, EVENT_BOOK: _book, EVENT_TERMINAL: _terminal}


def _key(info: SessionInfo) -> StreamKey:
    """Where a session's pushes go: its terminal as seen through the token record its EA
    authenticated with (see ``hub.py``, "Routing")."""
    return StreamKey(info.terminal, info.token_id)
