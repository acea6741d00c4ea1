"""One lifecycle for what speaks for an owner (``service/credentials.py``, ``signins.py``), in
the authority, on SQLite and on a real PostgreSQL with two instances sharing it: an API
sign-in issued on one instance is refused on the other once it, or every credential of the
owner, has ended; each event that cuts access off ends the API sign-ins and the page sessions
alike and keeps only the session that made the change.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from console.tests.dbkit import Clock, fetch, two_instances
from mtgateway_console import totp
from mtgateway_console.apitokens import LIFETIME_S, MAX_SESSION_S, ApiTokens, api_key_from
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority, CredentialEnded
from mtgateway_console.service.credentials import USE_NOTE_S
from mtgateway_console.service.signin import SignInRefused
from mtgateway_console.tables.signins import SessionRow
from tests.pgkit import PostgresServer

OWNER, PASSWORD = "owner@example.com", "a long enough password"


@pytest.fixture(params=["sqlite", "postgres"])
async def pair(request: pytest.FixtureRequest, tmp_path: Path
               ) -> AsyncIterator[tuple[Authority, Authority, Clock]]:
    """Two instances of one authority on one database, one clock."""
    url = ""
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.new_database()
    clock = Clock()
    async with two_instances(tmp_path, url, RecordingMailer("gateway@example.net"),
                             clock) as (first, second):
        await first.owners.create(OWNER, PASSWORD)
        yield first, second, clock


async def _token(authority: Authority, clock: Clock, *, with_code: bool = False,
                 agent: str = "bot/1.0") -> str:
    """An API sign-in and its token, as ``POST /api/auth/login`` makes them."""
    signed = await authority.credentials.open_api(OWNER, with_code=with_code,
                                                  user_agent=agent, address="127.0.0.1")
    token, _ = _tokens(authority, clock).issue(OWNER, signed.session_id, signed.generation)
    return token


def _tokens(authority: Authority, clock: Clock) -> ApiTokens:
    return ApiTokens(api_key_from(authority.store.pepper), clock)


async def _owner(authority: Authority, clock: Clock, token: str) -> str:
    """The owner the token speaks for (the door's call), or what refused it."""
    try:
        return await authority.credentials.api_owner(_tokens(authority, clock).verify(token))
    except CredentialEnded as exc:
        return exc.reason


async def _enrol(authority: Authority, clock: Clock, keep: str | None = None) -> bytes:
    enrolment = await authority.second_factor.start(OWNER)
    text = enrolment.secret_b32.replace(" ", "")
    key = base64.b32decode(text + "=" * (-len(text) % 8))
    assert await authority.second_factor.confirm(OWNER, totp.totp(key, clock.now),
                                                 keep_session=keep) is not None
    clock.now += totp.STEP_S
    return key


async def _session(authority: Authority, clock: Clock, key: str) -> None:
    await authority.sessions.create(SessionRow(key, OWNER, "csrf", clock.now, clock.now, ""),
                                    seen_before=0, created_before=0)


async def _sessions(authority: Authority) -> list[str]:
    rows = await fetch(authority.store.database, "SELECT session_sha256 FROM web_sessions "
                       "ORDER BY session_sha256")
    return [str(r[0]) for r in rows]


async def test_an_api_sign_in_ended_on_one_instance_is_refused_on_the_other(
        pair: tuple[Authority, Authority, Clock]) -> None:
    """Ending one sign-in refuses its tokens everywhere at once and leaves the owner's
    other sign-ins alone; another owner's id ends nothing."""
    first, second, clock = pair
    one, other = await _token(first, clock, agent="one"), await _token(first, clock,
                                                                         agent="other")
    assert await _owner(second, clock, one) == OWNER
    [listed] = [s for s in await second.credentials.api_sign_ins(OWNER) if s.user_agent == "one"]
    assert await second.credentials.end_api("someone@example.com", listed.session_id) is None
    ended = await second.credentials.end_api(OWNER, listed.session_id)
    assert ended is not None and ended.user_agent == "one"
    assert await _owner(first, clock, one) == "token_revoked"
    assert await _owner(first, clock, other) == OWNER
    assert await second.credentials.end_api(OWNER, listed.session_id) is None  # once
    assert [s.user_agent for s in await first.credentials.api_sign_ins(OWNER)] == ["other"]


async def test_every_event_that_cuts_access_off_ends_every_api_sign_in(
        pair: tuple[Authority, Authority, Clock]) -> None:
    """A password change, the factor on, the factor off, signing out everywhere and the
    operator's reset each end the API sign-ins made before them and every page session but
    the one that made the change."""
    first, second, clock = pair
    events = [
        lambda keep: first.owners.change_password(OWNER, PASSWORD, keep_session=keep),
        lambda keep: _enrol(first, clock, keep),
        lambda keep: first.second_factor.disable(OWNER, keep_session=keep),
        lambda keep: _enrol(first, clock, keep),
        lambda keep: first.second_factor.reset_by_operator(OWNER),
        lambda keep: first.credentials.end_all(OWNER),
    ]
    for number, event in enumerate(events):
        token = await _token(first, clock, with_code=number in (2, 4))
        await _session(first, clock, f"{number:064x}")
        await _session(first, clock, "f" * 64)
        keep = f"{number:064x}" if number < 4 else None
        await event(keep)
        assert await _owner(second, clock, token) == "token_revoked", number
        assert await _sessions(first) == ([] if keep is None else [keep]), number
        assert await second.credentials.api_sign_ins(OWNER) == [], number
        await fetch(first.store.database, "DELETE FROM web_sessions")


async def test_a_token_from_a_sign_in_that_raced_the_factor_is_not_issued(
        pair: tuple[Authority, Authority, Clock]) -> None:
    """A sign-in checked without a code that reaches the issue after the factor was turned
    on is refused (second_factor_required), and one whose owner is gone is refused too."""
    first, _, clock = pair
    await _enrol(first, clock)
    with pytest.raises(SignInRefused) as refused:
        await first.credentials.open_api(OWNER, with_code=False)
    assert refused.value.reason == "second_factor_required"
    assert await first.credentials.open_api(OWNER, with_code=True) is not None
    with pytest.raises(SignInRefused) as gone:
        await first.credentials.open_api("nobody@example.com", with_code=True)
    assert gone.value.reason == "bad_credentials"


async def test_a_use_is_written_at_most_once_a_minute_and_old_sign_ins_leave_the_list(
        pair: tuple[Authority, Authority, Clock]) -> None:
    """Last use moves only after a minute; a sign-in not used for a token's life, or older
    than renewals allow, is no longer listed."""
    first, second, clock = pair
    token = await _token(first, clock)
    made = clock.now
    clock.now += USE_NOTE_S - 1
    assert await _owner(second, clock, token) == OWNER
    [listed] = await first.credentials.api_sign_ins(OWNER)
    assert listed.last_used_at == made
    clock.now += 1
    assert await _owner(second, clock, token) == OWNER
    [listed] = await first.credentials.api_sign_ins(OWNER)
    assert listed.last_used_at == clock.now
    clock.now += LIFETIME_S + USE_NOTE_S
    assert await first.credentials.api_sign_ins(OWNER) == []
    claims = _tokens(first, clock).verify(await _token(first, clock))
    made = clock.now
    while clock.now < made + MAX_SESSION_S:  # used all along, as renewals would keep it
        assert await first.credentials.api_sign_ins(OWNER) != []
        clock.now += LIFETIME_S - 60
        await first.credentials.api_owner(claims)
    assert await first.credentials.api_sign_ins(OWNER) == []
