"""Device approval as a pure state machine: codes, their lifetime, tries and resend limits.

Kept free of I/O so every rule of ``docs/authority.md`` ("Device approval") can be tested with a
fake clock: the store persists :class:`Approval` values and the send history, the service wires
them to e-mail. The numbers (``docs/authority.md``, "Device approval (the numbers)"): an 8-digit
code living 10 min, 5 wrong tries void it, a resend ≥ 60 s after the last and ≤ 5 per hour per
device, ≤ 10 codes a day per owner, a new code voids the old; 20 wrong codes for one owner
within 24 h lock that owner's device approvals for 24 h. Only an HMAC of the code is kept, bound
to the device and to the approval, so a leaked database row neither reveals the code nor works
elsewhere.

Like the per-code and resend limits, the account-wide numbers are constants rather than
configuration: they are security policy, and loosening them is a code change, never a typo.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal

from mtgateway_base.wire.api import normalize_code

__all__ = [
    "ACCOUNT_FAILURE_LIMIT",
    "ACCOUNT_FAILURE_WINDOW_S",
    "ACCOUNT_LOCK_S",
    "CODE_TTL_S",
    "CODES_PER_DAY_PER_OWNER",
    "CODES_PER_DAY_PER_TOKEN",
    "MAX_TRIES",
    "RESEND_MIN_INTERVAL_S",
    "RESENDS_PER_HOUR_PER_DEVICE",
    "Approval",
    "SendDecision",
    "VerifyOutcome",
    "account_lock_due",
    "check_send",
    "check_token_send",
    "code_mac",
    "format_code",
    "has_live_code",
    "issue_code",
    "new_code",
    "verify_code",
]

CODE_TTL_S: Final = 600
MAX_TRIES: Final = 5
RESEND_MIN_INTERVAL_S: Final = 60
RESENDS_PER_HOUR_PER_DEVICE: Final = 5
CODES_PER_DAY_PER_OWNER: Final = 10
#: Codes the lookups of one token may cause in a day, whatever device presents it (resends
#: included). A device key is free to make, so without this anyone holding a token could spend
#: the owner's ten codes a day from ten fresh devices, and the owner's own new device would get
#: none; with it, one token spends at most half of them. Five: what one device may get in an
#: hour (a first code and four resends).
CODES_PER_DAY_PER_TOKEN: Final = 5
#: Account-wide failures: this many wrong codes for one owner within the window
#: lock that owner's device approvals for ``ACCOUNT_LOCK_S``. Each code allows only 5 guesses;
#: this bounds the guesses across codes and devices, which resends would otherwise renew.
ACCOUNT_FAILURE_LIMIT: Final = 20
ACCOUNT_FAILURE_WINDOW_S: Final = 86400
ACCOUNT_LOCK_S: Final = 86400
_HOUR: Final = 3600
_DAY: Final = 86400

#: ``denied``: the owner refused it while it was pending; unlike ``revoked`` it holds while the
#: device keeps asking (no new request, no code, no e-mail) until the owner allows it again or
#: removes the row. A denial that lapsed at the next ask would mean a new code and a new
#: e-mail each time, and a denied stranger back in the owner's pending list.
ApprovalStatus = Literal["pending", "approved", "revoked", "denied"]


@dataclass(frozen=True, slots=True)
class Approval:
    """One (owner, device) approval and its current code, if any (as an HMAC only)."""

    approval_id: str
    owner_email: str
    device_id: str
    status: ApprovalStatus
    created_at: int
    code_mac: str | None = None
    code_issued_at: int | None = None
    tries_left: int = 0
    approved_at: int | None = None


@dataclass(frozen=True, slots=True)
class SendDecision:
    """Whether a code may be sent now, and if not, in how many seconds."""

    allowed: bool
    retry_after_s: int = 0


@dataclass(frozen=True, slots=True)
class VerifyOutcome:
    """A verification's answer; ``reason`` is the contract's word when not approved."""

    approved: bool
    reason: str | None = None
    tries_left: int | None = None


def new_code(randbelow: Callable[[int], int]) -> str:
    """Eight random digits (``secrets.randbelow(10**8)`` in production)."""
    return f"{randbelow(10**8):08d}"


def format_code(code: str) -> str:
    """``12345678`` → ``1234 5678``, the form shown in the e-mail."""
    return f"{code[:4]} {code[4:]}"


def code_mac(pepper: bytes, code: str, device_id: str, approval_id: str) -> str:
    """``HMAC-SHA256(pepper, code ‖ device_id ‖ approval_id)`` in hex (unit separators)."""
    message = "\x1f".join((code, device_id, approval_id)).encode("utf-8")
    return hmac.new(pepper, message, hashlib.sha256).hexdigest()


def has_live_code(approval: Approval, now: float) -> bool:
    """A pending approval whose code can still be entered (not expired, not voided)."""
    return (approval.status == "pending" and approval.code_mac is not None
            and approval.code_issued_at is not None and approval.tries_left > 0
            and now < approval.code_issued_at + CODE_TTL_S)


def check_send(device_sends: Sequence[float], owner_sends: Sequence[float],
               now: float) -> SendDecision:
    """May a code go out now, given when codes were last sent to this device and owner?"""
    waits = []
    recent_device = sorted(t for t in device_sends if t > now - _HOUR)
    if recent_device and now - recent_device[-1] < RESEND_MIN_INTERVAL_S:
        waits.append(recent_device[-1] + RESEND_MIN_INTERVAL_S - now)
    if len(recent_device) >= RESENDS_PER_HOUR_PER_DEVICE:
        waits.append(recent_device[-RESENDS_PER_HOUR_PER_DEVICE] + _HOUR - now)
    recent_owner = sorted(t for t in owner_sends if t > now - _DAY)
    if len(recent_owner) >= CODES_PER_DAY_PER_OWNER:
        waits.append(recent_owner[-CODES_PER_DAY_PER_OWNER] + _DAY - now)
    if not waits:
        return SendDecision(True)
    return SendDecision(False, max(1, int(max(waits) + 0.999)))


def check_token_send(token_sends: Sequence[float], now: float) -> SendDecision:
    """May a code go out for an approval a token's lookup asked for, given when that token's
    lookups last caused codes (:data:`CODES_PER_DAY_PER_TOKEN` in a rolling day)?"""
    recent = sorted(t for t in token_sends if t > now - _DAY)
    if len(recent) < CODES_PER_DAY_PER_TOKEN:
        return SendDecision(True)
    wait = recent[-CODES_PER_DAY_PER_TOKEN] + _DAY - now
    return SendDecision(False, max(1, int(wait + 0.999)))


def account_lock_due(failures: Sequence[float], now: float) -> bool:
    """Whether an owner's wrong codes (their times) call for the account-wide lock now.

    The window is rolling: only failures in ``(now - ACCOUNT_FAILURE_WINDOW_S, now]`` count,
    so a slow trickle of typos over weeks never locks anyone out.
    """
    since = now - ACCOUNT_FAILURE_WINDOW_S
    return sum(1 for t in failures if since < t <= now) >= ACCOUNT_FAILURE_LIMIT


def issue_code(approval: Approval, code: str, pepper: bytes, now: int) -> Approval:
    """The approval with a new code: the previous one (if any) stops working at once."""
    if approval.status in ("approved", "denied"):
        raise ValueError(f"approval is {approval.status}: no code is due")
    return replace(approval, status="pending",
                   code_mac=code_mac(pepper, code, approval.device_id, approval.approval_id),
                   code_issued_at=now, tries_left=MAX_TRIES, approved_at=None)


def verify_code(approval: Approval, code: str, pepper: bytes,
                now: int) -> tuple[Approval, VerifyOutcome]:
    """Check ``code`` against a pending approval; returns the new state and the answer.

    Expiry is judged before the code so an old code cannot be probed; a wrong code costs a
    try, and the fifth wrong try voids the code (later attempts answer ``code_voided``).
    """
    if approval.status != "pending" or approval.code_mac is None:
        return approval, VerifyOutcome(False, "no_pending_approval")
    if approval.tries_left <= 0:
        return approval, VerifyOutcome(False, "code_voided")
    assert approval.code_issued_at is not None  # noqa: S101 - set together with code_mac
    if now >= approval.code_issued_at + CODE_TTL_S:
        return approval, VerifyOutcome(False, "code_expired")
    digits = normalize_code(code)
    if digits is None:  # a typo, not a guess: it costs no try
        return approval, VerifyOutcome(False, "malformed_code")
    expected = code_mac(pepper, digits or "", approval.device_id, approval.approval_id)
    if digits is not None and hmac.compare_digest(expected, approval.code_mac):
        done = replace(approval, status="approved", approved_at=now, code_mac=None,
                       code_issued_at=None, tries_left=0)
        return done, VerifyOutcome(True)
    left = approval.tries_left - 1
    return replace(approval, tries_left=left), VerifyOutcome(False, "wrong_code", left)
