"""Issue 46 items 1, 2 and 6: the console's ``/api/`` -- the MT4 Web API document's login
(a JWT signed by the console, PyJWT, HS256 only), the bearer on every other path, users as the
owner's registered accounts, and what stays 501 says why.

Over real HTTP on loopback against the console with its clock injected (``consolekit``), so
expiry and renewal are reached without waiting.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema
import jwt
import pytest
from aiohttp import web

from mtgateway_base import mt4web
from mtgateway_base.mt4web import Answer, Handlers, bind
from mtgateway_base.mt4web.console_models import StatusOut
from mtgateway_base.mt4web.table import not_here
from mtgateway_console import mt4api, totp
from mtgateway_console.apitokens import LIFETIME_S, MAX_SESSION_S, RENEWED_HEADER
from mtgateway_console.console import AUTHORITY
from mtgateway_console.mt4api.dispatch import ApiCall, Handler, ok
from mtgateway_console.mt4api.openapi import build_document
from mtgateway_console.mt4api.table import ENDPOINTS, ROOMS
from mtgateway_console.mt4api.users import login_of
from tests.e2e.consolekit import OWNER, PASSWORD, Console, running_console

ROOT = Path(__file__).resolve().parents[3]

REGISTRATION = {"name": "Paper desk", "broker": "MetaQuotes", "login": 5012345,
                "password": "mt5-secret-pw", "server": "MTG-Demo", "is_live": False,
                "allowed_symbols": ["EURUSD", "BTCUSD"], "max_lot_size": 0.5,
                "risk_pct": 0.02, "auto_trade_enabled": True, "paper_trade_enabled": True,
                "account_type": "USD"}


async def login(console: Console, username: str = OWNER, password: str = PASSWORD,
                **extra: str) -> tuple[int, dict[str, Any]]:
    """``POST /api/auth/login`` as the document's form."""
    async with console.session.post(console.url + "/api/auth/login",
                                    data={"username": username, "password": password,
                                          **extra}) as response:
        return response.status, await response.json()


