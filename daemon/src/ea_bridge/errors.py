"""Every exception the EA bridge raises, under one root.

The tree, and how a caller reacts to each::

    BridgeError                          anything from ea_bridge
    ├── FramingError                     bytes on the wire are not a valid frame (peer's fault)
    │   └── FrameTooLarge                a frame announced more than the size limit
    ├── ProtocolViolation                a valid frame broke the protocol (peer's fault: close)
    ├── InvalidState                     *our* misuse of the state machine: a bug
    ├── AuthRefused                      the EA's handshake was refused; ``reason`` is the word
    ├── TerminalNotConnected             no live session for the terminal: retry later
    ├── TerminalDisconnected             the session dropped while a read was in flight: retry
    ├── TerminalTimeout (TimeoutError)   a read got no answer in time: retry, maybe slower
    ├── TradeOutcomeUnknown              a trade was in flight when the link dropped or timed
    │                                    out: it may have executed; reconcile, never resend
    └── EAError                          the EA evaluated the request and answered an error

Peer faults (``FramingError``, ``ProtocolViolation``) close that one connection and nothing else.
``InvalidState`` is never caught on purpose: it means our code is wrong. The gateway maps these
classes to JSON-RPC codes in one table (``gateway/errors.py``); nothing in this package knows a
public code except :class:`EAError`, which carries the one the EA sent.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthRefused",
    "BridgeError",
    "EAError",
    "FrameTooLarge",
    "FramingError",
    "InvalidState",
    "ProtocolViolation",
    "TerminalDisconnected",
    "TerminalNotConnected",
    "TerminalTimeout",
    "TradeOutcomeUnknown",
]


class BridgeError(Exception):
    """Root of every exception raised by ``ea_bridge``."""


class FramingError(BridgeError):
    """The byte stream is not a sequence of valid frames; the connection must be closed."""


class FrameTooLarge(FramingError):
    """A frame's length prefix exceeds the limit; closing before buffering it protects memory."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"frame of {length} bytes exceeds the {limit}-byte limit")
        self.length = length
        self.limit = limit


class ProtocolViolation(BridgeError):
    """The peer sent a well-formed frame that the protocol does not allow at this point."""


class InvalidState(BridgeError):
    """Our own code used the state machine wrongly (e.g. sent a request before the handshake)."""


class AuthRefused(BridgeError):
    """The handshake was refused with a contract reason word (``invalid_token``, ...).

    Raised by the verifier the server is given; the server tells the EA ``reason`` and closes.
    """

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason


class TerminalNotConnected(BridgeError):
    """No EA session is live for the terminal; nothing was sent. Retry once it reconnects."""


class TerminalDisconnected(BridgeError):
    """The EA session dropped while a read request was in flight. Safe to retry."""


class TerminalTimeout(BridgeError, TimeoutError):
    """A read request got no answer within its deadline. Safe to retry, perhaps later."""


class TradeOutcomeUnknown(BridgeError):
    """A trade request was sent but its answer was lost (disconnect or deadline).

    The order may have executed. The caller must reconcile (look the order up by its
    ``client_id``) and must never resend blindly: that is how double positions happen.
    """

    def __init__(self, message: str, *, method: str) -> None:
        super().__init__(message)
        self.method = method


class EAError(BridgeError):
    """The EA evaluated the request and answered with an error ``code`` and ``message``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data
