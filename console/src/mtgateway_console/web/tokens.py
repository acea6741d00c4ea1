"""The owner's tokens (``/tokens``): the list, a new token (with the owner's password: it
mints access), its label, and revoking one (after a confirmation page).

The answer to creating a token is the one page that ever shows it (201, not a redirect);
every other action redirects back with a notice, so a reload never repeats it.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from mtgateway_base.wire.api import IssuedToken
from mtgateway_base.wire.tokens import DEFAULT_LIFETIME_DAYS

from .forms import FormErrors, parse_token
from .kit import REAUTH_FIELD, Page, signed_in

__all__ = ["routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


async def _tokens_page(page: Page, *, status: int = 200, errors: FormErrors | None = None,
                       form: dict[str, Any] | None = None,
                       issued: IssuedToken | None = None) -> web.Response:
    """The tokens page; ``form`` keeps what was typed into a refused form, ``issued`` is
    the token just made."""
    authority = page.authority
    devices = await authority.approvals.of_owner(page.owner)
    return await page.show("tokens.html", "tokens", status=status,
                           tokens=await authority.tokens.of(page.owner),
                           device_names={d["device_id"]: d["name"] for d in devices},
                           accounts=await authority.accounts.of(page.owner),
                           errors=(errors or FormErrors()).fields, form=form or {},
                           issued=issued, now=page.kit.clock(),
                           default_lifetime_days=DEFAULT_LIFETIME_DAYS)


@routes.get("/tokens")
@signed_in
async def tokens(page: Page) -> web.StreamResponse:
    """The owner's tokens and the form for a new one."""
    return await _tokens_page(page)


@routes.post("/tokens")
@signed_in
async def create_token(page: Page) -> web.StreamResponse:
    """A new token, shown on this answer only."""
    authority = page.authority
    accounts = {a.id: (a.login, a.server) for a in await authority.accounts.of(page.owner)}
    scopes = page.choices("scopes")
    parsed, errors = parse_token(page.form, scopes, accounts)
    typed = {k: v for k, v in page.form.items() if k != REAUTH_FIELD}  # never echoed back
    if parsed is None:
        return await _tokens_page(page, status=400, errors=errors, form=typed)
    refused = await page.reauth()
    if refused is not None:
        errors.add(REAUTH_FIELD, refused)
        return await _tokens_page(page, status=401, errors=errors, form=typed)
    try:
        issued = await authority.tokens.issue(page.owner, parsed.login, parsed.server,
                                              parsed.scopes, parsed.expires_in_s, parsed.label)
    except ValueError as exc:
        errors.add("login", str(exc))
        return await _tokens_page(page, status=400, errors=errors, form=typed)
    log.info("console: token %s issued for %s@%s", issued.token_id, parsed.login,
             parsed.server)
    return await _tokens_page(page, status=201, issued=issued)


@routes.post("/tokens/{token_id}/revoke")
@signed_in
async def revoke_token(page: Page) -> web.StreamResponse:
    """Revoke a token (after its confirmation page)."""
    token_id = page.request.match_info["token_id"]
    listed = {t["token_id"]: t for t in await page.authority.tokens.of(page.owner)}
    token = listed.get(token_id)
    if token is None:
        raise web.HTTPNotFound()
    asked = await page.confirm(
        "Revoke this token?",
        f"Token {token_id} for {token['login']}@{token['server']} stops working at once: "
        "the EA and every bot using it are refused within seconds. This cannot be undone.",
        "Revoke token", "/tokens")
    if asked is not None:
        return asked
    await page.authority.tokens.revoke(page.owner, token_id)
    raise await page.done(f"Token {token_id} revoked.", "/tokens")


@routes.post("/tokens/{token_id}/label")
@signed_in
async def label_token(page: Page) -> web.StreamResponse:
    """Rename a token (empty clears the label)."""
    token_id = page.request.match_info["token_id"]
    label = page.form.get("label")
    try:
        done = await page.authority.tokens.relabel(page.owner, token_id,
                                                   label if isinstance(label, str) else "")
    except ValueError as exc:
        raise await page.done(f"Label not saved: {exc}.", "/tokens") from None
    if not done:
        raise web.HTTPNotFound()
    raise await page.done(f"Token {token_id} labelled." if label
                          else f"Token {token_id}'s label cleared.", "/tokens")
