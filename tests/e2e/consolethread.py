"""The console on loopback (port 0), served from a thread of its own, with the owner signed
in to its ``/api/``: for clients that block (schemathesis calls through ``requests``), as
``daemonthread.py`` serves the daemon.

The thread runs the same :func:`~tests.e2e.consolekit.running_console` the asyncio tests use
on the loop the caller names (asyncio's or uvloop), registers a paper account and signs in
(``POST /api/auth/login``), and stops the console when the block ends; an exception in the
thread is raised again in the test's.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.consolekit import OWNER, PASSWORD, WAIT_S, running_console

__all__ = ["ThreadedConsole", "console_in_thread"]


@dataclass(frozen=True)
class ThreadedConsole:
    """Where the console listens, and the owner's access token."""

    url: str
    token: str


@contextlib.contextmanager
def console_in_thread(data_dir: Path, loop_factory: Callable[[], asyncio.AbstractEventLoop]
                      ) -> Iterator[ThreadedConsole]:
    """A console with the owner signed in to ``/api/``, in a thread on a ``loop_factory``
    loop."""
    ready = threading.Event()
    state: dict[str, Any] = {}
    loop = loop_factory()

    async def serve() -> None:
        stop = asyncio.Event()
        state["stop"] = stop
        try:
            async with running_console(data_dir) as console:
                async with console.session.post(console.url + "/api/auth/login", data={
                        "username": OWNER, "password": PASSWORD}) as answer:
                    token = (await answer.json())["access_token"]
                async with console.session.post(console.url + "/api/users/", json={
                        "name": "Paper", "broker": "MetaQuotes", "login": 5012345,
                        "password": "pw", "server": "MTG-Demo", "paper_trade_enabled": True},
                        headers={"Authorization": f"Bearer {token}"}) as answer:
                    assert answer.status == 201, await answer.text()
                state["console"] = ThreadedConsole(console.url, token)
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

    thread = threading.Thread(target=run, name="console", daemon=True)
    thread.start()
    try:
        if not ready.wait(WAIT_S * 3) or "console" not in state:
            raise RuntimeError("the console did not start") from state.get("error")
        yield state["console"]
    finally:
        if "stop" in state and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(state["stop"].set)
        thread.join(WAIT_S * 3)
        if "error" in state:
            raise state["error"]
