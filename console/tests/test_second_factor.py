"""The owner's second factor and password reset, in the authority (``service/secondfactor.py``,
``service/resets.py``), on SQLite and on a real PostgreSQL with two instances sharing it.

Each instance is its own :class:`Authority` (its own data directory holding copies of the key
files), as two consoles behind a load balancer are; the clock is injected, so steps and link
lifetimes pass without sleeping.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from console.tests.dbkit import Clock, fetch, two_instances
from mtgateway_console import totp
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.service.resets import PER_ADDRESS, PER_OWNER, TTL_S
from mtgateway_console.tables.signins import SessionRow
from tests.pgkit import PostgresServer

OWNER, PASSWORD = "owner@example.com", "a long enough password"
#: The console's ``public_url``: what every link mailed names.
CONSOLE = "https://console.example.com"


@pytest.fixture(params=["sqlite", "postgres"])
async def pair(request: pytest.FixtureRequest, tmp_path: Path
               ) -> AsyncIterator[tuple[Authority, Authority, Clock, RecordingMailer]]:
    """Two instances of one authority on one database, one clock, one mailer."""
    url = ""
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.new_database()
    clock, mailer = Clock(), RecordingMailer("gateway@example.net")
    async with two_instances(tmp_path, url, mailer, clock, CONSOLE) as (first, second):
        await first.owners.create(OWNER, PASSWORD)
        yield first, second, clock, mailer


def _key(enrolment_b32: str) -> bytes:
    import base64

    text = enrolment_b32.replace(" ", "")
    return base64.b32decode(text + "=" * (-len(text) % 8))


async def _enrol(authority: Authority, clock: Clock) -> tuple[bytes, list[str]]:
    enrolment = await authority.second_factor.start(OWNER)
    key = _key(enrolment.secret_b32)
    codes = await authority.second_factor.confirm(OWNER, totp.totp(key, clock.now))
    assert codes is not None
    return key, codes


async def test_enrolment_needs_a_first_code_and_the_secret_is_sealed(
        pair: tuple[Authority, Authority, Clock, RecordingMailer]) -> None:
    first, _, clock, _ = pair
    enrolment = await first.second_factor.start(OWNER)
    key = _key(enrolment.secret_b32)
    assert not await first.second_factor.enrolled(OWNER)  # pending until confirmed
    assert (await first.second_factor.pending(OWNER)) == enrolment
    assert await first.second_factor.confirm(OWNER, "000000" if totp.totp(key, clock.now)
                                             != "000000" else "111111") is None
    assert not await first.second_factor.enrolled(OWNER)
    codes = await first.second_factor.confirm(OWNER, totp.totp(key, clock.now))
    assert codes is not None and len(codes) == 10
    status = await first.second_factor.status(OWNER)
    assert status.enabled and status.recovery_left == 10
    rows = await fetch(first.store.database, "SELECT secret_enc FROM owner_totp")
    assert key not in bytes(rows[0][0])  # encrypted under the data key, not the secret
    stored = await fetch(first.store.database, "SELECT code_mac FROM owner_recovery_codes")
    assert not {c.replace("-", "") for c in codes} & {str(r[0]) for r in stored}
    with pytest.raises(ValueError, match="already on"):
        await first.second_factor.start(OWNER)


async def test_a_code_is_accepted_once_across_instances_and_older_steps_after_it_never(
        pair: tuple[Authority, Authority, Clock, RecordingMailer]) -> None:
    first, second, clock, _ = pair
    key, _ = await _enrol(first, clock)
    clock.now += totp.STEP_S * 3  # past the step spent by the confirmation
    code = totp.totp(key, clock.now)
    assert await second.second_factor.check(OWNER, code)
    assert not await first.second_factor.check(OWNER, code)  # replayed on another instance
    assert not await second.second_factor.check(OWNER, code)
    earlier = totp.hotp(key, totp.step_of(clock.now) - 1)  # still in the window, but older
    assert not await first.second_factor.check(OWNER, earlier)
    clock.now += totp.STEP_S
    assert await first.second_factor.check(OWNER, totp.totp(key, clock.now))
    clock.now += totp.STEP_S * 3  # a code from two steps ago is outside the window
    assert not await first.second_factor.check(OWNER, totp.hotp(key, totp.step_of(clock.now) - 2))


async def test_recovery_codes_work_once_each_and_regenerating_voids_the_old(
        pair: tuple[Authority, Authority, Clock, RecordingMailer]) -> None:
    first, second, clock, _ = pair
    _, codes = await _enrol(first, clock)
    assert await first.second_factor.check(OWNER, codes[0].upper())
    assert not await second.second_factor.check(OWNER, codes[0])
    assert (await second.second_factor.status(OWNER)).recovery_left == 9
    fresh = await second.second_factor.regenerate(OWNER)
    assert not await first.second_factor.check(OWNER, codes[1])
    assert await first.second_factor.check(OWNER, fresh[1])
    assert not await first.second_factor.check(OWNER, "not-a-code")
    assert await first.second_factor.disable(OWNER)
    assert not await first.second_factor.enrolled(OWNER)
    assert not await first.second_factor.check(OWNER, fresh[2])


def _link(mailer: RecordingMailer) -> str:
    payload = mailer.messages[-1].get_content()
    match = re.search(r"(https?://\S+/reset/(\S+))", payload)
    assert match is not None, payload
    return match.group(2)


async def test_reset_link_is_single_use_ends_sessions_and_keeps_the_second_factor(
        pair: tuple[Authority, Authority, Clock, RecordingMailer]) -> None:
    first, second, clock, mailer = pair
    await _enrol(first, clock)
    await first._shared.drain()
    mailer.messages.clear()  # (the notice that two-step sign-in was turned on)
    await first.sessions.create(SessionRow("k" * 64, OWNER, "csrf", clock.now, clock.now, ""),
                                seen_before=0, created_before=0)
    await first.resets.request(" Owner@Example.com ")
    await first._shared.drain()
    assert len(mailer.messages) == 1 and mailer.messages[0]["To"] == OWNER
    token = _link(mailer)
    assert await second.resets.valid(token)
    stored = await fetch(first.store.database, "SELECT token_sha256 FROM password_resets")
    assert token not in {str(r[0]) for r in stored}
    with pytest.raises(ValueError):
        await second.resets.complete(token, "short")
    assert await second.resets.valid(token)  # a refused password does not spend the link
    assert await second.resets.complete(token, "a brand new password") == OWNER
    assert await first.sessions.count() == 0  # every session of the owner ended
    assert not await first.resets.valid(token)
    assert await first.resets.complete(token, "yet another password") is None
    assert await first.owners.check(OWNER, "a brand new password")
    assert not await first.owners.check(OWNER, "yet another password")
    assert await first.second_factor.enrolled(OWNER)  # a reset does not remove TOTP


async def test_reset_link_expires_and_unknown_addresses_get_the_same_nothing(
        pair: tuple[Authority, Authority, Clock, RecordingMailer]) -> None:
    first, _, clock, mailer = pair
    assert await first.resets.request("nobody@example.com") is None
    await first.resets.request(OWNER)
    await first._shared.drain()
    assert [m["To"] for m in mailer.messages] == [OWNER]  # only the owner's address got one
    token = _link(mailer)
    clock.now += TTL_S
    assert not await first.resets.valid(token)
    assert await first.resets.complete(token, "a brand new password") is None
    assert await first.owners.check(OWNER, PASSWORD)


async def test_reset_requests_are_limited_per_address_and_per_owner(
        pair: tuple[Authority, Authority, Clock, RecordingMailer]) -> None:
    first, second, clock, mailer = pair
    for _ in range(PER_ADDRESS + 2):  # spread over both instances
        await first.resets.request(OWNER)
        await second.resets.request(OWNER)
    await first._shared.drain()
    await second._shared.drain()
    assert len(mailer.messages) == PER_ADDRESS
    for _ in range(PER_OWNER * 2):  # an hour apart each: the per-owner day limit holds
        clock.now += 3601
        await first.resets.request(OWNER)
    await first._shared.drain()
    assert len(mailer.messages) == PER_OWNER
    # the address limit counts unknown addresses too, so it tells nothing about owners
    stranger = f"x{secrets.token_hex(4)}@example.com"
    for _ in range(PER_ADDRESS + 1):
        await first.resets.request(stranger)
    rows = await fetch(first.store.database, "SELECT count(*) FROM reset_requests "
                       "WHERE address = ?", (stranger,))
    assert int(rows[0][0]) == PER_ADDRESS


async def test_the_owner_is_told_at_once_when_how_they_sign_in_changes(
        pair: tuple[Authority, Authority, Clock, RecordingMailer]) -> None:
    """Each change someone holding the password would make to keep the account (the
    password changed or reset, two-step sign-in on or off, new recovery codes) mails the
    owner a notice saying when and what to do if it was not them; a wrong code, or turning
    off what was not on, changes nothing and mails nothing."""
    first, second, clock, mailer = pair
    enrolment = await first.second_factor.start(OWNER)
    right = totp.totp(_key(enrolment.secret_b32), clock.now)
    assert await first.second_factor.confirm(OWNER, f"{(int(right) + 1) % 10**6:06d}") is None
    await _enrol(first, clock)
    await second.second_factor.regenerate(OWNER)
    await first.owners.change_password(OWNER, "another long password")
    assert await second.second_factor.disable(OWNER)
    assert not await second.second_factor.disable(OWNER)
    await first.resets.request(OWNER)
    await first._shared.drain()
    assert await first.resets.complete(_link(mailer), "a brand new password") == OWNER
    await first._shared.drain()
    await second._shared.drain()
    subjects = [str(m["Subject"]) for m in mailer.messages]
    assert subjects == [
        "MT Gateway: two-step sign-in was turned on",
        "MT Gateway: new recovery codes were made",
        "MT Gateway: your console password was changed",
        "MT Gateway: two-step sign-in was turned off",
        "MT Gateway: reset your console password",
        "MT Gateway: your console password was reset",
    ]
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(clock.now)))
    for message in mailer.messages:
        assert message["To"] == OWNER and message["Date"] and message["Message-ID"]
        if "reset your console password" in str(message["Subject"]):
            continue
        body = message.get_content()
        assert when in body and CONSOLE in body
        if "turned on" in str(message["Subject"]):  # a reset keeps it: the way back is named
            assert f"mtgateway owner reset-2fa --email {OWNER}" in body
        else:
            assert "Forgot your password?" in body and f"{CONSOLE}/forgot" in body
        assert "a brand new password" not in body and "another long" not in body


async def test_the_undo_link_is_stored_hashed_and_spent_once_by_any_instance(
        pair: tuple[Authority, Authority, Clock, RecordingMailer]) -> None:
    """The link that takes back a second factor (``service/recovery.py``): only its SHA-256
    is stored; two instances spending it at once set one password between them; a spent
    link checks as gone on both."""
    first, second, clock, mailer = pair
    await _enrol(first, clock)
    await first._shared.drain()
    found = re.search(r"/recover/(\S+)", mailer.messages[-1].get_content())
    assert found is not None
    token = found.group(1)
    stored = await fetch(first.store.database, "SELECT token_sha256 FROM factor_undos")
    assert len(stored) == 1 and token not in str(stored[0][0])
    assert await second.recovery.valid(token) is not None
    results = await asyncio.gather(first.recovery.undo(token, "the first new password"),
                                   second.recovery.undo(token, "the second new password"))
    assert sorted(map(str, results)) == ["None", OWNER]
    assert not await first.second_factor.enrolled(OWNER)
    assert await first.recovery.valid(token) is None and await second.recovery.valid(token) is None
    winner = "the first new password" if results[0] == OWNER else "the second new password"
    assert await second.owners.check(OWNER, winner)



async def _three_enrolments(authority: Authority, clock: Clock) -> None:
    """Two-step sign-in turned on the day's three times (off between), left on."""
    for turn in range(3):
        if turn:
            assert await authority.second_factor.disable(OWNER)
        await _enrol(authority, clock)
        clock.now += 60


