"""``mtgateway_base.loop.stop_on_signals``: every stop signal of the platform stops the process's
loop, on POSIX through the loop's own signal handlers, on Windows through ``signal.signal``
(Ctrl-C is SIGINT; Ctrl-Break, and the console event a service wrapper sends, SIGBREAK).

The signal is raised in this process (``signal.raise_signal``), so the handler that the daemon,
the console, the demo and the emulator install is the one that runs. Ctrl-C from outside the
process, delivered by the console, is the Windows stage's crossing (tests/windows/crossing.py).
"""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

from mtgateway_base.loop import stop_on_signals

STOPS = ([signal.SIGINT, signal.SIGBREAK, signal.SIGTERM] if sys.platform == "win32"
         else [signal.SIGINT, signal.SIGTERM])


@pytest.mark.parametrize("stop_signal", STOPS, ids=[s.name for s in STOPS])
async def test_each_stop_signal_sets_the_stop_event(stop_signal: signal.Signals) -> None:
    """The signal, raised while the loop runs, sets the event the process waits on; nothing
    else does."""
    stop = asyncio.Event()
    saved = {s: signal.getsignal(s) for s in STOPS}
    try:
        stop_on_signals(stop)
        assert not stop.is_set()
        signal.raise_signal(stop_signal)
        async with asyncio.timeout(10):
            await stop.wait()
    finally:
        loop = asyncio.get_running_loop()
        for s, handler in saved.items():
            if sys.platform != "win32":
                loop.remove_signal_handler(s)
            signal.signal(s, handler)
