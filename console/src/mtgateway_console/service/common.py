"""What the authority's rooms share: the store behind its door, the clock, the activity log,
the revocation feed, the e-mails on their way, and the rules more than one room applies (who
holds a terminal, which tokens a record may be signed for).

:meth:`Shared.run` is every room's way to the database: one transaction function, run off the
event loop by the database's door (``database/``), after the schema has been prepared
(migrations and side tables, :meth:`Shared.prepare`, tried again by the first transaction if
the database was unreachable when the console started).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from decimal import Decimal
from email.message import EmailMessage
from typing import Any, Concatenate, ParamSpec, TypeVar

from mtgateway_base.wire.errors import AuthorityError
from mtgateway_base.wire.records import DEFAULT_RISK, RiskPolicy

from ..address import ConsoleAddress
from ..database import DatabaseUnavailable, Tx
from ..fairshare import FairShare
from ..mailer import Mailer, security_notice_message
from ..passwords import Hashing
from ..tables import owners as owner_rows
from ..tables.activity import ActivityLog
from ..tables.feed import RevocationFeed
from ..tables.reports import create_tables as create_report_tables
from ..tables.signins import create_ended_table
from ..tables.store import AccountRow, AuthorityStore, TokenRow
from ..tables.token_details import UseThrottle

__all__ = ["Shared", "TerminalClaimed", "announce", "check_claim", "decimal_text", "holders",
           "mask_email", "normalize_email", "revoke_in", "risk_of", "risk_of_account", "serves",
           "serves_account", "terminal_lock"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def normalize_email(email: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding blanks."""
    return email.strip().lower()


def mask_email(email: str) -> str:
    """``owner@example.com`` → ``o***@example.com`` (device status shows no full address)."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def decimal_text(value: Decimal) -> str:
    """A decimal as the store keeps it (no exponent, no trailing zeros, no ``-0``)."""
    text = format(value.normalize(), "f")
    return text if text not in ("-0", "") else "0"


class TerminalClaimed(AuthorityError, ValueError):
    """The terminal (login and server) belongs to another owner: it registered the account,
    or holds live tokens for it. The message names the terminal, never the other owner."""


def terminal_lock(login: int, server: str) -> str:
    """The lock name under which a terminal's claim is checked and written."""
    return f"mtgateway-terminal-claim:{login}@{server}"


def holders(tx: Tx, store: AuthorityStore, login: int, server: str, now: int) -> set[str]:
    """Whose the terminal is: the owner who registered its account, else the owners holding
    live tokens for it (none: it is anyone's to claim)."""
    account = store.account_for(tx, login, server)
    return ({account.owner_email} if account is not None
            else store.live_token_owners(tx, login, server, now))


def check_claim(tx: Tx, store: AuthorityStore, owner_email: str, login: int, server: str,
                now: int) -> None:
    """Refuse a terminal another owner holds. Called under the terminal's lock
    (:func:`terminal_lock`) in the transaction that writes the claim, so two owners' claims
    made at once through two console instances cannot both pass."""
    others = holders(tx, store, login, server, now) - {owner_email}
    if others:
        log.warning("refused a token for terminal %s@%s claimed by another owner",
                    login, server)
        raise TerminalClaimed(f"terminal {login}@{server} belongs to another owner")


def serves(tx: Tx, store: AuthorityStore, row: TokenRow) -> bool:
    """Whether a token's record may be handed out: not for a terminal whose account another
    owner registered (a token issued before that registration, or before this check existed,
    stops working)."""
    return serves_account(row, store.account_for(tx, row.login, row.server))


def serves_account(row: TokenRow, account: AccountRow | None) -> bool:
    """:func:`serves`, the terminal's registered ``account`` read already."""
    return account is None or account.owner_email == row.owner_email


def announce(tx: Tx, shared: Shared, owner_email: str, login: int, server: str,
             now: int) -> None:
    """Tell the daemons holding the terminal's live tokens to look again now: each token is
    put on the revocation feed, in ``tx`` (they refresh their signed records, which carry
    the account's policy, the halt and the instructions, within seconds rather than at the
    next periodic refresh). Every change a daemon must act on calls this in its own
    transaction."""
    for token in shared.store.tokens_of(tx, owner_email):
        if (token.login, token.server) == (login, server) and serves(tx, shared.store, token):
            shared.feed.add(tx, owner_email, now, token_id=token.token_id)


def risk_of(tx: Tx, store: AuthorityStore, login: int, server: str) -> RiskPolicy:
    """The risk policy a record of this terminal carries: its account's, or the permissive
    default when none is registered."""
    return risk_of_account(store.account_for(tx, login, server))


def risk_of_account(account: AccountRow | None) -> RiskPolicy:
    """:func:`risk_of`, the terminal's registered ``account`` read already."""
    if account is None:
        return DEFAULT_RISK
    return RiskPolicy(allowed_symbols=account.allowed_symbols,
                      max_lot_size=account.max_lot_size, risk_pct=account.risk_pct,
                      auto_trade_enabled=account.auto_trade_enabled,
                      paper_trade_enabled=account.paper_trade_enabled,
                      is_live=account.is_live, account_type=account.account_type)


