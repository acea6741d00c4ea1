"""The token authority: owners, tokens, accounts, device approval, and the records it signs.

One object serves both faces. The owner-facing methods (``create_owner``, ``issue_token``,
``register_account``, device listing/revocation) are synchronous, for the CLI in local mode and
for the console; the device-facing ones are the async :class:`~gateway.authority.api.
AuthorityAPI`, which the daemon calls directly in local mode and the console serves over HTTP.

Approval e-mails go out on background tasks so a device's lookup answers at once (and in the
same time whether or not a mail was due); :meth:`Authority.close` awaits them. Wrong approval
codes are counted per owner in the store (so a restart does not reset them); the 20th within
24 h locks that owner's device approvals for 24 h: no code is mailed and none is checked until
the lock ends, and the owner gets one e-mail saying so. Owner checks
run scrypt even for unknown e-mails, against a dummy hash, so the answer and its timing do not
say which addresses exist.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Final

from mtgateway.credential import TokenKeys

from .activity import ActivityEntry, ActivityLog
from .api import (
    DeviceInfo,
    DeviceStatus,
    IssuedToken,
    LookupAnswer,
    ResendAnswer,
    VerifyAnswer,
)
from .boxes import seal
from .devices import (
    ACCOUNT_FAILURE_WINDOW_S,
    ACCOUNT_LOCK_S,
    Approval,
    SendDecision,
    account_lock_due,
    check_send,
    check_token_send,
    has_live_code,
    issue_code,
    new_code,
    verify_code,
)
from .errors import AuthorityError
from .feed import RevocationFeed
from .labels import clean_label
from .mailer import (
    ApprovalRequest,
    Mailer,
    approval_code_message,
    approvals_locked_message,
    approved_message,
)
from .passwords import hash_password, verify_password
from .records import DEFAULT_RISK, OFFLINE_GRACE_S, AuthorityKey, RiskPolicy, device_id_for
from .reports import AccountFigures, TerminalReport, TerminalReports, TerminalRow
from .store import AccountRow, AuthorityStore, TokenRow
from .tokens import generate_token

__all__ = ["SCOPES", "AccountRegistration", "Authority", "TerminalClaimed", "mask_email",
           "normalize_email"]

log = logging.getLogger(__name__)

SCOPES: Final = frozenset({"read", "trade"})
_EMAIL_RE: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOUR: Final = 3600
_DAY: Final = 86400


def normalize_email(email: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding blanks."""
    return email.strip().lower()


