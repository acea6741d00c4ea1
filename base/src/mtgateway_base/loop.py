"""The event loop the long-running processes run on: uvloop where the platform has it.

uvloop is not available on Windows (where terminals live), so everything here must also run
on asyncio's own loop; this is the one place that chooses. The daemon (``mtgateway run``,
``demo``, ``console``) and the emulated terminal (``mtgateway emulator``) both start through
:func:`run`, so the emulated EA's side of the bridge costs what a compiled EA's would come
closer to, rather than asyncio's selector loop (a 256 KiB buffer allocated per socket read).
They all stop the same way too: :func:`stop_on_signals` (Windows has no
``loop.add_signal_handler``).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run", "stop_on_signals"]

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on uvloop if it is installed, else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set ``stop`` on SIGINT or SIGTERM, on POSIX and on Windows.

    Windows event loops have no ``add_signal_handler``; there a plain handler hands the stop to
    the loop (asyncio's proactor loop wakes for signals through its wake-up socket). Ctrl-C is
    SIGINT; Ctrl-Break, and the console event a service wrapper (NSSM, WinSW) sends to stop a
    service, arrive as SIGBREAK, so that stops too.
    """
    loop = asyncio.get_running_loop()
    if sys.platform == "win32":
        for sig in (signal.SIGINT, signal.SIGBREAK, signal.SIGTERM):
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows event loops
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