async def api(console: Console, method: str, path: str, token: str | None, body: Any = None,
              **headers: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    """One ``/api/`` call with the bearer ``token`` (none: no Authorization header)."""
    sent = dict(headers)
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with console.session.request(method, console.url + path, json=body,
                                       headers=sent) as response:
        return response.status, await response.json(), dict(response.headers)


async def signed_in_token(console: Console) -> str:
    status, body = await login(console)
    assert status == 200, body
    return str(body["access_token"])


async def test_login_answers_the_documents_shape_with_a_console_signed_jwt(
        console: Console) -> None:
    """Form-encoded username and password give ``{"access_token", "token_type": "bearer"}``:
    an HS256 JWT of this console, eight hours long, naming the owner; it opens the API."""
    status, body = await login(console)
    assert status == 200
    assert body["token_type"] == "bearer" and body["expires_in"] == LIFETIME_S
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == OWNER and claims["exp"] - claims["iat"] == 8 * 3600
    assert PASSWORD not in token and "password" not in claims
    status, users, _ = await api(console, "GET", "/api/users/", token)
    assert (status, users) == (200, {"status": "ok", "count": 0, "users": []})
    activity = await console.app[AUTHORITY].owners.activity(OWNER)
    assert activity[0].kind == "login" and "API sign-in" in activity[0].detail


async def test_wrong_credentials_are_refused_through_the_sign_in_throttle(
        console: Console) -> None:
    """A wrong password is 401 after the throttle's delay (the same throttle as the page's
    sign-in); enough of them lock sign-ins out: 429 with Retry-After, no password checked."""
    status, body = await login(console, password="wrong password!")
    assert status == 401 and body["data"]["reason"] == "bad_credentials"
    assert body["status"] == "error" and body["code"] == 401
    assert console.pauses.delays  # answered after the throttle's delay
    for _ in range(25):
        status, body = await login(console, username="nobody@example.com", password="x" * 9)
    assert status == 429 and body["data"]["reason"] == "rate_limited"
    status, body = await login(console, username="", password="")
    assert status in (401, 429)
    async with console.session.post(console.url + "/api/auth/login",
                                    json={"username": OWNER, "password": PASSWORD}) as r:
        assert r.status == 415  # the document's form, not JSON


async def test_every_other_api_path_needs_the_bearer(console: Console) -> None:
    """Without a token, every endpoint but the login and the health check is 401 -- the
    501s and unknown paths too, so the surface is not mapped for strangers; with one, an
    unknown path is 404."""
    for endpoint in ENDPOINTS:
        path = endpoint.path.replace("{login}", "5012345").replace("{name}", "x").replace(
            "{order}", "1")
        status, body, headers = await api(console, endpoint.method, path, None)
        if endpoint.auth:
            assert status == 401, (endpoint.path, body)
            assert body["data"]["reason"] == "missing_token"
            assert headers["WWW-Authenticate"].startswith("Bearer")
    for path in ("/api/nothing", "/api/users/1/whatever"):
        assert (await api(console, "GET", path, None))[0] == 401
    token = await signed_in_token(console)
    assert (await api(console, "GET", "/api/nothing", token))[0] == 404
    status, _, _ = await api(console, "GET", "/api/health", None)
    assert status == 200


@pytest.mark.parametrize("forge", ["none", "other_key", "HS512", "garbage", "wrong_audience"])
async def test_tokens_the_console_did_not_sign_are_refused(console: Console,
                                                            forge: str) -> None:
    """``alg: none``, another key, another algorithm, garbage and a token for another
    audience are all 401: verification uses a fixed algorithm list and required claims."""
    real = await signed_in_token(console)
    claims = jwt.decode(real, options={"verify_signature": False})
    if forge == "none":
        head = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        body = base64.urlsafe_b64encode(json.dumps(claims).encode())
        token = f"{head.rstrip(b'=').decode()}.{body.rstrip(b'=').decode()}."
    elif forge == "other_key":
        token = jwt.encode(claims, b"k" * 32, algorithm="HS256")
    elif forge == "HS512":
        token = jwt.encode(claims, b"k" * 64, algorithm="HS512")
    elif forge == "wrong_audience":
        token = jwt.encode({**claims, "aud": "elsewhere"}, b"k" * 32, algorithm="HS256")
    else:
        token = "not.a.jwt"
    status, body, _ = await api(console, "GET", "/api/users/", token)
    assert status == 401, body
    assert body["data"]["reason"] in ("invalid_token", "malformed_token")


async def test_a_token_expires_after_eight_hours_and_is_renewed_when_close(
        console: Console) -> None:
    """Within its last hour an answer carries a renewed token (X-Access-Token); after eight
    hours the old one is 401 token_expired while the renewed one works; renewals end a week
    after the password was typed."""
    token = await signed_in_token(console)
    _, _, headers = await api(console, "GET", "/api/users/", token)
    assert RENEWED_HEADER not in headers  # fresh: nothing to renew
    console.clock.now += LIFETIME_S - 600  # ten minutes left
    status, _, headers = await api(console, "GET", "/api/users/", token)
    assert status == 200
    renewed = headers[RENEWED_HEADER]
    renewed_exp = jwt.decode(renewed, options={"verify_signature": False})["exp"]
    assert renewed_exp > console.clock.now + 7 * 3600
    console.clock.now += 610  # past the expiry and its 5 s leeway
    status, body, _ = await api(console, "GET", "/api/users/", token)
    assert (status, body["data"]["reason"]) == (401, "token_expired")
    assert (await api(console, "GET", "/api/users/", renewed))[0] == 200
    # keep renewing, each time a minute before expiry: a week after the sign-in it ends
    signed_at = jwt.decode(renewed, options={"verify_signature": False})["auth_time"]
    renewals = 0
    while True:
        console.clock.now = jwt.decode(renewed, options={"verify_signature": False})[
            "exp"] - 60
        status, body, headers = await api(console, "GET", "/api/users/", renewed)
        if RENEWED_HEADER not in headers:
            break
        assert status == 200
        renewed, renewals = headers[RENEWED_HEADER], renewals + 1
    assert renewals >= 19 and console.clock.now < signed_at + MAX_SESSION_S
    console.clock.now += 120
    status, body, _ = await api(console, "GET", "/api/users/", renewed)
    assert status == 401 and body["data"]["reason"] in ("token_expired", "session_too_old")


async def test_a_password_change_ends_the_api_tokens(console: Console) -> None:
    """A token issued before the owner's password changed is refused after (as sessions
    are ended then)."""
    token = await signed_in_token(console)
    await console.app[AUTHORITY].owners.change_password(OWNER, "a new password 456")
    status, body, _ = await api(console, "GET", "/api/users/", token)
    assert (status, body["data"]["reason"]) == (401, "token_revoked")


async def test_users_are_the_owners_registered_accounts(console: Console) -> None:
    """Register (201, the record without the password), 409 when registered (on the owner
    API's door too, the same refusal), 422 naming the field, list, get (404 for a login not
    the owner's), change (loosening asks for the owner's password), store the MT5 password
    encrypted (never answered)."""
    token = await signed_in_token(console)
    status, created, _ = await api(console, "POST", "/api/users/", token, REGISTRATION)
    assert status == 201, created
    assert created["login"] == 5012345 and created["paper_trade_enabled"] is True
    assert "password" not in created and "mt5-secret-pw" not in json.dumps(created)
    status, body, _ = await api(console, "POST", "/api/users/", token, REGISTRATION)
    assert (status, body["message"]) == (409, "Account 5012345 on MTG-Demo already exists")
    # the same refusal on the owner API's door: the same status, reason and words
    status, owned = await console.owner("POST", "/v1/accounts", REGISTRATION)
    assert (status, owned["error"]["reason"], owned["error"]["message"]) == (
        409, "account_exists", "Account 5012345 on MTG-Demo already exists")
    status, body, _ = await api(console, "POST", "/api/users/", token,
                                {**REGISTRATION, "login": 7, "max_lot_size": 500})
    assert status == 422 and "max_lot_size" in body["message"]
    assert body["data"]["fields"][0]["field"] == "max_lot_size"
    status, listed, _ = await api(console, "GET", "/api/users/", token)
    assert status == 200 and listed["count"] == 1
    assert listed["users"][0]["name"] == "Paper desk"
    status, one, _ = await api(console, "GET", "/api/users/5012345", token)
    assert status == 200 and one["user"]["allowed_symbols"] == ["EURUSD", "BTCUSD"]
    assert (await api(console, "GET", "/api/users/999", token))[0] == 404
    assert (await api(console, "GET", "/api/users/abc", token))[0] == 400
    # tightening needs nothing; loosening needs the owner's password
    status, changed, _ = await api(console, "PUT", "/api/users/5012345", token,
                                   {"max_lot_size": 0.1, "name": "Paper desk 2"})
    assert status == 200 and changed["user"]["max_lot_size"] == 0.1
    status, body, _ = await api(console, "PUT", "/api/users/5012345", token,
                                {"max_lot_size": 2})
    assert (status, body["data"]["reason"]) == (401, "password_required")
    assert "raise the lot cap to 2" in body["message"]
    status, body, _ = await api(console, "PUT", "/api/users/5012345", token,
                                {"max_lot_size": 2, "owner_password": "wrong one"})
    assert (status, body["data"]["reason"]) == (401, "bad_credentials")
    status, changed, _ = await api(console, "PUT", "/api/users/5012345", token,
                                   {"max_lot_size": 2, "owner_password": PASSWORD})
    assert status == 200 and changed["user"]["max_lot_size"] == 2.0
    # the MT5 password: stored encrypted, never answered
    status, body, _ = await api(console, "PUT", "/api/users/5012345/password", token,
                                {"password": "new-mt5-pw"})
    assert status == 200 and "new-mt5-pw" not in json.dumps(body)
    authority = console.app[AUTHORITY]
    stored = await authority.run(authority.store.account_password, 5012345, "MTG-Demo")
    assert stored == "new-mt5-pw"
    raw = await authority.run(lambda tx: tx.execute(
        "SELECT password_enc FROM accounts").fetchone()[0])
    assert b"new-mt5-pw" not in bytes(raw)
    kinds = [e.kind for e in await authority.owners.activity(OWNER)]
    assert "account_password_changed" in kinds and "account_changed" in kinds


async def test_what_the_console_does_not_answer_says_why(console: Console) -> None:
    """Terminal-level endpoints and trade-record edits answer 501 with the reason: the
    daemon answers the first, and a live account's records are the broker's."""
    token = await signed_in_token(console)
    status, body, _ = await api(console, "PUT", "/api/admin/trades/7/modify", token)
    assert status == 501 and "broker's to modify or delete" in body["message"]
    status, body, _ = await api(console, "GET", "/api/symbols/EURUSD/price", token)
    assert status == 501 and "daemon" in body["message"]
    status, body, _ = await api(console, "GET", "/api/test/ping", token)
    assert status == 501 and body["data"]["reason"] == "not_on_the_console"
    status, config, _ = await api(console, "GET", "/api/server/config", token)
    assert status == 200
    assert config["key_id"] == console.pinned().kid
    assert config["access_token"]["lifetime_s"] == LIFETIME_S


async def test_another_sites_origin_is_refused(console: Console) -> None:
    """A page of another site cannot drive the API with a token it got somehow, nor sign
    in: a foreign Origin is 403."""
    token = await signed_in_token(console)
    status, body, _ = await api(console, "GET", "/api/users/", token,
                                Origin="https://evil.example")
    assert (status, body["data"]["reason"]) == (403, "origin_refused")


def test_the_openapi_document_is_valid_shipped_and_served_without_a_token() -> None:
    """Valid OpenAPI 3.1, every endpoint with its 501 and reason where the console does not
    answer, and docs/openapi/console.json is what the code generates (regenerate it with
    ``python -m mtgateway_console.mt4api.openapi > docs/openapi/console.json``)."""
    document = build_document()
    schema = json.loads((ROOT / "docs" / "openapi" / "oas-3.1-schema.json").read_text(
        encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    assert [e.message for e in validator.iter_errors(document)] == []
    for endpoint in ENDPOINTS:
        op = document["paths"][endpoint.path][endpoint.method.lower()]
        if endpoint.why is not None:
            assert "501" in op["responses"] and endpoint.why in op["description"]
        if endpoint.auth:
            assert "401" in op["responses"]
    shipped = json.loads((ROOT / "docs" / "openapi" / "console.json").read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(document))


async def test_the_openapi_document_is_served(console: Console) -> None:
    """GET /api/openapi.json answers the document, without a token."""
    status, body, _ = await api(console, "GET", "/api/openapi.json", None)
    assert status == 200 and body == json.loads(json.dumps(build_document()))


async def test_a_login_beyond_64_bits_is_refused_not_a_server_error(console: Console) -> None:
    """Found by fuzzing the API: a login above 2^63-1 reached the database and answered 500
    on the owner API's ``/v1/accounts`` and ``/v1/tokens``; it is a field error (422), as on
    ``/api/users/``."""
    huge = 2**64
    status, body = await console.owner("POST", "/v1/accounts", {
        "name": "a", "broker": "b", "login": huge, "server": "s"})
    assert status == 422 and "login" in body["error"]["message"]
    status, body = await console.owner("POST", "/v1/tokens", {"login": huge, "server": "s"})
    assert status == 422 and "login" in body["error"]["message"]
    token = await signed_in_token(console)
    status, body, _ = await api(console, "POST", "/api/users/", token,
                                {**REGISTRATION, "login": huge})
    assert status == 422 and body["data"]["fields"][0]["field"] == "login"


async def test_moving_accounts_into_a_new_group_asks_for_what_it_loosens(
        console: Console) -> None:
    """A group made without a policy takes the first account's: moving a tighter account in
    with a looser one loosens it, so the owner's password is asked (as for any loosening),
    and with it the move is made and the tighter account takes the looser policy."""
    token = await signed_in_token(console)
    loose = {**REGISTRATION, "login": 11, "max_lot_size": 1, "paper_trade_enabled": False}
    tight = {**REGISTRATION, "login": 12, "max_lot_size": 0.1, "paper_trade_enabled": False}
    for body in (loose, tight):
        assert (await api(console, "POST", "/api/users/", token, body))[0] == 201
    move = {"operation": "move", "logins": [11, 12], "group": "desk"}
    status, body, _ = await api(console, "POST", "/api/admin/users/group-op", token, move)
    assert (status, body["data"]["reason"]) == (401, "password_required")
    assert "raise the lot cap to 1" in body["message"]
    status, _, _ = await api(console, "POST", "/api/admin/users/group-op", token,
                             {**move, "owner_password": PASSWORD})
    assert status == 200
    _, user, _ = await api(console, "GET", "/api/users/12", token)
    assert (user["user"]["group"], user["user"]["max_lot_size"]) == ("desk", 1.0)
    _, group, _ = await api(console, "GET", "/api/groups/desk", token)
    assert group["group"]["logins"] == [11, 12]


async def test_an_owner_with_two_step_sign_in_sends_the_code_as_otp(console: Console) -> None:
    """With two-step sign-in on, the password alone is 401 ``second_factor_required`` (it
    says to send ``otp``), a wrong code 401 ``bad_second_factor``, the app's code or a
    recovery code signs in."""
    factor = console.app[AUTHORITY].second_factor
    enrolment = await factor.start(OWNER)
    typed = enrolment.secret_b32.replace(" ", "")
    key = base64.b32decode(typed + "=" * (-len(typed) % 8))
    codes = await factor.confirm(OWNER, totp.totp(key, console.clock.now))
    assert codes is not None
    console.clock.now += totp.STEP_S  # the confirming code's step is spent
    status, body = await login(console)
    assert (status, body["data"]["reason"]) == (401, "second_factor_required")
    assert "otp" in body["message"]
    status, body = await login(console, otp="000000")
    assert (status, body["data"]["reason"]) == (401, "bad_second_factor")
    status, body = await login(console, otp=totp.totp(key, console.clock.now))
    assert status == 200 and body["token_type"] == "bearer"
    status, body = await login(console, otp=codes[0])
    assert status == 200


async def test_a_group_move_asks_the_password_for_what_it_loosens_of_any_member(
        console: Console) -> None:
    """A move into an existing group re-applies the group's policy to every member: a
    member the owner tightened since is loosened by it, so the move asks for the password
    even when the moved account is no looser than the group, and without it nothing
    changes."""
    token = await signed_in_token(console)
    group = {**REGISTRATION, "login": 21, "max_lot_size": 1, "paper_trade_enabled": False}
    assert (await api(console, "POST", "/api/users/", token, group))[0] == 201
    made = {"operation": "move", "logins": [21], "group": "desk"}
    assert (await api(console, "POST", "/api/admin/users/group-op", token, made))[0] == 200
    status, _, _ = await api(console, "PUT", "/api/users/21", token,
                             {"max_lot_size": 0.01, "auto_trade_enabled": False,
                              "allowed_symbols": ["EURUSD"]})  # tightening: no password
    assert status == 200
    newcomer = {**group, "login": 22}  # the group's own policy: no looser than the group
    assert (await api(console, "POST", "/api/users/", token, newcomer))[0] == 201
    move = {"operation": "move", "logins": [22], "group": "desk"}
    status, body, _ = await api(console, "POST", "/api/admin/users/group-op", token, move)
    assert (status, body["data"]["reason"]) == (401, "password_required")
    assert "raise the lot cap to 1" in body["message"]
    assert "switch automated trading on" in body["message"]
    _, user, _ = await api(console, "GET", "/api/users/21", token)
    assert (user["user"]["max_lot_size"], user["user"]["auto_trade_enabled"]) == (0.01, False)
    _, moved, _ = await api(console, "GET", "/api/users/22", token)
    assert moved["user"]["group"] is None  # nothing was done
    status, _, _ = await api(console, "POST", "/api/admin/users/group-op", token,
                             {**move, "owner_password": PASSWORD})
    assert status == 200
    _, user, _ = await api(console, "GET", "/api/users/21", token)
    assert (user["user"]["max_lot_size"], user["user"]["auto_trade_enabled"]) == (1.0, True)


async def test_lifting_the_kill_switch_asks_for_the_password(console: Console) -> None:
    """Halting is one call with the token; lifting a halt (all, or named terminals) lets
    every bot trade again, so it asks for the owner's password (checked through the sign-in
    throttle), and without it the halt stays."""
    token = await signed_in_token(console)
    assert (await api(console, "POST", "/api/users/", token, REGISTRATION))[0] == 201
    status, body, _ = await api(console, "POST", "/api/test/disconnect", token, {})
    assert status == 200 and body["halted"] == ["*"]
    for lift in ({}, {"logins": [5012345]}):
        status, body, _ = await api(console, "POST", "/api/test/connect", token, lift)
        assert (status, body["data"]["reason"]) == (401, "password_required")
        assert "lift the halt" in body["message"]
        delays = len(console.pauses.delays)
        status, body, _ = await api(console, "POST", "/api/test/connect", token,
                                    {**lift, "owner_password": "wrong one"})
        assert (status, body["data"]["reason"]) == (401, "bad_credentials")
        assert len(console.pauses.delays) > delays  # through the sign-in throttle
    halts = await console.app[AUTHORITY].halts.of(OWNER)
    assert [(h.login, h.server) for h in halts] == [(0, "")]
    status, body, _ = await api(console, "POST", "/api/test/connect", token,
                                {"owner_password": PASSWORD})
    assert (status, body["halted"]) == (200, [])


@pytest.mark.parametrize(("field", "text", "named"), [
    ("subject", "Notice\r\nX", "U+000D"),
    ("body", "hello\nMT Gateway: connected, trading HALTED by the broker", "U+000A"),
    ("body", "Paste a new token\u202eelpmaxe.live", "U+202E"),
    ("body", "end\x00", "U+0000"),
    ("body", "a\u2066b\u2069", "U+2066"),
    ("body", "next\u0085line", "U+0085"),
    ("body", "one\u2028two", "U+2028"),
])
async def test_a_chart_message_is_one_line_of_printable_text(
        console: Console, field: str, text: str, named: str) -> None:
    """A line break, a control character (NUL, the ASCII and Latin-1 ones) or a bidi override
    or isolate in a chart message's subject or body is refused 422 naming the field and the
    character: the message could otherwise forge lines that look like the EA's own status."""
    token = await signed_in_token(console)
    body = {"subject": "Desk", "body": "Stop at 16:00", field: text}
    status, answer, _ = await api(console, "POST", "/api/admin/mail", token, body)
    assert status == 422, answer
    assert answer["data"]["fields"][0]["field"] == field
    assert named in answer["message"] and "one line of printable text" in answer["message"]


async def test_printable_text_of_any_script_is_a_chart_message(console: Console) -> None:
    """Letters of any script, symbols and emoji (a zero-width joiner inside one) pass."""
    token = await signed_in_token(console)
    status, answer, _ = await api(console, "POST", "/api/admin/mail", token, {
        "subject": "Café — Ελλάδα", "body": "Стоп ✓ 停止 \U0001F469\u200D\U0001F4BB"})
    assert status == 200, answer


async def test_an_operation_is_read_by_its_owner_alone(console: Console) -> None:
    """``GET /v1/operations/{id}`` answers the owner's instruction as it stands, with an
    access token or Basic credentials; another owner's id and an unknown one are the same
    404 in the owner API's shape, and no credentials a 401 that says what to send."""
    authority = console.app[AUTHORITY]
    [made] = await authority.instructions.send_message(OWNER, [(5012345, "MTG-Demo")],
                                                       "Desk: flat by 16:00")
    path = f"/v1/operations/{made.id}"
    expected = {"operation": {
        "id": made.id, "login": 5012345, "server": "MTG-Demo", "kind": "message",
        "amount": 0.0, "comment": "Desk: flat by 16:00", "state": "pending", "deal": None,
        "detail": "", "created_at": made.created_at, "settled_at": None}}
    token = await signed_in_token(console)
    assert (await api(console, "GET", path, token))[:2] == (200, expected)
    assert await console.owner("GET", path) == (200, expected)
    other = ("other@example.com", "another owner's password")
    await authority.owners.create(*other)
    theirs = await console.owner("GET", path, auth=other)
    unknown = await console.owner("GET", "/v1/operations/ins_0123456789abcdef")
    for status, body in (theirs, unknown):
        assert status == 404, body
        assert body == {"error": {"code": 404, "reason": "not_found",
                                  "message": "no such operation of yours"}}
    status, body, headers = await api(console, "GET", path, None)
    assert (status, body["error"]["reason"]) == (401, "bad_credentials")
    assert headers["WWW-Authenticate"].startswith("Basic")


async def test_a_row_and_a_handler_registered_beside_it_are_served(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The console's routes are the table's rows and its rooms' registrations, nothing
    written between them: a row added after the 34 and a handler registered for it in a
    room of its own are served through the console's door like every other endpoint (401
    without a token, 405 for a method the row does not list, the handler's answer with a
    token), and the same pair half-written stops the console's routes being made."""
    room = Handlers[Handler]()

    @room.answers("get_api_accounts_login_nickname")
    async def nickname(call: ApiCall) -> web.Response:
        return ok(StatusOut(message=f"account {login_of(call)} of {call.owner}"))

    row = mt4web.Endpoint(35, "GET", "/api/accounts/{login}/nickname",
                          daemon=not_here("An account's nickname", "A terminal names none."),
                          console=Answer("An account's nickname", StatusOut))
    table = (*mt4web.ENDPOINTS, row)
    monkeypatch.setattr(mt4api, "ENDPOINTS", bind("console", Handlers(*ROOMS, room), table))
    async with running_console(tmp_path) as console:
        path = "/api/accounts/5012345/nickname"
        status, body, _ = await api(console, "GET", path, None)
        assert (status, body["data"]["reason"]) == (401, "missing_token")
        token = await signed_in_token(console)
        status, body, headers = await api(console, "POST", path, token)
        assert (status, headers["Allow"]) == (405, "GET")
        status, body, _ = await api(console, "GET", path, token)
        assert (status, body) == (200, {"status": "ok", "message": f"account 5012345 of {OWNER}"})
    with pytest.raises(ValueError, match="no handler for \\['get_api_accounts_login_nickname'\\]"):
        bind("console", Handlers(*ROOMS), table)
    with pytest.raises(ValueError,
                       match="no answered row for \\['get_api_accounts_login_nickname'\\]"):
        bind("console", Handlers(*ROOMS, room))