class Shared:
    """The parts every room of the authority uses."""

    def __init__(self, store: AuthorityStore, mailer: Mailer, clock: Callable[[], float],
                 address: ConsoleAddress | None = None, hashing: Hashing | None = None,
                 shares: FairShare | None = None) -> None:
        self.store = store
        #: The console's fair share (``mtgateway_console.fairshare``): the rows one caller may make
        #: it keep are counted here; None without a console (the CLI, a daemon in local mode).
        self.shares = shares
        #: Password hashes, on their own bounded pool, each caller in its turn
        #: (``passwords.Hashing``).
        self.hashing = hashing if hashing is not None else Hashing()
        self.mailer = mailer
        self.clock = clock
        #: The console's own address: every link a mail names is built on it, never on a
        #: request's Host (``address.py``).
        self.address = address if address is not None else ConsoleAddress()
        #: The owner's activity, the revocations daemons long-poll for (``activity.py``,
        #: ``feed.py``).
        self.activity = ActivityLog()
        self.feed = RevocationFeed(store.database)
        #: Which token uses are worth a write (``token_details.py``).
        self.uses = UseThrottle()
        self._prepared = False
        self._preparing: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def now(self) -> int:
        """The clock, in whole epoch seconds (what rows keep)."""
        return int(self.clock())

    @property
    def prepared(self) -> bool:
        """Whether the schema has been migrated and the side tables made in this process."""
        return self._prepared

    async def prepare(self) -> None:
        """Migrate the schema and make the side tables, once (concurrent callers wait for the
        one doing it).

        Raises:
            DatabaseUnavailable: the database cannot be reached (try again later).
            DatabaseError: it is newer than this program.
        """
        if self._prepared:
            return
        if self._preparing is None:
            self._preparing = asyncio.Lock()
        async with self._preparing:
            if self._prepared:
                return
            await self.store.migrate()
            await self.store.database.run_unbounded(_side_tables)
            self._prepared = True

    def run(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args,
            **kwargs: P.kwargs) -> Coroutine[Any, Any, T]:
        """``fn(tx, *args)`` as one transaction, off the event loop (the schema prepared
        first if it is not yet): the door's coroutine itself once prepared, to await (a
        coroutine around it would be one more frame to resume when its answer comes, on
        every transaction's path).

        Raises:
            DatabaseUnavailable: the database did not answer within its bound.
        """
        if self._prepared:
            return self.store.database.run(fn, *args, **kwargs)
        return self._prepared_run(fn, *args, **kwargs)

    async def _prepared_run(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args,
                            **kwargs: P.kwargs) -> T:
        await self.prepare()
        return await self.store.database.run(fn, *args, **kwargs)

    # -- e-mails -------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, bool]) -> asyncio.Task[bool]:
        """Run ``coro`` (an e-mail's delivery) in the background; :meth:`drain` awaits it."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def mail(self, message: EmailMessage) -> asyncio.Task[bool]:
        """Send ``message`` in the background; the task answers whether it went out."""
        return self.spawn(self._deliver(message))

    def notify(self, owner_email: str, kind: str, at: int,
               undo: tuple[str, int] | None = None) -> asyncio.Task[bool]:
        """Tell the owner, in the background, of a change to how they sign in (a kind of
        ``mailer.SECURITY_NOTICES``; ``undo``: the link that takes a second factor back and
        its hours); called once the change is committed."""
        return self.mail(security_notice_message(owner_email, kind, at,
                                                 self.mailer.from_address, self.address, undo))

    async def drain(self) -> None:
        """Wait for the e-mails still being sent (failures were logged, not raised)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, message: EmailMessage) -> bool:
        """Send; whether it went out. A failure is logged and put in the owner's activity
        (the console's page says "e-mail not sent"), never swallowed silently."""
        try:
            await self.mailer.send(message)
        except Exception as exc:  # noqa: BLE001 - a mail failure must not kill the authority
            log.warning("could not send the e-mail %r: %s", message["Subject"],
                        type(exc).__name__)
            owner = normalize_email(str(message["To"] or ""))
            try:
                await self.run(self._note_mail_failed, owner,
                               f"{message['Subject']} ({type(exc).__name__})", self.now())
            except DatabaseUnavailable:
                log.warning("the failed e-mail could not be noted in the owner's activity: "
                            "the database is unavailable")
            return False
        return True

    def _note_mail_failed(self, tx: Tx, owner: str, detail: str, now: int) -> None:
        if owner_rows.owner_password_hash(tx, owner) is not None:
            self.activity.add(tx, owner, "mail_failed", detail, now)


def revoke_in(tx: Tx, shared: Shared, owner_email: str, token_id: str, now: int) -> bool:
    """Revoke one of the owner's tokens in ``tx``; ``False`` if no such token is theirs. A
    first revocation is logged and put on the feed (connected daemons hear of it within
    seconds), in the same transaction. Shared by the tokens' revoke and a device's denial
    that revokes the token it presented."""
    before = shared.store.token_by_id(tx, token_id)
    if not shared.store.revoke_token(tx, owner_email, token_id, now):
        return False
    if before is not None and before.revoked_at is None:
        shared.feed.add(tx, owner_email, now, token_id=token_id)
        shared.activity.add(tx, owner_email, "token_revoked",
                            f"{token_id} for {before.login}@{before.server}", now)
    return True


def _side_tables(tx: Tx) -> None:
    """The console's side tables (activity, terminal reports, revocation feed), made at start
    if missing: they carry no rows a release must convert."""
    ActivityLog.create_table(tx)
    create_report_tables(tx)
    RevocationFeed.create_table(tx)
    create_ended_table(tx)
