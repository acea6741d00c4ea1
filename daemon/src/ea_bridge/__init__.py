"""The EA bridge: the wire protocol between the daemon and the Expert Advisor, and its server.

Layers, bottom up: ``framing`` (bytes ↔ frames) and ``messages`` (frames ↔ typed messages) and
``connection`` (the state machine) are sans-I/O; ``server`` and ``bridge`` are the asyncio shell;
``emulator`` plays the EA over a real socket. This package imports nothing from ``gateway``,
aiohttp or pydantic, so it can be reused and tested on its own. ``docs/protocol.md`` is the
normative description of the wire format.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

#: Where each name of the package's surface is defined. The package imports a module only when
#: one of its names is first asked for (PEP 562): ``gateway.errors`` needs the refusal reasons,
#: not the asyncio shell, and every ``mtgateway`` command that loads a config imports it.
_HOMES: dict[str, str] = {
    "AUTH_REASONS": "messages",
    "AuthRefused": "errors",
    "Bridge": "bridge",
    "BridgeConnection": "connection",
    "BridgeError": "errors",
    "BridgeListener": "interfaces",
    "EAConnection": "connection",
    "EAError": "errors",
    "EAVerifier": "interfaces",
    "FanOut": "interfaces",
    "FrameTooLarge": "errors",
    "FramingError": "errors",
    "HeartbeatSettings": "connection",
    "Hello": "messages",
    "InvalidState": "errors",
    "NullListener": "interfaces",
    "ObservedVerifier": "interfaces",
    "PROTOCOL_VERSION": "messages",
    "ProtocolViolation": "errors",
    "SessionInfo": "interfaces",
    "TICK_ROW": "messages",
    "TRADE_METHODS": "messages",
    "TerminalDisconnected": "errors",
    "TerminalId": "interfaces",
    "TerminalNotConnected": "errors",
    "TerminalSession": "server",
    "TerminalTimeout": "errors",
    "TradeOutcomeUnknown": "errors",
    "is_loopback": "bridge",
}

if not TYPE_CHECKING:  # mypy reads the imports above; a __getattr__ would widen every name
    def __getattr__(name: str) -> object:
        home = _HOMES.get(name)
        if home is None:
            try:  # ``ea_bridge.messages`` reached as an attribute, as when the package was eager
                return importlib.import_module(f"{__name__}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{__name__}.{name}":
                    raise
                raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
        globals()[name] = value
        return value

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
