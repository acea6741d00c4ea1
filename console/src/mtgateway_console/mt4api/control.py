"""What the owner does to many terminals at once: sign in, the kill switch, chart messages,
groups.

``POST /api/auth/login`` takes the owner's e-mail and password (and ``otp``, the code of
two-step sign-in) through the console's one owner check (``signin.py``: the throttle the
sign-in page and the owner API share, the second factor), and answers the
document's ``{"access_token", "token_type": "bearer"}``. ``POST /api/test/disconnect`` and
``/connect`` are the owner's kill switch (``halts.py``); ``POST /api/admin/mail`` puts a
message on the named terminals' charts; ``POST /api/admin/users/group-op`` moves accounts
between groups or switches their automated trading at once.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from mtgateway_base.mt4web import Handlers
from mtgateway_base.mt4web.console_models import (
    GroupOpIn,
    LoginOut,
    MailIn,
    MailOut,
    StatusOut,
    SwitchIn,
    SwitchOut,
)

from ..apitokens import LIFETIME_S
from ..door import DOOR
from ..errors import Refusal
from ..service.common import decimal_text
from ..shapes import operation_out
from ..tables.groups import Group
from ..tables.store import AccountRow
from .dispatch import ApiCall, Handler, ok

__all__ = ["HANDLERS", "connect", "disconnect", "group_op", "login", "mail"]

#: This room's handlers, each registered above it by the operation id of the table's row it
#: answers (``mtgateway_base/mt4web/table.py``); ``table.py`` binds the rooms' together.
HANDLERS: Final = Handlers[Handler]()


@HANDLERS.answers("post_api_auth_login")
async def login(call: ApiCall) -> web.Response:
    """``POST /api/auth/login``: form fields ``username`` (the owner's e-mail), ``password``
    and, with two-step sign-in on, ``otp`` (the door read the form)."""
    request, form = call.request, call.body
    username, password, code = (form.get("username"), form.get("password"),
                                form.get("otp", ""))
    if not isinstance(username, str) or not isinstance(password, str) \
            or not isinstance(code, str):
        raise Refusal(422, "invalid_request", "username and password are required text "
                      "fields", fields=[{"field": "username", "error": "required"},
                                        {"field": "password", "error": "required"}])
    authority = call.authority
    where = f"API sign-in from {request.remote or 'unknown'}"
    try:
        email = await request.app[DOOR].sign_in(username.strip(), password, code.strip(),
                                                "as otp")
    except Refusal as fail:
        if fail.status == 401 and username.strip():
            await authority.owners.note_sign_in(username, False, where)
        raise
    token = await request.app[DOOR].access_token(request, email, with_code=bool(code.strip()))
    await authority.owners.note_sign_in(email, True, where)
    return ok(LoginOut(access_token=token, expires_in=LIFETIME_S))


async def _terminals(call: ApiCall, logins: list[int] | None) -> list[tuple[int, str]] | None:
    """The owner's terminals with these logins (registered accounts, or terminals their
    tokens name); ``None`` for ``None`` (all).

    Raises:
        Refusal: 404 naming logins that are none of the owner's.
    """
    if logins is None:
        return None
    known = {(a.login, a.server) for a in await call.authority.accounts.of(call.owner)}
    known |= {(t["login"], t["server"]) for t in await call.authority.tokens.of(call.owner)}
    found = sorted(t for t in known if t[0] in set(logins))
    missing = sorted(set(logins) - {login for login, _ in found})
    if missing:
        raise Refusal(404, "not_found", "not your accounts: "
                      + ", ".join(str(m) for m in missing[:20]), logins=missing[:100])
    return found


def _named(terminals: list[tuple[int, str]] | None) -> list[str]:
    return ["*"] if terminals is None else [f"{login}@{server}" for login, server in terminals]


@HANDLERS.answers("post_api_test_disconnect")
async def disconnect(call: ApiCall) -> web.Response:
    """``POST /api/test/disconnect``: refuse every order of the named accounts (or all)."""
    body = call.body if isinstance(call.body, SwitchIn) else SwitchIn()
    terminals = await _terminals(call, body.logins)
    await call.authority.halts.halt(call.owner, terminals, body.reason)
    halted = [h for h in await call.authority.halts.of(call.owner)]
    return ok(SwitchOut(
        message="Disconnected: every order of " + (
            "your terminals" if terminals is None else ", ".join(_named(terminals)))
        + " is refused until you connect them again; the EAs stay connected",
        halted=_named(None) if any(h.login == 0 for h in halted)
        else [f"{h.login}@{h.server}" for h in halted]))


@HANDLERS.answers("post_api_test_connect")
async def connect(call: ApiCall) -> web.Response:
    """``POST /api/test/connect``: orders of the named accounts (or all) go through again
    (lifting a halt asks for ``owner_password``)."""
    body = call.body if isinstance(call.body, SwitchIn) else SwitchIn()
    terminals = await _terminals(call, body.logins)
    await call.authority.halts.resume(call.owner, terminals, password=body.owner_password)
    halted = await call.authority.halts.of(call.owner)
    return ok(SwitchOut(
        message="Connected: orders of " + ("your terminals" if terminals is None
                                           else ", ".join(_named(terminals)))
        + " go through again",
        halted=_named(None) if any(h.login == 0 for h in halted)
        else [f"{h.login}@{h.server}" for h in halted]))


@HANDLERS.answers("post_api_admin_mail")
async def mail(call: ApiCall) -> web.Response:
    """``POST /api/admin/mail``: a message on the charts of the named accounts' terminals
    (every terminal of the owner when none is named), kept in the activity."""
    assert isinstance(call.body, MailIn)  # noqa: S101
    body = call.body
    terminals = await _terminals(call, body.logins)
    if terminals is None:
        terminals = sorted({(a.login, a.server) for a in
                            await call.authority.accounts.of(call.owner)}
                           | {(t["login"], t["server"])
                              for t in await call.authority.tokens.of(call.owner)
                              if t.get("revoked_at") is None})
    text = f"{body.subject}: {body.body}" if body.subject else body.body
    made = await call.authority.instructions.send_message(call.owner, terminals, text)
    return ok(MailOut(count=len(made), messages=[operation_out(m) for m in made]))


@HANDLERS.answers("post_api_admin_users_group_op")
async def group_op(call: ApiCall) -> web.Response:
    """``POST /api/admin/users/group-op``."""
    assert isinstance(call.body, GroupOpIn)  # noqa: S101
    body = call.body
    authority = call.authority
    accounts: list[AccountRow] = []
    rows = await authority.accounts.of(call.owner)
    for login in dict.fromkeys(body.logins):
        found = [a for a in rows if a.login == login]
        if not found:
            raise Refusal(404, "not_found", f"account {login} is not one of your registered "
                          "accounts", logins=[login])
        accounts += found
    ids = [a.id for a in accounts]
    if body.operation in ("enable_auto_trade", "disable_auto_trade"):
        enabled = body.operation == "enable_auto_trade"
        await authority.accounts.set_auto_trade(call.owner, ids, enabled,
                                                password=body.owner_password)
        return ok(StatusOut(message=f"automated trading {'on' if enabled else 'off'} for "
                                    f"{len(accounts)} account(s)"))
    if body.group is None:
        await authority.groups.move(call.owner, ids, None)
        return ok(StatusOut(message=f"{len(accounts)} account(s) are in no group now"))
    policy = None
    if body.policy is not None:
        p = body.policy
        policy = Group(body.group, tuple(dict.fromkeys(s.strip() for s in p.allowed_symbols
                                                        if s.strip())),
                       decimal_text(p.max_lot_size), decimal_text(p.risk_pct),
                       p.auto_trade_enabled, 0)
    await authority.groups.move(call.owner, ids, body.group, policy,
                                password=body.owner_password)
    return ok(StatusOut(message=f"{len(accounts)} account(s) are in group {body.group!r} "
                                "and take its policy"))