async def _enrolments(authority: Authority) -> int:
    rows = await fetch(authority.store.database, "SELECT count(*) FROM factor_enrolments "
                       "WHERE owner_email = ?", (OWNER,))
    return int(rows[0][0])


async def test_a_take_back_and_the_operators_reset_give_back_the_days_enrolments(
        pair: tuple[Authority, Authority, Clock, RecordingMailer]) -> None:
    """Round 7 (T7-F4): whoever held the password turned two-step sign-in on the day's three
    times, and the owner, back in by the take-back link, could not set up their own factor
    for the rest of the day (a fourth start was refused). The take-back gives the day's
    enrolments back, and so does the operator's reset."""
    first, second, clock, mailer = pair
    await _three_enrolments(first, clock)
    await first._shared.drain()
    links = re.findall(r"/recover/(\S+)", "\n".join(m.get_content() for m in mailer.messages))
    assert len(links) == 3 and await _enrolments(first) == 3
    assert await second.recovery.undo(links[0], "the owner's own new password") == OWNER
    assert await _enrolments(first) == 0
    # the owner's own, three more times: the first was refused before ("turned on 3 times
    # in the last 24 hours")
    await _three_enrolments(first, clock)
    assert await first.second_factor.reset_by_operator(OWNER) is not None
    assert await _enrolments(first) == 0
    await _enrol(second, clock)


