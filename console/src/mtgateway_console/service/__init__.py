"""The token authority: owners, tokens, accounts, device approval, and the records it signs.

One object, :class:`Authority`, serves both faces, through rooms by job:

- :attr:`Authority.owners` (``owners.py``): owners, passwords, sign-ins, activity;
- :attr:`Authority.credentials` (``credentials.py``): what speaks for an owner (the console
  API's sign-ins beside the page sessions) and the events that end it all at once;
- :attr:`Authority.tokens` (``tokens.py``): issue, list, revoke;
- :attr:`Authority.accounts` (``accounts.py``): registered accounts, every change of one and
  its risk policy (what loosens it asks for the password: ``consent.py``);
- :attr:`Authority.groups` (``groups.py``): groups of accounts sharing a policy;
- :attr:`Authority.halts` (``halts.py``): the kill switch;
- :attr:`Authority.instructions` (``instructions.py``): paper money and chart messages the
  daemons apply;
- :attr:`Authority.live` (``live.py``): what daemons report of each account (snapshots,
  deals, who is online) and the live page's watch;
- :attr:`Authority.approvals` (``approvals.py``): devices, approval codes and locks, the
  owner's decisions;
- :attr:`Authority.records` (``records.py``): the signed records devices look up and refresh;
- :attr:`Authority.terminals` (``terminals.py``): what daemons report, and the revocation
  long-poll.

Owner-facing callers (the console's routes and pages, the CLI in local mode) use the rooms;
the device-facing calls are the :class:`~mtgateway_base.wire.api.AuthorityAPI` methods of this
façade, which the daemon calls directly in local mode and the console serves over HTTP. Every
call that reads or writes the store is a coroutine and runs its one transaction off the event
loop (``database/``). Approval e-mails go out on background tasks;
:meth:`Authority.close` awaits them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from mtgateway_base.wire.api import (
    DeviceInfo,
    DeviceStatus,
    LookupAnswer,
    ResendAnswer,
    VerifyAnswer,
)
from mtgateway_base.wire.records import AuthorityKey
from mtgateway_base.wire.reports import AccountFigures, TerminalReport
from mtgateway_base.wire.tokens import generate_token

from ..address import ConsoleAddress
from ..database import CONNECT_TIMEOUT_S, POOL_SIZE, STATEMENT_TIMEOUT_S, Tx
from ..fairshare import FairShare
from ..mailer import Mailer
from ..passwords import Hashing
from ..tables import halts as halt_rows
from ..tables import reports
from ..tables.halts import Halt
from ..tables.migrations import version_of
from ..tables.reports import TerminalRow
from ..tables.signins import StoredSessions, StoredSteps
from ..tables.store import AccountRow, AuthorityStore, ProofClaim, StoredProofReplays
from .accounts import AccountRegistration, Accounts
from .alerts import Alerts
from .approvals import Approvals
from .common import Shared, TerminalClaimed, mask_email, normalize_email
from .consent import Consent, PasswordCheck, PasswordNeeded
from .credentials import CredentialEnded, Credentials
from .groups import Groups
from .halts import Halts
from .instructions import Instructions
from .live import Live
from .owners import Owners
from .records import Records
from .recovery import Recovery
from .resets import Resets
from .secondfactor import SecondFactor
from .terminals import Terminals
from .tokens import SCOPES, Tokens, listings

__all__ = ["SCOPES", "AccountRegistration", "Authority", "CredentialEnded", "Overview",
           "PasswordNeeded", "TerminalClaimed", "mask_email", "normalize_email"]

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Overview:
    """An owner's accounts, tokens (listings), devices, terminal states, account figures and
    halts in force, as of one moment (the dashboard)."""

    accounts: list[AccountRow]
    tokens: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    terminals: list[TerminalRow]
    figures: dict[tuple[str, int, str], AccountFigures]
    halts: list[Halt]


class Authority:
    """The token authority over one :class:`AuthorityStore`; implements ``AuthorityAPI``."""

    def __init__(self, store: AuthorityStore, mailer: Mailer, *,
                 clock: Callable[[], float] = time.time,
                 randbelow: Callable[[int], int] = secrets.randbelow,
                 new_token: Callable[[], str] = generate_token,
                 address: ConsoleAddress | None = None, sign_off_loop: bool = False,
                 password_check: PasswordCheck | None = None,
                 shares: FairShare | None = None) -> None:
        self.store = store
        self.mailer = mailer
        #: Where the console serving this authority is (the links its mails name); without
        #: a console (the CLI, a daemon in local mode) mails name none.
        self.address = address if address is not None else ConsoleAddress()
        #: The console's fair share (``fairshare.py``): its callers' turns at the
        #: password-hashing pool and the database's lane. Without a console no caller waits
        #: for a share.
        if shares is not None:
            store.database.lane = shares.lane
        hashing = Hashing(shares.hash_workers if shares is not None else 2,
                          shares.hashing if shares is not None else None)
        self._shared = shared = Shared(store, mailer, clock, self.address, hashing, shares)
        self.owners = Owners(shared)
        self.tokens = Tokens(shared, new_token)
        #: What lets a bot do more asks for the owner's password (``consent.py``), checked by
        #: ``password_check``: the console passes its owner rule (``OwnerSignIn.password``,
        #: through the sign-in throttle); without a console (the CLI, a daemon in local mode)
        #: the password is checked as a sign-in would check it, with no throttle.
        consent = Consent(shared, password_check or self.owners.check)
        self.accounts = Accounts(shared, consent)
        self.groups = Groups(shared, consent)
        self.halts = Halts(shared, consent)
        self.approvals = Approvals(shared, randbelow)
        #: ``sign_off_loop``: records signed and sealed on the database door's workers
        #: (``records.py``; the console's ``[console] public_key_work``).
        self.records = Records(shared, self.approvals, sign_off_loop=sign_off_loop)
        #: Alerts (``alerts.py``): settings, episodes judged from each report, the outbox.
        self.alerts = Alerts(shared)
        self.instructions = Instructions(shared)
        #: Each stored report's account details and settlements (``live.py``).
        self.live = Live(shared, self.instructions)
        self.terminals = Terminals(shared, self.alerts.observe, self.live.observe_report)
        #: The owner's activity log and the revocation feed (``activity.py``, ``feed.py``).
        self.activity = shared.activity
        self.feed = shared.feed
        #: The device proofs' replay rows (``store.StoredProofReplays``: made once, read by
        #: the door on every device call).
        self.proof_replays = StoredProofReplays(store, self)
        #: The console's sign-in sessions (``signins.py``; ``web/sessions.py`` decides their
        #: lifetimes).
        self.sessions = StoredSessions(store.database, *(
            (shares.sessions_per_owner,) if shares is not None else ()))
        #: The console API's sign-ins, and ending every credential of an owner at once
        #: (``credentials.py``: one lifecycle for sessions, API tokens and the events that
        #: end them).
        self.credentials = Credentials(shared)
        #: The owner's second factor and password reset links (``secondfactor.py``,
        #: ``resets.py``), and half-done sign-ins (``signins.StoredSteps``).
        self.second_factor = SecondFactor(shared, randbelow)
        self.resets = Resets(shared, randbelow)
        #: Taking back a second factor someone else turned on (``recovery.py``).
        self.recovery = Recovery(shared)
        self.signin_steps = StoredSteps(store.database, *(
            (shares.steps_per_owner,) if shares is not None else ()))

    @classmethod
    async def open(cls, data_dir: Path, mailer: Mailer, *, database_url: str = "",
                   connect_timeout_s: float = CONNECT_TIMEOUT_S,
                   statement_timeout_s: float = STATEMENT_TIMEOUT_S, pool_size: int = POOL_SIZE,
                   **kwargs: Any) -> Authority:
        """An authority on ``<data_dir>/authority.sqlite3`` or the PostgreSQL database
        ``database_url`` names (created with its keys if new, migrated to this schema).

        Raises:
            DatabaseUnavailable: the database cannot be reached.
            DatabaseError: it is newer than this program.
        """
        authority = cls.closed(data_dir, mailer, database_url=database_url,
                               connect_timeout_s=connect_timeout_s,
                               statement_timeout_s=statement_timeout_s, pool_size=pool_size,
                               **kwargs)
        try:
            await authority.prepare()
        except BaseException:
            await authority.close()
            raise
        return authority

    @classmethod
    def closed(cls, data_dir: Path, mailer: Mailer, *, database_url: str = "",
               connect_timeout_s: float = CONNECT_TIMEOUT_S,
               statement_timeout_s: float = STATEMENT_TIMEOUT_S, pool_size: int = POOL_SIZE,
               **kwargs: Any) -> Authority:
        """:meth:`open` without touching the database yet (its key files are read or made):
        the schema is prepared by :meth:`prepare`, or by the first call that needs it (the
        console starts while its database is unreachable)."""
        store = AuthorityStore(data_dir, database_url, connect_timeout_s=connect_timeout_s,
                               statement_timeout_s=statement_timeout_s, pool_size=pool_size)
        return cls(store, mailer, **kwargs)

    async def prepare(self) -> None:
        """Migrate the schema and make the side tables (once; later calls return at once).

        Raises:
            DatabaseUnavailable: the database cannot be reached (try again later).
            DatabaseError: it is newer than this program.
        """
        await self._shared.prepare()

    def run(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args,
            **kwargs: P.kwargs) -> Coroutine[Any, Any, T]:
        """``fn(tx, *args)`` as one transaction through the authority's door: off the event
        loop, the schema prepared first (``database/``). (The door's coroutine itself, to
        await: no coroutine of its own around it.)

        Raises:
            DatabaseUnavailable: the database did not answer within its bound.
        """
        return self._shared.run(fn, *args, **kwargs)

    @property
    def prepared(self) -> bool:
        """Whether :meth:`prepare` has succeeded."""
        return self._shared.prepared

    async def schema_version(self) -> int:
        """The database's schema version, asked now (readiness: it answers, and it is the
        one this program knows)."""
        return await self.store.database.run(version_of)

    async def close(self) -> None:
        """Stop the revocation feed's poller or listener, wait for e-mails still being sent
        (failures are logged, not raised), then stop the database's workers and close its
        connections."""
        await self.feed.stopped()
        await self._shared.drain()
        self._shared.hashing.close()
        await self.store.database.close()

    async def overview(self, owner_email: str) -> Overview:
        """What the owner's dashboard shows, read in one transaction."""
        return await self._shared.run(self._overview, normalize_email(owner_email))

    def _overview(self, tx: Tx, owner_email: str) -> Overview:
        store = self.store
        return Overview(accounts=store.accounts_of(tx, owner_email),
                        tokens=listings(tx, store.tokens_of(tx, owner_email)),
                        devices=self.approvals.devices_of(tx, owner_email),
                        terminals=reports.of(tx, owner_email),
                        figures=reports.figures_of(tx, owner_email),
                        halts=halt_rows.halts_of(tx, owner_email))

    # -- device-facing (AuthorityAPI) ----------------------------------------------------
    # Each gives the coroutine of the part that answers it, to await: a coroutine around it
    # would be one more frame to resume when the call's database answer comes, on every
    # device call's path.

    def lookup(self, device: DeviceInfo, *, token_hint: str, device_name: str = "",
               os: str = "", nonce: str | None = None,
               box_key: bytes | None = None, address: str = "",
               claim: ProofClaim | None = None) -> Coroutine[Any, Any, LookupAnswer]:
        """See :meth:`.records.Records.lookup` (``address``: the daemon's, over HTTP; empty
        for this machine)."""
        return self.records.lookup(device, token_hint=token_hint,
                                   device_name=device_name, os=os, nonce=nonce,
                                   box_key=box_key, address=address, claim=claim)

    def refresh(self, device: DeviceInfo, token_ids: Sequence[str],
                nonce: str | None = None, box_key: bytes | None = None,
                address: str = "", claim: ProofClaim | None = None
                ) -> Coroutine[Any, Any, list[dict[str, Any]]]:
        """See :meth:`.records.Records.refresh`."""
        return self.records.refresh(device, token_ids, nonce, box_key, address, claim)

    async def verify_device(self, device: DeviceInfo, code: str) -> VerifyAnswer:
        """See :meth:`.approvals.Approvals.verify`."""
        return await self.approvals.verify(device, code)

    async def resend(self, device: DeviceInfo) -> ResendAnswer:
        """See :meth:`.approvals.Approvals.resend`."""
        return await self.approvals.resend(device)

    def device_status(self, device: DeviceInfo, claim: ProofClaim | None = None
                      ) -> Coroutine[Any, Any, DeviceStatus]:
        """See :meth:`.approvals.Approvals.status`."""
        return self.approvals.status(device, claim)

    async def public_keys(self) -> list[AuthorityKey]:
        """The signing key (a list, so a key rotation can publish two)."""
        return [self.store.signer.key]

    def report_terminals(self, device: DeviceInfo,
                         reports: Sequence[TerminalReport], address: str = "",
                         claim: ProofClaim | None = None) -> Coroutine[Any, Any, int]:
        """See :meth:`.terminals.Terminals.report`."""
        return self.terminals.report(device, reports, address, claim)

    def report_and_wait(self, device: DeviceInfo, reports: Sequence[TerminalReport],
                        cursor: int | None, timeout_s: float, address: str = "",
                        claim: ProofClaim | None = None
                        ) -> Coroutine[Any, Any, tuple[int, list[str], int]]:
        """See :meth:`.terminals.Terminals.report_and_wait`."""
        return self.terminals.report_and_wait(device, reports, cursor, timeout_s, address,
                                              claim)

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float, claim: ProofClaim | None = None
                               ) -> tuple[int, list[str]]:
        """See :meth:`.terminals.Terminals.wait_revocations`."""
        return await self.terminals.wait_revocations(device, cursor, timeout_s, claim)
