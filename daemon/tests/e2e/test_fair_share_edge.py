"""The fair-share family, the connections: one caller at full effort through each entry point
(pages, owner API, MT4 Manager API, device calls), with the family's credential and without
any, holds every connection of a small budget with requests that never finish arriving (a
body trickled, or a header block left open), while ``/health``, owner B's sign-in and a
daemon's report are answered (none is refused 503: each takes the place of a request still
arriving).

Round 7's reproduction was one page session holding all 512 connections of the console with
bodies trickled to finish inside the 30 s body deadline (the guard never evicted a
credential holder's connection mid-request, and the door marked it before reading the body);
with a console-API token and a ``PUT`` body, the same; and with unfinished header blocks on
connections that had shown the cookie once. Those are the cases ``pages``/``mt4_api``
``credential`` below: each answered the probes 503 before. The family holds the connections
until the probes are answered (no bytes trickle: an unfinished request is the same to the
console at every moment of its deadline).

One console for the module (``sharekit.World``) with a budget of 16 connections, 8 per
address; the attacker fills it from two addresses. Every test runs twice: calling the console
straight (``direct``), and through the documented HAProxy (``haproxy``), where the console
counts each connection as the client the balancer's PROXY header names, so the attacker's two
addresses hold 8 connections each and the probes' connections take the place of unfinished
requests as they do straight (before, every connection was the balancer's address: its 8 were
all the attacker could hold, and the probes' own connections counted against them). Through
the balancer a header block left open never reaches the console (HAProxy reads the header
block whole first, ``timeout http-request``): there every held request is a body short of its
end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from mtgateway_base.guard import ConnectionBudget
from mtgateway_console.console import CONNECTIONS
from tests.e2e.consolekit import WAIT_S
from tests.e2e.sharekit import ATTACKER, FAMILIES, Family, Raw, World, request, world_of
from tests.testkit import until

pytestmark = [pytest.mark.network_edge, pytest.mark.asyncio(loop_scope="module")]

#: The connection budget: small, so a full effort is 16 sockets.
BUDGET = 16
PER_ADDRESS = 8


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["direct", "haproxy"])
async def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[World]:
    async with world_of(tmp_path_factory.mktemp("fair-share-edge"), max_connections=BUDGET,
                        max_connections_per_peer=PER_ADDRESS,
                        proxied=request.param == "haproxy") as built:
        yield built


async def _hold(world: World, family: Family, credential: bool, address: str,
                shape: str, held: list[Raw], upgrade: str) -> None:
    """One attacker's connection (added to ``held``): with the credential it first carries
    one whole request (keep-alive: the connection is then a credential holder's; or 429 once
    the credential's own requests in progress, its unfinished ones among them, are at their
    bound), then its next request never finishes arriving (``body``: the header block whole,
    the body short of its last byte; ``headers``: the header block open)."""
    conn = await Raw.open(world.port, address)
    held.append(conn)
    if credential:
        head, body = request(world, family, credential=True, upgrade=upgrade)
        conn.send(head + body)
        first = await conn.answer()
        assert first.status in (200, 429), (family, first.status, first.body[:200])
    head, body = request(world, family, credential=credential, write=True, upgrade=upgrade)
    conn.send(head + body[:-1] if shape == "body" else head[:-2])


async def _arrived(budget: ConnectionBudget) -> None:
    """Until the console holds the whole budget: through the balancer each connection
    arrives once HAProxy has read its header block and connected (nothing tells when:
    looked for)."""
    await until(lambda: budget.active >= BUDGET, timeout_s=WAIT_S)


@pytest.mark.parametrize(("credential", "upgrade"), [(True, ""), (False, ""), (True, "h2c")],
                         ids=["credential", "none", "credential-upgrade"])
@pytest.mark.parametrize("family", FAMILIES)
async def test_unfinished_requests_hold_no_connection_anyone_needs(
        world: World, family: Family, credential: bool, upgrade: str) -> None:
    """Every connection of the budget held by one caller with requests still arriving (half
    with a body short of its end, half with a header block left open): the three probes are
    each answered, taking the place of an unfinished request (503 before for a credential
    holder's: the guard never walked its connections). And so with an ``Upgrade: h2c`` on
    every request, which the console never switches to (503 before: any ``Upgrade:`` took
    the connection off the guard's watch for good, its trickles then counted as work)."""
    held: list[Raw] = []
    try:
        for number in range(BUDGET):
            await _hold(world, family, credential, ATTACKER[number % 2],
                        "body" if number % 4 < 2 or world.proxied else "headers", held,
                        upgrade)
        budget = world.console.app[CONNECTIONS]
        await _arrived(budget)
        assert budget.active == BUDGET
        statuses = await world.probes()
        assert statuses == {"health": 200, "sign_in": 303, "report": 200}, statuses
        # each probe took the place of an unfinished request: the console closed them.
        # Through the balancer a probe answered first stays open, idle (HAProxy keeps a
        # client's connection to the console a while), and an idle connection leaves first:
        # a later probe may take its place instead of an unfinished request's
        taken = 1 if world.proxied else 3
        assert sum(conn.peer in ATTACKER for conn in budget.connections()) <= BUDGET - taken
    finally:
        for conn in held:
            await conn.close()
        await world.settled()
