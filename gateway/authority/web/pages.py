"""The console's pages: sign-in, dashboard, tokens, devices, accounts, activity.

Server-rendered with Jinja2 (autoescaping on: every owner-supplied string is escaped where it
is written). Every page works as a plain HTML form; ``static/console.js`` only adds the copy
button and the dashboard's live refresh. A state-changing request is a POST that must carry
the session's CSRF token (``security.py``); a refused one gets 403 and changes nothing.
Successful POSTs redirect (303) to the page they came from, so a reload never repeats them,
except token creation, whose answer is the one page that shows the token; the next page shows
a notice saying what was done. Revoking or denying first shows a confirmation page (a plain
form, so it works without JavaScript) and acts only on its ``confirm=yes``.

Re-authentication (issue 16 F8): cookies are not isolated by port (RFC 6265 §8.5), so the
session cookie reaches any local process on 127.0.0.1 the owner's browser is sent to. What
mints or unlocks access therefore asks for the owner's password again: creating a token,
approving a device, changing the password. The check goes through the same throttle as
sign-in, so it adds no second allowance of guesses.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Protocol

import jinja2
from aiohttp import web

from ...base.guard import mark_authenticated
from ...base.throttle import RateLimited
from ..api import IssuedToken
from ..database import DatabaseUnavailable
from ..service import Authority, Overview
from ..service.signin import OwnerSignIn, SignInRefused
from ..store import AccountExists
from .alertview import alerts_view
from .books import terminal_books, utc_clock, utc_short
from .chart import BOX
from .forms import (
    FormErrors,
    loosened,
    parse_new_password,
    parse_registration,
    parse_risk,
    parse_token,
)
from .security import (
    PRE_COOKIE,
    SESSION_COOKIE,
    add_page_headers,
    clear_cookie,
    csrf_ok,
    set_cookie,
)
from .sessions import Session, SessionStore, browser_of
from .views import ago, checklist, live_tokens, terminal_rows, verified_terminals, when

__all__ = ["Pages"]

log = logging.getLogger("gateway.authority.web")

_PRE_TOKEN_BYTES = 32
#: The form field that carries the owner's password for a sensitive action (F8).
REAUTH_FIELD = "owner_password"


class SecondStep(Protocol):
    """What sign-in and the settings page need of the second factor's pages
    (``twofactor.FactorPages``)."""

    async def begin(self, request: web.Request, owner: str) -> web.HTTPSeeOther:
        """The code step for an owner whose password was right."""
        ...

    async def settings_context(self, session: Session) -> dict[str, Any]:
        """The settings page's two-step section."""
        ...


def _token_name(token: dict[str, Any]) -> str:
    """A token as the pages name it: its id, label and terminal."""
    label = f" “{token['label']}”" if token.get("label") else ""
    return f"{token['token_id']}{label} for {token['login']}@{token['server']}"


def _revoke_option(token: dict[str, Any] | None) -> dict[str, str] | None:
    """The deny dialog's offer to revoke the token the device presented (M2)."""
    if token is None:
        return None
    return {"name": "revoke_token", "value": "yes",
            "label": f"Also revoke the token it presented, {_token_name(token)}: whoever runs "
                     "that machine holds it, and every EA and bot using it is refused within "
                     "seconds."}


