"""The page kit: what every console page room stands on, public and written once.

A page room (``signin.py``, ``tokens.py``, ``devices.py``...) is a module with a ``routes``
table of handlers, as a JSON route room is (``routes/tokens.py``). A room imports this kit and
the pure views below it, never another room. What the kit gives them:

- :func:`signed_in`, the prologue of a signed-in page: the session is looked up by its cookie
  (the store ends it after ``idle_s`` without a request or ``absolute_s`` after sign-in,
  ``sessions.py``), a browser without one is sent to ``/login``, a POST's form is read and its
  CSRF token checked against the session's (403 and nothing changed when it does not match),
  and the handler is handed a :class:`Page`: the owner, the session, the form.
  :func:`signed_in_part` does the same for the part of a page a script fetches again (401
  instead of a redirect: the script stops rather than draw the sign-in form into the page).
- :func:`before_sign_in`, for the pages a browser sees with no session (sign-in, its code
  step, password reset, the undo link): a POST's form carries a double-submit token of its
  own (``security.py``), checked before the handler is handed a :class:`Visit`.
- :class:`Page`: render a page with the notice the last action left (:meth:`Page.show`),
  answer an action with a redirect and its notice (:meth:`Page.done`: a reload never repeats
  it), ask before a destructive action (:meth:`Page.confirm`: a plain form, so it works
  without JavaScript), and ask for the owner's password again (:meth:`Page.reauth`).
- :class:`PageKit`: the machinery behind both, one per application under :data:`PAGES`:
  the templates (Jinja2, autoescaping on: every owner-supplied string is escaped where it is
  written), the sessions, the error page.

Who is calling and the form are the console door's (``door/``): the decorators enter by it
(the page session, the form under the console's size limit), and every refusal of a page is
answered by :func:`render`, the error page, which the pages register with their routes.

Why the password is asked again: cookies are not isolated by port (RFC 6265 §8.5), so the
session cookie reaches any local process on 127.0.0.1 the owner's browser is sent to. What
mints or unlocks access, or loosens a limit, therefore asks for the owner's password in the
same form (:data:`REAUTH_FIELD`). It is checked by ``OwnerSignIn.password``, the one rule every
door checks credentials by, so a confirmation goes through the sign-in throttle and adds no
second allowance of guesses.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Final, cast

import jinja2
from aiohttp import web

from mtgateway_base.throttle import RateLimited

from ..database import DatabaseUnavailable
from ..door import DOOR, Caller, Posted, refusal_headers, retry_after
from ..errors import Refusal
from ..passwords import MIN_PASSWORD_LENGTH
from ..service import Authority, PasswordNeeded
from ..service.signin import OwnerSignIn
from .books import signed, utc_clock
from .chart import BOX, time_texts
from .security import (
    PRE_COOKIE,
    SESSION_COOKIE,
    Handler,
    add_page_headers,
    clear_cookie,
    csrf_ok,
    set_cookie,
)
from .sessions import Session, SessionStore
from .views import agent_name, ago, when

__all__ = ["PAGES", "REAUTH_FIELD", "SIGNED_OUT", "STALE_FORM", "STALE_SIGN_IN_FORM",
           "Handler", "Page", "PageKit", "Visit", "before_sign_in", "refused", "render",
           "signed_in", "signed_in_part"]

#: The form field that carries the owner's password for an action that asks for it again.
REAUTH_FIELD: Final = "owner_password"
#: What a form whose CSRF token does not match is answered (403).
STALE_FORM: Final = ("The form's security token is missing or out of date. Reload the page "
                     "and try again.")
STALE_SIGN_IN_FORM: Final = ("The sign-in form's security token is missing or out of date. "
                             "Reload the page and try again.")
#: The notices the sign-in page shows after ``?after=``: a browser that was signed out by
#: an action lands there without a session to carry the notice, so the address names it.
#: A browser whose session another browser's action ended is sent there too, by the reason
#: the action noted (``signins.end_credentials``).
SIGNED_OUT: Final = {
    "everywhere": "Signed out everywhere: every browser signed in as you, this one too, and "
                  "every console API sign-in has ended. Sign in again to continue.",
    "two_step_on": "You were signed out: two-step sign-in was turned on for your account "
                   "from another browser, which signs every other one out. Sign in again "
                   "with your password and a code from your authenticator app.",
    "two_step_off": "You were signed out: two-step sign-in was turned off for your account "
                    "from another browser, which signs every other one out. Sign in again "
                    "with your password.",
    "two_step_reset": "You were signed out: the console's operator turned your two-step "
                      "sign-in off (you had lost the authenticator). Sign in with your "
                      "password; check your e-mail for the notice.",
    "password_changed": "You were signed out: your console password was changed from another "
                        "browser. Sign in with the new password.",
    "taken_back": "You were signed out: your account was taken back with the link sent "
                  "when two-step sign-in was turned on. Sign in with the new password.",
    "password_reset": "You were signed out: your console password was reset with a link "
                      "sent by e-mail. Sign in with the new password.",
    "password_reset_by_operator": "You were signed out: the console's operator set your "
                                  "password aside and ended every sign-in. Set a new "
                                  "password with the link mailed to you.",
}
#: Random bytes of a page's double-submit token (before sign-in: no session holds one).
_PRE_TOKEN_BYTES: Final = 32


class PageKit:
    """The console pages' shared machinery, over the authority (looked up per request: it
    opens on start-up).

    Args:
        authority: returns the running authority.
        sign_in: the one credential rule every door shares (``service/signin.py``).
        sessions: the sign-in sessions.
        env: the Jinja2 environment of ``templates/``.
        clock: epoch seconds (what "last seen" and "silent" are judged by).
        token: random URL-safe text of that many bytes (the double-submit tokens).
    """

    def __init__(self, authority: Callable[[], Authority], sign_in: OwnerSignIn,
                 sessions: SessionStore, env: jinja2.Environment, clock: Callable[[], float],
                 token: Callable[[int], str]) -> None:
        self.authority = authority
        self.sign_in = sign_in
        self.sessions = sessions
        self.clock = clock
        self.token = token
        self._env = env
        env.filters["when"] = when
        env.filters["ago"] = lambda epoch: ago(epoch, self.clock())
        env.filters["utc_clock"] = utc_clock
        env.filters["time_texts"] = time_texts
        env.filters["agent"] = agent_name
        env.filters["signed"] = signed
        env.globals["box"] = BOX
        env.globals["min_password_length"] = MIN_PASSWORD_LENGTH

    def render(self, template: str, status: int = 200, **context: Any) -> web.Response:
        """``template`` rendered with ``context`` as a UTF-8 HTML answer (a page's part, or
        a page whose context is already whole)."""
        html = self._env.get_template(template).render(**context)
        return web.Response(text=html, status=status, content_type="text/html",
                            charset="utf-8")

    async def session(self, request: web.Request) -> Session | None:
        """The live session the request's cookie names, or ``None`` (the door's session
        step: a connection that carries one is a signed-in owner's, evicted last under
        pressure)."""
        return _session(await request.app[DOOR].caller(request, "session"))

    def forbidden(self, why: str) -> web.Response:
        """403 with ``why``: a form whose CSRF token did not match (nothing was changed)."""
        return self.render("error.html", status=403, title="Forbidden", session=None,
                           message=why)

    def pre_page(self, request: web.Request, template: str, status: int = 200,
                 **context: Any) -> web.Response:
        """A page before sign-in, with a new double-submit token in its form and cookie."""
        pre = self.token(_PRE_TOKEN_BYTES)
        response = self.render(template, status=status, session=None, csrf=pre, **context)
        set_cookie(request, response, PRE_COOKIE, pre, max_age=3600)
        return response

    def sign_in_page(self, request: web.Request, *, email: str = "", error: str = "",
                     status: int = 200, notice: str = "") -> web.Response:
        """The sign-in form, with ``email`` filled in, an ``error`` or a ``notice``: where
        every way of getting in (or of being sent back to the start of it) lands. Served at
        another address (a spent reset or take-back link), the page asks the browser to show
        ``/login`` instead (``static/console.js``), so the link's token does not stay in the
        address bar and the history."""
        return self.pre_page(request, "login.html", status=status, email=email, error=error,
                             login_notice=notice or SIGNED_OUT.get(
                                 request.query.get("after", ""), ""),
                             address="/login" if request.path != "/login" else "")

    async def error_page(self, request: web.Request, status: int) -> web.Response:
        """A friendly page for 404 and other errors outside the JSON API (503: the database
        does not answer, and 429: too many at once, so the page asks nothing of it)."""
        session = None
        if status not in (429, 503):
            with suppress(DatabaseUnavailable, Refusal):  # a refusal's page asks nothing more
                session = await self.session(request)
        title, message = (("Page not found", "There is no page at this address.")
                          if status == 404 else
                          ("Not allowed", "This method is not allowed here.")
                          if status == 405 else
                          ("Too much to read", "The form was too large for the console to "
                           "read; nothing was changed.")
                          if status == 413 else
                          ("Try again shortly", "Too many at once from this browser or "
                           "address; try again in a moment.")
                          if status == 429 else
                          ("Try again shortly", "The console's database is not answering "
                           "right now; nothing was changed. Try again in a moment.")
                          if status == 503 else
                          ("Something went wrong", "The console could not answer this."))
        response = self.render("error.html", status=status, title=title, message=message,
                               session=session, csrf=session.csrf if session else "",
                               owner=session.owner_email if session else "", active="",
                               notice="")
        add_page_headers(response)
        return response


def refused(needed: PasswordNeeded) -> str:
    """Why the password a form carried did not confirm a change the service asked it for
    (``service/consent.py``), in the words :meth:`Page.reauth` uses."""
    if needed.retry_after_s is not None:
        return f"Too many failed sign-ins. Wait {retry_after(needed.retry_after_s)} s."
    return "Wrong password." if needed.wrong else "Enter your console password to confirm."


@dataclass(frozen=True, slots=True)
class Page:
    """A signed-in request, as :func:`signed_in` hands it to a handler."""

    request: web.Request
    kit: PageKit
    session: Session
    #: Who is calling, as the door found it (the session's owner).
    caller: Caller
    #: The POSTed form, each field's first value (``{}`` for a GET); the CSRF token matched.
    form: dict[str, Any]
    #: The POSTed form whole (None for a GET): :meth:`choices`.
    posted: Posted | None = None

    def choices(self, name: str) -> list[str]:
        """Every text value the form gave ``name`` (a field of several choices)."""
        if self.posted is None:
            return []
        return [v for v in self.posted.getall(name, []) if isinstance(v, str)]

    @property
    def owner(self) -> str:
        """The signed-in owner's e-mail."""
        return self.session.owner_email

    @property
    def authority(self) -> Authority:
        """The running authority."""
        return self.kit.authority()

    async def show(self, template: str, active: str, status: int = 200, *, notice: str = "",
                   **context: Any) -> web.Response:
        """A page of the signed-in console: ``active`` names its menu entry; the notice the
        last action left is shown once (``notice`` instead: this answer's own)."""
        left = self.session.notice
        if left:
            await self.kit.sessions.set_notice(self.session, "")
        return self.kit.render(template, status=status, session=self.session,
                               csrf=self.session.csrf, active=active, owner=self.owner,
                               notice=notice or left, **context)

    async def done(self, notice: str, location: str) -> web.HTTPSeeOther:
        """The redirect after an action (``raise await page.done(...)``), with its notice for
        the next page (any instance may serve it)."""
        await self.kit.sessions.set_notice(self.session, notice)
        return web.HTTPSeeOther(location)

    async def confirm(self, title: str, message: str, button: str, back: str,
                      option: dict[str, str] | None = None) -> web.Response | None:
        """The confirmation page of a destructive action, or ``None`` when the form confirms
        it (``confirm=yes``); ``option``: a checkbox offered with it (``name``, ``value``,
        ``label``)."""
        if self.form.get("confirm") == "yes":
            return None
        return await self.show("confirm.html", "", title=title, message=message,
                               button=button, back=back, option=option)

    async def reauth(self) -> str | None:
        """``None`` when the form carries the owner's password (:data:`REAUTH_FIELD`), else
        what to tell them. Checked by ``OwnerSignIn.password`` (the sign-in throttle: a
        lockout is told, not waited out); a wrong one is an activity entry."""
        password = self.form.get(REAUTH_FIELD)
        if not isinstance(password, str) or not password:
            return "Enter your console password to confirm."
        try:
            right = await self.kit.sign_in.password(self.owner, password)
        except RateLimited as exc:
            return f"Too many failed sign-ins. Wait {retry_after(exc.retry_after_s)} s."
        if not right:
            await self.authority.owners.note_sign_in(self.owner, False,
                                                     "wrong password when confirming an action")
            return "Wrong password."
        return None