async def test_the_operators_password_reset_ends_every_credential_whatever_the_factor(
        pair: tuple[Authority, Authority, Clock, RecordingMailer]) -> None:
    """Round 7 (T7-F3): the operator had no way to end an owner's sessions and API sign-ins,
    or to stop a leaked password, unless the owner had two-step sign-in on. The operator's
    reset (``mtgateway owner reset-password``) ends every page session, half-done sign-in and
    API sign-in, sets the password aside (it checks as wrong, and costs a hash like any
    other), voids the old reset links and mails a new one, with or without a factor."""
    first, second, clock, mailer = pair
    await first.sessions.create(SessionRow("k" * 64, OWNER, "csrf", clock.now, clock.now, ""),
                                seen_before=0, created_before=0)
    signed = await first.credentials.open_api(OWNER, with_code=False)
    await first.resets.request(OWNER)
    await first._shared.drain()
    old_link = _link(mailer)
    await (await second.resets.by_operator(" Owner@Example.com "))
    assert await first.sessions.count() == 0
    assert [s.session_id for s in await first.credentials.api_sign_ins(OWNER)] == []
    del signed
    assert not await first.owners.check(OWNER, PASSWORD)
    assert not await first.resets.valid(old_link)
    told = mailer.messages[-1]
    assert told["To"] == OWNER and "set your password aside" in str(told["Subject"])
    assert await first.resets.complete(_link(mailer), "the owner's new password") == OWNER
    assert await second.owners.check(OWNER, "the owner's new password")
    entries = await first.owners.activity(OWNER)
    assert any(e.kind == "password_reset_by_operator" for e in entries)
    await _enrol(first, clock)  # with a factor on: the same
    await (await first.resets.by_operator(OWNER))
    assert not await first.owners.check(OWNER, "the owner's new password")
    assert await first.second_factor.enrolled(OWNER)  # the factor is reset-2fa's business
    with pytest.raises(ValueError, match="no owner has the address"):
        await first.resets.by_operator("nobody@example.com")


