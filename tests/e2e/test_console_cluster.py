"""Two ``mtgateway console`` processes on one PostgreSQL act as one authority (issue 22).

Real processes (``python -m gateway console``), a real PostgreSQL server (``tests/pgkit.py``),
one shared data directory (the key files every instance needs); requests over loopback HTTP.
The device-proof replay guard lives in the database, so a proof one instance accepted is a
replay to the other, and to the same instance after a restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.authority.proofs import device_proof_headers
from tests.pgkit import PostgresServer


class ConsoleProcess:
    """One console process; its URL once it listens."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "console", "-c", str(config)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until it listens (or exits: "")
        assert line.startswith("console listening on "), line
        self.url = line.split()[-1]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _config(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{data.as_posix()}"\n[console]\nport = 0\n'
                      '[smtp]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\n')
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
            status, body = _ready(console.url)
            assert (status, body) == (503, {"status": "not_ready",
                                            "reason": "database_unreachable"})
            with urllib.request.urlopen(console.url + "/health", timeout=30) as health:  # noqa: S310
                assert health.status == 200
        finally:
            console.stop()
    finally:
        server.stop()