@dataclass(frozen=True, slots=True)
class Visit:
    """A request before sign-in, as :func:`before_sign_in` hands it to a handler."""

    request: web.Request
    kit: PageKit
    #: The POSTed form (``{}`` for a GET); its double-submit token matched.
    form: dict[str, Any]

    @property
    def authority(self) -> Authority:
        """The running authority."""
        return self.kit.authority()

    def show(self, template: str, status: int = 200, **context: Any) -> web.Response:
        """A page before sign-in (its form carries a new double-submit token)."""
        return self.kit.pre_page(self.request, template, status, **context)

    def sign_in_page(self, *, email: str = "", error: str = "", status: int = 200,
                     notice: str = "") -> web.Response:
        """The sign-in form (:meth:`PageKit.sign_in_page`)."""
        return self.kit.sign_in_page(self.request, email=email, error=error, status=status,
                                     notice=notice)


#: The kit, set by ``mount_pages`` (tests reach its sessions).
PAGES: Final = web.AppKey("pages", PageKit)


async def render(request: web.Request, refusal: Refusal) -> web.StreamResponse:
    """``refusal`` as the pages answer it: the error page (a person's page gets a page),
    with ``Retry-After`` on a 429 or 503 that says how long."""
    response = await request.app[PAGES].error_page(request, refusal.status)
    response.headers.update(refusal_headers(refusal, None))
    return response


