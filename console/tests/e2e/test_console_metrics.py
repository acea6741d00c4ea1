"""Issue 23 item 1: the console's `GET /metrics` counts sign-ins, e-mails and approvals
pending (a real console over loopback, a real SMTP server, pages signed in as a browser)."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from gateway.auth.client import RemoteAuthority
from gateway.auth.device import DeviceIdentity
from gateway.mailsink import MailSink
from mtgateway.credential import token_hint
from mtgateway_console.config import ConsoleConfig, ConsoleFile, SmtpConfig
from mtgateway_console.console import AUTHORITY, create_console_app, start_console
from tests.e2e.consolekit import Browser, boxed
from tests.e2e.fixtures import WAIT_S, FakeClock
from tests.e2e.world import served_port

OWNER, PASSWORD = "owner@example.com", "owner password 123"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_console_metrics_count_sign_ins_mails_and_pending_approvals(
        tmp_path: Path) -> None:
    """A refused and an accepted sign-in, a new device's lookup (an approval pending, its
    code e-mailed): each is counted, and no owner or device appears in the scrape."""
    sink = MailSink()
    await sink.start()
    try:
        console = create_console_app(ConsoleFile(
            data_dir=str(tmp_path / "console"), console=ConsoleConfig(port=0,
                                                                      auth_failure_delay_s=0),
            smtp=SmtpConfig(host="127.0.0.1", port=sink.port, security="none",
                            from_address="gateway@example.net")), clock=FakeClock())
        async with served_port(await start_console(console, "127.0.0.1", 0)) as port:
            url = f"http://127.0.0.1:{port}"
            authority = console[AUTHORITY]
            await authority.owners.create(OWNER, PASSWORD)
            token = (await authority.tokens.issue(OWNER, 777, "Broker-Live")).token
            browser = Browser(url)
            try:
                assert (await browser.sign_in(OWNER, "wrong password!")).status == 401
                assert (await browser.sign_in(OWNER, PASSWORD)).status == 303
            finally:
                await browser.close()
            device = DeviceIdentity.generate()
            async with RemoteAuthority(url, device.private_key) as daemon:
                hint = token_hint(token)
                assert (await daemon.lookup(device.info, token_hint=hint,
                                            **boxed(device.device_id))).status == "pending"
            async with asyncio.timeout(WAIT_S):
                await sink.wait_for(1)
            await authority.close()  # waits for the code's e-mail to be handed over
            async with aiohttp.ClientSession() as session, session.get(
                    f"{url}/metrics", headers=_scrape_headers(tmp_path / "console")) as r:
                assert r.status == 200 and r.content_type == "text/plain"
                text = await r.text()
    finally:
        await sink.close()
    samples = _samples(text)
    assert samples[("mtgateway_console_activity_total", (("kind", "login"),))] == 1
    assert samples[("mtgateway_console_activity_total", (("kind", "login_failed"),))] == 1
    assert samples[("mtgateway_console_emails_total", (("outcome", "sent"),))] == 1
    assert samples[("mtgateway_console_emails_total", (("outcome", "failed"),))] == 0
    assert samples[("mtgateway_console_approvals_pending", ())] == 1
    assert samples[("mtgateway_console_database_connections", ())] == 1  # SQLite: one writer
    # nothing names the owner or the terminal (login 777, server Broker-Live): not a label
    # value, not anywhere in the text; and no creation-time series (as the daemon's scrape)
    assert OWNER not in text and "Broker-Live" not in text
    assert not [labels for _, labels in samples if any("777" in v for _, v in labels)]
    assert not [name for name, _ in samples if name.endswith("_created")]


def _scrape_headers(data_dir: Path) -> dict[str, str]:
    """What Prometheus sends: the scrape token the console keeps in its data directory."""
    token = (data_dir / "metrics.token").read_text("utf-8").strip()
    return {"Authorization": f"Bearer {token}"}


async def _status(url: str, path: str, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session, \
            session.get(url + path, headers=headers) as response:
        return response.status


async def test_behind_a_proxy_metrics_judge_the_client_the_proxy_names(tmp_path: Path) -> None:
    """Round-4 T4-F9: behind a TLS proxy on the same host every request comes from loopback,
    and `/metrics` served the internet. With a proxy configured (`allowed_hosts` naming it, or
    `behind_proxy`), the client is the rightmost entry of `X-Forwarded-For` / the last `for=`
    of `Forwarded`: a foreign one is 404; a request naming the proxy's public host without
    either header is 404 too; a direct local scrape is served. Without a proxy configured the
    headers are anyone's to write and are not read. (The rule of `metrics_open`; by default a
    scrape token is asked for from every peer.)"""
    for name, console_config, public in [
            ("named", ConsoleConfig(port=0, allowed_hosts=("console.example",),
                                    metrics_open=True), "console.example"),
            ("flag", ConsoleConfig(port=0, behind_proxy=True, metrics_open=True), None)]:
        app = create_console_app(ConsoleFile(data_dir=str(tmp_path / name),
                                             console=console_config), clock=FakeClock())
        async with served_port(await start_console(app, "127.0.0.1", 0)) as port:
            url = f"http://127.0.0.1:{port}"
            via = {"Host": public} if public else {}
            for headers, status in [
                    ({**via, "X-Forwarded-For": "203.0.113.7"}, 404),
                    ({**via, "X-Forwarded-For": "127.0.0.1, 203.0.113.7"}, 404),
                    ({**via, "Forwarded": 'for="[2001:db8::7]:4711";proto=https'}, 404),
                    ({**via, "Forwarded": "for=127.0.0.1, for=198.51.100.2"}, 404),
                    ({**via, "Forwarded": "for=unknown"}, 404),
                    ({**via, "X-Forwarded-For": "127.0.0.1", "Forwarded": "for=192.0.2.1"},
                     404),
                    ({**via, "X-Forwarded-For": "203.0.113.7, 127.0.0.1"}, 200),
                    ({**via, "Forwarded": 'for="[::1]:5000"'}, 200),
                    ({}, 200)]:  # a direct local scrape
                assert await _status(url, "/metrics", headers) == status, (name, headers)
            if public:  # through the proxy, and the proxy forgot the header
                assert await _status(url, "/metrics", {"Host": public}) == 404
    plain = create_console_app(ConsoleFile(data_dir=str(tmp_path / "plain"), console=
                                           ConsoleConfig(port=0, metrics_open=True)),
                               clock=FakeClock())
    async with served_port(await start_console(plain, "127.0.0.1", 0)) as port:
        url = f"http://127.0.0.1:{port}"
        assert await _status(url, "/metrics", {"X-Forwarded-For": "203.0.113.7"}) == 200


async def test_a_console_metrics_token_is_asked_for(tmp_path: Path) -> None:
    """Round-4 T4-F9: with `[console] metrics_token` set, `/metrics` answers only a request
    carrying it as a Bearer token (401 with `WWW-Authenticate` otherwise, from loopback too);
    `/health` and `/ready` (a load balancer's probes: the database answers, the schema
    version) stay open."""
    token = "m" * 8 + "-console-metrics-token"
    app = create_console_app(ConsoleFile(
        data_dir=str(tmp_path), console=ConsoleConfig(port=0, metrics_token=token)),
        clock=FakeClock())
    async with served_port(await start_console(app, "127.0.0.1", 0)) as port:
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/metrics") as r:
                assert r.status == 401
                assert r.headers["WWW-Authenticate"].startswith("Bearer")
                assert token not in await r.text()
        assert await _status(url, "/metrics", {"Authorization": "Bearer wrong-token"}) == 401
        assert await _status(url, "/metrics", {"Authorization": token}) == 401
        assert await _status(url, "/metrics", {"Authorization": f"Bearer {token}"}) == 200
        assert await _status(url, "/health", {}) == 200
        assert await _status(url, "/ready", {}) == 200


async def test_console_requests_are_counted_by_canonical_route_and_timed(
        tmp_path: Path) -> None:
    """Issue 35 item 6: every request is counted by its route's canonical path and status and
    timed by route; a path no route matched is `other`, and a reset link's token (a secret in
    the path) reaches no label; the database door's transactions are timed (run and wait)."""
    app = create_console_app(ConsoleFile(data_dir=str(tmp_path),
                                         console=ConsoleConfig(port=0)), clock=FakeClock())
    reset_token = secrets.token_urlsafe(32)
    stray = secrets.token_urlsafe(16)
    async with served_port(await start_console(app, "127.0.0.1", 0)) as port:
        url = f"http://127.0.0.1:{port}"
        await app[AUTHORITY].owners.create(OWNER, PASSWORD)  # a transaction, at least
        for _ in range(3):
            assert await _status(url, "/health", {}) == 200
        for _ in range(2):
            assert await _status(url, f"/nowhere/{stray}", {}) == 404
        reset_status = await _status(url, f"/reset/{reset_token}", {})
        async with aiohttp.ClientSession() as session, session.get(
                f"{url}/metrics", headers=_scrape_headers(tmp_path)) as r:
            assert r.status == 200
            text = await r.text()
    samples = _samples(text)
    requests = "mtgateway_console_requests_total"
    assert samples[(requests, (("route", "/health"), ("status", "200")))] == 3
    assert samples[(requests, (("route", "other"), ("status", "404")))] == 2
    assert samples[(requests, (("route", "/reset/{token}"), ("status", str(reset_status))))] == 1
    duration = "mtgateway_console_request_duration_seconds"
    assert samples[(f"{duration}_count", (("route", "/health"),))] == 3
    assert samples[(f"{duration}_bucket", (("le", "+Inf"), ("route", "other")))] == 2
    assert samples[(f"{duration}_sum", (("route", "/reset/{token}"),))] > 0
    # only routes the app declares are labels: the paths asked for are nowhere
    assert reset_token not in text and stray not in text and "/nowhere" not in text
    ran = samples[("mtgateway_console_database_transaction_seconds_count", ())]
    assert ran >= 1
    assert samples[("mtgateway_console_database_wait_seconds_count", ())] == ran
    assert samples[("mtgateway_console_database_transaction_seconds_sum", ())] > 0


