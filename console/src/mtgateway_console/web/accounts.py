"""The owner's MetaTrader accounts (``/accounts``): registering one with its risk policy, and
changing that policy; a halt in force and an account's group are shown where the policy is.

An account in a group is named so on its form, with what saving there does, as the service
does it (``service/groups.py``): the save changes this account alone and it stays in the
group, whose next change (a new group policy, or an account moved in) writes the group's
policy over it again.

Tightening a limit is one click. Loosening one, or leaving paper trading, asks for the
owner's password again (the service's rule, ``service/consent.py``, in the kit's words): these
switches put real money at the broker, and a session cookie alone reaches any local process
the browser is sent to. Switching paper on while the live book holds positions or pending
orders at the broker says what stays open there and asks for a tick to confirm (the service's
``LiveOpen``); each account says what its live book holds now. A form
with an error keeps what was typed and names the field; the password is never echoed back.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..service import PasswordNeeded
from ..service.accounts import AccountChanges, LiveOpen
from ..tables.snapshots import open_words
from ..tables.store import AccountExists
from .forms import FormErrors, parse_registration, parse_risk
from .kit import REAUTH_FIELD, Page, refused, signed_in
from .views import halt_notes, halted, live_tokens, verified_terminals

__all__ = ["routes"]

routes = web.RouteTableDef()


async def _accounts_page(page: Page, *, status: int = 200, errors: FormErrors | None = None,
                         form: dict[str, Any] | None = None,
                         risk_errors: dict[int, dict[str, str]] | None = None,
                         risk_forms: dict[int, dict[str, Any]] | None = None) -> web.Response:
    """The accounts page; ``risk_forms`` keeps what was typed into a refused risk form."""
    authority = page.authority
    halts = await authority.halts.of(page.owner)
    rows = await authority.accounts.with_groups(page.owner)
    fresh: dict[tuple[int, str], Any] = {}
    for (_, login, server), snap in (await authority.live.snapshots(page.owner)).items():
        if (login, server) not in fresh or snap.as_of > fresh[(login, server)].as_of:
            fresh[(login, server)] = snap
    live_open = {}  # what each account's live book holds at the broker now, in words
    for terminal, snap in fresh.items():
        live = snap if snap.book == "live" else snap.live
        if live is not None and (live.positions_total or live.orders_total):
            live_open[terminal] = open_words(live.positions_total, live.orders_total)
    return await page.show("accounts.html", "accounts", status=status,
                           accounts=[a for a, _ in rows],
                           groups={a.id: group for a, group in rows if group is not None},
                           halts=halt_notes(halts), halts_back="/accounts",
                           halted={(a.login, a.server): halted(halts, a.login, a.server)
                                   for a, _ in rows},
                           verified=verified_terminals(
                               await authority.terminals.of(page.owner),
                               await authority.terminals.verified(page.owner)),
                           live_tokens=live_tokens(await authority.tokens.of(page.owner),
                                                   page.kit.clock()),
                           live_open=live_open,
                           errors=(errors or FormErrors()).fields, form=form or {},
                           risk_errors=risk_errors or {}, risk_forms=risk_forms or {})


def _confirmed(page: Page) -> bool:
    """Whether the form came with the box ticked that switches to paper over open live
    trades."""
    return page.form.get("confirm_live_open") == "on"


@routes.get("/accounts")
@signed_in
async def accounts(page: Page) -> web.StreamResponse:
    """The owner's accounts and the form for a new one."""
    return await _accounts_page(page)


@routes.post("/accounts")
@signed_in
async def register_account(page: Page) -> web.StreamResponse:
    """Register an account (the JSON API's ``AccountCreate`` rules, as a form)."""
    typed = {k: v for k, v in page.form.items() if k != "password"}  # never echoed back
    registration, errors = parse_registration(page.form)
    if registration is None:
        return await _accounts_page(page, status=400, errors=errors, form=typed)
    authority = page.authority
    try:
        await authority.accounts.register(page.owner, registration,
                                          confirm_live_open=_confirmed(page))
    except LiveOpen as exc:
        errors.add("paper_trade_enabled", f"{exc.words}. Tick the box below to start on paper "
                   "anyway, and register again.")
        return await _accounts_page(page, status=409, errors=errors,
                                    form={**typed, "ask_live_open": "yes"})
    except AccountExists:
        errors.add("login", f"Account {registration.login} already exists on "
                            f"{registration.server}")
        return await _accounts_page(page, status=409, errors=errors, form=typed)
    except ValueError as exc:
        errors.add("name", str(exc))
        return await _accounts_page(page, status=400, errors=errors, form=typed)
    has_token = live_tokens(await authority.tokens.of(page.owner),
                            page.kit.clock()).get((registration.login, registration.server))
    raise await page.done(f"Account {registration.login}@{registration.server} registered. "
                          + ("Its terminal's token now carries this risk policy." if has_token
                             else "Next: create a token for it."), "/accounts")


@routes.post("/accounts/{account_id}/risk")
@signed_in
async def update_risk(page: Page) -> web.StreamResponse:
    """Save an account's risk policy: tightening at once, loosening with the password."""
    raw_id = page.request.match_info["account_id"]
    if not raw_id.isdigit():
        raise web.HTTPNotFound()
    account_id = int(raw_id)
    account = next((a for a in await page.authority.accounts.of(page.owner)
                    if a.id == account_id), None)
    if account is None:
        raise web.HTTPNotFound()
    typed = {k: v for k, v in page.form.items() if k not in (REAUTH_FIELD, "csrf")}
    policy, errors = parse_risk(page.form)
    if policy is None:
        return await _accounts_page(page, status=400, risk_errors={account_id: errors.fields},
                                    risk_forms={account_id: typed})
    changes = AccountChanges(allowed_symbols=policy.allowed_symbols,
                             max_lot_size=policy.max_lot_size, risk_pct=policy.risk_pct,
                             auto_trade_enabled=policy.auto_trade_enabled,
                             paper_trade_enabled=policy.paper_trade_enabled)
    password = page.form.get(REAUTH_FIELD)
    try:
        changed = await page.authority.accounts.update(
            page.owner, account_id, changes,
            password=password if isinstance(password, str) else None,
            confirm_live_open=_confirmed(page))
    except LiveOpen as exc:
        why = f"{exc.words}. Tick the box to switch to paper anyway, and save again."
        return await _accounts_page(page, status=409,
                                    risk_errors={account_id: {"paper_trade_enabled": why}},
                                    risk_forms={account_id: {**typed,
                                                             "ask_live_open": "yes"}})
    except PasswordNeeded as needed:
        why = f"{refused(needed)} It is needed to {'; '.join(needed.words)}."
        return await _accounts_page(page, status=401,
                                    risk_errors={account_id: {REAUTH_FIELD: why}},
                                    risk_forms={account_id: typed})
    if changed is None:
        raise web.HTTPNotFound()
    raise await page.done("Risk policy saved; connected daemons apply it within seconds.",
                          "/accounts")