def _first_values(posted: Posted | None) -> dict[str, Any]:
    """Each field's first value (``{}`` without a form)."""
    return {} if posted is None else {name: posted.get(name) for name in posted}


def _session(caller: Caller) -> Session | None:
    """The page session the door found (the kit's own store's, which the door asked)."""
    return cast(Session | None, caller.session)


def signed_in(handler: Callable[[Page], Awaitable[web.StreamResponse]]) -> Handler:
    """A signed-in page's handler: sign in first (a redirect), a POST's CSRF token checked
    (403 otherwise, for a missing session too: the form is not acted on)."""

    @functools.wraps(handler)
    async def page(request: web.Request) -> web.StreamResponse:
        kit = request.app[PAGES]
        entry = await request.app[DOOR].enter(request, "session",
                                              "form" if request.method == "POST" else None)
        session, posted = _session(entry.caller), entry.body
        form = _first_values(posted)
        if request.method == "POST":
            if session is None or not csrf_ok(session.csrf, form.get("csrf")):
                return kit.forbidden(STALE_FORM)
        if session is None:
            raise await _to_sign_in(request, kit)
        return await handler(Page(request, kit, session, entry.caller, form, posted))

    return page


async def _to_sign_in(request: web.Request, kit: PageKit) -> web.HTTPSeeOther:
    """To the sign-in page; a browser whose session another browser's action ended is told
    which (``?after=``, one of :data:`SIGNED_OUT`), its dead cookie cleared."""
    cookie = request.cookies.get(SESSION_COOKIE)
    why = await kit.sessions.why_ended(cookie) if cookie else None
    redirect = web.HTTPSeeOther("/login" + (f"?after={why}" if why in SIGNED_OUT else ""))
    if cookie:
        clear_cookie(request, redirect, SESSION_COOKIE)
    return redirect


