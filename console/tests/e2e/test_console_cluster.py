"""Two ``mtgateway-console`` processes on one PostgreSQL act as one authority (issue 22).

Real processes (``python -m gateway console``), a real PostgreSQL server (``tests/pgkit.py``),
one shared data directory (the key files every instance needs); requests over loopback HTTP.
The device-proof replay guard lives in the database, so a proof one instance accepted is a
replay to the other, and to the same instance after a restart. A token revoked through one
instance closes the WebSocket of a client whose daemon long-polls the other (LISTEN/NOTIFY);
a console killed in the middle of a revocation leaves neither half of it, and the retry works.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psycopg
import pytest
from aiohttp import WSMsgType, web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.app import create_app
from gateway.auth import MemorySecretStore
from gateway.auth.client import RemoteAuthority
from gateway.auth.owner import OwnerConsole
from gateway.config import AuthorityConfig, BridgeConfig, GatewayConfig, ServerConfig
from gateway.edge.listener import start_http
from gateway.keys import DEVICE
from gateway.mailsink import MailSink
from mtgateway_base.wire.api import AuthorityUnreachable
from mtgateway_base.wire.proofs import device_proof_headers
from mtgateway_base.wire.records import AuthorityKey
from mtgateway_console.tables.migrations import MIGRATIONS
from mtgateway_console.tables.store import DB_FILE
from tests.e2e.fixtures import WAIT_S
from tests.e2e.world import serving, start_plain
from tests.pgkit import PostgresServer


class ConsoleProcess:
    """One console process; its URL once it listens, and the authority key it prints (what
    an owner's CLI pins)."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mtgateway_console", "-c", str(config)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until it listens (or exits: "")
        assert line.startswith("console listening on "), line
        self.url = line.split()[-1]
        line = self.proc.stdout.readline()
        match = re.match(r"authority key kid=\S+ public_key=(\S+)", line)
        assert match is not None, line
        self.key = AuthorityKey.from_base64(match.group(1))

    def owner(self) -> OwnerConsole:
        """The owner's client of this console, pinning its key."""
        return OwnerConsole(self.url, self.key)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _config(tmp_path: Path, smtp_port: int = 1, console: str = "") -> Path:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{data.as_posix()}"\n[console]\nport = 0\n{console}'
                      f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n',
                      encoding="utf-8")
    return config


@pytest.fixture
def two_consoles(tmp_path: Path,
                 postgres: PostgresServer) -> Iterator[tuple[ConsoleProcess, ConsoleProcess]]:
    """Two console processes on one new PostgreSQL database."""
    config = _config(tmp_path)
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": postgres.new_database()}
    first = ConsoleProcess(config, env)  # creates the key files and migrates the schema
    try:
        second = ConsoleProcess(config, env)
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def _status(url: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url + "/v1/device/status", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_proof_accepted_by_one_instance_is_a_replay_to_the_other(
        two_consoles: tuple[ConsoleProcess, ConsoleProcess]) -> None:
    """The same signed request sent to A then B: B refuses it as a replay; a fresh proof of
    the same request works on B."""
    first, second = two_consoles
    key = Ed25519PrivateKey.generate()
    headers = device_proof_headers(key, "GET", "/v1/device/status", b"", time.time())
    assert _status(first.url, headers)[0] == 200
    status, body = _status(second.url, headers)
    assert status == 401
    assert body["error"] == {"code": 401, "reason": "replayed_device_proof",  # type: ignore[comparison-overlap]
                             "message": "the device proof was refused"}
    fresh = device_proof_headers(key, "GET", "/v1/device/status", b"", time.time(),
                                 time_ms=int(time.time() * 1000) + 1)
    assert _status(second.url, fresh)[0] == 200


def test_a_restarted_console_still_refuses_a_proof_it_accepted(tmp_path: Path) -> None:
    """On the default SQLite database too: a restart no longer forgets accepted proofs."""
    config = _config(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "MTGATEWAY_DATABASE_URL"}
    headers = device_proof_headers(Ed25519PrivateKey.generate(), "GET", "/v1/device/status",
                                   b"", time.time())
    console = ConsoleProcess(config, env)
    try:
        assert _status(console.url, headers)[0] == 200
    finally:
        console.stop()
    console = ConsoleProcess(config, env)
    try:
        status, body = _status(console.url, headers)
    finally:
        console.stop()
    assert status == 401 and body["error"]["reason"] == "replayed_device_proof"  # type: ignore[index]


def _ready(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url + "/ready", timeout=60) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _ready_becomes(url: str, expected: tuple[int, dict[str, object]]) -> None:
    """Ask ``/ready`` until it answers ``expected``: its state is kept by a check every
    second in the console's process, so a change shows within about a second (bounded here
    by the tests' wait, not timed)."""
    deadline = time.monotonic() + WAIT_S
    while (found := _ready(url)) != expected:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)


