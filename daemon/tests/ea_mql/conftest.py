"""Fixtures for the EA tests: the compiled EA (built once per session) and its fixture file."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

from daemon.tests.ea_mql.eakit import build_ea, finish_fixture, terminal_answers, write_fixture
from daemon.tests.ea_mql.eakit4 import finish_fixture4, margins_1lot
from ea_bridge import Bridge, HeartbeatSettings
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from tests.bridgekit import RecordingListener, StaticVerifier
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import LOGIN, SERVER, TERMINAL, Daemon, running_daemon

SYMBOLS = ("EURUSD", "USDJPY", "BTCUSD")
TICK_RATE_HZ = 10.0
TOKEN = "mtgw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABBBBBB"
#: When the reference terminal's clock starts: a fixed Wednesday, 14:00:30.5 UTC, the forex
#: markets open. Tick requests from a whole minute, where the EA's helper starts its load, are
#: tested on their own (test_history_sync.py), not by where this clock happens to start.
FIXTURE_MS = WEDNESDAY_MS + 30_500


@pytest.fixture(scope="session")
def ea_binary() -> Path:
    """The EA compiled with g++ -Werror (cached by source hash; never skipped)."""
    return build_ea()


def reference_terminal(token: str = "mtgw_unused") -> EmulatedTerminal:
    """An emulated terminal of the test account, not connected: the fixture's source.

    Its clock starts on a fixed Wednesday afternoon (:data:`FIXTURE_MS`) and runs on in real
    time, so every symbol's last quote is live when the fixture is written, whatever the day:
    at the real clock, on a weekend, the forex symbols' quotes are Friday's close and the
    fixture's live ticks would follow them after a gap of days (a stale quote, at which the EA
    starts a stream differently), and the same test would run another way on Saturday."""
    return EmulatedTerminal(token, settings=EmulatorSettings(login=LOGIN, server=SERVER,
                                                             symbols=SYMBOLS,
                                                             tick_rate_hz=TICK_RATE_HZ),
                            utc_clock_ms=SteppedClock(FIXTURE_MS))


@cache
def _reference_answers(history_s: int) -> str:
    """The reference terminal's :func:`terminal_answers`, read once per process (as JSON, so
    each fixture gets its own copy to edit; orjson reads it back in a sixth of json's time,
    and refuses a NaN json wrote where json would pass it on)."""
    return json.dumps(terminal_answers(reference_terminal(), history_s=history_s))


def reference_fixture(path: Path, *, history_s: int = 900, **switches: Any) -> dict[str, Any]:
    """``write_fixture(path, reference_terminal(), ...)`` without asking a new emulator the
    same questions again: every reference terminal starts at :data:`FIXTURE_MS` with the same
    seed, so its answers (a quarter of a second of CPU to read) differ from one reading to the
    next only by the milliseconds the reading took. The fixture's live ticks and switches are
    made for each call, as :func:`write_fixture` makes them."""
    return finish_fixture(path, orjson.loads(_reference_answers(history_s)), **switches)


@cache
def _reference_margins() -> dict[str, float]:
    return margins_1lot(reference_terminal())


def reference_fixture4(path: Path, *, history_s: int = 900, **switches: Any) -> dict[str, Any]:
    """``write_fixture4(path, reference_terminal(), ...)`` from the answers and margins read
    once per process (:func:`reference_fixture`)."""
    return finish_fixture4(path, orjson.loads(_reference_answers(history_s)),
                           _reference_margins(), **switches)


@pytest.fixture
def fixture_file(tmp_path: Path) -> Path:
    path = tmp_path / "terminal.json"
    reference_fixture(path)
    return path


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    """The real daemon (embedded authority, short heartbeats) on port 0."""
    async with running_daemon(tmp_path) as running:
        yield running


@contextlib.asynccontextmanager
async def _bridge(heartbeat: HeartbeatSettings) -> AsyncIterator[tuple[Bridge, RecordingListener]]:
    listener = RecordingListener()
    bridge = Bridge(StaticVerifier({TOKEN: (TERMINAL, "tok-1")}), listener, port=0,
                    heartbeat=heartbeat)
    await bridge.start()
    try:
        yield bridge, listener
    finally:
        await bridge.close()


@pytest.fixture
async def bridge() -> AsyncIterator[tuple[Bridge, RecordingListener]]:
    """The real ``Bridge`` alone (no daemon around it), knowing TOKEN, with its listener."""
    async with _bridge(HeartbeatSettings(0.5, 1.5)) as running:
        yield running


@pytest.fixture
async def bridge_daemon_heartbeat() -> AsyncIterator[tuple[Bridge, RecordingListener]]:
    """``bridge`` with the daemon's own heartbeat (a ping every 5 s, dead after 15 s of
    silence), for a test that moves the EA's clocks on (``terminalkit.answered_in_ea_time``):
    each jump is a second of silence to the EA, which ``bridge``'s 1.5 s timeout leaves
    half a second of wall-clock time to outlast on a loaded machine."""
    async with _bridge(HeartbeatSettings()) as running:
        yield running


def make_fixture(tmp_path: Path, terminal: EmulatedTerminal | None = None,
                 **switches: Any) -> tuple[Path, dict[str, Any]]:
    """A fixture file from ``terminal`` (the reference one by default) and the fake
    terminal's ``switches``; returns its path and content."""
    path = tmp_path / "terminal.json"
    if terminal is None:
        return path, reference_fixture(path, **switches)
    return path, write_fixture(path, terminal, **switches)


async def probe_lines(binary: Path, tmp_path: Path) -> list[str]:
    """What a gate probe program (built by the kit) prints from OnInit, up to and including
    its ``controls`` line, run on the reference fixture; the program is stopped then."""
    fixture, _ = make_fixture(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        str(binary), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env={"MTGW_FIXTURE": str(fixture)})
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        while not any(line.startswith("controls ") for line in seen):
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, f"the probe exited: {seen}"
            seen.append(line.decode(errors="replace").strip())
    finally:
        proc.terminate()
        await proc.wait()
    return seen