async def test_forgot_asks_are_swept_at_most_once_a_minute(
        pair: tuple[Authority, Authority, Clock, RecordingMailer]) -> None:
    """Round 7 (T7-F5): every ask swept the asks out of their hour first, a scan of the whole
    table in the write transaction (no index serves it): 0.9-1.3 s an ask at an hour's rows,
    every other write waiting. The sweep runs at most once a minute per instance; an ask
    counts only the asks of its hour, swept or not."""
    first, _, clock, _ = pair
    old = int(clock.now) - 2 * 3600

    async def aged(count: int) -> None:
        def insert(tx: Any) -> None:
            for n in range(count):
                tx.execute("INSERT INTO reset_requests VALUES (?, ?)", (f"old{n}@x.test", old))
        await first.store.database.run(insert)

    async def stored() -> int:
        return int((await fetch(first.store.database,
                                "SELECT count(*) FROM reset_requests"))[0][0])

    await aged(50)
    await first.resets.request("someone@example.com")  # the first ask sweeps
    assert await stored() == 1
    await aged(50)
    clock.now += 30
    await first.resets.request("someone@example.com")  # within the minute: no sweep
    assert await stored() == 52
    clock.now += 31
    await first.resets.request("someone@example.com")  # a minute on: swept
    assert await stored() == 3
    for _ in range(PER_ADDRESS):  # the address's limit counts its hour's asks only
        await first.resets.request("someone@example.com")
    assert await stored() == PER_ADDRESS
