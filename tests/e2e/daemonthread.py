"""The real daemon and emulated terminal on loopback (port 0), served from a thread of their own.

For clients that block: schemathesis calls through ``requests``, so the daemon cannot share
the test's event loop. The thread runs the same :func:`~tests.e2e.fixtures.running_daemon`
and :func:`~tests.e2e.fixtures.connected_terminal` the asyncio tests use, on the loop the
caller names (asyncio's or uvloop), and stops them when the block ends; an exception in the
thread is raised again in the test's.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.e2e.fixtures import WAIT_S, connected_terminal, running_daemon

try:
    import uvloop
except ImportError:  # Windows
    uvloop = None  # type: ignore[assignment]

__all__ = ["LOOPS", "ThreadedDaemon", "daemon_in_thread", "served_in_thread"]

T = TypeVar("T")

#: The loops a network-edge test runs on (uvloop where it exists), by test id.
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
if uvloop is not None:
    LOOPS["uvloop"] = uvloop.new_event_loop


@dataclass(frozen=True)
class ThreadedDaemon:
    """Where the daemon listens, and a token of the terminal connected to it."""

    http_port: int
    token: str

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@contextlib.contextmanager
def served_in_thread(serving: Callable[[], contextlib.AbstractAsyncContextManager[T]],
                     loop_factory: Callable[[], asyncio.AbstractEventLoop],
                     what: str) -> Iterator[T]:
    """What ``serving()`` yields, served in a thread of its own on a ``loop_factory`` loop
    until the block ends (then the context exits on that loop); an exception in the thread
    is raised again in the caller's."""
    ready = threading.Event()
    state: dict[str, Any] = {}
    loop = loop_factory()

    async def serve() -> None:
        stop = asyncio.Event()
        state["stop"] = stop
        try:
            async with serving() as served:
                state["served"] = served
                ready.set()
                await stop.wait()
        finally:
            ready.set()

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # raised again in the test's thread
            state["error"] = exc
        finally:
            loop.close()

    thread = threading.Thread(target=run, name=what, daemon=True)
    thread.start()
    try:
        if not ready.wait(WAIT_S * 3) or "served" not in state:
            raise RuntimeError(f"the {what} did not start") from state.get("error")
        yield state["served"]
    finally:
        if "stop" in state and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(state["stop"].set)
        thread.join(WAIT_S * 3)
        if "error" in state:
            raise state["error"]


@contextlib.contextmanager
def daemon_in_thread(data_dir: Path, loop_factory: Callable[[], asyncio.AbstractEventLoop],
                     **server: Any) -> Iterator[ThreadedDaemon]:
    """A daemon with an emulated terminal connected, in a thread on a ``loop_factory`` loop;
    ``server`` overrides ``[server]`` settings (as :func:`running_daemon`'s do)."""

    @contextlib.asynccontextmanager
    async def serving() -> AsyncIterator[ThreadedDaemon]:
        async with running_daemon(data_dir, **server) as daemon, connected_terminal(daemon):
            yield ThreadedDaemon(daemon.http_port, daemon.token)

    with served_in_thread(serving, loop_factory, "daemon") as running:
        yield running
