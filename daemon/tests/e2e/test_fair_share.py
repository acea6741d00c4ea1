"""The fair-share family, the shared things behind the connections: one caller at full effort
through each entry point (pages, owner API, MT4 Manager API, device calls), with the family's
credential and without any, against the requests in progress, the password-hashing pool, the
database's lane and the rows the console keeps, while ``/health``, owner B's sign-in and a
daemon's report are answered, and answered ahead of the caller's flood, not behind it.

How "ahead" is seen without timing anything: the database's one worker is held (a
transaction of the server's own, ``World.lane_held``) while the caller's flood arrives; the
probes come after it; then the worker is let go. Every transaction then runs in the order it
joined the worker's queue, so a probe answered before half of the flood is a probe the flood
did not stand in front of (before the rule, the flood's every transaction was queued first
and each probe was answered after it). The hashing pool is seen the same way: owner B's
sign-in needs one hash, the caller's flood dozens.

Round 7's reproduction of made-up reset and take-back links (each cost a password hash,
with no credential: sign-ins took 17-22 s) is ``hashing``/``pages``/``none``: it counts the
hashes, none now. Round 6's one session holding every connection with live streams is
``requests``/``pages``/``credential``: 2 streams held, the rest refused 429.

One console for the module (``sharekit.World``), its fair share given small bounds; every
test runs twice, once calling the console straight (``direct``) and once through the documented
HAProxy (``haproxy``: each caller and probe on its own loopback address still, counted as the
client the balancer's PROXY header names). Round 8 found the second case lost behind the
balancer (T8-F3): every caller there was the balancer's address, so the probes' own lines (a
sign-in's turn at the hashing pool, its transactions in the lane, an address's "forgot
password" asks) were the flood's.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

from mtgateway_base.wire.proofs import device_info
from mtgateway_console.appkeys import OWNER_THROTTLE
from mtgateway_console.console import AUTHORITY, LONG_POLLS
from mtgateway_console.database import Tx
from tests.e2e.consolekit import OWNER, PASSWORD, WAIT_S, device_proof
from tests.e2e.sharekit import (
    ATTACKER,
    FAMILIES,
    OTHER,
    PRE,
    SHARES,
    Answer,
    Family,
    Raw,
    World,
    asking_to_switch,
    call,
    raw_request,
    request,
    world_of,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: The caller's full effort: requests sent at once from one address.
FLOOD = 16
#: The full effort at the hashing pool (each request a hash: tens of ms of a CPU).
HASH_FLOOD = 8


@pytest_asyncio.fixture(scope="module", loop_scope="module",
                        params=["direct", "upgrade", "haproxy"])
async def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[World]:
    """The family's console: called straight, called straight with every request asking to
    switch protocols (``Upgrade: h2c``: no header may switch the guard off), or behind
    HAProxy."""
    with asking_to_switch("h2c" if request.param == "upgrade" else ""):
        async with world_of(tmp_path_factory.mktemp("fair-share"), max_connections=64,
                            max_connections_per_peer=32, auth_failure_limit=4,
                            proxied=request.param == "haproxy") as built:
            yield built


@pytest_asyncio.fixture(loop_scope="module")
async def settled(world: World) -> AsyncIterator[World]:
    yield world
    await world.settled()


def _flood(world: World, data: Callable[[int], bytes], count: int = FLOOD
           ) -> list[asyncio.Task[Answer]]:
    """``count`` requests at once from the attacker's address, each on its own connection."""
    return [asyncio.ensure_future(call(world, ATTACKER[0], data(n), n)) for n in range(count)]


async def _answered(tasks: list[asyncio.Task[Answer]]) -> list[int]:
    async with asyncio.timeout(WAIT_S * 2):
        return [answer.status for answer in await asyncio.gather(*tasks)]


def _whole(world: World, family: Family, credential: bool, write: bool) -> Callable[[int], bytes]:
    def make(_: int) -> bytes:
        head, body = request(world, family, credential=credential, write=write)
        return head + body
    return make


