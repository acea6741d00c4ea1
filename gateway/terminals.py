"""What the daemon knows about connected terminals, fed by the bridge.

:class:`TerminalDirectory` is the daemon's :class:`~ea_bridge.BridgeListener`: it records which
terminals are connected, since when, and the latest tick per symbol with counts. It is the
one place that hears pushes from the EAs, so it also hands them to the streaming
:class:`~gateway.hub.Hub`: ticks, trade events, and the terminal's connection state (EA session
up/down and the EA's own ``terminal`` report), each under the :class:`~gateway.hub.StreamKey`
of the session it came from, so only clients of that session's token record receive it. No
aiohttp here: it is plain state, tested without a server.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ea_bridge import SessionInfo, TerminalId

from .hub import Hub, StreamKey

__all__ = ["TerminalDirectory", "TerminalState"]

log = logging.getLogger("gateway.terminals")


@dataclass(slots=True)
class TerminalState:
    """One terminal as last heard of."""

    terminal: TerminalId
    session: SessionInfo | None = None
    disconnect_reason: str | None = None
    ticks_received: int = 0
    events_received: int = 0
    events_missed: int = 0
    last_ticks: dict[str, list[Any]] = field(default_factory=dict)

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
        """Keep the newest tick of the batch and stream the batch."""
        if not rows:
            return
        state = self._get(terminal)
        state.ticks_received += len(rows)
        state.last_ticks[symbol] = rows[-1]
        if state.session is not None:
            self.hub.publish_ticks(_key(state.session), symbol, rows)

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any], missed: int) -> None:
        """Count events and losses, and stream ``trade``, ``book`` and ``terminal`` events."""
        state = self._get(terminal)
        state.events_received += 1
        state.events_missed += missed
        if state.session is None:
            log.debug("EA %s: event %r outside a session not streamed", terminal, name)
            return
        key = _key(state.session)
        if name == "trade":
            self.hub.publish_trade(key, payload, missed)
        elif name == "book" and isinstance(payload.get("symbol"), str):
            self.hub.publish_book(key, payload["symbol"], payload.get("book"))
        elif name == "terminal":
            broker, allowed = payload.get("connected"), payload.get("trade_allowed")
            self.hub.publish_status(
                key, "terminal_state",
                broker_connected=broker if isinstance(broker, bool) else None,
                trade_allowed=allowed if isinstance(allowed, bool) else None)
        else:
            log.debug("EA %s: event %r not streamed", terminal, name)


def _key(info: SessionInfo) -> StreamKey:
    """Where a session's pushes go: its terminal as seen through the token record its EA
    authenticated with (see ``hub.py``, "Routing")."""
    return StreamKey(info.terminal, info.token_id)
