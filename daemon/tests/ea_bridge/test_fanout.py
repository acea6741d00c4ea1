"""ea_bridge.FanOut hands every listener call to each of its listeners, in the order added."""

from __future__ import annotations

from typing import Any

from ea_bridge import FanOut, Hello, SessionInfo, TerminalId
from tests.bridgekit import RecordingListener

TERMINAL = TerminalId(1001, "Test-Server")


class _Order:
    """Writes which listener saw a session first (the desk must see it after the directory)."""

    def __init__(self, name: str, seen: list[str]) -> None:
        self.name, self.seen = name, seen

    def session_up(self, info: SessionInfo) -> None:
        self.seen.append(self.name)

    def session_down(self, info: SessionInfo, reason: str) -> None:
        self.seen.append(f"{self.name}:down:{reason}")

    def ticks(self, terminal: TerminalId, symbol: str, rows: list[list[Any]]) -> None:
        self.seen.append(f"{self.name}:ticks")

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any], missed: int) -> None:
        self.seen.append(f"{self.name}:{name}")


def _info() -> SessionInfo:
    hello = Hello(protocol_version=1, platform="mt5", build=4755, ea_version="1.0.0",
                  login=TERMINAL.login, server=TERMINAL.server, company="Test")
    return SessionInfo(TERMINAL, "s1", "tok_1", hello, 1_763_650_000.0)


def test_every_call_reaches_every_listener_in_order() -> None:
    """Sessions, ticks and events reach the listeners given and added, first to last."""
    seen: list[str] = []
    fan = FanOut(_Order("directory", seen))
    fan.add(_Order("desk", seen))
    info = _info()
    fan.session_up(info)
    fan.ticks(TERMINAL, "EURUSD", [[1, 1.1, 1.2, 0.0, 0, 6, 0.0]])
    fan.event(TERMINAL, "trade", {"x": 1}, 0)
    fan.session_down(info, "eof")
    assert seen == ["directory", "desk", "directory:ticks", "desk:ticks", "directory:trade",
                    "desk:trade", "directory:down:eof", "desk:down:eof"]


def test_payloads_arrive_unchanged() -> None:
    """What a listener receives is what the bridge handed the fan-out."""
    recording = RecordingListener()
    fan = FanOut(recording)
    rows = [[1, 1.1, 1.2, 0.0, 0, 6, 0.0], [2, 1.1, 1.2, 0.0, 0, 6, 0.0]]
    fan.ticks(TERMINAL, "EURUSD", rows)
    fan.event(TERMINAL, "terminal", {"trade_allowed": True}, 3)
    assert recording.ticks_seen == [(TERMINAL, "EURUSD", row) for row in rows]
    assert recording.events == [(TERMINAL, "terminal", {"trade_allowed": True}, 3)]
