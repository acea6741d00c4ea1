"""Password reset by e-mail: a single-use link that expires, rate-limited, telling no one
which addresses are owners'.

:meth:`Resets.request` is answered the same whether or not an owner has the address (the page
says "if an owner has this address, a link is on its way" either way). Each ask is counted per
address typed, owner or not, so the limit's refusal tells nothing either; a link is mailed
only to an owner, at most :data:`PER_OWNER` a day. The link carries 256 random bits from the
injected randomness; only their SHA-256 is stored, so a copy of the database opens no reset.
The link works for :data:`TTL_S` and once: :meth:`complete` spends it by one conditional
``UPDATE`` (two instances presenting it at once cannot both win), sets the new password, ends
every session and half-done sign-in of the owner, and voids the owner's other links. Opening
the link (``GET``) spends nothing, so a mail scanner following it does not burn it.

A reset does not remove the second factor: signing in afterwards still asks for the code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Final

from ..database import Tx
from ..passwords import hash_password
from ..signins import end_credentials
from .common import Shared, normalize_email

__all__ = ["PER_ADDRESS", "PER_OWNER", "TTL_S", "Resets", "reset_message"]

#: How long a link works.
TTL_S: Final = 30 * 60
#: "Forgot password" asks per address typed per hour (owner or not) ...
PER_ADDRESS: Final = 3
_ADDRESS_WINDOW_S: Final = 3600
#: ... and links mailed per owner per day.
PER_OWNER: Final = 5
_OWNER_WINDOW_S: Final = 24 * 3600
_TOKEN_BYTES: Final = 32


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def reset_message(owner_email: str, link: str, at: int, from_address: str) -> EmailMessage:
    """The reset e-mail: the link, how long it works, and what to do if it was not asked."""
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = owner_email
    message["Subject"] = "MT Gateway: reset your console password"
    message["Date"] = formatdate(at, usegmt=True)
    domain = from_address.rpartition("@")[2].strip(" >") or "localhost"
    message["Message-ID"] = make_msgid("mtgw", domain=domain)
    message.set_content(
        "Someone (hopefully you) asked to reset the password of your MT Gateway console at "
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(at))}.\n\n"
        f"Open this link to choose a new password:\n\n  {link}\n\n"
        f"It works once, for {TTL_S // 60} minutes. Setting a new password signs out every "
        "browser signed in as you. If you turned on two-step sign-in, it stays on: you will "
        "still need the code from your app.\n\n"
        "Not you? Ignore this e-mail: your password stays as it is.\n")
    return message


class Resets:
    """Reset links: asked for, checked, spent."""

    def __init__(self, shared: Shared, randbelow: Callable[[int], int]) -> None:
        self._shared = shared
        self._randbelow = randbelow

    async def request(self, address: str) -> None:
        """Mail a link to the console's ``/reset/<token>`` if ``address`` is an owner's and
        the limits allow; answers nothing either way (the caller shows one page for every
        case). The link names the console's own address (``address.py``), never one the
        request chose.

        Raises:
            ValueError: no console serves this authority (no address to name).
        """
        link_base = self._shared.address.link("/reset/")
        if link_base is None:
            raise ValueError("no console serves this authority: a reset link has no address")
        address = normalize_email(address)[:320]
        if not address:
            return
        raw = bytes(self._randbelow(256) for _ in range(_TOKEN_BYTES))
        token = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        now = self._shared.now()
        if await self._shared.run(self._request, address, _digest(token), now):
            self._shared.mail(reset_message(address, link_base + token, now,
                                            self._shared.mailer.from_address))

    def _request(self, tx: Tx, address: str, digest: str, now: int) -> bool:
        tx.lock(f"mtgateway-password-reset:{address}")
        tx.execute("DELETE FROM reset_requests WHERE requested_at <= ?",
                   (now - _ADDRESS_WINDOW_S,))
        asked = int(tx.query_one("SELECT count(*) FROM reset_requests WHERE address = ?",
                                 (address,))[0])
        if asked >= PER_ADDRESS:
            return False
        tx.execute("INSERT INTO reset_requests VALUES (?, ?)", (address, now))
        if self._shared.store.owner_password_hash(tx, address) is None:
            return False
        sent = int(tx.query_one("SELECT count(*) FROM password_resets WHERE owner_email = ? "
                                "AND created_at > ?",
                                (address, now - _OWNER_WINDOW_S))[0])
        if sent >= PER_OWNER:
            return False
        tx.execute("DELETE FROM password_resets WHERE created_at <= ?", (now - _OWNER_WINDOW_S,))
        tx.execute("INSERT INTO password_resets VALUES (?, ?, ?, ?, NULL)",
                   (digest, address, now, now + TTL_S))
        self._shared.activity.add(tx, address, "password_reset_sent", "", now)
        return True

    async def valid(self, token: str) -> bool:
        """Whether ``token`` is a link not yet used nor expired (spends nothing)."""
        return await self._shared.run(self._valid, _digest(token), self._shared.now())

    @staticmethod
    def _valid(tx: Tx, digest: str, now: int) -> bool:
        row = tx.query_one("SELECT 1 FROM password_resets WHERE token_sha256 = ? "
                           "AND used_at IS NULL AND expires_at > ?", (digest, now))
        return row is not None

    async def complete(self, token: str, new_password: str) -> str | None:
        """Spend the link and set ``new_password``: the owner's e-mail, or ``None`` for a
        link used, expired or unknown (nothing changed). ``ValueError`` for a short password
        (the link is not spent)."""
        if len(new_password) < 8:
            raise ValueError("the password must have at least 8 characters")
        hashed = await asyncio.to_thread(hash_password, new_password)
        now = self._shared.now()
        email = await self._shared.run(self._complete, _digest(token), hashed, now)
        if email is not None:
            self._shared.notify(email, "password_reset", now)
        return email

    def _complete(self, tx: Tx, digest: str, hashed: str, now: int) -> str | None:
        row = tx.query_one("UPDATE password_resets SET used_at = ? WHERE token_sha256 = ? "
                           "AND used_at IS NULL AND expires_at > ? RETURNING owner_email",
                           (now, digest, now))
        if row is None:
            return None
        email = str(row[0])
        if not self._shared.store.set_owner_password(tx, email, hashed):
            return None
        tx.execute("UPDATE password_resets SET used_at = ? WHERE owner_email = ? "
                   "AND used_at IS NULL", (now, email))
        end_credentials(tx, email, now)
        self._shared.activity.add(tx, email, "password_reset", "", now)
        return email
