"""A daemon's periodic report carried by its revocation long-poll (``TAKES``' ``poll_report``):
one signed call on one connection where a report on a connection of its own and a renewal
were two. The poll stores the report as ``POST /v1/terminals/report`` does, its proof's replay
row with it, then is held; its answer is the poll's with the report's beside it. A poll it
cannot hold or a report it refuses stores nothing.

Real parts: the console on loopback with its SMTP sink (``consolekit``), signed requests as a
daemon sends them."""

from __future__ import annotations

import asyncio
from typing import Any

from mtgateway_base.wire.proofs import device_info
from mtgateway_base.wire.reports import AccountFigures
from mtgateway_console.appkeys import AUTHORITY, LONG_POLLS
from tests.e2e.consolekit import OWNER, Console, approved_token

LOGIN, SERVER = 5012345, "MTG-Demo"
#: How long a test waits for the console to hold its polls (an event, not a sleep).
WAIT_S = 10.0


def _report(token_id: str) -> dict[str, Any]:
    """An active terminal's report, as a daemon sends it every 30 s."""
    return {"login": LOGIN, "server": SERVER, "state": "active", "token_id": token_id,
            "platform": "MT5", "ea_version": "1.3.0", "balance": 10_000.0,
            "equity": 10_012.5, "currency": "USD", "positions": 2}


async def test_a_poll_carrying_a_report_stores_it_and_answers_both(console: Console) -> None:
    token_id = await approved_token(console)
    status, answer, _ = await console.device("POST", "/v1/device/revocations",
                                              {"wait_s": 0, "terminals": [_report(token_id)]})
    assert status == 200, answer
    assert answer["stored"] == 1 and answer["token_ids"] == []
    assert isinstance(answer["cursor"], int)
    assert "poll_report" in answer["takes"] and "live" not in answer
    authority = console.app[AUTHORITY]
    [row] = await authority.terminals.of(OWNER)
    assert (row.login, row.server, row.state, row.token_id) == (LOGIN, SERVER, "active",
                                                                token_id)
    device_id = device_info(console.key).device_id
    assert await authority.terminals.figures_of(OWNER) == {
        (device_id, LOGIN, SERVER): AccountFigures(10_000.0, 10_012.5, "USD", 2)}
    # the poll's next renewal goes on from the cursor the carried one answered
    status, again, _ = await console.device("POST", "/v1/device/revocations",
                                            {"wait_s": 0, "cursor": answer["cursor"]})
    assert (status, again) == (200, {"cursor": answer["cursor"], "token_ids": []})


async def test_a_report_answer_names_the_poll_among_what_it_takes(console: Console) -> None:
    """A daemon learns from its report's answer that its polls may carry the next ones."""
    token_id = await approved_token(console)
    status, answer, _ = await console.device("POST", "/v1/terminals/report",
                                              {"terminals": [_report(token_id)]})
    assert status == 200 and "poll_report" in answer["takes"]


async def test_a_poll_without_a_report_is_answered_as_before(console: Console) -> None:
    status, answer, _ = await console.device("POST", "/v1/device/revocations", {"wait_s": 0})
    assert status == 200 and set(answer) == {"cursor", "token_ids"}


async def test_a_report_the_console_refuses_refuses_its_poll_and_stores_nothing(
        console: Console) -> None:
    token_id = await approved_token(console)
    status, answer, _ = await console.device(
        "POST", "/v1/device/revocations",
        {"wait_s": 0, "terminals": [{**_report(token_id), "state": "sleeping"}]})
    assert status == 400 and answer["error"]["reason"] == "invalid_request", answer
    assert answer["error"]["fields"][0]["field"].startswith("terminals.0.state"), answer
    assert await console.app[AUTHORITY].terminals.of(OWNER) == []
    assert console.app[LONG_POLLS].held(key=device_info(console.key).device_id) == 0


async def test_a_poll_past_the_held_bound_stores_its_report_not(console: Console) -> None:
    """A device holds two polls at most: a third is refused before its report is stored,
    so the daemon, told 429, sends the report again knowing it was not kept."""
    token_id = await approved_token(console)
    device_id = device_info(console.key).device_id
    # (with a cursor: a poll without one is answered at once)
    held = [asyncio.create_task(console.device("POST", "/v1/device/revocations",
                                               {"wait_s": 50, "cursor": 0}))
            for _ in range(2)]
    try:
        async with asyncio.timeout(WAIT_S):
            await console.app[LONG_POLLS].until_held(device_id, 2)
        status, answer, _ = await console.device(
            "POST", "/v1/device/revocations", {"wait_s": 0, "terminals": [_report(token_id)]})
        assert status == 429 and answer["error"]["reason"] == "too_many_long_polls", answer
        assert await console.app[AUTHORITY].terminals.of(OWNER) == []
    finally:
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)
