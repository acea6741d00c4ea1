"""Review round 4, m6: the console honours ``[logging] access_log`` as the daemon does, with
the same lines (``gateway.base.access``): ``remote``, ``method``, ``path`` (no query string),
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

from gateway.authority.console import create_console_app, start_console
from gateway.authority.mailer import RecordingMailer
from gateway.config import ConsoleConfig, GatewayConfig, LoggingConfig
from gateway.log import JsonFormatter

pytestmark = pytest.mark.network_edge


async def _requests(tmp_path: Path, access_log: bool) -> None:
    config = GatewayConfig(data_dir=str(tmp_path), console=ConsoleConfig(port=0),
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
