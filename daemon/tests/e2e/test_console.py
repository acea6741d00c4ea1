"""The console over real HTTP on loopback, mailing codes through a real SMTP server (aiosmtpd).

Device proofs are built by hand from the documented format with cryptography's Ed25519
(:func:`~tests.e2e.consolekit.device_proof`), so these tests pin the wire contract of
``docs/authority.md`` rather than our own helpers. A proof is single use, so
:meth:`~tests.e2e.consolekit.Console.device` stamps each request one millisecond after the
last, as a real device's clock would; a lookup or refresh gets a fresh nonce and X25519 box key
unless the body names its own. The owner-credential throttle runs on a fake monotonic
clock and a sleep that returns at once (:class:`~tests.e2e.consolekit.Pauses`), so failures
never really wait.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.auth.client import RemoteAuthority
from gateway.auth.owner import OwnerConsole
from mtgateway.credential import token_hint
from mtgateway_base.wire.boxes import BoxOpener
from mtgateway_base.wire.proofs import device_info
from mtgateway_base.wire.records import (
    AuthorityKey,
    RecordRejected,
    b64url_encode,
    verify_signed_record,
)
from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import AUTHORITY, create_console_app
from mtgateway_console.database import Timing, Tx
from mtgateway_console.devices import ACCOUNT_FAILURE_LIMIT, ACCOUNT_LOCK_S
from mtgateway_console.errors import ConsoleConfigError
from tests.e2e.consolekit import (
    OWNER,
    PASSWORD,
    WAIT_S,
    Console,
    boxed,
    device_proof,
    issue_token,
    pending_lookup,
)


async def test_approval_flow_signed_records_and_revocation(
        console: Console, caplog: pytest.LogCaptureFixture) -> None:
    """Issue → pending + mailed code → approve → signed record → tamper fails → revoke shows."""
    caplog.set_level(logging.DEBUG)
    issued = await issue_token(console, scopes=["read"])
    token = issued["token"]
    hint = token_hint(token)
    await pending_lookup(console, token)
    (mail,) = await console.sink.wait_for(1)
    code = console.sink.code()
    text = mail.as_string()
    assert mail["To"] == OWNER and "desk-pc" in text and "Windows 11" in text
    assert token not in text and "Not you?" in text

    status, body, _ = await console.device("POST", "/v1/device/verify", {"code": "0000 0000"})
    assert (status, body["error"]["reason"], body["error"]["tries_left"]) == (400,
                                                                             "wrong_code", 4)
    status, body, _ = await console.device("POST", "/v1/device/verify", {"code": code})
    assert (status, body) == (200, {"status": "approved"})
    await console.sink.wait_for(2)  # the "device approved" notice

    status, body, _ = await console.device("POST", "/v1/records/lookup", {"token_hint": hint})
    assert status == 200 and body["status"] == "ok"
    envelope = body["record"]
    _, keys = await console.owner("GET", "/v1/keys")
    pinned = [AuthorityKey.from_base64(k["public_key"]) for k in keys["keys"]]
    me = device_info(console.key).device_id
    record = verify_signed_record(envelope, pinned, me, console.clock.now)
    assert (record.token_id, record.scopes, record.device_id) == (issued["token_id"],
                                                                  {"read"}, me)
    tampered = copy.deepcopy(envelope)
    tampered["record"]["scopes"] = ["read", "trade"]
    with pytest.raises(RecordRejected, match="bad_signature"):
        verify_signed_record(tampered, pinned, me, console.clock.now)

    status, body = await console.owner("DELETE", f"/v1/tokens/{issued['token_id']}")
    assert (status, body) == (200, {"revoked": True})
    console.clock.now += 5
    status, body, _ = await console.device("POST", "/v1/records/refresh",
                                           {"token_ids": [issued["token_id"], "tok_nope"]})
    assert status == 200 and len(body["records"]) == 1
    assert body["records"][0]["record"]["revoked_at"] == int(console.clock.now) - 5
    status, body, _ = await console.device("GET", "/v1/device/status")
    assert body == {"device_id": me, "approvals": [{"owner": "o***@example.com",
                                                     "status": "approved"}]}

    secrets_ = [token, code, code.replace(" ", ""), PASSWORD]
    ours = [r for r in caplog.records if not r.name.startswith("mail.")]
    for rec in ours:
        line = rec.getMessage() + (rec.exc_text or "")
        assert not any(s in line for s in secrets_), line
    later = console.responses[1:]  # the first response is the token's one-time display
    assert token in console.responses[0]
    assert not any(s in r for r in later for s in secrets_)


async def test_five_wrong_codes_void_the_code(console: Console) -> None:
    """Tries count down 4..0, then even the right code answers code_voided."""
    await pending_lookup(console, (await issue_token(console))["token"])
    await console.sink.wait_for(1)
    lefts = []
    for _ in range(5):
        status, body, _ = await console.device("POST", "/v1/device/verify",
                                               {"code": "99999999"})
        lefts.append(body["error"]["tries_left"])
    assert lefts == [4, 3, 2, 1, 0]
    status, body, _ = await console.device("POST", "/v1/device/verify",
                                           {"code": console.sink.code()})
    assert (status, body["error"]["reason"]) == (400, "code_voided")


async def test_codes_expire_after_ten_minutes(console: Console) -> None:
    """With the console's clock moved 600 s on, the mailed code is expired."""
    await pending_lookup(console, (await issue_token(console))["token"])
    await console.sink.wait_for(1)
    console.clock.now += 600
    status, body, _ = await console.device("POST", "/v1/device/verify",
                                           {"code": console.sink.code()})
    assert (status, body["error"]["reason"]) == (400, "code_expired")