def signed_in_part(handler: Callable[[Page], Awaitable[web.StreamResponse]]) -> Handler:
    """The handler of a part of a page a script fetches (a GET): 401 ``signed out`` without
    a session, so the script stops rather than draw a sign-in form into the page."""

    @functools.wraps(handler)
    async def part(request: web.Request) -> web.StreamResponse:
        kit = request.app[PAGES]
        caller = await request.app[DOOR].caller(request, "session")
        session = _session(caller)
        if session is None:
            return web.Response(status=401, text="signed out")
        return await handler(Page(request, kit, session, caller, {}))

    return part


def before_sign_in(stale: str = STALE_FORM
                   ) -> Callable[[Callable[[Visit], Awaitable[web.StreamResponse]]], Handler]:
    """A page before sign-in: a POST's double-submit token checked against its cookie
    (403 with ``stale`` otherwise, nothing done)."""

    def wrap(handler: Callable[[Visit], Awaitable[web.StreamResponse]]) -> Handler:
        @functools.wraps(handler)
        async def visit(request: web.Request) -> web.StreamResponse:
            kit = request.app[PAGES]
            form: dict[str, Any] = {}
            if request.method == "POST":
                form = _first_values((await request.app[DOOR].enter(request, "none",
                                                                    "form")).body)
                if not csrf_ok(request.cookies.get(PRE_COOKIE), form.get("csrf")):
                    return kit.forbidden(stale)
            return await handler(Visit(request, kit, form))

        return visit

    return wrap
