"""The console on loopback (port 0), served from a thread of its own, with the owner signed
in to its ``/api/``: for clients that block (schemathesis calls through ``requests``), as
``daemonthread.py`` serves the daemon (and with its :func:`served_in_thread`).

The thread runs the same :func:`~tests.e2e.consolekit.running_console` the asyncio tests use
on the loop the caller names (asyncio's or uvloop), registers a paper account and signs in
(``POST /api/auth/login``), and stops the console when the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.consolekit import OWNER, PASSWORD, running_console
from tests.e2e.daemonthread import served_in_thread

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

    @contextlib.asynccontextmanager
    async def serving() -> AsyncIterator[ThreadedConsole]:
        async with running_console(data_dir) as console:
            async with console.session.post(console.url + "/api/auth/login", data={
                    "username": OWNER, "password": PASSWORD}) as answer:
                token = (await answer.json())["access_token"]
            async with console.session.post(console.url + "/api/users/", json={
                    "name": "Paper", "broker": "MetaQuotes", "login": 5012345,
                    "password": "pw", "server": "MTG-Demo", "paper_trade_enabled": True},
                    headers={"Authorization": f"Bearer {token}"}) as answer:
                assert answer.status == 201, await answer.text()
            yield ThreadedConsole(console.url, token)

    with served_in_thread(serving, loop_factory, "console") as running:
        yield running
