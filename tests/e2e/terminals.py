"""Emulated terminals with a test's behaviour added to the real emulator.

:class:`HoldingTerminal` is a broker slow to answer an order on demand: the convenience-method
tests and the paper-trading tests both need one, so it lives here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ea_bridge.connection import EAConnection
from ea_bridge.emulator.terminal import EmulatedTerminal


class HoldingTerminal(EmulatedTerminal):
    """Counts the order_send requests it gets; while ``hold`` is set, executes none of them
    until ``release`` is set (a broker slow to answer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_sends = 0
        self.hold = False
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        self._waiting: set[asyncio.Task[None]] = set()

    def _answer(self, conn: EAConnection, request_id: int, method: str,
                params: dict[str, Any]) -> None:
        if method != "order_send":
            super()._answer(conn, request_id, method, params)
            return
        self.order_sends += 1
        if not self.hold:
            super()._answer(conn, request_id, method, params)
            return

        async def later() -> None:
            await self.release.wait()
            super(HoldingTerminal, self)._answer(conn, request_id, method, params)

        self.held.set()
        task = asyncio.get_running_loop().create_task(later())
        self._waiting.add(task)
        task.add_done_callback(self._waiting.discard)
