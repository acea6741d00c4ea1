"""Across the owner's accounts, as their daemons read them: margins, open trades, history,
trade lookup, groups, who is online, and the console's public configuration.

Every figure comes from a daemon's report (``snapshots.py``) and carries the time that
daemon read it (``as_of``, on the console's clock): the console never asks a terminal
itself. A terminal reported by two daemons (two machines serving one account) is answered
from the freshest report. Terminals whose token the owner holds count whether or not the
account is registered.

Every record says its ``book`` (``venues.py``): ``live`` or ``paper``. The open trades and
margins are the latest snapshot's: the book its daemon reports now and, while the account
trades on paper, the live book its daemon reads beside it from the broker (what stays open
there). The open trades answer every book reported (``?book=live`` or ``?book=paper`` one);
a margin is the broker's whenever it was reported (``?book=paper`` the paper book's, and
``/margins?book=all`` every book's row), since the broker's margin is the money at stake.
The history and the lookup answer each terminal's current book (its freshest report's, else
its registration's paper switch) unless the body's ``book`` names one or ``all``, and pair a
closing deal only with an opening deal of its own book.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from aiohttp import web

from mtgateway._version import __version__
from mtgateway_base.mt4web import Handlers, mt4records
from mtgateway_base.mt4web.console_models import (
    BookChoice,
    ByGroupIn,
    GroupEnvelope,
    GroupOut,
    GroupsOut,
    HealthOut,
    HistoryIn,
    LookupIn,
    MarginOut,
    MarginRow,
    MarginsOut,
    OnlineOut,
    OnlineRow,
    ServerConfigOut,
    TradeRecord,
    TradesOut,
)
from mtgateway_base.wire.reports import MAX_DEALS, MAX_TRADES, REPORT_INTERVAL_S
from mtgateway_base.wire.venues import Book, chosen

from ..apitokens import ALGORITHM, LIFETIME_S, MAX_SESSION_S, RENEW_WITHIN_S
from ..appkeys import AUTHORITY
from ..errors import Refusal
from ..tables.reports import SILENT_AFTER_S
from ..tables.snapshots import KEEP_DEALS_S, KeptDeal, Snapshot
from .dispatch import ApiCall, Handler, ok
from .users import login_of

__all__ = ["HANDLERS", "by_group", "group", "groups", "health", "history", "lookup", "margin",
           "margins", "online", "open_trades", "open_trades_of", "server_config"]

Terminal = tuple[int, str]

#: This room's handlers, each registered above it by the operation id of the table's row it
#: answers (``mtgateway_base/mt4web/table.py``); ``table.py`` binds the rooms' together.
HANDLERS: Final = Handlers[Handler]()


async def _latest(call: ApiCall) -> dict[Terminal, Snapshot]:
    """The freshest snapshot of each of the owner's terminals."""
    latest: dict[Terminal, Snapshot] = {}
    for (_, login, server), snap in (await call.authority.live.snapshots(call.owner)).items():
        if (login, server) not in latest or snap.as_of > latest[(login, server)].as_of:
            latest[(login, server)] = snap
    return latest


def _query_book(call: ApiCall) -> BookChoice | None:
    """The ``?book=`` of a GET: ``live``, ``paper``, ``all``, or None when absent.

    Raises:
        Refusal: 400 for another value.
    """
    value = call.request.query.get("book")
    if value is None:
        return None
    if value not in ("live", "paper", "all"):
        raise Refusal(400, "invalid_book", "book: must be live, paper or all")
    return value  # type: ignore[return-value]


def _margins_of(snap: Snapshot, choice: BookChoice | None) -> list[Snapshot]:
    """The snapshots a margin answer covers: ``choice``'s books, or without one the
    broker's (the live book, beside a paper one or alone), else the paper book's."""
    if choice is None:
        return [snap.live if snap.live is not None else snap]
    return [s for s in snap.books() if choice == "all" or s.book == choice]


