"""Review round 4, T4-F6: the CLI sends the owner's password only to a console that proved it
holds the pinned authority key.

Before, ``mtgateway token list`` in remote mode sent ``Authorization: Basic <e-mail:password>``
in its first request to whatever listened on the console's address (the review's listener
answered ``/v1/keys`` with the public key and ``/health`` with 200, and collected the password).
Now each owner call first asks ``POST /v1/hello`` for a signature over a fresh nonce and the
address, checks it against ``[authority] public_key`` (or ``--console-key``), and sends the
password on the same connection only when it holds. A plain-http console with no pinned key is
refused before any connection.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway_base.wire.records import AuthoritySigner, b64url_encode, console_proof_message
from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import AUTHORITY, create_console_app, start_console
from mtgateway_console.mailer import RecordingMailer
from tests.e2e.fixtures import WAIT_S

pytestmark = pytest.mark.network_edge

OWNER, PASSWORD = "owner@example.com", "owner password 123"
SECRET = base64.b64encode(f"{OWNER}:{PASSWORD}".encode())


def _http(status: int, body: object) -> bytes:
    payload = json.dumps(body).encode()
    return (f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: "
            f"{len(payload)}\r\n\r\n").encode() + payload


@asynccontextmanager
async def squatter(answer: Callable[[bytes], bytes]) -> AsyncIterator[tuple[str, bytearray]]:
    """A listener on a free port that answers each request head with ``answer(head)`` and
    records everything it receives."""
    received = bytearray()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                received.extend(head)
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                received.extend(await reader.readexactly(length))
                writer.write(answer(head))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", received


def _config(tmp_path: Path, url: str, public_key: str) -> Path:
    path = tmp_path / "remote.toml"
    path.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n[authority]\n'
                    f'mode = "remote"\nurl = "{url}"\npublic_key = "{public_key}"\n', "utf-8")
    path.chmod(0o600)
    return path


async def _token_list(*args: str) -> tuple[int, str]:
    env = {**os.environ, "MTGATEWAY_OWNER_PASSWORD": PASSWORD}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "token", "list", *args, "--email", OWNER, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), WAIT_S * 2)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


PINNED = AuthoritySigner.from_private_key(Ed25519PrivateKey.generate())
OTHER = AuthoritySigner.from_private_key(Ed25519PrivateKey.generate())


def _review_listener(head: bytes) -> bytes:
    """The review's listener: the public key and a healthy /health, 503 for the rest."""
    if head.startswith(b"GET /v1/keys"):
        return _http(200, {"keys": [PINNED.key.as_json()]})
    if head.startswith(b"GET /health"):
        return _http(200, {"status": "ok"})
    return _http(503, {"error": "busy"})


def _forged(signer: AuthoritySigner | None) -> Callable[[bytes], bytes]:
    """A listener that answers /v1/hello with a signature by ``signer`` (None: made up) over a
    nonce of its own, and 200 to anything else."""
    def answer(head: bytes) -> bytes:
        if head.startswith(b"POST /v1/hello"):
            sig = (b64url_encode(b"\x00" * 64) if signer is None
                   else b64url_encode(signer.private_key.sign(
                       console_proof_message("0" * 64, "127.0.0.1"))))
            return _http(200, {"kid": PINNED.key.kid, "alg": "Ed25519", "signature": sig})
        return _http(200, {"tokens": []})
    return answer


@pytest.mark.parametrize("answer", [_review_listener, _forged(None), _forged(OTHER),
                                    _forged(PINNED)],
                         ids=["review_listener", "made_up", "another_key", "replayed_proof"])
async def test_the_cli_sends_no_password_to_a_listener_that_cannot_prove_the_key(
        tmp_path: Path, answer: Callable[[bytes], bytes]) -> None:
    """Whatever the listener answers (the review's 503s, a made-up signature, one by another
    key, a genuine signature over another nonce and address), the CLI exits 1 saying the
    peer did not prove the key, and the listener never receives an Authorization header."""
    async with squatter(answer) as (url, received):
        code, out = await _token_list("-c", str(_config(tmp_path, url, PINNED.key.b64)))
    assert code == 1, out
    assert "did not prove" in out and "nothing was sent" in out
    assert b"POST /v1/hello" in received
    assert b"Authorization" not in received and SECRET not in bytes(received)


async def test_plain_http_without_a_pinned_key_is_refused_before_connecting(
        tmp_path: Path) -> None:
    """``--console http://...`` with no key pinned anywhere: exit 2, nothing sent (not even a
    connection), and the message says how to pin the key."""
    async with squatter(_review_listener) as (url, received):
        code, out = await _token_list("--console", url)
    assert code == 2 and "no authority key is pinned" in out and "--console-key" not in out
    assert received == b""


async def test_the_real_console_proves_its_key_and_gets_the_owners_call(
        tmp_path: Path) -> None:
    """The control: the console holding the pinned key answers /v1/hello with a signature
    that checks, and the owner's call goes through on the same connection."""
    config = ConsoleFile(data_dir=str(tmp_path / "console"), console=ConsoleConfig(port=0))
    app = create_console_app(config, mailer=RecordingMailer())
    runner, port = await start_console(app, "127.0.0.1", 0)
    authority = app[AUTHORITY]
    await authority.owners.create(OWNER, PASSWORD)
    try:
        url = f"http://127.0.0.1:{port}"
        code, out = await _token_list("--console", url, "--console-key",
                                      authority.store.signer.key.b64)
        assert code == 0, out
        code, out = await _token_list("--console", url, "--console-key", OTHER.key.b64)
        assert code == 1 and "did not prove it holds the pinned authority key" in out
    finally:
        await runner.cleanup()