async def test_resend_limits(console: Console) -> None:
    """60 s between codes, 5 an hour per device; a refused resend says when to retry."""
    status, body, _ = await console.device("POST", "/v1/device/resend")
    assert (status, body["error"]["reason"]) == (400, "no_pending_approval")
    await pending_lookup(console, (await issue_token(console))["token"])
    console.clock.now += 30
    status, body, headers = await console.device("POST", "/v1/device/resend")
    assert (status, body["error"]["reason"], body["error"]["retry_after_s"]) == (
        429, "resend_limited", 30)
    assert headers["Retry-After"] == "30"
    for _ in range(4):
        console.clock.now += 60
        status, body, _ = await console.device("POST", "/v1/device/resend")
        assert (status, body) == (200, {"status": "sent"})
    await console.sink.wait_for(5)
    console.clock.now += 60
    status, body, _ = await console.device("POST", "/v1/device/resend")
    assert status == 429 and body["error"]["retry_after_s"] == 3600 - 330
    codes = {console.sink.code(i) for i in range(5)}
    assert len(codes) == 5
    status, body, _ = await console.device("POST", "/v1/device/verify",
                                           {"code": console.sink.code(0)})
    assert body["error"]["reason"] == "wrong_code"  # a newer code voided it


async def test_a_token_holder_cannot_spend_the_owners_codes(console: Console) -> None:
    """Fresh device keys are free: seven devices presenting one token get codes for the first
    five only (CODES_PER_DAY_PER_TOKEN), so the owner's own new device, with another token,
    still gets a code (before, ten fresh devices spent the owner's ten codes a day)."""
    stolen = token_hint((await issue_token(console))["token"])
    for _ in range(7):
        status, body, _ = await console.device(
            "POST", "/v1/records/lookup", {"token_hint": stolen, "device_name": "x"},
            key=Ed25519PrivateKey.generate())
        assert (status, body) == (200, {"status": "pending"})
    await console.drain_mail()
    assert len(console.sink.messages) == 5
    own = await issue_token(console, login=5012346)
    await pending_lookup(console, own["token"])
    await console.sink.wait_for(6)
    assert "desk-pc" in str(console.sink.messages[5]["Subject"])


