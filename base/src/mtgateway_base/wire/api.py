"""What the daemon asks the authority, whether it is embedded or across HTTP.

:class:`AuthorityAPI` is the device-facing half of the authority. The embedded
:class:`~mtgateway_console.service.Authority` and the HTTP
:class:`~gateway.auth.client.RemoteAuthority` both implement it, so the daemon's record
cache is written once against this protocol. Records travel as their signed envelopes (plain
dicts): the daemon verifies them itself with
:func:`~mtgateway_base.wire.records.verify_signed_record`, whichever path they came by.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from .errors import AuthorityRefused, AuthorityUnreachable
from .records import AuthorityKey

__all__ = [
    "AuthorityAPI",
    "AuthorityRefused",
    "AuthorityUnreachable",
    "DeviceInfo",
    "DeviceStatus",
    "IssuedToken",
    "LookupAnswer",
    "ResendAnswer",
    "VerifyAnswer",
    "normalize_code",
]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A device as the authority sees it: its id and raw 32-byte Ed25519 public key."""

    device_id: str
    public_key: bytes


@dataclass(frozen=True, slots=True)
class LookupAnswer:
    """``ok`` with a signed record envelope, ``pending`` (approval asked) or ``unknown``.

    ``denied``: pending because the owner denied this device, so no code is coming (the
    daemon tells its EA and clients so). Still ``pending`` on the wire, with ``denied`` beside
    it, so a daemon that does not know the key reads it as before."""

    status: Literal["ok", "pending", "unknown"]
    record: dict[str, Any] | None = None
    denied: bool = False


@dataclass(frozen=True, slots=True)
class VerifyAnswer:
    """``approved``, or not with the reason word and, for ``wrong_code``, the tries left; for
    ``approvals_locked`` (the owner's account-wide lock), the seconds until it ends."""

    status: Literal["approved", "rejected"]
    reason: str | None = None
    tries_left: int | None = None
    retry_after_s: int | None = None


@dataclass(frozen=True, slots=True)
class ResendAnswer:
    """``sent``, ``mail_failed`` (a code was issued but the e-mail could not be sent),
    ``resend_limited`` or ``approvals_locked`` (retry after ``retry_after_s``), or
    ``no_pending_approval``."""

    status: Literal["sent", "mail_failed", "resend_limited", "approvals_locked",
                    "no_pending_approval"]
    retry_after_s: int = 0


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """The device's approvals: ``(masked owner e-mail, status)`` pairs."""

    device_id: str
    approvals: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: ``token`` is shown once; ``record`` is its listing (no secrets)."""

    token: str
    token_id: str
    record: dict[str, Any]


#: A device approval code as the console mails it and ``verify_device`` takes it: 8 digits.
_CODE: Final = re.compile(r"^\d{8}$")


def normalize_code(text: str) -> str | None:
    """The 8 digits of an approval code typed by a person (spaces and dashes allowed, as the
    mail writes it: ``1234 5678``), or ``None``: the console checks a code so, and a daemon's
    command before it sends one (a malformed code costs no try)."""
    digits = re.sub(r"[\s-]", "", text)
    return digits if _CODE.match(digits) else None


class AuthorityAPI(Protocol):
    """The device-facing calls; see ``docs/authority.md`` for each answer's meaning."""

    async def lookup(self, device: DeviceInfo, *, token_hint: str, device_name: str = "",
                     os: str = "", nonce: str | None = None,
                     box_key: bytes | None = None) -> LookupAnswer:
        """Find a token's record for this device by the token's hint; the record carries
        ``nonce``, so the device can tell an answer to this request from a replay, and its
        ``server_key`` sealed to ``box_key`` (a fresh X25519 public key, ``boxes.py``)."""
        ...

    async def refresh(self, device: DeviceInfo, token_ids: Sequence[str],
                      nonce: str | None = None,
                      box_key: bytes | None = None) -> list[dict[str, Any]]:
        """Current signed records of these tokens, each carrying ``nonce`` and its
        ``server_key`` sealed to ``box_key``; unknown or unapproved ones omitted."""
        ...

    async def verify_device(self, device: DeviceInfo, code: str) -> VerifyAnswer:
        """Complete a pending approval with the e-mailed code."""
        ...

    async def resend(self, device: DeviceInfo) -> ResendAnswer:
        """Send a new code for this device's pending approvals (voiding the old one)."""
        ...

    async def device_status(self, device: DeviceInfo) -> DeviceStatus:
        """Which owners have approved this device."""
        ...

    async def public_keys(self) -> list[AuthorityKey]:
        """The authority's signing keys (the daemon pins one by ``kid``)."""
        ...

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float) -> tuple[int, list[str]]:
        """The revocation feed: the next cursor and the ids of the tokens revoked past
        ``cursor`` (may be empty), held open up to ``timeout_s`` until there is one."""
        ...