def _margin_row(terminal: Terminal, snap: Snapshot) -> MarginRow:
    a = snap.account
    return MarginRow(login=terminal[0], server=terminal[1], currency=a.get("currency", ""),
                     leverage=a.get("leverage", 0), balance=a["balance"],
                     credit=a.get("credit", 0.0), equity=a["equity"],
                     margin=a.get("margin", 0.0), margin_free=a.get("margin_free", 0.0),
                     margin_level=a.get("margin_level", 0.0), as_of=snap.as_of,
                     book=snap.book)


async def _of_login(call: ApiCall, login: int) -> dict[Terminal, Snapshot]:
    """The freshest snapshots of the owner's terminals with this login.

    Raises:
        Refusal: 404 when no daemon reports such a terminal of the owner now.
    """
    found = {t: s for t, s in (await _latest(call)).items() if t[0] == login}
    if not found:
        raise Refusal(404, "not_reported", f"no daemon reports account {login} of yours now "
                      "(is its terminal connected, and its daemon remote-mode?)")
    return found


@HANDLERS.answers("get_api_accounts_login_margin")
async def margin(call: ApiCall) -> web.Response:
    """``GET /api/accounts/{login}/margin``: the broker's margin (``?book=paper``: the
    paper book's).

    Raises:
        Refusal: 404 when no daemon reports the account (or the book asked) now.
    """
    choice = _query_book(call)
    (terminal, snap), *_ = sorted((await _of_login(call, login_of(call))).items(),
                                  key=lambda item: -item[1].as_of)
    found = _margins_of(snap, "live" if choice == "all" else choice)
    if not found:
        raise Refusal(404, "not_reported", f"no daemon reports the {choice} book of account "
                      f"{terminal[0]} now")
    return ok(MarginOut(**_margin_row(terminal, found[0]).model_dump()))


@HANDLERS.answers("get_api_accounts_margins")
async def margins(call: ApiCall) -> web.Response:
    """``GET /api/accounts/margins``: each account's broker margin (``?book=`` one book's,
    or ``all`` every book's row)."""
    choice = _query_book(call)
    rows = [_margin_row(t, one) for t, s in sorted((await _latest(call)).items())
            for one in _margins_of(s, choice)]
    return ok(MarginsOut(count=len(rows), margins=rows))


def _trades(items: Iterable[tuple[Terminal, Snapshot]],
            choice: BookChoice | None = None) -> TradesOut:
    """The open trades of every book the snapshots hold (``choice``: of one book)."""
    trades, complete = [], True
    for (_, server), whole in items:
        for snap in whole.books():
            if choice not in (None, "all", snap.book):
                continue
            trades += [TradeRecord(**t, server=server, as_of=snap.as_of, book=snap.book)
                       for t in snap.trades]
            listed_positions = sum(1 for t in snap.trades if t["state"] == "open")
            complete = complete and listed_positions >= snap.positions_total \
                and len(snap.trades) - listed_positions >= snap.orders_total
    return TradesOut(count=len(trades), trades=trades, complete=complete)


@HANDLERS.answers("get_api_trades_open")
async def open_trades(call: ApiCall) -> web.Response:
    """``GET /api/trades/open``: every open position and pending order of the owner, of
    every book reported (``?book=``: one)."""
    return ok(_trades(sorted((await _latest(call)).items()), _query_book(call)))


@HANDLERS.answers("get_api_trades_open_login")
async def open_trades_of(call: ApiCall) -> web.Response:
    """``GET /api/trades/open/{login}`` (``?book=``: one book)."""
    choice = _query_book(call)
    return ok(_trades(sorted((await _of_login(call, login_of(call))).items()), choice))


async def _known_terminals(call: ApiCall, login: int, server: str | None) -> list[Terminal]:
    """The owner's terminals with this login (registered, reported now, or with deals kept).

    Raises:
        Refusal: 404 for a login that is none of the owner's.
    """
    accounts = {(a.login, a.server) for a in await call.authority.accounts.of(call.owner)}
    reported = set(await _latest(call))
    rows = await call.authority.terminals.of(call.owner)
    tokens = {(r.login, r.server) for r in rows}
    found = sorted(t for t in accounts | reported | tokens
                   if t[0] == login and (server is None or t[1] == server))
    if not found:
        raise Refusal(404, "not_found", f"account {login} is not one of yours")
    return found


