"""The EA bridge: the wire protocol between the daemon and the Expert Advisor, and its server.

Layers, bottom up: ``framing`` (bytes ↔ frames) and ``messages`` (frames ↔ typed messages) and
``connection`` (the state machine) are sans-I/O; ``server`` and ``bridge`` are the asyncio shell;
``emulator`` plays the EA over a real socket. This package imports nothing from ``gateway``,
aiohttp or pydantic, so it can be reused and tested on its own. ``docs/protocol.md`` is the
normative description of the wire format.
"""

from __future__ import annotations

from .bridge import Bridge, is_loopback
from .connection import BridgeConnection, EAConnection, HeartbeatSettings
from .errors import (
    AuthRefused,
    BridgeError,
    EAError,
    FrameTooLarge,
    FramingError,
    InvalidState,
    ProtocolViolation,
    TerminalDisconnected,
    TerminalNotConnected,
    TerminalTimeout,
    TradeOutcomeUnknown,
)
from .interfaces import (
    BridgeListener,
    EAVerifier,
    FanOut,
    NullListener,
    ObservedVerifier,
    SessionInfo,
    TerminalId,
)
from .messages import (
    AUTH_REASONS,
    PROTOCOL_VERSION,
    TICK_ROW,
    TRADE_METHODS,
    Hello,
)
from .server import TerminalSession

__all__ = [
    "AUTH_REASONS",
    "PROTOCOL_VERSION",
    "TICK_ROW",
    "TRADE_METHODS",
    "AuthRefused",
    "Bridge",
    "BridgeConnection",
    "BridgeError",
    "BridgeListener",
    "EAConnection",
    "EAError",
    "EAVerifier",
    "FanOut",
    "FrameTooLarge",
    "FramingError",
    "HeartbeatSettings",
    "Hello",
    "InvalidState",
    "NullListener",
    "ObservedVerifier",
    "ProtocolViolation",
    "SessionInfo",
    "TerminalDisconnected",
    "TerminalId",
    "TerminalNotConnected",
    "TerminalSession",
    "TerminalTimeout",
    "TradeOutcomeUnknown",
    "is_loopback",
]