async def test_device_names_reach_the_owner_cleaned(console: Console) -> None:
    """A device's self-chosen name and OS reach the approval e-mail without CR/LF, escapes or
    clickable URLs, and cut to 64 characters."""
    hint = token_hint((await issue_token(console))["token"])
    name = "pc\r\nApprove now at https://evil.example/approve\x1b[31m" + "x" * 40
    status, body, _ = await console.device(
        "POST", "/v1/records/lookup",
        {"token_hint": hint, "device_name": name, "os": "Linux\r\n\u202eevil.example"})
    assert (status, body) == (200, {"status": "pending"})
    message = (await console.sink.wait_for(1))[0]
    text = message.get_payload(decode=True)
    assert isinstance(text, bytes)
    lines = text.decode().splitlines()
    name_line = next(line for line in lines if line.strip().startswith("device name:"))
    os_line = next(line for line in lines if line.strip().startswith("OS:"))
    assert "https://" not in text.decode() and "evil.example" not in text.decode()
    assert "\x1b" not in text.decode() and "\u202e" not in text.decode()
    assert name_line.split(":", 1)[1].strip().startswith("pc Approve now at https[:]//evil[.]")
    assert len(name_line.split(":", 1)[1].strip()) == 64
    assert os_line.split(":", 1)[1].strip() == "Linux evil[.]example"
    assert "evil.example" not in str(message["Subject"])
    assert not any(key.lower().startswith("approve") for key in message.keys())  # no header


async def test_a_lookup_without_a_name_keeps_the_device_name(console: Console) -> None:
    """A new device that gives no name is "unnamed"; once named, a later lookup without a name
    (or OS) keeps the stored name and OS instead of renaming the device "unnamed"."""
    hint = token_hint((await issue_token(console))["token"])

    async def listed() -> tuple[str, str]:
        status, body = await console.owner("GET", "/v1/devices")
        assert status == 200, body
        (device,) = body["devices"]
        return device["name"], device["os"]

    assert (await console.device("POST", "/v1/records/lookup", {"token_hint": hint}))[0] == 200
    assert await listed() == ("unnamed", "unknown")
    await pending_lookup(console, (await issue_token(console, login=5012346))["token"])
    assert await listed() == ("desk-pc", "Windows 11")
    status, body, _ = await console.device("POST", "/v1/records/lookup", {"token_hint": hint})
    assert (status, body) == (200, {"status": "pending"})
    assert await listed() == ("desk-pc", "Windows 11")


async def test_owner_401_is_identical_for_unknown_and_known_e_mails(console: Console) -> None:
    """Wrong password, unknown e-mail and no credentials get the same 401 body."""
    answers = [await console.owner("GET", "/v1/tokens", auth=(OWNER, "wrong-password")),
               await console.owner("GET", "/v1/tokens", auth=("x@example.com", PASSWORD))]
    async with console.session.get(console.url + "/v1/tokens") as response:
        answers.append((response.status, await response.json()))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0] == (401, {"error": {"code": 401, "reason": "bad_credentials",
                                          "message": "wrong e-mail or password"}})


