"""The owner's signed-in sessions (``/settings/sessions``): everything that speaks for them.
Every browser signed in as them, with the browser it said it was, the address it signed in
from and when it was last used; every sign-in of the console API (a bot or script holding a
bearer token), with what it said it was, from where and when last used; and the take-back
links still live. "Sign out" ends one browser or one API sign-in; "Sign out everywhere" ends
all of them (``service/credentials.py``).

A session the owner does not know means someone has their password (and code, with two-step
sign-in on): ending it here takes effect on every console instance at once (it lives in the
database). Ending only takes access away, so it is one click, as revoking is; signing out
everywhere is confirmed first and ends half-done sign-ins too, then this browser's session:
the owner signs in again. Each end is an activity entry. A take-back link is listed, never
ended here: it is the owner's way back from someone who holds the password, so a session
cannot void it.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from aiohttp import web

from ..apitokens import LIFETIME_S, MAX_SESSION_S
from ..service.credentials import described
from .kit import Page, signed_in
from .security import SESSION_COOKIE, clear_cookie
from .sessions import Session
from .views import agent_name

__all__ = ["routes"]

log = logging.getLogger(__name__)

#: A session's key as the page names it (the SHA-256 of its cookie: no secret).
_KEY: Final = re.compile(r"^[0-9a-f]{64}$")
#: An API sign-in's id as the page names it (its tokens carry it: the signature is the
#: secret, not the id).
_API_ID: Final = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

routes = web.RouteTableDef()


def _described(session: Session) -> str:
    """A session as the notice and the activity name it: its browser and address."""
    agent = agent_name(session.user_agent) if session.user_agent \
        else "a browser that did not say which"
    return f"{agent} from {session.address or 'an unknown address'}"


def _signed_out(page: Page, after: str = "") -> web.HTTPSeeOther:
    """This browser's session ended: to the sign-in page (saying ``after``'s notice, one of
    the kit's ``SIGNED_OUT``), the cookie cleared."""
    redirect = web.HTTPSeeOther("/login" + (f"?after={after}" if after else ""))
    clear_cookie(page.request, redirect, SESSION_COOKIE)
    return redirect


@routes.get("/settings/sessions")
@signed_in
async def sessions(page: Page) -> web.StreamResponse:
    """The owner's live sessions, this one marked."""
    store, authority = page.kit.sessions, page.authority
    return await page.show("sessions.html", "settings",
                           sessions=await store.of_owner(page.owner), current=page.session.key,
                           api_sessions=await authority.credentials.api_sign_ins(page.owner),
                           take_backs=await authority.recovery.live_of(page.owner),
                           idle_min=int(store.idle_s // 60),
                           absolute_h=int(store.absolute_s // 3600),
                           api_days=MAX_SESSION_S // 86400, api_hours=LIFETIME_S // 3600)


@routes.post("/settings/sessions/end-all")
@signed_in
async def end_all(page: Page) -> web.StreamResponse:
    """Every session, half-done sign-in and API sign-in of the owner ends, this session too
    (after its confirmation page)."""
    asked = await page.confirm(
        "Sign out everywhere?",
        "Every browser signed in as you is signed out, this one too, sign-ins waiting for a "
        "code end, and every console API sign-in ends (its bots and scripts sign in again). "
        "You sign in again here. If you do not know a session, change your password "
        "afterwards: whoever opened it knew it.", "Sign out everywhere",
        "/settings/sessions")
    if asked is not None:
        return asked
    ended = await page.authority.credentials.end_all(page.owner)
    page.kit.sessions.ended_with_owner(page.owner)
    log.info("console: an owner signed out everywhere; %d session(s) and %d API sign-in(s) "
             "ended", ended.sessions, ended.api_sessions)
    raise _signed_out(page, "everywhere")


@routes.post("/settings/sessions/{key}/end")
@signed_in
async def end(page: Page) -> web.StreamResponse:
    """Sign one session out (this one: sign out)."""
    key = page.request.match_info["key"]
    if not _KEY.match(key):
        raise web.HTTPNotFound()
    store = page.kit.sessions
    ended = [s for s in await store.of_owner(page.owner) if s.key == key]
    if not ended or not await store.end_of_owner(page.owner, key):
        raise await page.done("That session had already ended.", "/settings/sessions")
    await page.authority.owners.note_sessions_ended(page.owner,
                                                    f"one session: {_described(ended[0])}")
    if key == page.session.key:
        raise _signed_out(page)
    raise await page.done(f"Signed out: {_described(ended[0])}.", "/settings/sessions")


@routes.post("/settings/sessions/api/{session_id}/end")
@signed_in
async def end_api(page: Page) -> web.StreamResponse:
    """End one sign-in of the console API: its tokens are refused at once."""
    session_id = page.request.match_info["session_id"]
    ended = (await page.authority.credentials.end_api(page.owner, session_id)
             if _API_ID.match(session_id) else None)
    if ended is None:
        raise await page.done("That API sign-in had already ended.", "/settings/sessions")
    raise await page.done(f"Signed out: the API sign-in of {described(ended)}.",
                          "/settings/sessions")
