"""Review round 4, m6: the console honours ``[logging] access_log`` as the daemon does, with
the same lines (``mtgateway_base.access``): ``remote``, ``method``, ``path`` (no query string),
``status``, ``bytes`` and ``duration_ms`` as fields of the JSON format; none when it is off.

The real console app on loopback (its own database in the test's directory), requests over
real HTTP; the lines are the records of the ``gateway.access`` logger, formatted by the
daemon's JSON formatter.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import aiohttp
import pytest

from gateway.config import LoggingConfig
from gateway.mailbox import mailbox_routes
from mtgateway_base.access import SECRET_PATH_PREFIXES, mask_path
from mtgateway_base.log import JsonFormatter, redact
from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import create_console_app, start_console
from mtgateway_console.mailer import RecordingMailer

pytestmark = pytest.mark.network_edge


async def _requests(tmp_path: Path, access_log: bool) -> None:
    config = ConsoleFile(data_dir=str(tmp_path), console=ConsoleConfig(port=0),
                         logging=LoggingConfig(access_log=access_log, format="json"))
    app = create_console_app(config, mailer=RecordingMailer())
    runner, port = await start_console(app, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/health") as r:
                assert r.status == 200
            async with http.get(f"http://127.0.0.1:{port}/login?next=secret-ish") as r:
                assert r.status == 200
            async with http.get(f"http://127.0.0.1:{port}/v1/tokens") as r:
                assert r.status == 401
    finally:
        await runner.cleanup()


async def test_the_console_writes_the_daemons_access_lines_when_asked(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gateway.access")
    await _requests(tmp_path / "on", access_log=True)
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records
             if r.name == "gateway.access"]
    by_path = {line["path"]: line for line in lines}
    assert set(by_path) == {"/health", "/login", "/v1/tokens"}, lines
    assert (by_path["/health"]["method"], by_path["/health"]["status"]) == ("GET", 200)
    assert by_path["/v1/tokens"]["status"] == 401
    for line in lines:
        assert line["remote"] == "127.0.0.1" and line["bytes"] > 0
        assert line["duration_ms"] >= 0 and line["path"] in line["message"]
        assert "secret-ish" not in json.dumps(line)  # the path is logged without its query

    caplog.clear()
    await _requests(tmp_path / "off", access_log=False)
    assert [r for r in caplog.records if r.name == "gateway.access"] == []


async def test_a_secret_in_a_path_never_reaches_a_log_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Review round 5, T5-F4: with access lines on, ``GET /reset/<token>`` was logged whole,
    and opening a reset link spends nothing, so a reader of the log could set the owner's
    password. The token of every link the console mails (a reset, taking back a second
    factor) is masked where the line is made,
    in the text and in the JSON fields, and by the redaction filter in any other line that
    names the path."""
    caplog.set_level(logging.INFO, logger="gateway.access")
    config = ConsoleFile(data_dir=str(tmp_path), console=ConsoleConfig(port=0),
                         logging=LoggingConfig(access_log=True, format="json"))
    app = create_console_app(config, mailer=RecordingMailer())
    runner, port = await start_console(app, "127.0.0.1", 0)
    secret = "rDo9v_esTyRbIecmQ_hamm7rX9oey57AbCdEfGhIjK"
    try:
        async with aiohttp.ClientSession() as http:
            for path in (f"/reset/{secret}", f"/recover/{secret}"):
                async with http.get(f"http://127.0.0.1:{port}{path}") as r:
                    assert r.status == 410  # no such link (nothing stored)
    finally:
        await runner.cleanup()
    formatter = JsonFormatter()
    lines = [r for r in caplog.records if r.name == "gateway.access"]
    assert len(lines) == 2
    for record in lines:
        assert secret not in record.getMessage() and secret not in formatter.format(record)
    assert {json.loads(formatter.format(r))["path"] for r in lines} == {
        "/reset/[REDACTED]", "/recover/[REDACTED]"}
    assert redact(f"console handler failed: POST /reset/{secret}") == (
        "console handler failed: POST /reset/[REDACTED]")


def test_every_route_that_takes_a_secret_in_its_path_is_masked(tmp_path: Path) -> None:
    """A route whose path carries a secret (a ``{token}`` segment: a one-time link's token,
    the demo's mailbox key) must be one :data:`~mtgateway_base.access.SECRET_PATH_PREFIXES`
    masks, so a new one cannot be added without its mask. The demo's console is walked: the
    console and the mailbox the demo mounts on it."""
    config = ConsoleFile(data_dir=str(tmp_path), console=ConsoleConfig(port=0))
    app = create_console_app(config, mailer=RecordingMailer())
    app.router.add_routes(mailbox_routes(list, "the-key"))
    with_token = [r.canonical for r in app.router.resources() if "{token}" in r.canonical]
    assert with_token, "the console's reset link takes its token in the path"
    for canonical in with_token:
        assert mask_path(canonical.replace("{token}", "s3cret")) == canonical.replace(
            "{token}", "[REDACTED]"), canonical
    assert set(SECRET_PATH_PREFIXES) == {c.rpartition("{")[0] for c in with_token}
