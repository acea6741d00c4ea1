"""The console names only its own address: in every link it mails, and in the hello it signs.

Review round 5: ``POST /forgot`` built the reset link from the request's ``Host``, which the
Host rule admits for every loopback port, so a local user could have the owner mailed a
genuine reset link pointing at the user's own port (T5-F2); and ``POST /v1/hello`` signed
whatever loopback ``Host`` came, so a relay on the CLI's configured address could pass the
hello to a console on another port and receive the owner's password (T5-F5).

The real console with its real SMTP sink (``consolekit``); the relay is a TCP forwarder on
loopback that records what the client sends through it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from email.message import Message
from pathlib import Path

import aiohttp
import pytest

from gateway.auth.owner import OwnerConsole
from mtgateway_base.wire.errors import ConsoleUnproven
from tests.e2e.consolekit import (
    OWNER,
    PASSWORD,
    Browser,
    Console,
    issue_token,
    pending_lookup,
    running_console,
    signed_in,
)

pytestmark = pytest.mark.network_edge

URL = re.compile(r"https?://[^\s)\"']+")


def _links(messages: list[Message]) -> list[str]:
    found = []
    for message in messages:
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        # (a sentence's full stop or comma after a link is not part of it, as mail
        # clients read it)
        found += [link.rstrip(".,;:") for link in URL.findall(payload.decode())]
    return found


async def _forgot_naming(console: Console, host: str) -> None:
    """``GET /forgot`` then ``POST /forgot`` for the owner, both with ``Host: host``."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(console.url + "/forgot", headers={"Host": host}) as r:
            csrf = re.search(r'name="csrf" value="([^"]+)"', await r.text())
        assert csrf is not None
        async with http.post(console.url + "/forgot", headers={"Host": host},
                             data={"csrf": csrf.group(1), "email": OWNER}) as r:
            assert r.status == 200


async def _every_mail(console: Console, browser: Browser, host: str) -> list[Message]:
    """The mails a console sends an owner, each asked for with ``Host: host`` where a request
    asks: a reset link, the approval code, a security notice, a test alert."""
    await _forgot_naming(console, host)
    await console.sink.wait_for(1)
    token = await issue_token(console)
    await pending_lookup(console, token["token"])  # the approval code
    await signed_in(browser)
    await browser.submit("/settings", "/settings/password", {
        "owner_password": PASSWORD, "new_password": PASSWORD + "!",
        "new_password2": PASSWORD + "!"})  # the "password changed" notice
    form = [("owner_password", PASSWORD + "!"), ("email", "on"), ("offline_minutes", "10"),
            ("margin_pct", "150")]
    assert (await browser.submit("/settings", "/settings/alerts", form)).status == 303
    assert (await browser.submit("/settings", "/settings/alerts/test", {})).status == 303
    return await console.sink.wait_for(4)


async def test_every_mailed_link_names_the_console_not_the_requests_host(
        console: Console, browser: Browser) -> None:
    """T5-F2: a ``/forgot`` whose Host names another loopback port (the attacker's) mails a
    link to the console's own address; so does every other mail."""
    elsewhere = "127.0.0.1:9"
    mails = await _every_mail(console, browser, elsewhere)
    subjects = " | ".join(str(m["Subject"]) for m in mails)
    assert "reset your console password" in subjects and "approve the device" in subjects
    assert "password was changed" in subjects and "test alert" in subjects
    links = _links(mails)
    assert any("/reset/" in link for link in links), links
    assert all(link == console.url or link.startswith(console.url + "/")
               for link in links), links
    assert not any(elsewhere in link for link in links)


async def test_with_a_public_url_every_link_names_it(tmp_path: Path) -> None:
    """``[console] public_url`` (a proxy's address) is what links name, whatever the Host.
    (Plain HTTP: with ``https://`` the cookies are Secure, and this test's client, talking
    plain HTTP to the console itself, would not send them back.)"""
    public = "http://console.example.com:8080"
    async with running_console(tmp_path, public_url=public) as console:
        browser = Browser(console.url)
        try:
            mails = await _every_mail(console, browser, "127.0.0.1:9")
        finally:
            await browser.close()
        links = _links(mails)
        assert links and all(link == public or link.startswith(public + "/")
                             for link in links), links