async def test_bad_device_proofs_are_refused(console: Console) -> None:
    """A skewed clock, a proof by another key, or no proof at all: 401 with the reason."""
    _, body, _ = await console.device("GET", "/v1/device/status", skew_s=301)
    assert body["error"]["reason"] == "device_clock_skew"
    headers = device_proof(console.key, "GET", "/v1/device/status", b"", console.clock.now)
    headers["X-Device-Key"] = base64.b64encode(
        Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode()
    async with console.session.get(console.url + "/v1/device/status",
                                   headers=headers) as response:
        assert response.status == 401
        assert (await response.json())["error"]["reason"] == "device_key_mismatch"
    headers = device_proof(console.key, "GET", "/v1/device/other", b"", console.clock.now)
    async with console.session.get(console.url + "/v1/device/status",
                                   headers=headers) as response:
        assert (await response.json())["error"]["reason"] == "bad_device_signature"
    async with console.session.post(console.url + "/v1/records/lookup") as response:
        assert (await response.json())["error"]["reason"] == "missing_device_proof"


async def test_remote_authority_client_against_the_console(console: Console) -> None:
    """The daemon's HTTP client does the device calls, and the CLI's owner client (pinning
    the console's key) the owner calls, against the real console."""
    owner = OwnerConsole(console.url, console.pinned())
    async with RemoteAuthority(console.url, console.key, clock=console.clock) as remote:
        me = remote.device
        issued = await owner.issue_token(OWNER, PASSWORD, 7, "MTG-Demo", ["read", "trade"])
        account = {"name": "Demo", "broker": "MetaQuotes", "login": 7, "password": "mt5-pw",
                   "server": "MTG-Demo", "max_lot_size": 0.5, "allowed_symbols": ["EURUSD"]}
        created = await owner.register_account(OWNER, PASSWORD, account)
        assert created["max_lot_size"] == 0.5 and "password" not in created
        status, body = await console.owner("POST", "/v1/accounts", account)
        assert (status, body["error"]["reason"]) == (409, "account_exists")
        status, body = await console.owner("POST", "/v1/accounts", {**account, "risk_pct": 5})
        assert status == 422 and "risk_pct" in body["error"]["message"]

        hint = token_hint(issued.token)
        asked = await remote.lookup(me, token_hint=hint, device_name="vps",
                                    **boxed(me.device_id))
        assert asked.status == "pending"
        await console.sink.wait_for(1)
        wrong = await remote.verify_device(me, "0000 0000")
        assert (wrong.reason, wrong.tries_left) == ("wrong_code", 4)
        assert (await remote.resend(me)).status == "resend_limited"
        assert (await remote.verify_device(me, console.sink.code())).status == "approved"
        answer = await remote.lookup(me, token_hint=hint, **boxed(me.device_id))
        assert answer.status == "ok" and answer.record is not None
        record = verify_signed_record(answer.record, await remote.public_keys(), me.device_id,
                                      console.clock.now)
        assert record.risk.max_lot_size == "0.5" and record.risk.allowed_symbols == ("EURUSD",)
        assert [t["token_id"] for t in await owner.list_tokens(OWNER, PASSWORD)] == [
            issued.token_id]
        assert [d["device_id"] for d in await owner.list_devices(OWNER, PASSWORD)] == [
            me.device_id]
        assert await owner.revoke_device(OWNER, PASSWORD, me.device_id)
        assert await remote.refresh(me, [issued.token_id], **boxed(me.device_id)) == []
        assert await owner.revoke_token(OWNER, PASSWORD, issued.token_id)
        assert not await owner.revoke_token(OWNER, PASSWORD, "tok_missing")


async def test_an_unreachable_console_is_authority_unreachable(tmp_path: Path) -> None:
    """Nothing listening → AuthorityUnreachable (the daemon's -32014), not a crash."""
    from mtgateway_base.wire.api import AuthorityUnreachable

    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    key = Ed25519PrivateKey.generate()
    async with RemoteAuthority(f"http://127.0.0.1:{port}", key, timeout_s=WAIT_S) as remote:
        with pytest.raises(AuthorityUnreachable) as info:
            await remote.lookup(remote.device, token_hint="0" * 32,
                                **boxed(remote.device.device_id))
    assert info.value.reason == "authority_unreachable"


def test_non_loopback_console_needs_the_insecure_flag() -> None:
    """A console host beyond loopback is a ConsoleConfigError unless explicitly allowed."""
    with pytest.raises(ConsoleConfigError, match="insecure_allow_non_loopback"):
        create_console_app(ConsoleFile(console=ConsoleConfig(host="0.0.0.0")))
    create_console_app(ConsoleFile(console=ConsoleConfig(
        host="0.0.0.0", insecure_allow_non_loopback=True)))


# -- device-proof replay -------------------------------------------------------------------


async def test_a_replayed_device_proof_is_refused_and_a_fresh_one_works(
        console: Console) -> None:
    """The same proof sent twice: the copy gets 401 replayed_device_proof without reaching the
    authority (no try is spent); a new proof of the same request is served."""
    await pending_lookup(console, (await issue_token(console))["token"])
    await console.sink.wait_for(1)
    body = json.dumps({"code": "99999999"}).encode()
    headers = device_proof(console.key, "POST", "/v1/device/verify", body, console.clock.now)
    answers = []
    for _ in range(2):
        async with console.session.post(console.url + "/v1/device/verify", data=body,
                                        headers=headers) as response:
            answers.append((response.status, (await response.json())["error"]))
    assert answers[0][0] == 400 and answers[0][1]["tries_left"] == 4
    assert answers[1] == (401, {"code": 401, "reason": "replayed_device_proof",
                                "message": "the device proof was refused"})
    status, answer, _ = await console.device("POST", "/v1/device/verify", {"code": "99999999"})
    assert (status, answer["error"]["tries_left"]) == (400, 3)  # the copy cost nothing
    get = device_proof(console.key, "GET", "/v1/device/status", b"", console.clock.now)
    statuses = []
    for _ in range(2):
        async with console.session.get(console.url + "/v1/device/status",
                                       headers=get) as response:
            statuses.append(response.status)
    assert statuses == [200, 401]


def _replay_rows(tx: Tx) -> int:
    return int(tx.execute("SELECT count(*) FROM proof_replays").fetchone()[0])


async def test_a_daemons_calls_write_their_replay_row_in_their_own_transaction(
        console: Console) -> None:
    """A daemon's calls to a console that knows its key cost one transaction each, their
    proof's replay row written first inside it (two before: the row's, then the call's): a
    report, a long-poll, a record lookup and refresh, the device's status; a copy is still
    refused 401 ``replayed_device_proof`` and stores nothing."""
    authority = console.app[AUTHORITY]
    token = await issue_token(console)
    await authority.approvals.approve_local(device_info(console.key))
    assert (await console.device("GET", "/v1/device/status"))[0] == 200  # the gate knows it
    database = authority.store.database
    counted: list[float] = []
    chained = database.timed

    def timed(timing: Timing) -> None:
        if timing.name != "version_of":  # /ready's background check, once a second
            counted.append(timing.ran_s)
        if chained is not None:
            chained(timing)

    database.timed = timed
    try:
        rows = await authority.run(_replay_rows)
        box = b64url_encode(BoxOpener(device_info(console.key).device_id, "a" * 32).public_key)
        calls = (("POST", "/v1/terminals/report", {"terminals": []}),
                 ("POST", "/v1/device/revocations", {"wait_s": 0}),
                 # a poll carrying a report: the row goes in with the report, once
                 ("POST", "/v1/device/revocations", {"wait_s": 0, "terminals": []}),
                 ("POST", "/v1/records/lookup", {
                     "token_hint": token_hint(token["token"]), "device_name": "desk-pc",
                     "os": "Windows 11", "nonce": "a" * 32, "box_key": box}),
                 ("POST", "/v1/records/refresh", {
                     "token_ids": [token["token_id"]], "nonce": "a" * 32, "box_key": box}),
                 ("GET", "/v1/device/status", None))
        for ms, (method, path, body) in enumerate(calls, start=501):
            data = b"" if body is None else json.dumps(body).encode()
            headers = device_proof(console.key, method, path, data, console.clock.now,
                                   ms_offset=ms)
            before = len(counted)
            answers = []
            for _ in range(2):
                async with console.session.request(method, console.url + path,
                                                   data=data or None,
                                                   headers=headers) as response:
                    answers.append((response.status, await response.json()))
            assert answers[0][0] == 200, answers
            assert answers[1] == (401, {"error": {
                "code": 401, "reason": "replayed_device_proof",
                "message": "the device proof was refused"}}), path
            # one for the call, one for its refused copy
            assert len(counted) - before == 2, path
        # one row per call, not per copy
        assert await authority.run(_replay_rows) == rows + len(calls)
        [record] = (await console.device("POST", "/v1/records/refresh", {
            "token_ids": [token["token_id"]]}))[1]["records"]
        assert record["record"]["token_id"] == token["token_id"]  # the device still served
    finally:
        database.timed = chained


async def test_a_replay_after_the_window_is_refused_as_skew(console: Console) -> None:
    """Once a proof's time leaves the ±300 s window it is refused by the clock check, so the
    cache need not remember it any longer."""
    headers = device_proof(console.key, "GET", "/v1/device/status", b"", console.clock.now)
    async with console.session.get(console.url + "/v1/device/status",
                                   headers=headers) as response:
        assert response.status == 200
    console.clock.now += 301
    async with console.session.get(console.url + "/v1/device/status",
                                   headers=headers) as response:
        assert (await response.json())["error"]["reason"] == "device_clock_skew"


# -- owner credential throttle -------------------------------------------------------------


async def test_owner_failures_are_delayed_one_at_a_time(console: Console) -> None:
    """Each wrong password waits 250 ms, and concurrent failures wait one after another."""
    console.pauses.gate.clear()
    attempts = [asyncio.create_task(console.owner("GET", "/v1/tokens",
                                                  auth=(OWNER, f"wrong-{i}")))
                for i in range(3)]
    async with asyncio.timeout(WAIT_S):
        await console.pauses.entered.wait()
    console.pauses.gate.set()
    answers = await asyncio.gather(*attempts)
    assert [status for status, _ in answers] == [401, 401, 401]
    assert console.pauses.delays == [0.25, 0.25, 0.25] and console.pauses.max_active == 1


async def test_owner_lockout_checks_no_password(console: Console) -> None:
    """More than 20 failures in 60 s start a 60 s lockout during which credentials not seen
    to succeed get 429 with Retry-After, each after the delay, without any password being
    checked -- a right one included (it was checked at 51 guesses/s: an oracle). An owner who
    signed in before the lockout still gets in; after 60 s failures are 401 again."""
    authority = console.app[AUTHORITY]
    await authority.owners.create("second@example.com", "second owner's password")
    assert (await console.owner("GET", "/v1/tokens"))[0] == 200  # signed in before
    for i in range(21):
        status, _ = await console.owner("GET", "/v1/tokens", auth=(OWNER, f"guess-{i}"))
        assert status == 401
    assert len(console.pauses.delays) == 21
    answers = []
    for auth in ((OWNER, "guess-x"), ("nobody@example.com", "guess-y"),
                 ("second@example.com", "second owner's password")):
        basic = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        async with console.session.get(console.url + "/v1/tokens",
                                       headers={"Authorization": "Basic " + basic}) as r:
            answers.append((r.status, r.headers["Retry-After"], await r.json()))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0] == (429, "60", {"error": {
        "code": 429, "reason": "rate_limited", "message": "too many failed sign-ins; wait",
        "retry_after_s": 60}})
    assert len(console.pauses.delays) == 24  # no refusal comes back undelayed
    status, body = await console.owner("GET", "/v1/tokens")
    assert (status, body) == (200, {"tokens": []})
    console.throttle_clock.now += 30
    assert (await console.owner("GET", "/v1/tokens", auth=(OWNER, "guess-z")))[0] == 429
    console.throttle_clock.now += 30
    assert (await console.owner("GET", "/v1/tokens", auth=(OWNER, "guess-z")))[0] == 401
    assert (await console.owner("GET", "/v1/tokens",
                                auth=("second@example.com", "second owner's password")))[0] == 200