async def test_by_default_console_metrics_ask_for_the_token_file_and_ready_names_no_one(
        tmp_path: Path) -> None:
    """Review round 5 (T4-F9 was opt-in): with no `[console] metrics_token`, `/metrics`
    answered every local user how often owners sign in, fail to, reset passwords or turn
    two-step sign-in on. Now the console makes `<data_dir>/metrics.token` (0600) and asks
    for it as a Bearer token, from loopback too; `metrics_open = true` is the old
    loopback-only way. `/ready` stays open: it says whether the database answers and its
    schema version, and nothing of an owner, token or account (held here with an owner, a
    token and a sign-in in the database)."""
    app = create_console_app(ConsoleFile(data_dir=str(tmp_path / "guarded"),
                                         console=ConsoleConfig(port=0)), clock=FakeClock())
    async with served_port(await start_console(app, "127.0.0.1", 0)) as port:
        url = f"http://127.0.0.1:{port}"
        await app[AUTHORITY].owners.create(OWNER, PASSWORD)
        issued = await app[AUTHORITY].tokens.issue(OWNER, 777, "Broker-Live")
        token = (tmp_path / "guarded" / "metrics.token").read_text("utf-8").strip()
        assert len(token) >= 32
        assert await _status(url, "/metrics", {}) == 401
        assert await _status(url, "/metrics", {"Authorization": f"Bearer {token}"}) == 200
        async with aiohttp.ClientSession() as session, session.get(url + "/ready") as r:
            ready = await r.text()
            assert r.status == 200 and set(json.loads(ready)) == {"status", "schema_version"}
        assert OWNER not in ready and issued.token_id not in ready and "777" not in ready
    opened = create_console_app(ConsoleFile(data_dir=str(tmp_path / "open"), console=
                                            ConsoleConfig(port=0, metrics_open=True)),
                                clock=FakeClock())
    async with served_port(await start_console(opened, "127.0.0.1", 0)) as port:
        assert await _status(f"http://127.0.0.1:{port}", "/metrics", {}) == 200
    assert not (tmp_path / "open" / "metrics.token").exists()