def _records(rows: list[KeptDeal]) -> list[TradeRecord]:
    """Deals as MT4 trade records, paired per terminal and book, each with its report's
    time and its book."""
    out: list[TradeRecord] = []
    for login, server, book in sorted({(r.login, r.server, r.book) for r in rows}):
        deals = [(r.as_of, r.deal) for r in rows if (r.login, r.server, r.book) == (
            login, server, book)]
        openings = mt4records.openings_of(d for _, d in deals)
        as_of = {d["ticket"]: a for a, d in deals}
        by_position = {d["position_id"]: a for a, d in deals}
        for record in mt4records.closed_records(login, [d for _, d in deals], openings):
            seen = as_of.get(record["order"], by_position.get(record["order"], 0.0))
            out.append(TradeRecord(**record, server=server, as_of=seen, book=book))
    return out


async def _books(call: ApiCall, terminals: list[Terminal], choice: BookChoice | None
                 ) -> dict[Terminal, tuple[Book, ...]]:
    """The books each terminal's answer covers: ``choice``, or without one its current
    book (what its daemon reports now; never reported: its registration's paper switch)."""
    if choice is not None:
        return {t: chosen(choice, "live") for t in terminals}
    reported = await call.authority.live.books(call.owner)
    paper = {(a.login, a.server) for a in await call.authority.accounts.of(call.owner)
             if a.paper_trade_enabled}
    return {t: chosen(None, reported.get(t, "paper" if t in paper else "live"))
            for t in terminals}


async def _deals(call: ApiCall, books: dict[Terminal, tuple[Book, ...]], **where: Any
                 ) -> list[KeptDeal]:
    """The kept deals of each terminal's books."""
    live = call.authority.live
    out: list[KeptDeal] = []
    for terminal, kept in books.items():
        out += await live.deals(call.owner, [terminal], books=kept, **where)
    return out


@HANDLERS.answers("post_api_trades_history_login")
async def history(call: ApiCall) -> web.Response:
    """``POST /api/trades/history/{login}``: closed trades and balance operations the
    terminal's daemons reported (the console keeps 90 days), of its current book unless the
    body's ``book`` says."""
    body = call.body if isinstance(call.body, HistoryIn) else HistoryIn()
    date_from = body.date_from if body.date_from is not None else 0
    date_to = body.date_to if body.date_to is not None else 2**40
    if date_to < date_from:
        raise Refusal(400, "invalid_period", "to: must not be before from")
    terminals = await _known_terminals(call, login_of(call), body.server)
    books = await _books(call, terminals, body.book)
    rows = await _deals(call, books, date_from=date_from, date_to=date_to)
    # a position closed in the period but opened before it: its opening deal, by position
    # (in its own book: the other book's position of that number is another)
    opened_before = {(r.book, r.deal["position_id"]) for r in rows
                     if r.deal["entry"] in mt4records.CLOSING_ENTRIES} - {
        (r.book, r.deal["position_id"]) for r in rows if r.deal["entry"] == 0}
    if opened_before:
        earlier = await _deals(call, books, positions=sorted(p for _, p in opened_before))
        rows = [r for r in earlier if (r.book, r.deal["position_id"]) in opened_before] + rows
    trades = _records(rows)
    trades = [t for t in trades if date_from <= t.close_time <= date_to]
    return ok(TradesOut(count=len(trades), trades=trades))


@HANDLERS.answers("post_api_admin_trades_lookup")
async def lookup(call: ApiCall) -> web.Response:
    """``POST /api/admin/trades/lookup``: the owner's trades with these tickets: open
    positions and orders by ticket, closed trades by position or deal ticket; of each
    account's current book unless the body's ``book`` says."""
    assert isinstance(call.body, LookupIn)  # noqa: S101
    wanted = set(call.body.tickets)
    latest = await _latest(call)
    terminals = sorted(set(latest) | {(a.login, a.server) for a in
                                      await call.authority.accounts.of(call.owner)})
    books = await _books(call, terminals, call.body.book)
    found = [r for r in _trades(sorted(latest.items())).trades
             if r.order in wanted and r.book in books[(r.login, r.server)]]
    rows = await _deals(call, books, tickets=sorted(wanted), positions=sorted(wanted))
    positions = {(r.book, r.deal["position_id"]) for r in rows}
    if positions:
        rows = [r for r in await _deals(call, books, positions=sorted(p for _, p in positions))
                if (r.book, r.deal["position_id"]) in positions]
    found += [r for r in _records(rows) if r.order in wanted or r.state == "closed"
              and (r.book, r.order) in positions]
    return ok(TradesOut(count=len(found), trades=found))


