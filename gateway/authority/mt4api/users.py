"""Users are the owner's registered accounts; money moves on paper accounts only.

``GET /api/users/``, ``GET /api/users/{login}`` (404 for a login that is not the owner's),
``POST /api/users/`` (the registration document's body and answers: 201 with the record,
never the password; 409 when registered; 422 naming the field), ``PUT /api/users/{login}``
(loosening the policy asks for the owner's password, as the console's page does),
``PUT /api/users/{login}/password`` (the stored MT5 password), and
``POST /api/accounts/{login}/deposit``, ``/withdraw``, ``/credit``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from aiohttp import web

from ...base.mt4web.console_models import (
    MoneyIn,
    OperationEnvelope,
    OperationOut,
    PasswordIn,
    StatusOut,
    UserChange,
    UserCreate,
    UserEnvelope,
    UserOut,
    UsersOut,
)
from ...base.mt4web.shared import MAX_LOGIN
from ..door import DOOR
from ..errors import AccountExists, Refusal
from ..instructions import Instruction
from ..service import AccountRegistration, TerminalClaimed
from ..service.accounts import RiskForm, loosened
from ..service.manager import AccountChanges, KeyReused, LiveMoney
from ..shapes import account_json
from ..store import AccountRow
from .dispatch import ApiCall, ok

__all__ = ["change_password", "change_user", "create_user", "credit", "deposit", "get_user",
           "list_users", "login_of", "loosening", "operation_out", "owner_account",
           "reauthenticate", "withdraw"]

#: How long a money operation's answer waits for the daemon to apply it (then 202).
SETTLE_WAIT_S: Final = 5.0


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
    found = [a for a, _ in await call.authority.manager.accounts(call.owner)
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
    manager = call.authority.manager
    halts = await manager.halts(call.owner)
    everything = any(h.login == 0 for h in halts)
    halted = {(h.login, h.server) for h in halts}
    return [_user(a, g, everything or (a.login, a.server) in halted)
            for a, g in await manager.accounts(call.owner)]


async def list_users(call: ApiCall) -> web.Response:
    """``GET /api/users/``."""
    users = await _users(call)
    return ok(UsersOut(count=len(users), users=users))


async def get_user(call: ApiCall) -> web.Response:
    """``GET /api/users/{login}``."""
    login = login_of(call)
    account = await owner_account(call, login, call.request.query.get("server"))
    user = next(u for u in await _users(call) if u.id == account.id)
    return ok(UserEnvelope(user=user))


async def create_user(call: ApiCall) -> web.Response:
    """``POST /api/users/``: register an account (the fields of ``POST /v1/accounts``)."""
    assert isinstance(call.body, UserCreate)  # noqa: S101 - the door validated it
    body = call.body
    registration = AccountRegistration(**{**body.model_dump(),
                                          "allowed_symbols": tuple(body.allowed_symbols)})
    try:
        row = await call.authority.accounts.register(call.owner, registration)
    except AccountExists:
        raise Refusal(409, "account_exists", f"Account {body.login} already exists") from None
    except TerminalClaimed as exc:
        raise Refusal(409, "terminal_claimed", str(exc)) from None
    except ValueError as exc:
        raise Refusal(422, "invalid_request", str(exc)) from None
    return ok(_user(row, None, False), status=201)


async def reauthenticate(call: ApiCall, password: str | None, words: list[str]) -> None:
    """Ask the owner's password for a change that loosens a policy (through the owner
    throttle, as the page's re-authentication does).

    Raises:
        Refusal: 401 ``password_required`` / ``bad_credentials``, 429 during a lockout.
    """
    if not words:
        return
    why = f"it would {'; '.join(words)}"
    if not password:
        raise Refusal(401, "password_required", f"send owner_password (your console password) "
                      f"to confirm this change: {why}")
    if not await call.request.app[DOOR].password(call.owner, password):
        await call.authority.owners.note_sign_in(call.owner, False, "wrong password when "
                                                 "confirming an API change")
        raise Refusal(401, "bad_credentials", "wrong owner_password")


def loosening(account: AccountRow, symbols: tuple[str, ...] | None, max_lot: Decimal | None,
              risk: Decimal | None, auto_trade: bool | None, paper: bool | None) -> list[str]:
    """What a change of ``account``'s policy loosens, in words (the console page's rule)."""
    return loosened(RiskForm(
        account.allowed_symbols if symbols is None else symbols,
        Decimal(account.max_lot_size) if max_lot is None else max_lot,
        Decimal(account.risk_pct) if risk is None else risk,
        account.auto_trade_enabled if auto_trade is None else auto_trade,
        account.paper_trade_enabled if paper is None else paper), account)


async def change_user(call: ApiCall) -> web.Response:
    """``PUT /api/users/{login}``."""
    assert isinstance(call.body, UserChange)  # noqa: S101
    body = call.body
    account = await owner_account(call, login_of(call), body.server)
    symbols = None if body.allowed_symbols is None else tuple(body.allowed_symbols)
    await reauthenticate(call, body.owner_password, loosening(
        account, symbols, body.max_lot_size, body.risk_pct, body.auto_trade_enabled,
        body.paper_trade_enabled))
    changes = AccountChanges(
        name=body.name, broker=body.broker, is_live=body.is_live, allowed_symbols=symbols,
        max_lot_size=body.max_lot_size, risk_pct=body.risk_pct,
        auto_trade_enabled=body.auto_trade_enabled,
        paper_trade_enabled=body.paper_trade_enabled, mt5_path=body.mt5_path,
        account_type=body.account_type)
    if await call.authority.manager.update(call.owner, account.id, changes) is None:
        raise Refusal(404, "not_found", "the account is gone")
    user = next(u for u in await _users(call) if u.id == account.id)
    return ok(UserEnvelope(user=user))


async def change_password(call: ApiCall) -> web.Response:
    """``PUT /api/users/{login}/password``: the stored MT5 password (never answered)."""
    assert isinstance(call.body, PasswordIn)  # noqa: S101
    account = await owner_account(call, login_of(call), call.body.server)
    if not await call.authority.manager.set_password(call.owner, account.id,
                                                     call.body.password):
        raise Refusal(404, "not_found", "the account is gone")
    return ok(StatusOut(message=f"the MT5 password of account {account.login} is stored "
                                "(encrypted; it is never shown)"))


def operation_out(i: Instruction) -> OperationOut:
    """An instruction as the API shows it."""
    return OperationOut(id=i.id, login=i.login, server=i.server, kind=i.kind,  # type: ignore[arg-type]
                        amount=float(i.amount), comment=i.text, state=i.state,  # type: ignore[arg-type]
                        deal=i.deal, detail=i.detail, created_at=i.created_at,
                        settled_at=i.done_at)


async def _money(call: ApiCall, kind: str) -> web.Response:
    assert isinstance(call.body, MoneyIn)  # noqa: S101
    body = call.body  # amounts checked by the models: above 0, or (credit) not 0
    account = await owner_account(call, login_of(call), body.server)
    manager = call.authority.manager
    try:
        made, _ = await manager.move_money(call.owner, account, kind, body.amount,
                                           body.comment, body.operation_id)
    except LiveMoney as exc:
        raise Refusal(409, "live_account", str(exc)) from None
    except KeyReused as exc:
        raise Refusal(409, "operation_id_reused", str(exc)) from None
    settled = await manager.wait_settled(call.owner, made.id, SETTLE_WAIT_S) or made
    return ok(OperationEnvelope(operation=operation_out(settled)),
              status=202 if settled.state == "pending" else 200)


async def deposit(call: ApiCall) -> web.Response:
    """``POST /api/accounts/{login}/deposit``."""
    return await _money(call, "deposit")


async def withdraw(call: ApiCall) -> web.Response:
    """``POST /api/accounts/{login}/withdraw``."""
    return await _money(call, "withdraw")


async def credit(call: ApiCall) -> web.Response:
    """``POST /api/accounts/{login}/credit`` (a negative amount takes credit away)."""
    return await _money(call, "credit")
