"""A browser-like client for the console's pages: a cookie jar, forms posted with their CSRF
token read from the page, over real HTTP on loopback (``test_console_pages.py``); and
:func:`boxed`, the fresh nonce and box key a device's record request carries."""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gateway.authority.boxes import BoxOpener

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def boxed(device_id: str) -> dict[str, Any]:
    """A fresh ``nonce`` and X25519 ``box_key`` (raw bytes) for one lookup or refresh of
    ``device_id``, as keyword arguments of ``RemoteAuthority.lookup`` and ``refresh`` (the
    console requires both; the daemon's cache makes the same pair per request)."""
    nonce = secrets.token_hex(16)
    return {"nonce": nonce, "box_key": BoxOpener(device_id, nonce).public_key}


@dataclass
class Page:
    """One answer: status, headers, the HTML text."""

    status: int
    headers: dict[str, str]
    text: str
    set_cookies: list[str] = field(default_factory=list)

    def csrf(self) -> str:
        match = CSRF_RE.search(self.text)
        assert match is not None, "no CSRF token on the page"
        return html.unescape(match.group(1))


class Browser:
    """An aiohttp session that keeps cookies (also for 127.0.0.1) and never follows
    redirects by itself, so each hop can be checked."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def close(self) -> None:
        await self.session.close()

    async def _answer(self, response: aiohttp.ClientResponse) -> Page:
        return Page(response.status, dict(response.headers), await response.text(),
                    response.headers.getall("Set-Cookie", []))

    async def get(self, path: str) -> Page:
        async with self.session.get(self.base_url + path, allow_redirects=False) as response:
            return await self._answer(response)

    async def post(self, path: str, data: dict[str, str] | list[tuple[str, str]]
                   ) -> Page:
        async with self.session.post(self.base_url + path, data=data,
                                     allow_redirects=False) as response:
            return await self._answer(response)

    async def sign_in(self, email: str, password: str) -> Page:
        form = await self.get("/login")
        return await self.post("/login", {"csrf": form.csrf(), "email": email,
                                          "password": password})

    async def submit(self, page_path: str, action: str,
                     data: dict[str, str] | list[tuple[str, str]]) -> Page:
        """GET ``page_path``, then POST ``data`` to ``action`` with the page's CSRF token."""
        page = await self.get(page_path)
        items = list(data.items()) if isinstance(data, dict) else list(data)
        return await self.post(action, [("csrf", page.csrf()), *items])
