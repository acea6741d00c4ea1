"""Issue 23 item 1: the demo's normal flow (a new device refused until approved, the EA
going live, calls and an order) prints no WARNING or ERROR line and nothing redacted."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.consolekit import Browser
from tests.e2e.fixtures import WAIT_S, running_demo

pytestmark = pytest.mark.not_on_windows("posix-signals")


async def test_the_demo_flow_logs_no_warning_or_error(tmp_path: Path) -> None:
    """From start to SIGTERM, with calls, an order on an open market and a sign-in to the web
    console with the owner password the demo printed (and stored) in between, the
    demo's output (stdout and stderr) has no WARNING/ERROR line, no traceback and no
    `[REDACTED]` (nothing secret is logged, and no guidance is mangled)."""
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file, "--start-time", "2026-11-18T10:00:00Z") as (proc,
                                                                                   output):
        assert proc.stdout is not None
        state = json.loads(state_file.read_text(encoding="utf-8"))
        headers = {"Authorization": f"Bearer {state['token']}"}
        async with aiohttp.ClientSession() as session:
            for rid, (method, params) in enumerate([
                    ("account_info", None), ("symbol_info_tick", {"symbol": "EURUSD"}),
                    ("order_send", {"request": {"action": "TRADE_ACTION_DEAL",
                                                "type": "ORDER_TYPE_BUY", "symbol": "EURUSD",
                                                "volume": 0.1, "client_id": "demo-log-1"}})]):
                body = {"jsonrpc": "2.0", "id": rid, "method": method,
                        **({"params": params} if params else {})}
                async with session.post(state["rpc_url"], json=body, headers=headers) as r:
                    assert "result" in await r.json()
        # the console's sign-in the demo printed and stored works (issue 23 item 4)
        browser = Browser(state["console_url"].rstrip("/"))
        try:
            page = await browser.sign_in(state["owner_email"], state["owner_password"])
            assert page.status == 303, page.status
        finally:
            await browser.close()
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(WAIT_S):
            rest = await proc.stdout.read()
            assert await proc.wait() == 0
    text = (output + rest).decode()
    assert "device_not_approved" in text  # the refusal happened, as a step of the story
    assert f"{state['console_url']}\n" in text and state["owner_password"] in text
    bad = [line for line in text.splitlines()
           if " WARNING " in line or " ERROR " in line or "Traceback" in line]
    assert bad == []
    assert "[REDACTED]" not in text
