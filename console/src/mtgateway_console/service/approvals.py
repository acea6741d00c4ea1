"""Devices and their approvals: codes e-mailed and checked, the owner's decisions, the locks.

A device asks an owner for approval by looking up one of the owner's tokens (``records.py``);
the owner approves with the e-mailed code (``verify``, from the device) or in the console
(``approve``), and may deny, revoke or forget it. Wrong approval codes are counted per owner in
the store (so a restart does not reset them); the 20th within 24 h locks that owner's device
approvals for 24 h: no code is mailed and none is checked until the lock ends, and the owner
gets one e-mail saying so.

Each operation is one transaction; the checks that must not race between console instances
(the tries of a code, a token's codes of the day) run under a lock named for what they count.
E-mails go out on background tasks once the transaction has committed, so a device's lookup
answers at once (and in the same time whether or not a mail was due).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any, Final

from mtgateway_base.wire.api import DeviceInfo, DeviceStatus, ResendAnswer, VerifyAnswer
from mtgateway_base.wire.records import device_id_for

from ..database import Tx
from ..devices import (
    ACCOUNT_FAILURE_WINDOW_S,
    ACCOUNT_LOCK_S,
    Approval,
    SendDecision,
    account_lock_due,
    check_send,
    check_token_send,
    issue_code,
    new_code,
    verify_code,
)
from ..errors import InvalidRequest
from ..labels import clean_label
from ..mailer import (
    ApprovalRequest,
    approval_code_message,
    approvals_locked_message,
    approved_message,
)
from ..tables import approvals as approval_rows
from ..tables import owners as owner_rows
from ..tables.store import ProofClaim, claimed
from ..tables.token_details import details_of
from .common import Shared, mask_email, normalize_email, revoke_in

__all__ = ["Approvals", "checked"]

log = logging.getLogger(__name__)

_HOUR: Final = 3600
_DAY: Final = 86400


def checked(device: DeviceInfo) -> DeviceInfo:
    """``device``, if its id is its public key's (``ValueError`` otherwise)."""
    if len(device.public_key) != 32 or device_id_for(device.public_key) != device.device_id:
        raise InvalidRequest("device id does not match its public key")
    return device