def test_readiness_includes_the_database(tmp_path: Path) -> None:
    """/ready answers 200 while PostgreSQL answers and 503 database_unreachable once it is
    gone (the body names no URL), while /health (liveness) stays 200."""
    server = PostgresServer()
    server.start()
    try:
        url = server.new_database().replace("postgres@", "postgres:s3cret-pw@")
        console = ConsoleProcess(_config(tmp_path),
                                 {**os.environ, "MTGATEWAY_DATABASE_URL": url})
        try:
            status, body = _ready(console.url)
            assert (status, body["status"]) == (200, "ready")
            server.stop()
            _ready_becomes(console.url, (503, {"status": "not_ready",
                                              "reason": "database_unreachable"}))
            with urllib.request.urlopen(console.url + "/health", timeout=30) as health:  # noqa: S310
                assert health.status == 200
        finally:
            console.stop()
    finally:
        server.stop()


def _set_schema_version(database: str | Path, version: int) -> None:
    """Write ``version`` into the ``schema_version`` of ``database`` (a PostgreSQL URL, or the
    SQLite file), as another release (or an older backup restored over it) would leave it."""
    if isinstance(database, str):
        with psycopg.connect(database) as conn:
            conn.execute("UPDATE schema_version SET version = %s", (version,))
        return
    with contextlib.closing(sqlite3.connect(database)) as conn, conn:
        conn.execute("UPDATE schema_version SET version = ?", (version,))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_readiness_answers_a_schema_mismatch_until_the_schema_is_this_releases(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    """Under a running console, the database's schema version moved to one this release does
    not expect -- a newer release migrated it, or it is behind (not yet migrated, an older
    backup) -- makes /ready answer 503 schema_mismatch naming the version found, while
    /health stays 200; once the version is this release's again /ready answers 200."""
    latest = len(MIGRATIONS)
    config = _config(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "MTGATEWAY_DATABASE_URL"}
    database: str | Path
    if backend == "postgresql":
        database = request.getfixturevalue("postgres").new_database()
        env["MTGATEWAY_DATABASE_URL"] = database
    else:
        database = tmp_path / "data" / DB_FILE
    console = ConsoleProcess(config, env)  # migrates the new database to this release's
    try:
        assert _ready(console.url) == (200, {"status": "ready", "schema_version": latest})
        for found in (latest + 1, latest - 1):
            _set_schema_version(database, found)
            _ready_becomes(console.url, (503, {"status": "not_ready",
                                               "reason": "schema_mismatch",
                                               "schema_version": found}))
            with urllib.request.urlopen(console.url + "/health", timeout=30) as health:  # noqa: S310
                assert health.status == 200
        _set_schema_version(database, latest)
        _ready_becomes(console.url, (200, {"status": "ready", "schema_version": latest}))
    finally:
        console.stop()


OWNER, PASSWORD = "owner@example.com", "owner password 123"
LOGIN, SERVER = 5012345, "MTG-Demo"
_CODE = re.compile(r"device verify (\d{4} \d{4})")


def _create_owner(config: Path, env: dict[str, str]) -> None:
    """``mtgateway owner create`` on the shared database (the password by environment)."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "owner", "create", "-c", str(config), "--email",
         OWNER], env={**env, "MTGATEWAY_OWNER_PASSWORD": PASSWORD}, capture_output=True,
        text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


class PollWatch:
    """A loopback relay in front of a console that notes when the daemon holds a revocation
    long-poll with a cursor (from then on no revocation can pass it by unseen)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.holding = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_route("*", "/{path:.*}", self._forward)

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.path == "/v1/device/revocations" and json.loads(body).get("cursor") \
                is not None:
            self.holding.set()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length")}
        async with aiohttp.ClientSession() as session, session.request(
                request.method, self.target + request.path_qs, data=body,
                headers=headers) as answer:
            return web.Response(status=answer.status, body=await answer.read(),
                                content_type="application/json")


async def test_a_token_revoked_on_one_instance_closes_a_websocket_served_through_the_other(
        tmp_path: Path, postgres: PostgresServer) -> None:
    """A daemon whose authority is console B, a /ws client on it; the owner revokes the token
    through console A: the socket closes (1008 token_revoked) within 2 s, the issue's bound.
    Nothing but PostgreSQL's NOTIFY tells B; the daemon's record refresh is minutes away."""
    sink = MailSink()
    await sink.start()
    config = _config(tmp_path, sink.port)
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": postgres.new_database()}
    _create_owner(config, env)
    # each console tries the SMTP server at start: the sink answers on this loop meanwhile
    first = await asyncio.to_thread(ConsoleProcess, config, env)
    second = await asyncio.to_thread(ConsoleProcess, config, env)
    try:
        async with contextlib.AsyncExitStack() as stack:
            session = await stack.enter_async_context(aiohttp.ClientSession())
            async with session.get(first.url + "/v1/keys") as answer:
                public_key = (await answer.json())["keys"][0]["public_key"]
            watch = PollWatch(second.url)
            _, watch_port = await stack.enter_async_context(
                serving(watch.app, start_plain))
            daemon = create_app(GatewayConfig(
                data_dir=str(tmp_path / "daemon"),
                server=ServerConfig(port=0, auth_failure_delay_s=0.0),
                bridge=BridgeConfig(port=0),
                authority=AuthorityConfig(mode="remote", url=f"http://127.0.0.1:{watch_port}",
                                          public_key=public_key)),
                secret_store=MemorySecretStore())
            _, http_port = await stack.enter_async_context(serving(daemon, start_http))
            owner = first.owner()
            issued = await owner.issue_token(OWNER, PASSWORD, LOGIN, SERVER)
            auth = {"Authorization": f"Bearer {issued.token}"}
            rpc = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
            async with session.post(f"http://127.0.0.1:{http_port}/rpc", json=rpc,
                                    headers=auth) as answer:
                assert answer.status == 401  # an unseen device: B mails the owner a code
            async with asyncio.timeout(WAIT_S):
                mail = (await sink.wait_for(1))[0]
            code = _CODE.search(mail.get_content())
            assert code is not None
            device = daemon[DEVICE]
            async with RemoteAuthority(first.url, device.private_key) as client:
                assert (await client.verify_device(device.info, code.group(1))).status \
                    == "approved"
            async with session.ws_connect(f"http://127.0.0.1:{http_port}/ws",
                                          headers=auth) as ws:
                await ws.send_str(json.dumps(rpc))
                assert json.loads((await ws.receive(timeout=WAIT_S)).data)["id"] == 1
                async with asyncio.timeout(WAIT_S):
                    await watch.holding.wait()
                assert await owner.revoke_token(OWNER, PASSWORD, issued.token_id)
                msg = await ws.receive(timeout=2.0)
                assert msg.type is WSMsgType.CLOSE
                assert (msg.data, msg.extra) == (1008, "token_revoked")
    finally:
        second.stop()
        first.stop()
        await sink.close()


def _blocked_on_revocations(url: str) -> bool:
    """Whether, within ``WAIT_S``, a session waits for a lock to write a revocation row (its
    statement is one of a batch: ``database.Tx``)."""
    deadline = time.monotonic() + WAIT_S
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                               "current_database() AND wait_event_type = 'Lock' AND "
                               "query LIKE '%INSERT INTO revocations%'").fetchone()
            if row is not None and int(row[0]) == 1:
                return True
            time.sleep(0.02)
    return False


