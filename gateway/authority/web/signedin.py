"""The owner's signed-in sessions (``/settings/sessions``): every browser signed in as them,
with the browser it said it was, the address it signed in from and when it was last used;
"Sign out" for one, "Sign out everywhere" for all.

A session the owner does not know means someone has their password (and code, with two-step
sign-in on): ending it here takes effect on every console instance at once (sessions live in
the database). Ending sessions only takes access away, so it is one click, as revoking is;
signing out everywhere is confirmed first and ends half-done sign-ins too, then this browser's
session: the owner signs in again. Each end is an activity entry.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Final

from aiohttp import web

from ..service import Authority
from .pages import Pages
from .security import SESSION_COOKIE, clear_cookie
from .sessions import Session

__all__ = ["SessionPages", "mount_session_pages"]

log = logging.getLogger("gateway.authority.web")

#: A session's key as the page names it (the SHA-256 of its cookie: no secret).
_KEY: Final = re.compile(r"^[0-9a-f]{64}$")


class SessionPages:
    """The sessions page and its two actions (over the console's :class:`Pages`)."""

    def __init__(self, pages: Pages, authority: Callable[[], Authority]) -> None:
        self._pages = pages
        self._authority = authority

    async def list(self, request: web.Request) -> web.StreamResponse:
        """``GET /settings/sessions``."""
        got = await self._pages._signed_in(request, post=False)  # noqa: SLF001
        assert not isinstance(got, web.Response)  # noqa: S101 - only POSTs answer 403
        session = got[0]
        store = self._pages.sessions
        return await self._pages._page(  # noqa: SLF001
            "sessions.html", session, "settings", sessions=await store.of_owner(
                session.owner_email), current=session.key,
            idle_min=int(store.idle_s // 60), absolute_h=int(store.absolute_s // 3600))

    def _signed_out(self, request: web.Request) -> web.HTTPSeeOther:
        """This browser's session ended: to the sign-in page, the cookie cleared."""
        redirect = web.HTTPSeeOther("/login")
        clear_cookie(request, redirect, SESSION_COOKIE)
        return redirect

    async def end(self, request: web.Request) -> web.StreamResponse:
        """``POST /settings/sessions/{key}/end``: sign one session out (this one: sign out)."""
        got = await self._pages._signed_in(request, post=True)  # noqa: SLF001
        if isinstance(got, web.Response):
            return got
        session, _ = got
        key = request.match_info["key"]
        if not _KEY.match(key):
            raise web.HTTPNotFound()
        ended = [s for s in await self._pages.sessions.of_owner(session.owner_email)
                 if s.key == key]
        if not ended or not await self._pages.sessions.end_of_owner(session.owner_email, key):
            raise await self._pages._done(  # noqa: SLF001
                session, "That session had already ended.", "/settings/sessions")
        await self._authority().owners.note_sessions_ended(
            session.owner_email, f"one session: {_described(ended[0])}")
        if key == session.key:
            raise self._signed_out(request)
        raise await self._pages._done(  # noqa: SLF001
            session, f"Signed out: {_described(ended[0])}.", "/settings/sessions")

    async def end_all(self, request: web.Request) -> web.StreamResponse:
        """``POST /settings/sessions/end-all`` (after its confirmation page): every session
        and half-done sign-in of the owner ends, this one too."""
        got = await self._pages._signed_in(request, post=True)  # noqa: SLF001
        if isinstance(got, web.Response):
            return got
        session, form = got
        asked = await self._pages._confirm(  # noqa: SLF001
            session, form, "Sign out everywhere?",
            "Every browser signed in as you is signed out, this one too, and sign-ins waiting "
            "for a code end. You sign in again here. If you do not know a session, change your "
            "password afterwards: whoever opened it knew it.", "Sign out everywhere",
            "/settings/sessions")
        if asked is not None:
            return asked
        ended = await self._pages.sessions.end_of_owner(session.owner_email)
        await self._authority().owners.note_sessions_ended(
            session.owner_email, f"every session ({ended}), signed out everywhere")
        log.info("console: an owner signed out everywhere; %d session(s) ended", ended)
        raise self._signed_out(request)


def _described(session: Session) -> str:
    """A session as the notice and the activity name it: its browser and address."""
    agent = session.user_agent[:80] or "a browser that did not say which"
    return f"{agent} from {session.address or 'an unknown address'}"


def mount_session_pages(app: web.Application, pages: Pages,
                        authority: Callable[[], Authority]) -> SessionPages:
    """Add the sessions page's routes to ``app``."""
    handlers = SessionPages(pages, authority)
    app.router.add_get("/settings/sessions", handlers.list)
    app.router.add_post("/settings/sessions/end-all", handlers.end_all)
    app.router.add_post("/settings/sessions/{key}/end", handlers.end)
    return handlers
