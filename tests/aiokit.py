"""The asyncio client (``mtgateway.aio``) as its tests hold it: connected to a daemon with
short reconnect delays (:func:`connected`), and the next items of one of its streams
(:func:`take`).

The asyncio client's tests, the market-book tests and the EA conformance suite all read
streams this way, so it lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

import mtgateway.aio as mt5
from tests.e2e.fixtures import WAIT_S

T = TypeVar("T")


@contextlib.asynccontextmanager
async def connected(url: str, token: str) -> AsyncIterator[mt5.AsyncClient]:
    """An initialized client of ``url`` with ``token``, closed on exit."""
    async with mt5.AsyncClient(reconnect_initial_s=0.01, reconnect_max_s=0.05) as client:
        assert await client.initialize(token=token, url=url), client.last_error()
        yield client


async def take(stream: AsyncIterator[T], n: int) -> list[T]:
    """The next ``n`` items of ``stream`` (within WAIT_S), closing it afterwards."""
    items: list[T] = []
    try:
        async with asyncio.timeout(WAIT_S):
            async for item in stream:
                items.append(item)
                if len(items) == n:
                    break
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return items