class Approvals:
    """The approval of devices by owners."""

    def __init__(self, shared: Shared, randbelow: Callable[[int], int]) -> None:
        self._shared = shared
        self._store = shared.store
        self._randbelow = randbelow

    @property
    def _console_hint(self) -> str:
        """How the mails name the console: its Devices page's address when it serves."""
        return self._shared.address.hint("/devices")

    # -- the owner's side ------------------------------------------------------------------

    async def of_owner(self, owner_email: str) -> list[dict[str, Any]]:
        """Devices that asked for the owner's tokens, with their approval status."""
        return await self._shared.run(self.devices_of, normalize_email(owner_email))

    def devices_of(self, tx: Tx, owner_email: str) -> list[dict[str, Any]]:
        """:meth:`of_owner` in ``tx``; ``token`` is the owner's token the device last
        presented asking for approval (its listing with its label), or ``None``."""
        out = []
        approvals = approval_rows.approvals_of_owner(tx, owner_email)
        presented = {a.approval_id: approval_rows.approval_token(tx, a.approval_id)
                     for a in approvals}
        labels = details_of(tx, [t for t in presented.values() if t is not None])
        for approval in approvals:
            device = approval_rows.device(tx, approval.device_id)
            token_id = presented[approval.approval_id]
            row = self._store.token_by_id(tx, token_id) if token_id is not None else None
            token = None
            if row is not None and row.owner_email == owner_email:
                token = {"token_id": row.token_id, "login": row.login, "server": row.server,
                         "revoked_at": row.revoked_at,
                         "label": labels[row.token_id].label if row.token_id in labels else ""}
            out.append({"device_id": approval.device_id,
                        "name": device.name if device else "", "os": device.os if device else "",
                        "status": approval.status, "approved_at": approval.approved_at,
                        "last_seen": device.last_seen if device else None, "token": token})
        return out

    async def pending(self) -> int:
        """How many approvals, of every owner, wait for a code (the console's metrics)."""
        return await self._shared.run(approval_rows.pending_approvals)

    async def revoke(self, owner_email: str, device_id: str) -> bool:
        """Withdraw a device's approval: its records stop refreshing, lookups ask again."""
        return await self._shared.run(self._revoke, normalize_email(owner_email), device_id,
                                      self._shared.now())

    def _revoke(self, tx: Tx, owner_email: str, device_id: str, now: int) -> bool:
        approval = approval_rows.approval(tx, owner_email, device_id)
        if approval is None:
            return False
        approval_rows.save_approval(tx, Approval(
            approval_id=approval.approval_id, owner_email=approval.owner_email,
            device_id=device_id, status="revoked", created_at=approval.created_at))
        if approval.status != "revoked":  # the revocation and its feed row commit as one
            self._shared.feed.add(tx, approval.owner_email, now, device_id=device_id)
            self._shared.activity.add(tx, approval.owner_email, "device_revoked", device_id,
                                      now)
        return True

    async def approve(self, owner_email: str, device_id: str) -> bool:
        """The owner approves a pending device in the console (the seed's "verification step
        shown by ... the web console"): the same end state as the e-mailed code, without it.
        ``False`` when the device has no pending approval of this owner's."""
        return await self._shared.run(self._approve, normalize_email(owner_email), device_id,
                                      self._shared.now())

    def _approve(self, tx: Tx, owner_email: str, device_id: str, now: int) -> bool:
        approval = approval_rows.approval(tx, owner_email, device_id)
        if approval is None or approval.status != "pending":
            return False
        approval_rows.save_approval(tx, Approval(
            approval_id=approval.approval_id, owner_email=owner_email, device_id=device_id,
            status="approved", created_at=approval.created_at, approved_at=now))
        named = approval_rows.device(tx, device_id)
        self._shared.activity.add(tx, owner_email, "device_approved",
                                  f"{named.name} ({named.os}), id {device_id}, in the console"
                                  if named else f"{device_id}, in the console", now)
        return True

    async def deny(self, owner_email: str, device_id: str,
                   revoke_token: str | None = None) -> bool:
        """The owner refuses a pending device: its approval becomes ``denied`` and its code
        dies with it. The denial holds: later lookups from it make no new request and send no
        e-mail until the owner allows it again (:meth:`allow_again`) or
        removes it (:meth:`forget`). ``revoke_token``: also revoke that token of the owner's
        (the one the device presented), in the same transaction. ``False`` when not
        pending."""
        return await self._shared.run(self._deny, normalize_email(owner_email), device_id,
                                      self._shared.now(), revoke_token)

    def _deny(self, tx: Tx, owner_email: str, device_id: str, now: int,
              revoke_token: str | None = None) -> bool:
        approval = approval_rows.approval(tx, owner_email, device_id)
        if approval is None or approval.status != "pending":
            return False
        approval_rows.save_approval(tx, Approval(
            approval_id=approval.approval_id, owner_email=owner_email, device_id=device_id,
            status="denied", created_at=approval.created_at))
        self._shared.feed.add(tx, owner_email, now, device_id=device_id)
        self._shared.activity.add(tx, owner_email, "device_denied", device_id, now)
        if revoke_token is not None:
            revoke_in(tx, self._shared, owner_email, revoke_token, now)
        return True

    async def allow_again(self, owner_email: str, device_id: str) -> bool:
        """The owner takes a denial back and approves the device (the console asks for the
        password first, as for every loosening action): its terminals connect on their next
        try. ``False`` when the device is not denied."""
        return await self._shared.run(self._allow_again, normalize_email(owner_email),
                                      device_id, self._shared.now())

    def _allow_again(self, tx: Tx, owner_email: str, device_id: str, now: int) -> bool:
        approval = approval_rows.approval(tx, owner_email, device_id)
        if approval is None or approval.status != "denied":
            return False
        approval_rows.save_approval(tx, Approval(
            approval_id=approval.approval_id, owner_email=owner_email, device_id=device_id,
            status="approved", created_at=approval.created_at, approved_at=now))
        named = approval_rows.device(tx, device_id)
        self._shared.activity.add(tx, owner_email, "device_allowed",
                                  f"{named.name} ({named.os}), id {device_id}, after a denial"
                                  if named else f"{device_id}, after a denial", now)
        return True

    async def forget(self, owner_email: str, device_id: str) -> bool:
        """The owner dismisses a stale row: a revoked or denied device leaves the device
        list. Only such an approval goes (it serves no record and holds no code), so nothing
        live changes; a later lookup from that device asks again (a removed denial no longer
        holds). ``False`` when the device has no revoked or denied approval of this owner's."""
        return await self._shared.run(self._forget, normalize_email(owner_email), device_id,
                                      self._shared.now())

    def _forget(self, tx: Tx, owner_email: str, device_id: str, now: int) -> bool:
        approval = approval_rows.approval(tx, owner_email, device_id)
        if approval is None or approval.status not in ("revoked", "denied"):
            return False
        approval_rows.delete_approval(tx, owner_email, device_id)
        self._shared.activity.add(tx, owner_email, "device_forgotten", device_id, now)
        return True

    async def approve_local(self, device: DeviceInfo) -> None:
        """Local mode: the embedded authority and the daemon are one machine, so the
        daemon's own device is approved for every owner, without a code."""
        await self._shared.run(self._approve_local, checked(device), self._shared.now())

    def _approve_local(self, tx: Tx, device: DeviceInfo, now: int) -> None:
        approval_rows.upsert_device(tx, device.device_id, device.public_key, "this machine",
                                  "local", now)
        for owner in owner_rows.owners(tx):
            approval = approval_rows.approval(tx, owner, device.device_id)
            if approval is None or approval.status != "approved":
                approval_rows.save_approval(tx, Approval(
                    approval_id="apr_" + secrets.token_hex(8), owner_email=owner,
                    device_id=device.device_id, status="approved", created_at=now,
                    approved_at=now))

    # -- the device's side -----------------------------------------------------------------

    async def verify(self, device: DeviceInfo, code: str) -> VerifyAnswer:
        """Complete this device's pending approval with the code from the e-mail.

        A wrong code counts against its owner's account-wide allowance; the attempt that uses
        it up answers ``approvals_locked`` at once, as does every attempt during the lock.
        """
        return await self._shared.run(self._verify, checked(device), code, self._shared.now())

    def _verify(self, tx: Tx, device: DeviceInfo, code: str, now: int) -> VerifyAnswer:
        # The tries left are read and written back under the device's lock: two instances
        # checking guesses at once cannot both spend the same try (a code's five would
        # otherwise be more).
        tx.lock(f"mtgateway-approval-codes:{device.device_id}")
        candidates = sorted((a for a in approval_rows.approvals_of_device(tx, device.device_id)
                             if a.status == "pending" and a.code_mac is not None),
                            key=lambda a: a.code_issued_at or 0, reverse=True)
        if not candidates:
            return VerifyAnswer("rejected", "no_pending_approval")
        # A locked owner's approvals are not checked at all, not even a right code: the lock
        # is what stops guessing across codes, so it must not leak a yes or no.
        locks = [self._lock_remaining(tx, a.owner_email, now) for a in candidates]
        open_ = [a for a, lock in zip(candidates, locks, strict=True) if lock is None]
        if not open_:
            return VerifyAnswer("rejected", "approvals_locked",
                                retry_after_s=min(lock for lock in locks if lock is not None))
        results = [verify_code(a, code, self._store.pepper, now) for a in open_]
        for new_state, outcome in results:
            if outcome.approved:
                approval_rows.save_approval(tx, new_state)
                named = approval_rows.device(tx, device.device_id)
                self._shared.activity.add(tx, new_state.owner_email, "device_approved",
                                          f"{named.name} ({named.os}), id {device.device_id}"
                                          if named else device.device_id, now)
                self.mail_after(tx, approved_message(self._request(tx, new_state, now),
                                                 self._shared.mailer.from_address,
                                                 self._console_hint))
                return VerifyAnswer("approved")
        newly_locked = 0
        for new_state, outcome in results:
            approval_rows.save_approval(tx, new_state)
            if outcome.reason == "wrong_code" and self._count_failure(
                    tx, new_state.owner_email, device.device_id, now):
                newly_locked += 1
        if newly_locked == len(open_):  # this guess used up the last allowance: say so now
            return VerifyAnswer("rejected", "approvals_locked", retry_after_s=ACCOUNT_LOCK_S)
        outcome = results[0][1]
        return VerifyAnswer("rejected", outcome.reason, outcome.tries_left)

    async def resend(self, device: DeviceInfo) -> ResendAnswer:
        """A new code for a pending approval of this device, within the resend limits and
        outside its owner's approval lock."""
        answer, message = await self._shared.run(self._resend, checked(device).device_id,
                                                 self._shared.now())
        if message is None:
            return answer
        # Waited for: "a new code was e-mailed" must only be said when it was.
        return ResendAnswer("sent" if await self._shared.mail(message) else "mail_failed")

    def _resend(self, tx: Tx, device_id: str, now: int
                ) -> tuple[ResendAnswer, EmailMessage | None]:
        pending = [a for a in approval_rows.approvals_of_device(tx, device_id)
                   if a.status == "pending"]
        if not pending:
            return ResendAnswer("no_pending_approval"), None
        waits, locks = [], []
        for approval in pending:
            lock = self._lock_remaining(tx, approval.owner_email, now)
            if lock is not None:
                locks.append(lock)
                continue
            decision, message = self.send_code(tx, approval, now)
            if message is not None:
                return ResendAnswer("sent"), message
            waits.append(decision.retry_after_s)
        if waits:
            return ResendAnswer("resend_limited", min(waits + locks)), None
        return ResendAnswer("approvals_locked", min(locks)), None

    async def status(self, device: DeviceInfo, claim: ProofClaim | None = None
                     ) -> DeviceStatus:
        """This device's approvals by owner (e-mails masked). With ``claim``, the call's
        proof's replay row is written first, in the same transaction.

        Raises:
            ProofRejected: the claim's proof was seen before.
        """
        approvals = await self._shared.run(claimed(claim, approval_rows.approvals_of_device),
                                           checked(device).device_id)
        return DeviceStatus(device.device_id,
                            tuple((mask_email(a.owner_email), a.status) for a in approvals))

    # -- in the transaction of a lookup or a resend ---------------------------------------

    def send_code(self, tx: Tx, approval: Approval, now: int
                  ) -> tuple[SendDecision, EmailMessage | None]:
        """Issue a new code if the limits allow; the decision, and the e-mail to send once
        ``tx`` has committed (``None`` when no code was issued)."""
        locked = self._lock_remaining(tx, approval.owner_email, now)
        if locked is not None:
            return SendDecision(False, locked), None
        decision = check_send(
            approval_rows.sends(tx, device_id=approval.device_id, since=now - _HOUR),
            approval_rows.sends(tx, owner_email=approval.owner_email, since=now - _DAY), now)
        if not decision.allowed:
            return decision, None
        token_id = approval_rows.approval_token(tx, approval.approval_id)
        code = new_code(self._randbelow)
        if token_id is not None:
            # The token's count is checked and written under its lock: two instances cannot
            # both send a token's last code of the day.
            tx.lock(f"mtgateway-token-codes:{token_id}")
            decision = check_token_send(approval_rows.token_sends(tx, token_id,
                                                                since=now - _DAY), now)
            if not decision.allowed:
                log.warning("no approval code sent for device %s: its token %s has caused "
                            "the most codes a day allows", approval.device_id, token_id)
                return decision, None
            approval_rows.record_token_send(tx, token_id, now)
        approval_rows.save_approval(tx, issue_code(approval, code, self._store.pepper, now))
        approval_rows.record_send(tx, approval.device_id, approval.owner_email, now)
        return decision, approval_code_message(self._request(tx, approval, now), code,
                                               self._shared.mailer.from_address,
                                               self._console_hint)

    def mail_after(self, tx: Tx, message: EmailMessage) -> None:
        """Send ``message`` once ``tx`` has committed (never if it rolls back)."""

        def send() -> None:  # on the loop, after the commit
            self._shared.mail(message)

        tx.after_commit(send)

    def _lock_remaining(self, tx: Tx, owner_email: str, now: int) -> int | None:
        """Seconds left of the owner's account-wide approval lock, or ``None`` if unlocked."""
        until = approval_rows.approvals_locked_until(tx, owner_email)
        return until - now if until is not None and until > now else None

    def _count_failure(self, tx: Tx, owner_email: str, device_id: str, now: int) -> bool:
        """Count a wrong code against its owner; lock and tell the owner when it is the
        limit-th in the window. Whether the lock started now."""
        approval_rows.record_failure(tx, owner_email, device_id, now)
        failures = approval_rows.failures(tx, owner_email, since=now - ACCOUNT_FAILURE_WINDOW_S)
        if not account_lock_due([t for t, _ in failures], now):
            return False
        until = now + ACCOUNT_LOCK_S
        approval_rows.lock_approvals(tx, owner_email, now, until)
        devices = []
        for failed_device in dict.fromkeys(d for _, d in failures):
            row = approval_rows.device(tx, failed_device)
            devices.append(f"{clean_label(row.name, 'unnamed')} ({clean_label(row.os, 'unknown')}),"
                           f" id {failed_device}" if row else f"id {failed_device}")
        self.mail_after(tx, approvals_locked_message(
            owner_email, len(failures), devices, now, until, self._shared.mailer.from_address,
            self._console_hint))
        ids = ", ".join(dict.fromkeys(d for _, d in failures))

        def warn() -> None:  # No address in the line: the device ids say where guesses came from.
            log.warning("device approvals of an owner locked for %d s after %d wrong codes "
                        "(devices %s)", ACCOUNT_LOCK_S, len(failures), ids)

        tx.after_commit(warn)
        return True

    def _request(self, tx: Tx, approval: Approval, now: int) -> ApprovalRequest:
        device = approval_rows.device(tx, approval.device_id)
        token_id = approval_rows.approval_token(tx, approval.approval_id)
        row = self._store.token_by_id(tx, token_id) if token_id is not None else None
        token = ""
        if row is not None:
            label = details_of(tx, [row.token_id]).get(row.token_id)
            named = f" “{label.label}”" if label is not None and label.label else ""
            token = f"{row.token_id}{named} for {row.login}@{row.server}"
        return ApprovalRequest(owner_email=approval.owner_email, device_id=approval.device_id,
                               device_name=clean_label(device.name, "unnamed") if device
                               else "unnamed",
                               os=clean_label(device.os, "unknown") if device else "unknown",
                               requested_at=now, token=token)