def mask_email(email: str) -> str:
    """``owner@example.com`` → ``o***@example.com`` (device status shows no full address)."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _decimal_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text not in ("-0", "") else "0"


class TerminalClaimed(AuthorityError, ValueError):
    """The terminal (login and server) belongs to another owner: it registered the account,
    or holds live tokens for it. The message names the terminal, never the other owner."""


@dataclass(frozen=True, slots=True)
class AccountRegistration:
    """The account registration of ``seed-register-account`` (validated again here)."""

    name: str
    broker: str
    login: int
    #: Optional (may be empty): kept encrypted for launching the terminal; trading never
    #: needs it, the EA runs inside a terminal that is already logged in.
    password: str
    server: str
    is_live: bool = False
    allowed_symbols: tuple[str, ...] = ()
    max_lot_size: Decimal = Decimal("0.1")
    risk_pct: Decimal = Decimal("0.01")
    auto_trade_enabled: bool = True
    #: Orders fill in the daemon's paper book, priced by live ticks; none reaches the broker.
    paper_trade_enabled: bool = False
    mt5_path: str = ""
    account_type: str = "USD"

    def check(self) -> None:
        """Raise ``ValueError`` naming the first field out of its range."""
        rules = (
            ("name", 0 < len(self.name) <= 100), ("broker", 0 < len(self.broker) <= 100),
            ("login", self.login > 0), ("password", len(self.password) <= 200),
            ("server", 0 < len(self.server) <= 200),
            ("max_lot_size", Decimal(0) <= self.max_lot_size <= Decimal(100)),
            ("risk_pct", Decimal(0) <= self.risk_pct <= Decimal(1)),
            ("mt5_path", len(self.mt5_path) <= 500),
            ("account_type", self.account_type in ("USD", "USC")),
        )
        for field_name, ok in rules:
            if not ok:
                raise ValueError(f"{field_name} is out of range")


class Authority:
    """The token authority over one :class:`AuthorityStore`; implements ``AuthorityAPI``."""

    def __init__(self, store: AuthorityStore, mailer: Mailer, *,
                 clock: Callable[[], float] = time.time,
                 randbelow: Callable[[int], int] = secrets.randbelow,
                 new_token: Callable[[], str] = generate_token,
                 console_hint: str = "the console") -> None:
        self.store = store
        self.mailer = mailer
        self._clock = clock
        self._randbelow = randbelow
        self._new_token = new_token
        self._console_hint = console_hint
        self._dummy_hash = hash_password(secrets.token_hex(16))
        self._tasks: set[asyncio.Task[Any]] = set()
        #: What the console shows beside the records: the owner's activity, the terminal
        #: states daemons report, and the revocations daemons long-poll for.
        self.activity = ActivityLog(store.database)
        self.reports = TerminalReports(store.database)
        self.feed = RevocationFeed(store.database)

    @classmethod
    def open(cls, data_dir: Path, mailer: Mailer, *, database_url: str = "",
             **kwargs: Any) -> Authority:
        """An authority on ``<data_dir>/authority.sqlite3`` or the PostgreSQL database
        ``database_url`` names (created with its keys if new, migrated to this schema)."""
        return cls(AuthorityStore(data_dir, database_url), mailer, **kwargs)

    def _now(self) -> int:
        return int(self._clock())

    async def close(self) -> None:
        """Stop the revocation feed's poller or listener, wait for e-mails still being sent
        (failures are logged, not raised), then close the database's idle connections."""
        await self.feed.stopped()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self.store.database.close()

    # -- owners --------------------------------------------------------------------------

    def create_owner(self, email: str, password: str) -> None:
        """Add an owner; ``ValueError`` for a bad address, short password or a taken e-mail."""
        email = normalize_email(email)
        if not _EMAIL_RE.match(email):
            raise ValueError("not an e-mail address")
        if len(password) < 8:
            raise ValueError("the password must have at least 8 characters")
        if not self.store.add_owner(email, hash_password(password), self._now()):
            raise ValueError("an owner with this e-mail exists")

    def change_owner_password(self, email: str, new_password: str) -> None:
        """Set a signed-in owner's new password (the caller checked the current one);
        ``ValueError`` for a short password or an unknown owner."""
        email = normalize_email(email)
        if len(new_password) < 8:
            raise ValueError("the password must have at least 8 characters")
        if not self.store.set_owner_password(email, hash_password(new_password)):
            raise ValueError("no such owner")
        self.activity.add(email, "password_changed", "", self._now())

    def check_owner(self, email: str, password: str) -> bool:
        """Whether the credentials are right; the same work is done for unknown e-mails."""
        stored = self.store.owner_password_hash(normalize_email(email))
        matches = verify_password(password, stored if stored is not None else self._dummy_hash)
        return matches and stored is not None

    async def authenticate_owner(self, email: str, password: str) -> bool:
        """:meth:`check_owner` off the event loop (scrypt takes tens of milliseconds)."""
        return await asyncio.to_thread(self.check_owner, email, password)

    # -- tokens --------------------------------------------------------------------------

    def issue_token(self, owner_email: str, login: int, server: str,
                    scopes: Sequence[str] = ("read", "trade"),
                    expires_in_s: int | None = None) -> IssuedToken:
        """Issue a token for one terminal; the plaintext is in the answer and nowhere else.

        Raises:
            TerminalClaimed: another owner registered the terminal's account or holds live
                tokens for it (a terminal's streams and trades are one owner's).
            ValueError: an unknown owner or a parameter out of range.
        """
        owner_email = normalize_email(owner_email)
        if self.store.owner_password_hash(owner_email) is None:
            raise ValueError("unknown owner")
        if not scopes or not SCOPES.issuperset(scopes):
            raise ValueError(f"scopes must be a non-empty subset of {sorted(SCOPES)}")
        if login <= 0 or not 0 < len(server) <= 200:
            raise ValueError("login must be positive and server 1-200 characters")
        if expires_in_s is not None and expires_in_s <= 0:
            raise ValueError("expires_in_s must be positive")
        now = self._now()
        token = self._new_token()
        keys = TokenKeys.of(token)
        token_id = "tok_" + secrets.token_hex(8)
        row = TokenRow(token_id=token_id, stored_key=keys.verifier.stored_key.hex(),
                       server_key_enc=self.store.seal_server_key(token_id,
                                                                 keys.verifier.server_key),
                       token_hint=keys.hint, owner_email=owner_email, login=login,
                       server=server, scopes=tuple(sorted(set(scopes))), created_at=now,
                       expires_at=None if expires_in_s is None else now + expires_in_s)
        with self.store.database.tx() as tx:  # the claim's check and its token as one
            tx.lock(_terminal_lock(login, server))
            self._check_claim(owner_email, login, server, now)
            self.store.add_token(row)
        expiry = "never expires" if row.expires_at is None else f"expires at {row.expires_at}"
        self.activity.add(owner_email, "token_created",
                          f"{row.token_id} for {login}@{server}, "
                          f"scopes {','.join(row.scopes)}, {expiry}", now)
        return IssuedToken(token=token, token_id=row.token_id, record=self._listing(row))

    @staticmethod
    def _listing(row: TokenRow) -> dict[str, Any]:
        return {"token_id": row.token_id, "login": row.login, "server": row.server,
                "scopes": list(row.scopes), "owner_email": row.owner_email,
                "created_at": row.created_at, "expires_at": row.expires_at,
                "revoked_at": row.revoked_at}

    def _check_claim(self, owner_email: str, login: int, server: str, now: int) -> None:
        """Refuse a terminal another owner holds. Called under the terminal's lock
        (:func:`_terminal_lock`) in the transaction that writes the claim, so two owners'
        claims made at once through two console instances cannot both pass."""
        account = self.store.account_for(login, server)
        others = ({account.owner_email} if account is not None
                  else self.store.live_token_owners(login, server, now)) - {owner_email}
        if others:
            log.warning("refused a token for terminal %s@%s claimed by another owner",
                        login, server)
            raise TerminalClaimed(f"terminal {login}@{server} belongs to another owner")

    def _serves(self, row: TokenRow) -> bool:
        """Whether a token's record may be handed out: not for a terminal whose account
        another owner registered (a token issued before that registration, or before this
        check existed, stops working)."""
        account = self.store.account_for(row.login, row.server)
        return account is None or account.owner_email == row.owner_email

    def list_tokens(self, owner_email: str) -> list[dict[str, Any]]:
        """The owner's tokens without secrets (no token, no hashes)."""
        return [self._listing(r) for r in self.store.tokens_of(normalize_email(owner_email))]

    def revoke_token(self, owner_email: str, token_id: str) -> bool:
        """Revoke one of the owner's tokens; ``False`` if no such token is theirs.

        A first revocation is logged and put on the feed, so connected daemons hear of it
        within seconds (``feed.py``)."""
        owner_email, now = normalize_email(owner_email), self._now()
        with self.store.database.tx():  # the revocation and its feed row commit as one
            before = self.store.token_by_id(token_id)
            if not self.store.revoke_token(owner_email, token_id, now):
                return False
            first = before is not None and before.revoked_at is None
            if first:
                self.feed.add(owner_email, now, token_id=token_id)
        if first and before is not None:
            self.activity.add(owner_email, "token_revoked",
                              f"{token_id} for {before.login}@{before.server}", now)
        return True

    # -- accounts ------------------------------------------------------------------------

    def register_account(self, owner_email: str, registration: AccountRegistration) -> AccountRow:
        """Store an account and its risk policy (raises ``AccountExists``, ``TerminalClaimed``
        when another owner holds live tokens for the terminal, or ``ValueError``).

        The MT5 credentials are not checked against a terminal here: the authority has none.
        """
        registration.check()
        row = AccountRow(
            id=0, owner_email=normalize_email(owner_email), name=registration.name,
            broker=registration.broker, login=registration.login, server=registration.server,
            is_live=registration.is_live, is_active=True,
            allowed_symbols=tuple(registration.allowed_symbols),
            max_lot_size=_decimal_text(registration.max_lot_size),
            risk_pct=_decimal_text(registration.risk_pct),
            auto_trade_enabled=registration.auto_trade_enabled,
            paper_trade_enabled=registration.paper_trade_enabled,
            mt5_path=registration.mt5_path, account_type=registration.account_type,
            created_at=self._now())
        with self.store.database.tx() as tx:  # the claim, the account and its feed rows
            tx.lock(_terminal_lock(row.login, row.server))
            self._check_claim(row.owner_email, row.login, row.server, row.created_at)
            stored = self.store.add_account(row, registration.password)
            # Tokens issued before the registration carried the permissive default policy
            # (live): the daemons holding them look again now, so a registration with paper
            # trading on, or with limits, acts within seconds (issue 16 F16).
            for token in self.store.tokens_of(row.owner_email):
                if (token.login, token.server) == (stored.login, stored.server) \
                        and self._serves(token):
                    self.feed.add(row.owner_email, row.created_at, token_id=token.token_id)
        self.activity.add(row.owner_email, "account_registered",
                          f"{stored.name} ({stored.login}@{stored.server})", row.created_at)
        return stored

    def accounts_of(self, owner_email: str) -> list[AccountRow]:
        """The owner's registered accounts (no passwords)."""
        return self.store.accounts_of(normalize_email(owner_email))

    def update_risk(self, owner_email: str, account_id: int, allowed_symbols: Sequence[str],
                    max_lot_size: Decimal, risk_pct: Decimal, auto_trade_enabled: bool,
                    paper_trade_enabled: bool | None = None) -> bool:
        """Change an account's risk policy (and its paper-trading switch unless ``None``);
        ``ValueError`` out of range, ``False`` if the account is not the owner's.

        The daemons holding the account's live tokens are told at once through the
        revocation feed (a "look now": they refresh their signed records, which carry the
        policy), so a switch to paper or a lower lot cap acts within seconds rather than at
        the next five-minute refresh."""
        if not Decimal(0) <= max_lot_size <= Decimal(100):
            raise ValueError("max_lot_size is out of range")
        if not Decimal(0) <= risk_pct <= Decimal(1):
            raise ValueError("risk_pct is out of range")
        owner_email, now = normalize_email(owner_email), self._now()
        symbols = tuple(dict.fromkeys(s.strip() for s in allowed_symbols if s.strip()))
        with self.store.database.tx():  # the policy and its feed rows commit as one
            if not self.store.update_account_risk(owner_email, account_id, symbols,
                                                  _decimal_text(max_lot_size),
                                                  _decimal_text(risk_pct), auto_trade_enabled,
                                                  paper_trade_enabled):
                return False
            account = next((a for a in self.store.accounts_of(owner_email)
                            if a.id == account_id), None)
            if account is not None:
                for row in self.store.tokens_of(owner_email):
                    if (row.login, row.server) == (account.login, account.server) \
                            and self._serves(row):
                        self.feed.add(owner_email, now, token_id=row.token_id)
        paper = "" if paper_trade_enabled is None else (
            f", paper {'on' if paper_trade_enabled else 'off'}")
        self.activity.add(owner_email, "risk_updated",
                          f"account {account_id}: symbols {','.join(symbols) or 'any'}, "
                          f"max lot {_decimal_text(max_lot_size)}, risk "
                          f"{_decimal_text(risk_pct)}, auto-trade "
                          f"{'on' if auto_trade_enabled else 'off'}{paper}", now)
        return True

    def _risk(self, login: int, server: str) -> RiskPolicy:
        account = self.store.account_for(login, server)
        if account is None:
            return DEFAULT_RISK
        return RiskPolicy(allowed_symbols=account.allowed_symbols,
                          max_lot_size=account.max_lot_size, risk_pct=account.risk_pct,
                          auto_trade_enabled=account.auto_trade_enabled,
                          paper_trade_enabled=account.paper_trade_enabled,
                          is_live=account.is_live, account_type=account.account_type)

    # -- owner's view of devices ---------------------------------------------------------

    def list_devices(self, owner_email: str) -> list[dict[str, Any]]:
        """Devices that asked for the owner's tokens, with their approval status."""
        out = []
        for approval in self.store.approvals_of_owner(normalize_email(owner_email)):
            device = self.store.device(approval.device_id)
            out.append({"device_id": approval.device_id,
                        "name": device.name if device else "", "os": device.os if device else "",
                        "status": approval.status, "approved_at": approval.approved_at,
                        "last_seen": device.last_seen if device else None})
        return out

    def revoke_device(self, owner_email: str, device_id: str) -> bool:
        """Withdraw a device's approval: its records stop refreshing, lookups ask again."""
        now = self._now()
        with self.store.database.tx():  # the revocation and its feed row commit as one
            approval = self.store.approval(normalize_email(owner_email), device_id)
            if approval is None:
                return False
            self.store.save_approval(Approval(
                approval_id=approval.approval_id, owner_email=approval.owner_email,
                device_id=device_id, status="revoked", created_at=approval.created_at))
            if approval.status != "revoked":
                self.feed.add(approval.owner_email, now, device_id=device_id)
        if approval.status != "revoked":
            self.activity.add(approval.owner_email, "device_revoked", device_id, now)
        return True

    def approve_device(self, owner_email: str, device_id: str) -> bool:
        """The owner approves a pending device in the console (the seed's "verification step
        shown by ... the web console"): the same end state as the e-mailed code, without it.
        ``False`` when the device has no pending approval of this owner's."""
        owner_email, now = normalize_email(owner_email), self._now()
        approval = self.store.approval(owner_email, device_id)
        if approval is None or approval.status != "pending":
            return False
        self.store.save_approval(Approval(
            approval_id=approval.approval_id, owner_email=owner_email, device_id=device_id,
            status="approved", created_at=approval.created_at, approved_at=now))
        named = self.store.device(device_id)
        self.activity.add(owner_email, "device_approved",
                          f"{named.name} ({named.os}), id {device_id}, in the console"
                          if named else f"{device_id}, in the console", now)
        return True

    def deny_device(self, owner_email: str, device_id: str) -> bool:
        """The owner refuses a pending device: its approval is revoked and its code dies with
        it (a later lookup from it starts a new request, within the code-sending limits).
        ``False`` when not pending."""
        owner_email, now = normalize_email(owner_email), self._now()
        with self.store.database.tx():  # the refusal and its feed row commit as one
            approval = self.store.approval(owner_email, device_id)
            if approval is None or approval.status != "pending":
                return False
            self.store.save_approval(Approval(
                approval_id=approval.approval_id, owner_email=owner_email, device_id=device_id,
                status="revoked", created_at=approval.created_at))
            self.feed.add(owner_email, now, device_id=device_id)
        self.activity.add(owner_email, "device_denied", device_id, now)
        return True

    def forget_device(self, owner_email: str, device_id: str) -> bool:
        """The owner dismisses a stale row: a revoked (or denied) device leaves the device
        list. Only a revoked approval goes (it serves no record and holds no code), so nothing
        live changes; a later lookup from that device asks again, as after a revocation.
        ``False`` when the device has no revoked approval of this owner's."""
        owner_email, now = normalize_email(owner_email), self._now()
        with self.store.database.tx():
            approval = self.store.approval(owner_email, device_id)
            if approval is None or approval.status != "revoked":
                return False
            self.store.delete_approval(owner_email, device_id)
        self.activity.add(owner_email, "device_forgotten", device_id, now)
        return True

    def local_device_auto_approve(self, device_id: str, public_key: bytes) -> None:
        """Local mode: the embedded authority and the daemon are one machine, so the
        daemon's own device is approved for every owner, without a code."""
        device = self._checked(DeviceInfo(device_id, public_key))
        now = self._now()
        self.store.upsert_device(device.device_id, public_key, "this machine", "local", now)
        for owner in self.store.owners():
            approval = self.store.approval(owner, device_id)
            if approval is None or approval.status != "approved":
                self.store.save_approval(Approval(
                    approval_id="apr_" + secrets.token_hex(8), owner_email=owner,
                    device_id=device_id, status="approved", created_at=now, approved_at=now))

    # -- device-facing (AuthorityAPI) ----------------------------------------------------

    @staticmethod
    def _checked(device: DeviceInfo) -> DeviceInfo:
        if len(device.public_key) != 32 or device_id_for(device.public_key) != device.device_id:
            raise ValueError("device id does not match its public key")
        return device

    def _signed(self, rows: Sequence[TokenRow], device_id: str, now: int,
                nonce: str | None, box_key: bytes | None) -> list[dict[str, Any]]:
        """Signed records of ``rows`` for one request: each names the device and the request's
        ``nonce``; with the request's ``box_key``, each carries its ``server_key`` sealed to
        it (``boxes.py``), so a replayed request's answer opens nothing."""
        if box_key is not None:
            authority_key, boxes = seal(box_key, device_id, nonce or "",
                                        {r.token_id: self.store.server_key(r) for r in rows})
        out = []
        for row in rows:
            record: dict[str, Any] = {
                "token_id": row.token_id, "stored_key": row.stored_key,
                "token_hint": row.token_hint, "login": row.login, "server": row.server,
                "scopes": list(row.scopes), "owner_email": row.owner_email,
                "device_id": device_id, "created_at": row.created_at,
                "expires_at": row.expires_at, "revoked_at": row.revoked_at,
                "issued_at": now, "valid_until": now + OFFLINE_GRACE_S,
                "risk": self._risk(row.login, row.server).as_json()}
            if nonce is not None:  # binds this copy to the request: a replay answers nothing else
                record["nonce"] = nonce
            if box_key is not None:
                record["box_key"] = authority_key
                record["server_key_box"] = boxes[row.token_id]
            out.append(self.store.signer.sign(record))
        return out

    async def lookup(self, device: DeviceInfo, *, token_hint: str, device_name: str = "",
                     os: str = "", nonce: str | None = None,
                     box_key: bytes | None = None) -> LookupAnswer:
        """A token's record for an approved device (signed with the request's ``nonce``, its
        ``server_key`` sealed to ``box_key``); else ask the owner and say ``pending``."""
        self._checked(device)
        row = self.store.token_by_hint(token_hint)
        if row is None or not self._serves(row):
            return LookupAnswer("unknown")
        now = self._now()
        # The device names itself: cleaned before anyone sees it (e-mails, the device list).
        # A lookup that gives no name or OS keeps the stored one (a daemon may omit them); only
        # a device never named is "unnamed".
        known = self.store.device(device.device_id)
        self.store.upsert_device(device.device_id, device.public_key,
                                 clean_label(device_name, known.name if known else "unnamed"),
                                 clean_label(os, known.os if known else "unknown"), now)
        approval = self.store.approval(row.owner_email, device.device_id)
        if approval is not None and approval.status == "approved":
            return LookupAnswer("ok", self._signed([row], device.device_id, now, nonce,
                                                    box_key)[0])
        if approval is None or approval.status == "revoked":
            approval = Approval(approval_id="apr_" + secrets.token_hex(8),
                                owner_email=row.owner_email, device_id=device.device_id,
                                status="pending", created_at=now)
            self.store.save_approval(approval)
        self.store.note_approval_token(approval.approval_id, row.token_id, now)
        if not has_live_code(approval, now):
            self._send_code(approval, now)
        return LookupAnswer("pending")

    def _send_code(self, approval: Approval, now: int
                   ) -> tuple[SendDecision, asyncio.Task[bool] | None]:
        """Issue and mail a new code if the limits allow; the decision, and the delivery
        (a task answering whether the mail went out) when one was started."""
        locked = self._lock_remaining(approval.owner_email, now)
        if locked is not None:
            return SendDecision(False, locked), None
        decision = check_send(self.store.sends(device_id=approval.device_id, since=now - _HOUR),
                              self.store.sends(owner_email=approval.owner_email,
                                               since=now - _DAY), now)
        if not decision.allowed:
            return decision, None
        token_id = self.store.approval_token(approval.approval_id)
        code = new_code(self._randbelow)
        # The token's count is checked and written under its lock in the transaction that
        # issues the code: two instances cannot both send a token's last code of the day.
        with self.store.database.tx() as tx:
            if token_id is not None:
                tx.lock(f"mtgateway-token-codes:{token_id}")
                decision = check_token_send(self.store.token_sends(token_id, since=now - _DAY),
                                            now)
                if not decision.allowed:
                    log.warning("no approval code sent for device %s: its token %s has caused "
                                "the most codes a day allows", approval.device_id, token_id)
                    return decision, None
                self.store.record_token_send(token_id, now)
            self.store.save_approval(issue_code(approval, code, self.store.pepper, now))
            self.store.record_send(approval.device_id, approval.owner_email, now)
        message = approval_code_message(self._request(approval, now), code,
                                        self.mailer.from_address, self._console_hint)
        return decision, self._spawn(self._deliver(message))

    def _lock_remaining(self, owner_email: str, now: int) -> int | None:
        """Seconds left of the owner's account-wide approval lock, or ``None`` if unlocked."""
        until = self.store.approvals_locked_until(owner_email)
        return until - now if until is not None and until > now else None

    def _count_failure(self, owner_email: str, device_id: str, now: int) -> bool:
        """Count a wrong code against its owner; lock and tell the owner when it is the
        limit-th in the window. Whether the lock started now."""
        self.store.record_failure(owner_email, device_id, now)
        failures = self.store.failures(owner_email, since=now - ACCOUNT_FAILURE_WINDOW_S)
        if not account_lock_due([t for t, _ in failures], now):
            return False
        until = now + ACCOUNT_LOCK_S
        self.store.lock_approvals(owner_email, now, until)
        devices = []
        for failed_device in dict.fromkeys(d for _, d in failures):
            row = self.store.device(failed_device)
            devices.append(f"{clean_label(row.name, 'unnamed')} ({clean_label(row.os, 'unknown')}),"
                           f" id {failed_device}" if row else f"id {failed_device}")
        self._spawn(self._deliver(approvals_locked_message(
            owner_email, len(failures), devices, now, until, self.mailer.from_address,
            self._console_hint)))
        # No address in the line: the device ids say where the guesses came from.
        log.warning("device approvals of an owner locked for %d s after %d wrong codes "
                    "(devices %s)", ACCOUNT_LOCK_S, len(failures),
                    ", ".join(dict.fromkeys(d for _, d in failures)))
        return True

    def _request(self, approval: Approval, now: int) -> ApprovalRequest:
        device = self.store.device(approval.device_id)
        return ApprovalRequest(owner_email=approval.owner_email, device_id=approval.device_id,
                               device_name=clean_label(device.name, "unnamed") if device
                               else "unnamed",
                               os=clean_label(device.os, "unknown") if device else "unknown",
                               requested_at=now)

    def _spawn(self, coro: Coroutine[Any, Any, bool]) -> asyncio.Task[bool]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _deliver(self, message: EmailMessage) -> bool:
        """Send; whether it went out. A failure is logged and put in the owner's activity
        (the console's page says "e-mail not sent"), never swallowed silently."""
        try:
            await self.mailer.send(message)
        except Exception as exc:  # noqa: BLE001 - a mail failure must not kill the authority
            log.warning("could not send the e-mail %r: %s", message["Subject"],
                        type(exc).__name__)
            owner = normalize_email(str(message["To"] or ""))
            if self.store.owner_password_hash(owner) is not None:
                self.activity.add(owner, "mail_failed",
                                  f"{message['Subject']} ({type(exc).__name__})", self._now())
            return False
        return True

    async def refresh(self, device: DeviceInfo, token_ids: Sequence[str],
                      nonce: str | None = None,
                      box_key: bytes | None = None) -> list[dict[str, Any]]:
        """Fresh records for the tokens whose owner still approves this device, each signed
        with the request's ``nonce`` (``server_key`` sealed to ``box_key``)."""
        self._checked(device)
        now = self._now()
        rows = []
        for token_id in dict.fromkeys(token_ids):
            row = self.store.token_by_id(token_id)
            if row is None or not self._serves(row):
                continue
            approval = self.store.approval(row.owner_email, device.device_id)
            if approval is not None and approval.status == "approved":
                rows.append(row)
        return self._signed(rows, device.device_id, now, nonce, box_key)

    async def verify_device(self, device: DeviceInfo, code: str) -> VerifyAnswer:
        """Complete this device's pending approval with the code from the e-mail.

        A wrong code counts against its owner's account-wide allowance; the attempt that uses
        it up answers ``approvals_locked`` at once, as does every attempt during the lock.
        """
        self._checked(device)
        now = self._now()
        # The tries left are read and written back under the device's lock in one transaction:
        # two instances checking guesses at once cannot both spend the same try (a code's
        # five would otherwise be more). No await inside: the block is one synchronous step.
        with self.store.database.tx() as tx:
            tx.lock(f"mtgateway-approval-codes:{device.device_id}")
            return self._verify_code(device, code, now)

    def _verify_code(self, device: DeviceInfo, code: str, now: int) -> VerifyAnswer:
        """:meth:`verify_device`'s check and its writes, inside the device's lock."""
        candidates = sorted((a for a in self.store.approvals_of_device(device.device_id)
                             if a.status == "pending" and a.code_mac is not None),
                            key=lambda a: a.code_issued_at or 0, reverse=True)
        if not candidates:
            return VerifyAnswer("rejected", "no_pending_approval")
        # A locked owner's approvals are not checked at all, not even a right code: the lock
        # is what stops guessing across codes, so it must not leak a yes or no.
        locks = [self._lock_remaining(a.owner_email, now) for a in candidates]
        open_ = [a for a, lock in zip(candidates, locks, strict=True) if lock is None]
        if not open_:
            return VerifyAnswer("rejected", "approvals_locked",
                                retry_after_s=min(lock for lock in locks if lock is not None))
        results = [verify_code(a, code, self.store.pepper, now) for a in open_]
        for new_state, outcome in results:
            if outcome.approved:
                self.store.save_approval(new_state)
                named = self.store.device(device.device_id)
                self.activity.add(new_state.owner_email, "device_approved",
                                  f"{named.name} ({named.os}), id {device.device_id}"
                                  if named else device.device_id, now)
                notice = approved_message(self._request(new_state, now),
                                          self.mailer.from_address, self._console_hint)
                self._spawn(self._deliver(notice))
                return VerifyAnswer("approved")
        newly_locked = 0
        for new_state, outcome in results:
            self.store.save_approval(new_state)
            if outcome.reason == "wrong_code" and self._count_failure(
                    new_state.owner_email, device.device_id, now):
                newly_locked += 1
        if newly_locked == len(open_):  # this guess used up the last allowance: say so now
            return VerifyAnswer("rejected", "approvals_locked", retry_after_s=ACCOUNT_LOCK_S)
        outcome = results[0][1]
        return VerifyAnswer("rejected", outcome.reason, outcome.tries_left)

    async def resend(self, device: DeviceInfo) -> ResendAnswer:
        """A new code for a pending approval of this device, within the resend limits and
        outside its owner's approval lock."""
        self._checked(device)
        now = self._now()
        pending = [a for a in self.store.approvals_of_device(device.device_id)
                   if a.status == "pending"]
        if not pending:
            return ResendAnswer("no_pending_approval")
        waits, locks = [], []
        for approval in pending:
            lock = self._lock_remaining(approval.owner_email, now)
            if lock is not None:
                locks.append(lock)
                continue
            decision, delivery = self._send_code(approval, now)
            if delivery is not None:
                # Waited for: "a new code was e-mailed" must only be said when it was.
                return ResendAnswer("sent" if await delivery else "mail_failed")
            waits.append(decision.retry_after_s)
        if waits:
            return ResendAnswer("resend_limited", min(waits + locks))
        return ResendAnswer("approvals_locked", min(locks))

    async def device_status(self, device: DeviceInfo) -> DeviceStatus:
        """This device's approvals by owner (e-mails masked)."""
        self._checked(device)
        approvals = self.store.approvals_of_device(device.device_id)
        return DeviceStatus(device.device_id,
                            tuple((mask_email(a.owner_email), a.status) for a in approvals))

    async def public_keys(self) -> list[AuthorityKey]:
        """The signing key (a list, so a key rotation can publish two)."""
        return [self.store.signer.key]

    # -- what the console shows beside the records ----------------------------------------

    def note_sign_in(self, owner_email: str, ok: bool, detail: str) -> None:
        """Log a console sign-in (or a refused one, for a known owner only)."""
        owner_email = normalize_email(owner_email)
        if ok or self.store.owner_password_hash(owner_email) is not None:
            self.activity.add(owner_email, "login" if ok else "login_failed", detail,
                              self._now())

    def note_sign_out(self, owner_email: str) -> None:
        """Log a console sign-out."""
        self.activity.add(normalize_email(owner_email), "logout", "", self._now())

    def activity_of(self, owner_email: str) -> list[ActivityEntry]:
        """The owner's newest activity first."""
        return self.activity.of(normalize_email(owner_email))

    def terminals_of(self, owner_email: str) -> list[TerminalRow]:
        """The latest reported state of each of the owner's terminals, per device."""
        return self.reports.of(normalize_email(owner_email))

    def figures_of(self, owner_email: str) -> dict[tuple[str, int, str], AccountFigures]:
        """The account figures the owner's daemons last reported for their active
        terminals, by (device id, login, server)."""
        return self.reports.figures_of(normalize_email(owner_email))

    async def report_terminals(self, device: DeviceInfo,
                               reports: Sequence[TerminalReport]) -> int:
        """Store a daemon's terminal states (see ``reports.py`` for what is believed);
        how many were stored. A refusal that is new is also logged in the activity."""
        self._checked(device)
        now, stored = self._now(), 0
        for report in reports:
            figures = report.figures
            row = (self.store.token_by_id(report.token_id) if report.token_id
                   else self.store.token_by_hint(report.token_hint) if report.token_hint
                   else None)
            if row is None:
                continue
            approval = self.store.approval(row.owner_email, device.device_id)
            if approval is None:
                continue  # a device the owner never saw reports nothing
            if approval.status == "revoked" and report.state == "active":
                continue  # F10: a revoked device is never shown live (its refusals still are)
            if report.token_id and (report.login, report.server) != (row.login, row.server):
                continue  # an active session runs under its own token's terminal only
            if not report.token_id:
                # F10: a hint comes from a refused handshake only, and says nothing about
                # another terminal: it is shown on the token's own (an EA elsewhere that
                # presented this token is that token's "terminal mismatch").
                if report.state != "refused":
                    continue
                report = TerminalReport(row.login, row.server, "refused", report.reason,
                                        "", "", report.platform, report.ea_version)
            report = TerminalReport(report.login, report.server, report.state, report.reason,
                                    row.token_id, "", report.platform, report.ea_version)
            changed = self.reports.save(row.owner_email, device.device_id, report, now,
                                        figures)
            stored += 1
            if changed and report.state == "refused":
                self.activity.add(row.owner_email, "refusal",
                                  f"{report.login}@{report.server} on {device.device_id}: "
                                  f"{report.reason} ({row.token_id})", now)
        return stored

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float) -> tuple[int, list[str]]:
        """Long-poll the revocation feed for this device (``feed.py``)."""
        self._checked(device)
        return await self.feed.wait(device.device_id, cursor, timeout_s)


def _terminal_lock(login: int, server: str) -> str:
    """The lock name under which a terminal's claim is checked and written."""
    return f"mtgateway-terminal-claim:{login}@{server}"