def _others_gone(url: str) -> bool:
    """Whether, within ``WAIT_S``, every other session on the database has ended."""
    deadline = time.monotonic() + WAIT_S
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                               "current_database() AND pid <> pg_backend_pid()").fetchone()
            if row is not None and int(row[0]) == 0:
                return True
            time.sleep(0.02)
    return False


def _revocation_state(url: str, token_id: str) -> tuple[bool, int]:
    """(the token is revoked, how many feed rows name it)."""
    with psycopg.connect(url, autocommit=True) as conn:
        revoked = conn.execute("SELECT revoked_at IS NOT NULL FROM tokens WHERE token_id = %s",
                               (token_id,)).fetchone()
        rows = conn.execute("SELECT count(*) FROM revocations WHERE token_id = %s",
                            (token_id,)).fetchone()
    assert revoked is not None and rows is not None
    return bool(revoked[0]), int(rows[0])


async def test_a_console_killed_mid_revocation_loses_nothing(
        tmp_path: Path, postgres: PostgresServer) -> None:
    """SIGKILL the console while its revocation is written: the token marked revoked, its
    feed row (what wakes the daemons) waiting for a lock the test holds. After the kill
    neither half is in the database; a restarted console takes the retry and writes both."""
    url = postgres.new_database()
    config = _config(tmp_path)
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": url}
    _create_owner(config, env)
    console = ConsoleProcess(config, env)
    try:
        owner = console.owner()
        issued = await owner.issue_token(OWNER, PASSWORD, LOGIN, SERVER)
        with psycopg.connect(url) as lock:
            lock.execute("LOCK TABLE revocations IN EXCLUSIVE MODE")
            revoking = asyncio.create_task(
                owner.revoke_token(OWNER, PASSWORD, issued.token_id))
            assert await asyncio.to_thread(_blocked_on_revocations, url)
            console.proc.kill()
            await asyncio.to_thread(console.proc.wait, 30)
            with pytest.raises(AuthorityUnreachable):
                await revoking
            lock.rollback()  # the lock goes; the dead console's transaction cannot commit
        console.stop()
        assert await asyncio.to_thread(_others_gone, url)
        assert _revocation_state(url, issued.token_id) == (False, 0)  # no half revocation
        console = ConsoleProcess(config, env)
        owner = console.owner()
        assert await owner.revoke_token(OWNER, PASSWORD, issued.token_id)
        listed = await owner.list_tokens(OWNER, PASSWORD)
        assert [t["revoked_at"] is not None for t in listed if
                t["token_id"] == issued.token_id] == [True]
        assert _revocation_state(url, issued.token_id) == (True, 1)
    finally:
        console.stop()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _page(url: str, session: str, data: bytes | None = None) -> tuple[int, str]:
    """A console page with the session cookie: its status and body."""
    request = urllib.request.Request(url, data=data, headers={
        "Cookie": f"mtgw_session={session}"})
    try:
        with _OPENER.open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, ""