class Pages:
    """The page handlers, over the authority (looked up per request: it opens on start-up).

    Args:
        authority: returns the running authority.
        sign_in: the one credential rule every door shares (``service/signin.py``: one
            throttle, so the form adds no second allowance of guesses).
        sessions: the sign-in sessions.
        env: the Jinja2 environment of ``templates/``.
        clock: epoch seconds (what "last seen" and "silent" are judged by).
        token: random URL-safe text (the sign-in form's CSRF value).
    """

    def __init__(self, authority: Callable[[], Authority], sign_in: OwnerSignIn,
                 sessions: SessionStore, env: jinja2.Environment, clock: Callable[[], float],
                 token: Callable[[int], str]) -> None:
        self._authority = authority
        self._sign_in = sign_in
        self.sessions = sessions
        self._env = env
        self._clock = clock
        self._token = token
        #: The second factor's and password reset's pages (``twofactor.py``), set by
        #: ``mount_pages``: sign-in hands an owner with a second factor to its code step.
        self.factor: SecondStep | None = None
        env.filters["when"] = when
        env.filters["ago"] = lambda epoch: ago(epoch, self._clock())
        env.filters["utc_clock"] = utc_clock
        env.filters["utc_short"] = utc_short
        env.globals["box"] = BOX

    # -- plumbing --------------------------------------------------------------------------

    def _render(self, name: str, status: int = 200, **context: Any) -> web.Response:
        html = self._env.get_template(name).render(**context)
        return web.Response(text=html, status=status, content_type="text/html",
                            charset="utf-8")

    async def _session(self, request: web.Request) -> Session | None:
        session = await self.sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is not None:  # a signed-in owner's page: evicted last (base.guard)
            mark_authenticated(request)
        return session

    def _forbidden(self, why: str) -> web.Response:
        return self._render("error.html", status=403, title="Forbidden", session=None,
                            message=why)

    async def _signed_in(self, request: web.Request, *, post: bool
                         ) -> tuple[Session, dict[str, Any]] | web.Response:
        """The session and (for a POST) its form, or the answer to send instead: a redirect
        to sign in, or 403 for a missing or wrong CSRF token."""
        session = await self._session(request)
        form: dict[str, Any] = {}
        if post:
            data = await request.post()
            form = {k: data.get(k) for k in data}
            form["scopes"] = [v for v in data.getall("scopes", []) if isinstance(v, str)]
            if session is None or not csrf_ok(session.csrf, form.get("csrf")):
                return self._forbidden("The form's security token is missing or out of date. "
                                       "Reload the page and try again.")
        if session is None:
            raise web.HTTPSeeOther("/login")
        return session, form

    async def _page(self, name: str, session: Session, active: str, status: int = 200,
                    **context: Any) -> web.Response:
        notice = session.notice
        if notice:
            await self.sessions.set_notice(session, "")
        return self._render(name, status=status, session=session, csrf=session.csrf,
                            active=active, owner=session.owner_email, notice=notice,
                            **context)

    async def _done(self, session: Session, notice: str, location: str) -> web.HTTPSeeOther:
        """The redirect after an action, with its notice for the next page."""
        await self.sessions.set_notice(session, notice)
        return web.HTTPSeeOther(location)

    async def _reauth(self, session: Session, form: dict[str, Any]) -> str | None:
        """``None`` when the form carries the owner's password, else what to tell them (F8:
        a session cookie alone must not mint access)."""
        password = form.get(REAUTH_FIELD)
        if not isinstance(password, str) or not password:
            return "Enter your console password to confirm."
        try:
            right = await self._sign_in.password(session.owner_email, password)
        except RateLimited as exc:
            return f"Too many failed sign-ins. Wait {max(1, math.ceil(exc.retry_after_s))} s."
        if not right:
            await self._authority().owners.note_sign_in(session.owner_email, False,
                                           "wrong password when confirming an action")
            return "Wrong password."
        return None

    async def _confirm(self, session: Session, form: dict[str, Any], title: str, message: str,
                       button: str, back: str, option: dict[str, str] | None = None
                       ) -> web.Response | None:
        """The confirmation page for a destructive action, unless the form confirms it;
        ``option``: a checkbox offered with it (``name``, ``value``, ``label``)."""
        if form.get("confirm") == "yes":
            return None
        return await self._page("confirm.html", session, "", title=title, message=message,
                                button=button, back=back, option=option)

    async def error_page(self, request: web.Request, status: int) -> web.Response:
        """A friendly page for 404 and other errors outside the JSON API (503: the database
        does not answer, so the page asks nothing of it)."""
        session = None
        if status != 503:
            with suppress(DatabaseUnavailable):
                session = await self._session(request)
        title, message = (("Page not found", "There is no page at this address.")
                          if status == 404 else
                          ("Not allowed", "This method is not allowed here.")
                          if status == 405 else
                          ("Try again shortly", "The console's database is not answering "
                           "right now; nothing was changed. Try again in a moment.")
                          if status == 503 else
                          ("Something went wrong", "The console could not answer this."))
        response = self._render("error.html", status=status, title=title, message=message,
                                session=session, csrf=session.csrf if session else "",
                                owner=session.owner_email if session else "", active="",
                                notice="")
        add_page_headers(response)
        return response

    # -- sign-in ---------------------------------------------------------------------------

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        """``GET /login``."""
        if await self._session(request) is not None:
            raise web.HTTPSeeOther("/")
        return self._login_page(request, "", "")

    def _login_page(self, request: web.Request, email: str, error: str,
                    status: int = 200, login_notice: str = "") -> web.Response:
        pre = self._token(_PRE_TOKEN_BYTES)
        response = self._render("login.html", status=status, session=None, csrf=pre,
                                email=email, error=error, login_notice=login_notice)
        set_cookie(request, response, PRE_COOKIE, pre, max_age=3600)
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        """``POST /login``: the same throttle as the API's Basic auth (security.md)."""
        data = await request.post()
        email, password = data.get("email", ""), data.get("password", "")
        if not csrf_ok(request.cookies.get(PRE_COOKIE), data.get("csrf")):
            return self._forbidden("The sign-in form's security token is missing or out of "
                                   "date. Reload the page and try again.")
        email = email.strip() if isinstance(email, str) else ""
        password = password if isinstance(password, str) else ""
        authority = self._authority()
        try:
            checked = await self._sign_in.credentials(email, password, code_later=True)
        except SignInRefused:
            checked = None
        except RateLimited as exc:
            wait = max(1, math.ceil(exc.retry_after_s))
            response = self._login_page(request, email, f"Too many failed sign-ins. Wait "
                                        f"{wait} s and try again.", status=429)
            response.headers["Retry-After"] = str(wait)
            return response
        where = f"from {request.remote or 'unknown'}"
        if checked is None:
            if email:
                await authority.owners.note_sign_in(email, False, where)
            return self._login_page(request, email, "Wrong e-mail or password.", status=401)
        owner = checked.owner
        if checked.needs_code:
            assert self.factor is not None  # noqa: S101 - mount_pages sets it
            raise await self.factor.begin(request, owner)  # then the code
        session_id, _ = await self.sessions.create(owner, **browser_of(request))
        await authority.owners.note_sign_in(owner, True, where)
        redirect = web.HTTPSeeOther("/")
        set_cookie(request, redirect, SESSION_COOKIE, session_id)
        clear_cookie(request, redirect, PRE_COOKIE)
        raise redirect

    async def logout(self, request: web.Request) -> web.StreamResponse:
        """``POST /logout``."""
        got = await self._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, _ = got
        await self._authority().owners.note_sign_out(session.owner_email)
        await self.sessions.end(request.cookies.get(SESSION_COOKIE))
        response = web.HTTPSeeOther("/login")
        clear_cookie(request, response, SESSION_COOKIE)
        raise response

    # -- dashboard -------------------------------------------------------------------------

    def _terminals(self, overview: Overview) -> list[dict[str, Any]]:
        """Every terminal the owner has a token for, with each device's latest report."""
        devices = {d["device_id"]: d for d in overview.devices}
        return terminal_rows(overview.terminals, overview.tokens, devices, int(self._clock()),
                             overview.figures)

    async def dashboard(self, request: web.Request) -> web.StreamResponse:
        """``GET /``: what the owner holds, read in one transaction."""
        got = await self._signed_in(request, post=False)
        assert not isinstance(got, web.Response)  # noqa: S101 - only POSTs answer 403
        session, _ = got
        seen = await self._authority().overview(session.owner_email)
        steps = checklist(seen.accounts, seen.tokens, seen.devices, seen.terminals)
        pending = [d for d in seen.devices if d["status"] == "pending"]
        terminals = self._terminals(seen)
        return await self._page("dashboard.html", session, "dashboard",
                                terminals=terminals, steps=steps,
                                steps_left=sum(not step.done for step in steps),
                                pending=pending,
                                books=await self._books(session.owner_email, terminals))

    async def dashboard_rows(self, request: web.Request) -> web.StreamResponse:
        """``GET /dashboard/rows``: the table body alone, for the live refresh."""
        session = await self._session(request)
        if session is None:
            return web.Response(status=401, text="signed out")
        seen = await self._authority().overview(session.owner_email)
        return self._render("_terminal_rows.html", terminals=self._terminals(seen))

    async def _books(self, owner_email: str, terminals: list[dict[str, Any]]
                     ) -> list[dict[str, Any]]:
        """Each reported terminal's positions and equity chart (``books.py``)."""
        authority = self._authority().terminals
        return terminal_books(terminals, await authority.books_of(owner_email),
                              await authority.history_of(owner_email), self._clock())

    async def dashboard_books(self, request: web.Request) -> web.StreamResponse:
        """``GET /dashboard/books``: the positions and charts alone, for the live refresh."""
        session = await self._session(request)
        if session is None:
            return web.Response(status=401, text="signed out")
        seen = await self._authority().overview(session.owner_email)
        return self._render("_terminal_books.html", books=await self._books(
            session.owner_email, self._terminals(seen)))

    # -- tokens ----------------------------------------------------------------------------

    async def _tokens_page(self, session: Session, *, status: int = 200,
                           errors: FormErrors | None = None, form: dict[str, Any] | None = None,
                           issued: IssuedToken | None = None) -> web.Response:
        authority = self._authority()
        devices = await authority.approvals.of_owner(session.owner_email)
        return await self._page("tokens.html", session, "tokens", status=status,
                                tokens=await authority.tokens.of(session.owner_email),
                                device_names={d["device_id"]: d["name"] for d in devices},
                                accounts=await authority.accounts.of(session.owner_email),
                                errors=(errors or FormErrors()).fields, form=form or {},
                                issued=issued, now=self._clock())

    async def tokens(self, request: web.Request) -> web.StreamResponse:
        """``GET /tokens``."""
        got = await self._signed_in(request, post=False)
        assert not isinstance(got, web.Response)  # noqa: S101
        return await self._tokens_page(got[0])

    async def create_token(self, request: web.Request) -> web.StreamResponse:
        """``POST /tokens``: the answer is the only page that ever shows the token."""
        got = await self._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        form = dict(form)
        authority = self._authority()
        accounts = {a.id: (a.login, a.server)
                    for a in await authority.accounts.of(session.owner_email)}
        parsed, errors = parse_token(form, form["scopes"], accounts)
        form.pop(REAUTH_FIELD, None)  # never echoed back into the page
        if parsed is None:
            return await self._tokens_page(session, status=400, errors=errors, form=form)
        refused = await self._reauth(session, got[1])
        if refused is not None:
            errors.add(REAUTH_FIELD, refused)
            return await self._tokens_page(session, status=401, errors=errors, form=form)
        try:
            issued = await authority.tokens.issue(session.owner_email, parsed.login, parsed.server,
                                                  parsed.scopes, parsed.expires_in_s,
                                                  parsed.label)
        except ValueError as exc:
            errors.add("login", str(exc))
            return await self._tokens_page(session, status=400, errors=errors, form=form)
        log.info("console: token %s issued for %s@%s", issued.token_id, parsed.login,
                 parsed.server)
        return await self._tokens_page(session, status=201, issued=issued)

    async def revoke_token(self, request: web.Request) -> web.StreamResponse:
        """``POST /tokens/{token_id}/revoke``."""
        got = await self._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        token_id = request.match_info["token_id"]
        listed = {t["token_id"]: t for t in await self._authority().tokens.of(session.owner_email)}
        token = listed.get(token_id)
        if token is None:
            raise web.HTTPNotFound()
        asked = await self._confirm(
            session, form, "Revoke this token?",
            f"Token {token_id} for {token['login']}@{token['server']} stops working at once: "
            "the EA and every bot using it are refused within seconds. This cannot be undone.",
            "Revoke token", "/tokens")
        if asked is not None:
            return asked
        await self._authority().tokens.revoke(session.owner_email, token_id)
        raise await self._done(session, f"Token {token_id} revoked.", "/tokens")

    async def label_token(self, request: web.Request) -> web.StreamResponse:
        """``POST /tokens/{token_id}/label``: rename a token (empty clears the label)."""
        got = await self._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        token_id = request.match_info["token_id"]
        label = form.get("label")
        try:
            done = await self._authority().tokens.relabel(
                session.owner_email, token_id, label if isinstance(label, str) else "")
        except ValueError as exc:
            raise await self._done(session, f"Label not saved: {exc}.", "/tokens") from None
        if not done:
            raise web.HTTPNotFound()
        raise await self._done(session, f"Token {token_id} labelled." if label
                               else f"Token {token_id}'s label cleared.", "/tokens")

    # -- devices ---------------------------------------------------------------------------

    async def devices(self, request: web.Request) -> web.StreamResponse:
        """``GET /devices``."""
        got = await self._signed_in(request, post=False)
        assert not isinstance(got, web.Response)  # noqa: S101
        session = got[0]
        devices = await self._authority().approvals.of_owner(session.owner_email)
        return await self._page("devices.html", session, "devices", devices=devices,
                                approve_error={})

    async def _device(self, session: Session, request: web.Request) -> dict[str, Any]:
        device_id = request.match_info["device_id"]
        for device in await self._authority().approvals.of_owner(session.owner_email):
            if device["device_id"] == device_id:
                return device
        raise web.HTTPNotFound()

    async def revoke_device(self, request: web.Request) -> web.StreamResponse:
        """``POST /devices/{device_id}/revoke`` (after its confirmation page)."""
        got = await self._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        device = await self._device(session, request)
        asked = await self._confirm(
            session, form, "Revoke this device?",
            f"{device['name']} ({device['device_id']}) stops getting your tokens' records: its "
            "terminals are refused within seconds, and it must be approved again to serve them.",
            "Revoke device", "/devices")
        if asked is not None:
            return asked
        await self._authority().approvals.revoke(session.owner_email, device["device_id"])
        raise await self._done(session, f"Device {device['name']} revoked.", "/devices")

    async def approve_device(self, request: web.Request) -> web.StreamResponse:
        """``POST /devices/{device_id}/approve``: the owner's password instead of the code."""
        got = await self._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        device = await self._device(session, request)
        refused = await self._reauth(session, form)
        if refused is not None:
            devices = await self._authority().approvals.of_owner(session.owner_email)
            return await self._page("devices.html", session, "devices", status=401,
                                    devices=devices,
                                    approve_error={device["device_id"]: refused})
        if not await self._authority().approvals.approve(session.owner_email, device["device_id"]):
            raise await self._done(session, f"Device {device['name']} is not waiting for approval.",
                                   "/devices")
        raise await self._done(session, f"Device {device['name']} approved: its terminals connect "
                               "on their next try.", "/devices")

    async def deny_device(self, request: web.Request) -> web.StreamResponse:
        """``POST /devices/{device_id}/deny`` (after its confirmation page)."""
        got = await self._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        device = await self._device(session, request)
        token = device["token"] if device["token"] and not device["token"]["revoked_at"] else None
        asked = await self._confirm(
            session, form, "Deny this device?",
            f"{device['name']} ({device['device_id']}) asked for your tokens. Denying drops its "
            "request and its code, and the denial holds: while it keeps asking it stays denied, "
            "with no new request and no new e-mail, until you allow it again or remove it.",
            "Deny device", "/devices", option=_revoke_option(token))
        if asked is not None:
            return asked
        revoke = token["token_id"] if token and form.get("revoke_token") == "yes" else None
        if not await self._authority().approvals.deny(session.owner_email, device["device_id"],
                                                      revoke):
            raise await self._done(session, f"Device {device['name']} is not waiting for approval.",
                                   "/devices")
        raise await self._done(session, f"Device {device['name']} denied: it stays denied while it "
                               "keeps asking." + (f" Token {revoke} revoked." if revoke else ""),
                               "/devices")

    async def allow_device(self, request: web.Request) -> web.StreamResponse:
        """``POST /devices/{device_id}/allow``: take a denial back and approve the device,
        with the owner's password (T4-F5: loosening asks for it, as approving does)."""
        got = await self._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        device = await self._device(session, request)
        refused = await self._reauth(session, form)
        if refused is not None:
            devices = await self._authority().approvals.of_owner(session.owner_email)
            return await self._page("devices.html", session, "devices", status=401,
                                    devices=devices,
                                    approve_error={device["device_id"]: refused})
        if not await self._authority().approvals.allow_again(session.owner_email,
                                                             device["device_id"]):
            raise await self._done(session, f"Device {device['name']} is not denied.", "/devices")
        raise await self._done(session, f"Device {device['name']} allowed again and approved: its "
                               "terminals connect on their next try.", "/devices")

    async def revoke_presented_token(self, request: web.Request) -> web.StreamResponse:
        """``POST /devices/{device_id}/revoke-token`` (after its confirmation page): revoke
        the token this device presented, from the device's row."""
        got = await self._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        device = await self._device(session, request)
        token = device["token"]
        if token is None or token["revoked_at"]:
            raise await self._done(session, f"Device {device['name']} presents no live token of "
                                   "yours.", "/devices")
        asked = await self._confirm(
            session, form, "Revoke the token it presented?",
            f"{device['name']} ({device['device_id']}) presented token {_token_name(token)}. "
            "Revoking it stops it working at once: every EA and bot using it, on any machine, is "
            "refused within seconds. This cannot be undone.", "Revoke token", "/devices")
        if asked is not None:
            return asked
        await self._authority().tokens.revoke(session.owner_email, token["token_id"])
        raise await self._done(session, f"Token {token['token_id']} revoked.", "/devices")

    async def forget_device(self, request: web.Request) -> web.StreamResponse:
        """``POST /devices/{device_id}/forget`` (after its confirmation page): a revoked
        device's row leaves the list; nothing else changes."""
        got = await self._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        device = await self._device(session, request)
        asked = await self._confirm(
            session, form, "Remove this device from the list?",
            f"{device['name']} ({device['device_id']}) is {device['status']} and gets no records. "
            "Removing drops its row and ends a denial: if it asks again, it waits for your "
            "approval again and you get a new e-mail.", "Remove device",
            "/devices")
        if asked is not None:
            return asked
        if not await self._authority().approvals.forget(session.owner_email, device["device_id"]):
            raise await self._done(session, f"Device {device['name']} is neither revoked nor "
                                   "denied; revoke or deny it first.", "/devices")
        raise await self._done(session, f"Device {device['name']} removed from the list.",
                               "/devices")

    # -- accounts --------------------------------------------------------------------------

    async def _accounts_page(self, session: Session, *, status: int = 200,
                             errors: FormErrors | None = None, form: dict[str, Any] | None = None,
                             risk_errors: dict[int, dict[str, str]] | None = None,
                             risk_forms: dict[int, dict[str, Any]] | None = None) -> web.Response:
        """The accounts page; ``risk_forms`` keeps what was typed into a refused risk form."""
        authority = self._authority()
        return await self._page("accounts.html", session, "accounts", status=status,
                                accounts=await authority.accounts.of(session.owner_email),
                                verified=verified_terminals(
                                    await authority.terminals.of(session.owner_email),
                                    await authority.terminals.verified(session.owner_email)),
                                live_tokens=live_tokens(
                                    await authority.tokens.of(session.owner_email),
                                    self._clock()),
                                errors=(errors or FormErrors()).fields, form=form or {},
                                risk_errors=risk_errors or {}, risk_forms=risk_forms or {})

    async def accounts(self, request: web.Request) -> web.StreamResponse:
        """``GET /accounts``."""
        got = await self._signed_in(request, post=False)
        assert not isinstance(got, web.Response)  # noqa: S101
        return await self._accounts_page(got[0])

    async def register_account(self, request: web.Request) -> web.StreamResponse:
        """``POST /accounts``: ``seed-register-account`` as a form."""
        got = await self._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        form.pop("password", None)  # never echoed back into the page
        data = await request.post()
        registration, errors = parse_registration({**form, "password": data.get("password")})
        if registration is None:
            return await self._accounts_page(session, status=400, errors=errors, form=form)
        authority = self._authority()
        try:
            await authority.accounts.register(session.owner_email, registration)
        except AccountExists:
            errors.add("login", f"Account {registration.login} already exists on "
                                f"{registration.server}")
            return await self._accounts_page(session, status=409, errors=errors, form=form)
        except ValueError as exc:
            errors.add("name", str(exc))
            return await self._accounts_page(session, status=400, errors=errors, form=form)
        has_token = live_tokens(await authority.tokens.of(session.owner_email),
                                self._clock()).get((registration.login, registration.server))
        raise await self._done(session, f"Account {registration.login}@{registration.server} "
                               "registered. " + ("Its terminal's token now carries this risk "
                                                 "policy." if has_token else
                                                 "Next: create a token for it."), "/accounts")

    async def update_risk(self, request: web.Request) -> web.StreamResponse:
        """``POST /accounts/{account_id}/risk``: one click to tighten; loosening a limit or
        leaving paper trading asks for the owner's password again (round-4 T4-F5: a session
        cookie reaches any local process the browser is sent to, and these switches put real
        money at the broker), as minting a token does."""
        got = await self._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        raw_id = request.match_info["account_id"]
        if not raw_id.isdigit():
            raise web.HTTPNotFound()
        account_id = int(raw_id)
        account = next((a for a in await self._authority().accounts.of(session.owner_email)
                        if a.id == account_id), None)
        if account is None:
            raise web.HTTPNotFound()
        typed = {k: v for k, v in form.items() if k not in (REAUTH_FIELD, "csrf")}
        policy, errors = parse_risk(form)
        if policy is None:
            return await self._accounts_page(session, status=400,
                                             risk_errors={account_id: errors.fields},
                                             risk_forms={account_id: typed})
        loosening = loosened(policy, account)
        if loosening:
            refused = await self._reauth(session, form)
            if refused is not None:
                why = f"{refused} It is needed to {'; '.join(loosening)}."
                return await self._accounts_page(session, status=401,
                                                 risk_errors={account_id: {REAUTH_FIELD: why}},
                                                 risk_forms={account_id: typed})
        if not await self._authority().accounts.update_risk(session.owner_email, account_id,
                                             policy.allowed_symbols, policy.max_lot_size,
                                             policy.risk_pct, policy.auto_trade_enabled,
                                             policy.paper_trade_enabled):
            raise web.HTTPNotFound()
        raise await self._done(session, "Risk policy saved; connected daemons apply it within "
                               "seconds.", "/accounts")

    # -- activity --------------------------------------------------------------------------

    async def activity(self, request: web.Request) -> web.StreamResponse:
        """``GET /activity``."""
        got = await self._signed_in(request, post=False)
        assert not isinstance(got, web.Response)  # noqa: S101
        session = got[0]
        entries = await self._authority().owners.activity(session.owner_email)
        return await self._page("activity.html", session, "activity", entries=entries)


    # -- settings --------------------------------------------------------------------------

    async def settings(self, request: web.Request) -> web.StreamResponse:
        """``GET /settings``: the owner's password change."""
        got = await self._signed_in(request, post=False)
        assert not isinstance(got, web.Response)  # noqa: S101
        return await self._page("settings.html", session=got[0], active="settings", errors={},
                                **await self._factor_context(got[0]),
                                **await alerts_view(self._authority(), got[0].owner_email))

    async def _factor_context(self, session: Session) -> dict[str, Any]:
        """The settings page's two-step sign-in section (``twofactor.py``)."""
        if self.factor is None:
            return {"factor": None, "enrolment": None, "recovery_codes": [],
                    "factor_errors": {}}
        return await self.factor.settings_context(session)

    async def change_password(self, request: web.Request) -> web.StreamResponse:
        """``POST /settings/password``: the current password, the new one twice; the
        owner's other sessions end."""
        got = await self._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        new, errors = parse_new_password(form)
        refused = await self._reauth(session, form)
        if refused is not None:
            errors.add(REAUTH_FIELD, refused)
        if errors or new is None:
            return await self._page("settings.html", session, "settings",
                                    status=401 if refused else 400, errors=errors.fields,
                                    **await self._factor_context(session),
                                    **await alerts_view(self._authority(), session.owner_email))
        await self._authority().owners.change_password(session.owner_email, new)
        ended = await self.sessions.end_others(session.owner_email, session)
        await self._authority().signin_steps.end_owner(session.owner_email)
        log.info("console: an owner changed their password; %d other session(s) ended", ended)
        raise await self._done(session, "Password changed. Other browsers signed in as you were "
                               "signed out.", "/settings")
