"""The kit's clock while a program sleeps before its first network call (kit/common/
mql_clock.h): the Sleep is not waited out, but every clock the program reads moves by the
Sleep's length, as on a terminal; from the first network call on, Sleeps are waited out. The
MQL5 EA's first nonce waits for 64 stirs over a second of its own clock (test_entropy.py); this
is what keeps that second from costing every EA test a second of wall-clock time."""

from __future__ import annotations

import asyncio
import math
import re
import socket
import time
from pathlib import Path

import pytest

from daemon.tests.ea_mql.conftest import TOKEN, make_fixture
from daemon.tests.ea_mql.eakit import CompiledEA, build_probe
from ea_bridge import Bridge
from tests.bridgekit import RecordingListener
from tests.e2e.fixtures import TERMINAL, WAIT_S

#: Sleeps before and after its first network call, and says what each clock showed.
PROBE = """\
#property version "1.00"
input int Port = 0;
input int Nap = 0;

int OnInit()
  {
   ulong us = GetMicrosecondCount();
   uint ms = GetTickCount();
   datetime server = TimeCurrent();
   Sleep(Nap);
   ulong slept_us = GetMicrosecondCount() - us;
   uint slept_ms = GetTickCount() - ms;
   long slept_s = (long)TimeCurrent() - (long)server;
   int s = SocketCreate();
   bool up = s != INVALID_HANDLE && SocketConnect(s, "127.0.0.1", (uint)Port, 2000);
   us = GetMicrosecondCount();
   Sleep(20);
   ulong after_us = GetMicrosecondCount() - us;
   Print("PROBE slept ", IntegerToString((long)(slept_us / 1000)), " ", IntegerToString(slept_ms),
         " ", IntegerToString(slept_s), " then ", IntegerToString((long)(after_us / 1000)),
         up ? " connected" : " not connected");
   SocketClose(s);
   return INIT_SUCCEEDED;
  }
"""
NAP_MS = 1000
REPORT = re.compile(r"PROBE slept (\d+) (\d+) (\d+) then (\d+) connected")


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_probe(tmp_path_factory.mktemp("clock"), PROBE)


async def _run(probe: Path, tmp_path: Path, **env: str) -> list[str]:
    """The probe's output, through its exit (it is told to stop once it has reported)."""
    fixture, _ = make_fixture(tmp_path)
    listener = socket.create_server(("127.0.0.1", 0))
    proc = await asyncio.create_subprocess_exec(
        str(probe), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"MTGW_FIXTURE": str(fixture), "MQL_INPUT_Port": str(listener.getsockname()[1]),
             "MQL_INPUT_Nap": str(NAP_MS), **env})
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        while not any(line.startswith("PROBE") for line in lines):
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, f"the probe exited: {lines}"
            lines.append(line.decode(errors="replace").strip())
        proc.terminate()
        rest = await asyncio.wait_for(proc.stdout.read(), 30)
        lines += rest.decode(errors="replace").splitlines()
    finally:
        listener.close()
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()
    return lines


async def test_a_sleep_before_the_network_moves_every_clock_without_waiting(
        probe: Path, tmp_path: Path) -> None:
    lines = await _run(probe, tmp_path)
    [report] = [m for line in lines if (m := REPORT.match(line))]
    slept_us_ms, slept_ticks, slept_s, after = (int(x) for x in report.groups())
    # what the program saw: the Sleep's whole length, on the microsecond clock, the tick
    # count and the server time alike (a Sleep ends on a 15.625 ms clock tick)
    assert NAP_MS <= slept_us_ms < NAP_MS + 16 and NAP_MS - 16 < slept_ticks < NAP_MS + 32
    assert slept_s in (NAP_MS // 1000, NAP_MS // 1000 + 1)
    assert after >= 20
    # what the kit did: the nap was not waited out, the Sleep after the connect was
    [reached] = [int(m.group(1)) for line in lines
                 if (m := re.match(r"KIT: network reached, (\d+) ms slept without waiting", line))]
    [total] = [int(m.group(1)) for line in lines
               if (m := re.match(r"KIT: slept without waiting (\d+) ms", line))]
    assert reached >= NAP_MS and total == reached, lines


async def test_real_sleep_waits_every_sleep_out(probe: Path, tmp_path: Path) -> None:
    """MQLSHIM_REAL_SLEEP=1: the program sees the same, and nothing is slept without waiting."""
    lines = await _run(probe, tmp_path, MQLSHIM_REAL_SLEEP="1")
    [report] = [m for line in lines if (m := REPORT.match(line))]
    assert int(report.group(1)) >= NAP_MS
    assert "KIT: network reached, 0 ms slept without waiting" in lines
    assert "KIT: slept without waiting 0 ms" in lines


async def test_advance_moves_every_clock_at_once(
        bridge_daemon_heartbeat: tuple[Bridge, RecordingListener], ea_binary: Path,
        tmp_path: Path) -> None:
    """The control ``advance <ms>`` (kit/common/mql_runtime.h), which the history tests use to
    pass a synchronization on the EA's clocks instead of waiting it out: the server time the
    EA answers moves that much at once, the wall clock does not, and the kit counts it as
    time slept without waiting; the session lives through it (the gateway spoke just before,
    and the jump is shorter than the heartbeat's timeout)."""
    b, listener = bridge_daemon_heartbeat
    path, _ = make_fixture(tmp_path)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        before = (await b.call(TERMINAL, "server_time", {}, WAIT_S))["time"]
        started = time.monotonic()
        assert await b.call(TERMINAL, "ping", {}, WAIT_S) == {}
        await ea.control("advance 10000")
        after = (await b.call(TERMINAL, "server_time", {}, WAIT_S))["time"]
        waited_s = time.monotonic() - started
        assert 10 <= after - before <= 10 + math.ceil(waited_s) + 1, (before, after)
        assert waited_s < 10
        assert len(listener.ups) == 1 and not listener.downs
        with pytest.raises(AssertionError, match="KIT: error advance 0: usage"):
            await ea.control("advance 0")
    [total] = [int(m.group(1)) for line in ea.lines
               if (m := re.match(r"KIT: slept without waiting (\d+) ms", line))]
    assert total >= 10_000