# -- account-wide approval lock ------------------------------------------------------------


async def _wrong_codes(console: Console, count: int) -> list[tuple[int, dict[str, Any]]]:
    """Send ``count`` wrong codes, asking for a new code (60 s later) whenever one is voided;
    the answers to the wrong codes."""
    answers = []
    while len(answers) < count:
        status, body, _ = await console.device("POST", "/v1/device/verify",
                                               {"code": "0000 0000"})
        if status == 400 and body["error"]["reason"] == "code_voided":
            console.clock.now += 60
            status, body, _ = await console.device("POST", "/v1/device/resend")
            assert (status, body) == (200, {"status": "sent"})
            continue
        answers.append((status, body))
    return answers


async def test_twenty_wrong_codes_lock_the_owners_approvals_for_a_day(
        console: Console) -> None:
    """The 20th wrong code locks: 429 approvals_locked with Retry-After, even for the right
    code; no code is mailed during the lock; one e-mail without secrets tells the owner; a day
    later approval works again."""
    issued = await issue_token(console)
    await pending_lookup(console, issued["token"])
    answers = await _wrong_codes(console, ACCOUNT_FAILURE_LIMIT)
    assert all(status == 400 for status, _ in answers[:-1])
    await console.drain_mail()
    mails = list(console.sink.messages)
    code_mails = [i for i, m in enumerate(mails) if "approve the device" in m["Subject"]]
    lock_mails = [m for m in mails if "locked" in m["Subject"]]
    assert len(code_mails) == 4 and len(lock_mails) == 1 and len(mails) == 5
    codes_mailed = [console.sink.code(i) for i in code_mails]  # first code + 3 resends
    status, body, headers = await console.device("POST", "/v1/device/verify",
                                                 {"code": codes_mailed[-1]})
    assert answers[-1] == (429, {"error": {
        "code": 429, "reason": "approvals_locked",
        "message": "too many wrong codes for this account; device approvals are locked",
        "retry_after_s": ACCOUNT_LOCK_S}})
    assert (status, body["error"]["reason"]) == (429, "approvals_locked")
    assert body["error"]["retry_after_s"] == ACCOUNT_LOCK_S
    assert headers["Retry-After"] == str(ACCOUNT_LOCK_S)

    (lock_mail,) = lock_mails
    payload = lock_mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = lock_mail.as_string() + payload.decode()
    assert lock_mail["To"] == OWNER and "desk-pc" in text and "revoke" in text
    assert device_info(console.key).device_id in text
    for secret in [issued["token"], PASSWORD, *codes_mailed,
                   *(c.replace(" ", "") for c in codes_mailed)]:
        assert secret not in text

    console.clock.now += 3600
    status, body, _ = await console.device("POST", "/v1/device/resend")
    assert (status, body["error"]["reason"]) == (429, "approvals_locked")
    assert body["error"]["retry_after_s"] == ACCOUNT_LOCK_S - 3600
    async with RemoteAuthority(console.url, console.key, clock=console.clock) as remote:
        locked = await remote.verify_device(remote.device, codes_mailed[-1])
        assert (locked.reason, locked.retry_after_s) == ("approvals_locked",
                                                         ACCOUNT_LOCK_S - 3600)
        resent = await remote.resend(remote.device)
        assert (resent.status, resent.retry_after_s) == ("approvals_locked",
                                                         ACCOUNT_LOCK_S - 3600)
    await pending_lookup(console, issued["token"])  # still "pending", and nothing is mailed
    status, _, _ = await console.device("POST", "/v1/device/verify", {"code": "1234 5678"})
    assert status == 429
    await console.drain_mail()
    assert len(console.sink.messages) == 5

    console.clock.now += ACCOUNT_LOCK_S - 3600
    status, body, _ = await console.device("POST", "/v1/device/resend")
    assert (status, body) == (200, {"status": "sent"})
    await console.sink.wait_for(6)
    status, body, _ = await console.device("POST", "/v1/device/verify",
                                           {"code": console.sink.code()})
    assert (status, body) == (200, {"status": "approved"})


