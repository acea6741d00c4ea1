"""The fleet process: N emulated terminals in one process, each also pushing stamped ticks.

Run by ``bench.terminals`` as ``python -m bench.fleet BRIDGE_PORT SERVER FIRST_LOGIN`` with the
terminals' tokens on stdin's first line, space-separated (never on a command line). Terminal
``i`` is the real :class:`~ea_bridge.emulator.terminal.EmulatedTerminal` of account
``FIRST_LOGIN + i`` at ``SERVER``: the handshake, heartbeats, its symbol table and answers, one
symbol (EURUSD) ticking at 1 Hz from its simulated market. What a plain emulated terminal
cannot give is *when* a tick left it (its ``time_msc`` is the broker's clock), so each one
also sends, on every timer pass (20 ms, as the EA's timer), the rows due at its stamped rate
on the bench symbol, ``monotonic_ns()`` in ``volume`` taken right before the event is encoded
(as ``bench.benchea`` does; see there why the stamp is honest).

It prints ``READY`` once every terminal is welcomed, then obeys one command per stdin line:
``rate I HZ`` (terminal I's stamped rate; ``all`` for every terminal), ``quit``. One process
for all of them, pinned to the client CPU by inheritance: the daemon's CPU hosts only the
daemon, and 50 terminals cost one interpreter, not 50.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, Final

from ea_bridge.connection import EAConnection
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from ea_bridge.messages import EVENT_TICKS

__all__ = ["BENCH_SYMBOL", "StampedTerminal", "main"]

#: The symbol the stamped rows are sent on (not one the emulated market streams).
BENCH_SYMBOL: Final = "GBPUSD"
#: Stamped rows in one event at most (a storm of 5k ticks/s is 100 a timer pass).
_MAX_ROWS: Final = 500


class StampedTerminal(EmulatedTerminal):
    """An emulated terminal that also streams stamped ticks at :attr:`rate_hz` (0: none)."""

    def __init__(self, token: str, port: int, login: int, server: str) -> None:
        super().__init__(token, port=port, settings=EmulatorSettings(
            login=login, server=server, symbols=("EURUSD",), tick_rate_hz=1.0))
        self.rate_hz = 0.0
        self._since = time.monotonic()
        self._due_sent = 0

    def set_rate(self, hz: float) -> None:
        """Stamped ticks per second from now on."""
        self.rate_hz, self._since, self._due_sent = hz, time.monotonic(), 0

    def _stream(self, conn: EAConnection) -> None:
        super()._stream(conn)
        if self.rate_hz <= 0:
            return
        due = min(int((time.monotonic() - self._since) * self.rate_hz) - self._due_sent,
                  _MAX_ROWS)
        if due <= 0:
            return
        self._due_sent += due
        wall_ms = time.time_ns() // 1_000_000
        stamp = time.monotonic_ns()
        conn.send_event(EVENT_TICKS, {"symbol": BENCH_SYMBOL, "rows": [
            [wall_ms, 1.25, 1.25002, 0.0, stamp, 6, 0.0] for _ in range(due)]})


async def _run(port: int, server: str, first_login: int, tokens: list[str]) -> None:
    terminals = [StampedTerminal(token, port, first_login + i, server)
                 for i, token in enumerate(tokens)]
    tasks = [asyncio.create_task(t.run()) for t in terminals]
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(t.ready.wait())
                                       for t in terminals}
    running: set[asyncio.Future[Any]] = set(tasks)
    failed: list[asyncio.Task[None]] = []
    deadline = loop.time() + 60
    while waits and not failed and loop.time() < deadline:
        _, pending = await asyncio.wait(waits | running, timeout=deadline - loop.time(),
                                        return_when=asyncio.FIRST_COMPLETED)
        waits = pending - running
        failed = [task for task in tasks if task.done()]
    if failed or waits:
        reason = repr(failed[0].exception()) if failed else "not all welcomed within 60 s"
        print(f"FAILED {reason}", flush=True)
        return
    print("READY", flush=True)
    while line := (await stdin.readline()).decode().strip():
        words = line.split()
        if words[0] == "rate" and len(words) == 3:
            chosen = terminals if words[1] == "all" else [terminals[int(words[1])]]
            for terminal in chosen:
                terminal.set_rate(float(words[2]))
        elif words[0] == "quit":
            break
    for terminal in terminals:
        await terminal.close()
    await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str]) -> int:
    port, server, first_login = int(argv[0]), argv[1], int(argv[2])
    tokens = sys.stdin.readline().split()
    try:
        import uvloop
    except ImportError:
        asyncio.run(_run(port, server, first_login, tokens))
    else:
        uvloop.run(_run(port, server, first_login, tokens))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
