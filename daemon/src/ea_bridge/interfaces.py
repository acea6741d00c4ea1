"""The seams between the bridge and whoever embeds it: identities, the verifier, the listener.

The bridge must not know how tokens are issued or where ticks go (``ea_bridge`` never imports
``gateway``), so the daemon hands it two objects: an :class:`EAVerifier` that judges a handshake,
and a :class:`BridgeListener` that receives sessions, ticks and events. Tests hand it their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import AuthRefused
from .messages import Hello

__all__ = ["BridgeListener", "EAVerifier", "FanOut", "NullListener", "ObservedVerifier",
           "SessionInfo", "TerminalId"]


@dataclass(frozen=True, slots=True, order=True)
class TerminalId:
    """A terminal as a token binds it: the trading account's login on a broker server."""

    login: int
    server: str

    def __str__(self) -> str:
        return f"{self.login}@{self.server}"


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live EA session: who connected, under which token record, since when (wall clock, s)."""

    terminal: TerminalId
    session_id: str
    token_id: str
    hello: Hello
    connected_at: float


class EAVerifier(Protocol):
    """Judges an EA's handshake, both halves. Implemented by the daemon's authenticator."""

    async def prove_daemon(self, hello: Hello, daemon_nonce: str) -> str:
        """The daemon's proof for the challenge: ``HMAC(server_key, …)`` of the hinted
        token's record over the hello's nonce, ``daemon_nonce`` and the terminal.

        Raises:
            AuthRefused: the hint names no usable record (``invalid_token``,
                ``device_not_approved``, ``authority_unreachable``, ``token_revoked``, ...) or
                names a token of another terminal (``terminal_mismatch``).
        """
        ...

    async def verify_ea(self, hello: Hello, daemon_nonce: str, proof: str) -> str:
        """Check the EA's proof against the hinted token's record; the record's ``token_id``.

        Raises:
            AuthRefused: with the contract's reason word (``invalid_token``, ``token_expired``,
                ``token_revoked``, ``terminal_mismatch``, ``device_not_approved``, ...).
        """
        ...


class ObservedVerifier:
    """An :class:`EAVerifier` that tells ``on_refused(hello, reason)`` of every refusal (either
    half of the handshake) and is otherwise ``inner``: how metrics and the terminal reporter
    see refused EAs without the bridge knowing of either."""

    def __init__(self, inner: EAVerifier,
                 on_refused: Callable[[Hello, str], None]) -> None:
        self._inner, self._on_refused = inner, on_refused

    async def prove_daemon(self, hello: Hello, daemon_nonce: str) -> str:
        """``inner.prove_daemon``, observing a refusal.

        Raises:
            AuthRefused: as ``inner`` does.
        """
        try:
            return await self._inner.prove_daemon(hello, daemon_nonce)
        except AuthRefused as exc:
            self._on_refused(hello, exc.reason)
            raise

    async def verify_ea(self, hello: Hello, daemon_nonce: str, proof: str) -> str:
        """``inner.verify_ea``, observing a refusal.

        Raises:
            AuthRefused: as ``inner`` does.
        """
        try:
            return await self._inner.verify_ea(hello, daemon_nonce, proof)
        except AuthRefused as exc:
            self._on_refused(hello, exc.reason)
            raise


class BridgeListener(Protocol):
    """Receives what the EAs push. Called on the event loop; must not block."""

    def session_up(self, info: SessionInfo) -> None:
        """An EA completed the handshake."""

    def session_down(self, info: SessionInfo, reason: str) -> None:
        """An EA session ended (``eof``, ``heartbeat_timeout``, ``protocol_error``, ...)."""

    def ticks(self, terminal: TerminalId, symbol: str, rows: list[list[Any]]) -> None:
        """Ticks for one symbol, rows as in ``docs/protocol.md``: time_msc, bid, ask, last,
        volume, flags, volume_real."""

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any], missed: int) -> None:
        """Any other event (``trade``, ``terminal``); ``missed`` > 0 means events were lost."""


class NullListener:
    """A listener that keeps nothing, for embedders that only make calls."""

    def session_up(self, info: SessionInfo) -> None:
        """Ignore."""

    def session_down(self, info: SessionInfo, reason: str) -> None:
        """Ignore."""

    def ticks(self, terminal: TerminalId, symbol: str, rows: list[list[Any]]) -> None:
        """Ignore."""

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any], missed: int) -> None:
        """Ignore."""


class FanOut:
    """A listener that hands every call to each of its listeners, in the order they were added.

    Several parts of an embedder care about sessions (the daemon's terminal directory for
    status and ticks, its trading desk for reconciliation on reconnect); the bridge has one
    listener slot, and this fills it without any of them forwarding to another.
    """

    def __init__(self, *listeners: BridgeListener) -> None:
        self._listeners: list[BridgeListener] = list(listeners)

    def add(self, listener: BridgeListener) -> None:
        """Also hand every later call to ``listener``."""
        self._listeners.append(listener)

    def session_up(self, info: SessionInfo) -> None:
        """Hand on to each listener."""
        for listener in self._listeners:
            listener.session_up(info)

    def session_down(self, info: SessionInfo, reason: str) -> None:
        """Hand on to each listener."""
        for listener in self._listeners:
            listener.session_down(info, reason)

    def ticks(self, terminal: TerminalId, symbol: str, rows: list[list[Any]]) -> None:
        """Hand on to each listener."""
        for listener in self._listeners:
            listener.ticks(terminal, symbol, rows)

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any], missed: int) -> None:
        """Hand on to each listener."""
        for listener in self._listeners:
            listener.event(terminal, name, payload, missed)