async def _group_rows(call: ApiCall) -> list[GroupOut]:
    authority = call.authority
    accounts = {a.id: a for a in await authority.accounts.of(call.owner)}
    online = {(r.login, r.server) for r in await authority.live.online(call.owner)}
    out = []
    for g, ids in await authority.groups.of(call.owner):
        members = [accounts[i] for i in ids if i in accounts]
        out.append(GroupOut(
            name=g.name, allowed_symbols=list(g.allowed_symbols),
            max_lot_size=float(g.max_lot_size), risk_pct=float(g.risk_pct),
            auto_trade_enabled=g.auto_trade_enabled, logins=[a.login for a in members],
            online=sum(1 for a in members if (a.login, a.server) in online)))
    return out


@HANDLERS.answers("get_api_groups")
async def groups(call: ApiCall) -> web.Response:
    """``GET /api/groups/``."""
    rows = await _group_rows(call)
    return ok(GroupsOut(count=len(rows), groups=rows))


@HANDLERS.answers("get_api_groups_name")
async def group(call: ApiCall) -> web.Response:
    """``GET /api/groups/{name}``."""
    name = call.match["name"]
    found = next((g for g in await _group_rows(call) if g.name == name), None)
    if found is None:
        raise Refusal(404, "not_found", f"no group {name[:64]!r} of yours")
    return ok(GroupEnvelope(group=found))


@HANDLERS.answers("post_api_admin_trades_by_group")
async def by_group(call: ApiCall) -> web.Response:
    """``POST /api/admin/trades/by-group``: the open trades of a group's accounts."""
    assert isinstance(call.body, ByGroupIn)  # noqa: S101
    found = next((g for g in await _group_rows(call) if g.name == call.body.group), None)
    if found is None:
        raise Refusal(404, "not_found", f"no group {call.body.group!r} of yours")
    accounts = {(a.login, a.server) for a, g in await call.authority.accounts.with_groups(
        call.owner) if g == found.name}
    items = sorted((t, s) for t, s in (await _latest(call)).items() if t in accounts)
    return ok(_trades(items))


@HANDLERS.answers("get_api_groups_online")
async def online(call: ApiCall) -> web.Response:
    """``GET /api/groups/online``: the owner's terminals active now."""
    rows = [OnlineRow(login=r.login, server=r.server, device_id=r.device_id,
                      platform=r.platform, ea_version=r.ea_version, since=r.changed_at,
                      reported_at=r.reported_at)
            for r in await call.authority.live.online(call.owner)]
    return ok(OnlineOut(count=len(rows), online=rows))


@HANDLERS.answers("get_api_server_config")
async def server_config(call: ApiCall) -> web.Response:
    """``GET /api/server/config``: version, the signing key's id, the limits that apply."""
    key = call.request.app[AUTHORITY].store.signer.key
    return ok(ServerConfigOut(
        service="mtgateway-console", version=__version__, key_id=key.kid,
        key_algorithm="Ed25519",
        limits={"report_interval_s": REPORT_INTERVAL_S, "silent_after_s": SILENT_AFTER_S,
                "max_trades_per_report": MAX_TRADES, "max_deals_per_report": MAX_DEALS,
                "deals_kept_s": KEEP_DEALS_S},
        access_token={"algorithm": ALGORITHM, "lifetime_s": LIFETIME_S,
                      "renew_within_s": RENEW_WITHIN_S, "max_session_s": MAX_SESSION_S,
                      "renewed_header": "X-Access-Token"}))


@HANDLERS.answers("get_api_health")
async def health(call: ApiCall) -> web.Response:
    """``GET /api/health`` (no token, as the document's)."""
    return ok(HealthOut(service="mtgateway-console", version=__version__))