async def test_the_client_never_sends_the_same_proof_twice(console: Console) -> None:
    """With its clock standing still, the daemon's client still makes distinct proofs, so
    repeating a call is not mistaken for a replay."""
    async with RemoteAuthority(console.url, console.key, clock=console.clock) as remote:
        for _ in range(3):
            status = await remote.device_status(remote.device)
            assert status.device_id == remote.device.device_id


async def test_a_terminal_another_owner_claimed_gets_no_token(console: Console) -> None:
    """Over HTTP: once one owner registers a terminal's account, another owner's token request
    for that login and server is 409 ``terminal_claimed`` (naming no owner), and so is one for
    a terminal the first owner holds live tokens for, until they are revoked; the other owner's
    own terminals are unaffected."""
    other = ("other@example.com", "another long password")
    await console.app[AUTHORITY].owners.create(*other)
    account = {"name": "Main", "broker": "Co", "login": 5012345, "password": "mt5-secret",
               "server": "MTG-Demo"}
    status, _ = await console.owner("POST", "/v1/accounts", account)
    assert status == 201
    status, body = await console.owner("POST", "/v1/tokens",
                                       {"login": 5012345, "server": "MTG-Demo"}, auth=other)
    assert (status, body["error"]["reason"]) == (409, "terminal_claimed")
    assert OWNER not in json.dumps(body)
    mine = await issue_token(console)  # the registered owner still gets tokens
    held = await console.owner("POST", "/v1/tokens", {"login": 7001, "server": "MTG-Demo"})
    assert held[0] == 201
    for path, payload in (("/v1/tokens", {"login": 7001, "server": "MTG-Demo"}),
                          ("/v1/accounts", {**account, "login": 7001})):
        status, body = await console.owner("POST", path, payload, auth=other)
        assert (status, body["error"]["reason"]) == (409, "terminal_claimed"), path
    assert (await console.owner("DELETE", f"/v1/tokens/{held[1]['token_id']}"))[0] == 200
    status, _ = await console.owner("POST", "/v1/tokens", {"login": 7001, "server": "MTG-Demo"},
                                    auth=other)
    assert status == 201
    status, _ = await console.owner("POST", "/v1/tokens", {"login": 8001, "server": "MTG-Demo"},
                                    auth=other)
    assert status == 201 and mine["token_id"]