def _sign_in(url: str, email: str, password: str) -> str:
    """Sign in through the login form; the session cookie's value."""
    form = urllib.parse.urlencode({"email": email, "password": password,
                                   "csrf": "c" * 32}).encode()
    request = urllib.request.Request(url + "/login", data=form, headers={
        "Cookie": "mtgw_login_csrf=" + "c" * 32})
    try:
        _OPENER.open(request, timeout=30).close()
    except urllib.error.HTTPError as exc:
        with exc:
            assert exc.code == 303, exc.code
            for value in exc.headers.get_all("Set-Cookie") or []:
                if value.startswith("mtgw_session="):
                    return value.split(";")[0].split("=", 1)[1]
    raise AssertionError("no session cookie")


def test_a_session_made_on_one_instance_is_valid_on_the_other_until_sign_out(
        tmp_path: Path, postgres: PostgresServer) -> None:
    """Signed in on A, the cookie opens a page on B; after signing out on B, A refuses it."""
    config = _config(tmp_path)
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": postgres.new_database()}
    first = ConsoleProcess(config, env)
    try:
        second = ConsoleProcess(config, env)
        try:
            _create_owner(config, env)
            session = _sign_in(first.url, OWNER, PASSWORD)
            assert _page(first.url + "/settings", session)[0] == 200
            assert _page(second.url + "/settings", session)[0] == 200
            status, html = _page(second.url + "/settings", session)
            csrf = re.search(r'name="csrf" value="([^"]+)"', html)
            assert status == 200 and csrf is not None
            assert _page(second.url + "/logout", session, b"csrf=wrong")[0] == 403
            # Signing out on B deletes the session for A too.
            form = urllib.parse.urlencode({"csrf": csrf.group(1)}).encode()
            assert _page(second.url + "/logout", session, form)[0] == 303
            assert _page(first.url + "/settings", session)[0] == 303
        finally:
            second.stop()
    finally:
        first.stop()


def test_a_session_survives_a_console_restart(tmp_path: Path) -> None:
    """On the default SQLite database: a restart no longer signs everybody out."""
    config = _config(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "MTGATEWAY_DATABASE_URL"}
    console = ConsoleProcess(config, env)
    try:
        _create_owner(config, env)
        session = _sign_in(console.url, OWNER, PASSWORD)
        assert _page(console.url + "/settings", session)[0] == 200
    finally:
        console.stop()
    console = ConsoleProcess(config, env)
    try:
        assert _page(console.url + "/settings", session)[0] == 200
        assert _page(console.url + "/settings", "not-a-session")[0] == 303
    finally:
        console.stop()


def _owner_api(url: str, email: str, password: str) -> int:
    """``GET /v1/tokens`` with HTTP Basic credentials; the status."""
    basic = base64.b64encode(f"{email}:{password}".encode()).decode()
    request = urllib.request.Request(url + "/v1/tokens",
                                     headers={"Authorization": f"Basic {basic}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code)


def test_failed_sign_ins_on_one_instance_count_on_the_other(
        tmp_path: Path, postgres: PostgresServer) -> None:
    """With a limit of 3 wrong passwords a window, two wrong on A and two on B start the
    lockout: the next attempt on either answers 429 unchecked, the right password included
    (not yet signed in with). Before, each instance counted its own two and answered 401."""
    config = _config(tmp_path, console="auth_failure_limit = 3\nauth_failure_delay_s = 0.0\n")
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": postgres.new_database()}
    _create_owner(config, env)
    first = ConsoleProcess(config, env)
    try:
        second = ConsoleProcess(config, env)
        try:
            for url in (first.url, first.url, second.url, second.url):
                assert _owner_api(url, OWNER, "wrong guess") == 401
            assert _owner_api(first.url, OWNER, PASSWORD) == 429
            assert _owner_api(second.url, OWNER, "another guess") == 429
        finally:
            second.stop()
    finally:
        first.stop()