@pytest.mark.parametrize("public", ["https://console.example.com", ""])
async def test_a_public_https_address_makes_the_cookies_secure_and_says_hsts(
        tmp_path: Path, public: str) -> None:
    """Round 7's note: behind a TLS proxy whose last hop is plain HTTP, the session cookie
    was not ``Secure`` (it followed the last hop) and no page said HSTS. With an ``https://``
    public address every cookie is ``Secure`` and every page says
    ``Strict-Transport-Security``; without one (a loopback console over plain HTTP) neither,
    or the browser could not send the cookie back."""
    async with running_console(tmp_path, public_url=public) as console:
        # no cookie jar: a jar sends no Secure cookie back over plain HTTP (a browser
        # behind the proxy sends it over HTTPS to the proxy)
        async with console.session.get(console.url + "/login") as form:
            page = await form.text()
            pre = form.cookies["mtgw_login_csrf"].value
            cookies, hsts = form.headers.getall("Set-Cookie"), form.headers.get(
                "Strict-Transport-Security")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        async with console.session.post(console.url + "/login", allow_redirects=False,
                                        headers={"Cookie": f"mtgw_login_csrf={pre}"},
                                        data={"csrf": csrf.group(1), "email": OWNER,
                                              "password": PASSWORD}) as signed:
            assert signed.status == 303
            cookies += signed.headers.getall("Set-Cookie")
        assert any(c.startswith("mtgw_session=") for c in cookies)
        assert all(("; Secure" in c) == bool(public) for c in cookies), cookies
        assert hsts == ("max-age=31536000" if public else None)


@asynccontextmanager
async def relay(to_port: int) -> AsyncIterator[tuple[str, bytearray]]:
    """A TCP forwarder on a free loopback port to ``to_port``; what clients sent through it."""
    sent = bytearray()
    tasks: set[asyncio.Future[None]] = set()
    writers: list[asyncio.StreamWriter] = []

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   record: bytearray | None) -> None:
        with suppress(ConnectionError):
            while data := await reader.read(65536):
                if record is not None:
                    record.extend(data)
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", to_port)
        writers.extend((writer, up_writer))
        both = [asyncio.ensure_future(pump(reader, up_writer, sent)),
                asyncio.ensure_future(pump(up_reader, writer, None))]
        tasks.update(both)
        await asyncio.gather(*both, return_exceptions=True)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", sent
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()
        await server.wait_closed()


async def test_the_hello_is_signed_only_for_the_consoles_own_address(console: Console) -> None:
    """T5-F5: a relay on another loopback port (the address a CLI is configured with) passes
    the hello through to the console; the console refuses to sign for the relay's address,
    so the CLI sends no password through it. Addressed directly, it proves itself."""
    async with relay(int(console.url.rpartition(":")[2])) as (url, sent):
        cli = OwnerConsole(url, console.pinned())
        with pytest.raises(ConsoleUnproven, match="nothing was sent"):
            await cli.list_tokens(OWNER, PASSWORD)
        assert b"POST /v1/hello" in sent
        assert b"Authorization" not in bytes(sent) and PASSWORD.encode() not in bytes(sent)
    port = console.url.rpartition(":")[2]
    # another port; and the console's own written with a leading zero (round 6 and 7's note:
    # it was signed, though no client of this console names it so)
    for host in ("127.0.0.1:9", f"127.0.0.1:0{port}", f"127.0.0.1:+{port}"):
        async with console.session.post(console.url + "/v1/hello", json={"nonce": "0" * 64},
                                        headers={"Host": host}) as response:
            assert response.status == 421, host
    assert await OwnerConsole(console.url, console.pinned()).list_tokens(OWNER, PASSWORD) == []
