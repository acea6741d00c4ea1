"""Users are the owner's registered accounts; money moves on paper accounts only.

``GET /api/users/``, ``GET /api/users/{login}`` (404 for a login that is not the owner's),
``POST /api/users/`` (the registration document's body and answers: 201 with the record,
never the password; 409 when registered; 422 naming the field), ``PUT /api/users/{login}``
(loosening the policy asks for the owner's password, as the console's page does),
``PUT /api/users/{login}/password`` (the stored MT5 password), and
``POST /api/accounts/{login}/deposit``, ``/withdraw``, ``/credit``.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from mtgateway_base.mt4web import Handlers
from mtgateway_base.mt4web.console_models import (
    MoneyIn,
    OperationEnvelope,
    PasswordIn,
    StatusOut,
    UserChange,
    UserCreate,
    UserEnvelope,
    UserOut,
    UsersOut,
)
from mtgateway_base.mt4web.shared import MAX_LOGIN

from ..errors import Refusal
from ..service import AccountRegistration
from ..service.accounts import AccountChanges
from ..shapes import account_json, operation_out
from ..tables.store import AccountRow
from .dispatch import ApiCall, Handler, ok

__all__ = ["HANDLERS", "change_password", "change_user", "create_user", "credit", "deposit",
           "get_user", "list_users", "login_of", "owner_account", "withdraw"]

#: How long a money operation's answer waits for the daemon to apply it (then 202).
SETTLE_WAIT_S: Final = 5.0

#: This room's handlers, each registered above it by the operation id of the table's row it
#: answers (``mtgateway_base/mt4web/table.py``); ``table.py`` binds the rooms' together.
HANDLERS: Final = Handlers[Handler]()


def login_of(call: ApiCall) -> int:
    """The ``{login}`` of the path.

    Raises:
        Refusal: 400 for one that is not an integer from 1 to 2^63-1.
    """
    raw = call.match["login"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not 0 < int(raw) <= MAX_LOGIN:
        raise Refusal(400, "invalid_login",
                      f"login: expected an integer from 1 to {MAX_LOGIN}, got {raw[:20]!r}")
    return int(raw)


async def owner_account(call: ApiCall, login: int, server: str | None = None) -> AccountRow:
    """The owner's registered account with this login (on ``server`` when given).

    Raises:
        Refusal: 404 when the owner has none; 409 when the login is on several servers and
            none was named.
    """
    found = [a for a, _ in await call.authority.accounts.with_groups(call.owner)
             if a.login == login and (server is None or a.server == server)]
    if not found:
        raise Refusal(404, "not_found", f"account {login} is not one of your registered "
                      "accounts")
    if len(found) > 1:
        raise Refusal(409, "ambiguous_login", f"account {login} is registered on several "
                      "servers: name the server in the body")
    return found[0]


def _user(row: AccountRow, group: str | None, halted: bool) -> UserOut:
    return UserOut(**account_json(row), group=group, trading_halted=halted)


async def _users(call: ApiCall) -> list[UserOut]:
    halts = await call.authority.halts.of(call.owner)
    everything = any(h.login == 0 for h in halts)
    halted = {(h.login, h.server) for h in halts}
    return [_user(a, g, everything or (a.login, a.server) in halted)
            for a, g in await call.authority.accounts.with_groups(call.owner)]


@HANDLERS.answers("get_api_users")
async def list_users(call: ApiCall) -> web.Response:
    """``GET /api/users/``."""
    users = await _users(call)
    return ok(UsersOut(count=len(users), users=users))


@HANDLERS.answers("get_api_users_login")
async def get_user(call: ApiCall) -> web.Response:
    """``GET /api/users/{login}``."""
    login = login_of(call)
    account = await owner_account(call, login, call.request.query.get("server"))
    user = next(u for u in await _users(call) if u.id == account.id)
    return ok(UserEnvelope(user=user))


@HANDLERS.answers("post_api_users")
async def create_user(call: ApiCall) -> web.Response:
    """``POST /api/users/``: register an account (the fields of ``POST /v1/accounts``)."""
    assert isinstance(call.body, UserCreate)  # noqa: S101 - the door validated it
    body = call.body
    registration = AccountRegistration(**{**body.model_dump(exclude={"confirm_live_open"}),
                                          "allowed_symbols": tuple(body.allowed_symbols)})
    row = await call.authority.accounts.register(call.owner, registration,
                                                 confirm_live_open=body.confirm_live_open)
    return ok(_user(row, None, False), status=201)


@HANDLERS.answers("put_api_users_login")
async def change_user(call: ApiCall) -> web.Response:
    """``PUT /api/users/{login}``."""
    assert isinstance(call.body, UserChange)  # noqa: S101
    body = call.body
    account = await owner_account(call, login_of(call), body.server)
    symbols = None if body.allowed_symbols is None else tuple(body.allowed_symbols)
    changes = AccountChanges(
        name=body.name, broker=body.broker, is_live=body.is_live, allowed_symbols=symbols,
        max_lot_size=body.max_lot_size, risk_pct=body.risk_pct,
        auto_trade_enabled=body.auto_trade_enabled,
        paper_trade_enabled=body.paper_trade_enabled, mt5_path=body.mt5_path,
        account_type=body.account_type)
    changed = await call.authority.accounts.update(
        call.owner, account.id, changes, password=body.owner_password, via="API",
        confirm_live_open=body.confirm_live_open)
    if changed is None:
        raise Refusal(404, "not_found", "the account is gone")
    user = next(u for u in await _users(call) if u.id == account.id)
    return ok(UserEnvelope(user=user))


@HANDLERS.answers("put_api_users_login_password")
async def change_password(call: ApiCall) -> web.Response:
    """``PUT /api/users/{login}/password``: the stored MT5 password (never answered)."""
    assert isinstance(call.body, PasswordIn)  # noqa: S101
    account = await owner_account(call, login_of(call), call.body.server)
    if not await call.authority.accounts.set_password(call.owner, account.id,
                                                      call.body.password):
        raise Refusal(404, "not_found", "the account is gone")
    return ok(StatusOut(message=f"the MT5 password of account {account.login} is stored "
                                "(encrypted; it is never shown)"))


async def _money(call: ApiCall, kind: str) -> web.Response:
    assert isinstance(call.body, MoneyIn)  # noqa: S101
    body = call.body  # amounts checked by the models: above 0, or (credit) not 0
    account = await owner_account(call, login_of(call), body.server)
    instructions = call.authority.instructions
    made, _ = await instructions.move_money(call.owner, account, kind, body.amount,
                                            body.comment, body.operation_id)
    settled = await instructions.wait_settled(call.owner, made.id, SETTLE_WAIT_S) or made
    return ok(OperationEnvelope(operation=operation_out(settled)),
              status=202 if settled.state == "pending" else 200)


@HANDLERS.answers("post_api_accounts_login_deposit")
async def deposit(call: ApiCall) -> web.Response:
    """``POST /api/accounts/{login}/deposit``."""
    return await _money(call, "deposit")


@HANDLERS.answers("post_api_accounts_login_withdraw")
async def withdraw(call: ApiCall) -> web.Response:
    """``POST /api/accounts/{login}/withdraw``."""
    return await _money(call, "withdraw")


@HANDLERS.answers("post_api_accounts_login_credit")
async def credit(call: ApiCall) -> web.Response:
    """``POST /api/accounts/{login}/credit`` (a negative amount takes credit away)."""
    return await _money(call, "credit")