async def _in_the_lane(world: World, tasks: list[asyncio.Task[Answer]]) -> bool:
    """Wait until the flood stands in the database's lane as far as its share lets it (some
    of it waiting for its own), or was answered without it; whether it reached the lane."""
    lane = world.shares.lane

    def standing(_: object) -> bool:  # nothing else asks the database meanwhile
        return lane.waiting() > 0

    waiting = asyncio.ensure_future(lane.until(standing))
    answered = asyncio.ensure_future(asyncio.gather(*tasks))
    try:
        await asyncio.wait((waiting, answered), timeout=WAIT_S,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
    assert waiting.done() or answered.done(), "the flood neither waited nor was answered"
    return not answered.done()


async def _gated(world: World, family: Family, credential: bool, write: bool) -> None:
    """The database's worker held; the flood arrives and stands in its share; the probes
    come and their transactions join the worker's queue, behind no more of the flood than
    its share (before the rule: behind every transaction of it); the worker is let go:
    every probe is answered."""
    database = world.console.app[AUTHORITY].store.database
    lane = world.shares.lane
    async with world.lane_held():
        tasks = _flood(world, _whole(world, family, credential, write))
        reached = await _in_the_lane(world, tasks)
        probes = asyncio.ensure_future(world.probes())
        await asyncio.wait_for(lane.until(
            lambda lane: lane.held("address", "127.0.0.10") > 0
            and lane.held("credential", _daemon_credential(world)) > 0), WAIT_S)
        # the worker's queue: the held transaction, the flood's share, the two probes'
        queued = database.in_flight
    statuses = await asyncio.wait_for(probes, WAIT_S * 2)
    assert statuses == {"health": 200, "sign_in": 303, "report": 200}, statuses
    await _answered(tasks)
    bounds = lane.bounds
    share = min(bounds.per_credential, bounds.per_owner) if credential \
        else (bounds.per_address or FLOOD)
    if reached:  # and at most one readiness check (the server's own, every second: no share)
        assert queued <= 1 + share + 2 + 1, f"{queued} transactions queued ahead of the probes"
    assert lane.most["credential"] <= bounds.per_credential
    assert lane.most["owner"] <= bounds.per_owner
    assert lane.most["address"] <= (bounds.per_address or FLOOD)


def _daemon_credential(world: World) -> str:
    return f"device:{device_info(world.daemon_key).device_id}"


# -- requests in progress ------------------------------------------------------------------

async def _held_requests(world: World, family: Family) -> None:
    """The held answers: a page session's live streams (round 6's reproduction), a device's
    revocation long-polls. Each is held within its own bound, the rest refused 429 at once.

    A stream's head is written when it is held; a long-poll says nothing until it ends, so
    the refused ones are read as they come, and the held ones stay unanswered."""
    if family == "pages":
        data = raw_request("GET", "/live/stream", {"Cookie": f"mtgw_session={world.cookie}"})
        bound, reason = 2, b"too_many_streams"
    else:
        # a poll names the feed's head it has seen (one without is answered at once with
        # the head: held only while its transaction runs, bounded or not)
        body = json.dumps({"wait_s": 50, "cursor": await _feed_head(world)}).encode()

        def data_of(_: int) -> bytes:
            return raw_request("POST", "/v1/device/revocations", {
                **world.signed(world.attacker_key, "POST", "/v1/device/revocations", body),
                "Content-Type": "application/json"}, body)
        bound, reason = 2, b"too_many_long_polls"
    conns = [await Raw.open(world.port, ATTACKER[n % 2]) for n in range(FLOOD)]

    async def head_of(n: int) -> tuple[int, bytes]:
        return n, await conns[n].reader.readuntil(b"\r\n\r\n")
    heads = [asyncio.ensure_future(head_of(n)) for n in range(FLOOD)]
    try:
        for n, conn in enumerate(conns):
            conn.send(data if family == "pages" else data_of(n))
        answers = []
        expected = FLOOD if family == "pages" else FLOOD - bound
        async with asyncio.timeout(WAIT_S):
            for came in asyncio.as_completed(heads):
                n, head = await came
                answers.append(int(head.split(b" ", 2)[1]))
                if answers[-1] == 429:
                    refused = await conns[n].answer_to(head)
                    assert "retry-after" in refused.headers
                    assert family == "pages" or reason in refused.body
                if len(answers) == expected:
                    break
        assert answers.count(200) <= bound and answers.count(429) >= FLOOD - bound, answers
        if family == "device":
            polls = world.console.app[LONG_POLLS]
            assert polls.held(key=device_info(world.attacker_key).device_id) == bound
        statuses = await world.probes()
        assert statuses == {"health": 200, "sign_in": 303, "report": 200}, statuses
    finally:
        for head in heads:
            head.cancel()
        for conn in conns:
            await conn.close()


async def _feed_head(world: World) -> int:
    """The revocation feed's head, as a daemon's first poll hears it (answered at once)."""
    body = b'{"wait_s": 0}'
    conn = await Raw.open(world.port, ATTACKER[0])
    try:
        conn.send(raw_request("POST", "/v1/device/revocations", {
            **world.signed(world.attacker_key, "POST", "/v1/device/revocations", body),
            "Content-Type": "application/json"}, body, close=True))
        answer = await conn.answer()
    finally:
        await conn.close()
    assert answer.status == 200, answer.body
    return int(answer.json()["cursor"])


@pytest.mark.parametrize("credential", [True, False], ids=["credential", "none"])
@pytest.mark.parametrize("family", FAMILIES)
async def test_requests_in_progress(settled: World, family: Family, credential: bool) -> None:
    """A full effort of the family's ordinary call while the database is slow: no caller holds
    more requests in progress than its share (the rest are refused 429 at once, or wait for
    their own earlier ones without a protected connection), and the probes are answered
    ahead of it. The held answers (streams, long-polls) are held within their bounds."""
    world = settled
    if credential and family in ("pages", "device"):
        await _held_requests(world, family)
    else:
        await _gated(world, family, credential, write=False)
    requests = world.shares.requests
    assert requests.most["credential"] <= SHARES["requests_bounds"].per_credential
    assert requests.most["owner"] <= SHARES["requests_bounds"].per_owner


# -- the password-hashing pool -------------------------------------------------------------

def _hashing(world: World, family: Family, credential: bool) -> Callable[[int], bytes] | None:
    """What costs the console a password hash through the family (None: nothing does)."""
    form = "application/x-www-form-urlencoded"
    if family == "pages":
        if credential:  # a password confirming a change, in owner A's session
            body = f"csrf={world.csrf}&owner_password={PASSWORD}".encode()
            return lambda _: raw_request("POST", "/settings/password", {
                "Cookie": f"mtgw_session={world.cookie}", "Content-Type": form}, body)

        def link(n: int) -> bytes:  # made-up one-time links (round 7: a hash each)
            body = f"csrf={PRE}&new_password=new-password-{n}&new_password2=new-password-{n}"
            return raw_request("POST", f"/{('reset', 'recover')[n % 2]}/"
                               f"{secrets.token_urlsafe(32)}", {
                                   "Cookie": f"mtgw_login_csrf={PRE}", "Content-Type": form},
                               body.encode())
        return link
    if family == "owner_api":
        return _whole(world, family, credential, write=False)
    if family == "mt4_api":
        body = f"username={OWNER}&password={PASSWORD if credential else 'wrong guess'}"
        return lambda _: raw_request("POST", "/api/auth/login", {"Content-Type": form},
                                     body.replace("@", "%40").encode())
    return None


@pytest.mark.parametrize("credential", [True, False], ids=["credential", "none"])
@pytest.mark.parametrize("family", FAMILIES)
async def test_password_hashing(settled: World, family: Family, credential: bool) -> None:
    """A full effort of what costs a hash through the family while every thread of the
    hashing pool is busy: each caller joins the pool's queue one hash at a time (its
    owner's turn, or the owner it names), so owner B's sign-in stands behind no more than
    that (before: behind every hash of the flood, on the pool every sign-in used); a made-up
    reset or take-back link, and a device call, cost no hash at all."""
    world = settled
    hashing, turns = world.hashing, world.shares.hashing
    workers = world.shares.hash_workers
    before = hashing.done
    make = _hashing(world, family, credential)
    async with world.hashing_held():
        tasks = _flood(world, make if make is not None else _whole(
            world, family, credential, write=True), HASH_FLOOD)
        standing = asyncio.ensure_future(turns.until(lambda lane: lane.waiting() > 0
                                                     or hashing.in_flight > workers))
        answered = asyncio.ensure_future(asyncio.gather(*tasks))
        await asyncio.wait((standing, answered), timeout=WAIT_S,
                           return_when=asyncio.FIRST_COMPLETED)
        standing.cancel()
        probes = asyncio.ensure_future(world.probes())
        await asyncio.wait_for(turns.until(lambda lane: lane.held("owner", OTHER) > 0),
                               WAIT_S)
        queued = hashing.in_flight  # the held threads', the flood's turn, B's
    statuses = await _answered(tasks)
    assert await asyncio.wait_for(probes, WAIT_S) == {"health": 200, "sign_in": 303,
                                                      "report": 200}
    if family == "device" or (family == "pages" and not credential):
        assert hashing.done - before == workers + 1, "only owner B's sign-in hashes"
        assert set(statuses) <= {200, 401, 410, 429}, statuses
        return
    assert queued <= workers + 1 + 1, f"{queued} hashes in the pool ahead of B's"
    bounds, most = turns.bounds, turns.most
    assert most["owner"] <= bounds.per_owner and most["credential"] <= bounds.per_credential
    assert most["address"] <= (bounds.per_address or FLOOD)


# -- the database's lane -------------------------------------------------------------------

@pytest.mark.parametrize("credential", [True, False], ids=["credential", "none"])
@pytest.mark.parametrize("family", FAMILIES)
async def test_the_database_lane(settled: World, family: Family, credential: bool) -> None:
    """A full effort of the family's writes while the database's worker is held: the flood
    joins its queue only as far as its share (the rest wait for its own), so the probes'
    transactions run ahead of most of it."""
    await _gated(settled, family, credential, write=True)


# -- rows the console keeps ----------------------------------------------------------------

async def _count(world: World, sql: str, *args: object) -> int:
    def counted(tx: Tx) -> int:
        return int(tx.query_one(sql, args)[0])
    return await world.console.app[AUTHORITY].run(counted)


_SIDE_ROWS = ("web_sessions", "api_sessions", "signin_steps", "reset_requests",
              "login_failures")


async def _side_rows(world: World) -> dict[str, int]:
    return {table: await _count(world, f"SELECT count(*) FROM {table}")  # noqa: S608
            for table in _SIDE_ROWS}


async def _one_at_a_time(world: World, data: Callable[[int], bytes], count: int
                         ) -> list[int]:
    return [(await call(world, ATTACKER[0], data(n), n)).status for n in range(count)]


async def _rows(world: World, family: Family, credential: bool) -> Callable[[], Awaitable[None]]:
    """The family's full effort at rows; what checks their bound afterwards."""
    form = "application/x-www-form-urlencoded"
    if family == "pages" and credential:  # sign-ins: each a page session
        body = f"csrf={PRE}&email={OWNER}&password={PASSWORD}".replace("@", "%40").encode()
        statuses = await _one_at_a_time(world, lambda _: raw_request("POST", "/login", {
            "Cookie": f"mtgw_login_csrf={PRE}", "Content-Type": form}, body),
            world.shares.sessions_per_owner + 4)
        assert set(statuses) == {303}

        async def sessions() -> None:
            kept = await _count(world, "SELECT count(*) FROM web_sessions WHERE owner_email "
                                "= ?", OWNER)
            assert kept == world.shares.sessions_per_owner
        return sessions
    if family == "pages":  # forgot-password asks: each a row kept an hour
        before = await _count(world, "SELECT count(*) FROM reset_requests")
        allowed = world.shares.forgot_per_address
        statuses = await _one_at_a_time(world, _whole(world, family, False, write=True),
                                        allowed + 3)
        assert statuses == [200] * allowed + [429] * 3, statuses

        async def asks() -> None:
            kept = await _count(world, "SELECT count(*) FROM reset_requests")
            assert kept - before == allowed
        return asks
    if family == "mt4_api" and credential:  # API sign-ins: each a row kept up to 7 days
        body = f"username={OWNER}&password={PASSWORD}".replace("@", "%40").encode()
        await _one_at_a_time(world, lambda _: raw_request("POST", "/api/auth/login", {
            "Content-Type": form}, body), world.shares.api_sign_ins_per_owner + 4)

        async def sign_ins() -> None:
            live = await _count(world, "SELECT count(*) FROM api_sessions WHERE owner_email "
                                "= ? AND ended_at IS NULL", OWNER)
            assert live == world.shares.api_sign_ins_per_owner
        return sign_ins
    if family == "device" and credential:  # each proof a replay row, for its window
        await _one_at_a_time(world, _whole(world, family, True, write=True), FLOOD)
        world.console.clock.now += 3600  # every proof's window over

        async def proofs() -> None:
            await call(world, ATTACKER[0], _whole(world, family, True, write=True)(0), 0)
            assert await _count(world, "SELECT count(*) FROM proof_replays") <= 2
        return proofs
    if family == "device":  # keys the console does not know: bounded before any row
        devices = await _count(world, "SELECT count(*) FROM devices")
        body = b'{"terminals": []}'

        def unknown(_: int) -> bytes:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
                Ed25519PrivateKey,
            )
            return raw_request("POST", "/v1/terminals/report", {**device_proof(
                Ed25519PrivateKey.generate(), "POST", "/v1/terminals/report", body,
                world.console.clock.now), "Content-Type": "application/json"}, body)
        statuses = await _one_at_a_time(world, unknown, FLOOD * 2)
        assert 429 in statuses

        async def none_kept() -> None:
            assert await _count(world, "SELECT count(*) FROM devices") == devices
        return none_kept
    # the owner API with Basic, or wrong guesses at either API: no row but the lockout's
    before = await _side_rows(world)
    limit = world.console.app[OWNER_THROTTLE].limit
    await _one_at_a_time(world, _hashing(world, family, credential) or _whole(
        world, family, credential, write=False), limit + 4)

    async def no_rows() -> None:
        after = await _side_rows(world)
        grown = {t: after[t] - before[t] for t in _SIDE_ROWS if after[t] != before[t]}
        assert set(grown) <= {"login_failures"} and grown.get("login_failures", 0) <= limit + 1
    return no_rows


@pytest.mark.parametrize("credential", [True, False], ids=["credential", "none"])
@pytest.mark.parametrize("family", FAMILIES)
async def test_rows_kept(settled: World, family: Family, credential: bool) -> None:
    """A full effort at the rows the family makes the console keep: sessions and API sign-ins
    per owner, forgot-password asks per address, proofs' replay rows for their window, none
    for a key the console does not know, none but the lockout's for guesses; the probes are
    answered afterwards."""
    world = settled
    check = await _rows(world, family, credential)
    await check()
    statuses = await world.probes()
    assert statuses == {"health": 200, "sign_in": 303, "report": 200}, statuses
