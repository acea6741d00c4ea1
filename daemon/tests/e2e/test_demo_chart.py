"""The demo's chart, in words: a message the owner sends to the terminal from the console (the
MT4 Web API's ``POST /api/admin/mail``) is what the real EA writes on the chart with
``Comment``; the demo's emulated terminal has no chart, so the demo says what it shows.

Before, the message reached the emulated terminal and nothing showed it: a demo user sent one
and saw nothing happen. The real ``mtgateway demo`` process; the console API as an owner's
script calls it.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path

import aiohttp
import pytest

from gateway import demo
from tests.e2e.fixtures import WAIT_S, running_demo


async def test_a_message_to_the_terminal_is_said_by_the_demo(tmp_path: Path) -> None:
    """The owner's message appears in the demo's output as the chart shows it, on one line,
    with its control characters escaped (the daemon and the console already make it one
    printable line; the demo does not rely on that)."""
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file) as (proc, _), aiohttp.ClientSession() as http:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        api = state["api_url"]
        async with http.post(f"{api}/auth/login", data={
                "username": state["owner_email"], "password": state["owner_password"]}) as r:
            assert r.status == 200
            auth = {"Authorization": f"Bearer {(await r.json())['access_token']}"}
        async with http.post(f"{api}/admin/mail", headers=auth, json={
                "logins": [state["login"]], "subject": "Desk",
                "body": "flat by 16:00"}) as r:
            assert r.status == 200, await r.text()
        assert proc.stdout is not None
        said = b""
        async with asyncio.timeout(WAIT_S * 2):
            while b"shows the owner's message" not in said:
                said = await proc.stdout.readline()
                assert said, "the demo stopped"
    line = said.decode()
    expected = (f"the chart of {state['login']}@{state['server']} shows the owner's message: "
                '"Desk: flat by 16:00"')
    assert line.strip() == f"- {expected}"


def test_a_character_the_output_cannot_encode_is_escaped_not_raised(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a console whose code page lacks a character of the owner's message (cp1252 has
    "é", not "✓"), the demo writes its escape and goes on."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="cp1252", newline="\n")
    monkeypatch.setattr(sys, "stdout", out)
    demo._say("shows: café ✓")
    out.flush()
    assert raw.getvalue().decode("cp1252") == "  - shows: café \\u2713\n"
