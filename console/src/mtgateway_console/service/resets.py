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

from mtgateway_base.wire.errors import AuthorityError

from ..database import Tx
from ..errors import InvalidRequest
from ..passwords import short_password
from ..tables import owners as owner_rows
from ..tables import resets as links
from ..tables.signins import end_credentials
from .common import Shared, normalize_email

__all__ = ["OPERATOR_RESET_COMMAND", "PER_ADDRESS", "PER_OWNER", "SET_ASIDE", "SWEEP_S",
           "TTL_S", "AskedTooOften", "Resets", "operator_reset_message", "reset_message"]

#: How long a link works.
TTL_S: Final = 30 * 60
#: "Forgot password" asks per address typed per hour (owner or not) ...
PER_ADDRESS: Final = 3
_ADDRESS_WINDOW_S: Final = 3600
#: ... and links mailed per owner per day.
PER_OWNER: Final = 5
_OWNER_WINDOW_S: Final = 24 * 3600
_TOKEN_BYTES: Final = 32
#: Asks older than the window are swept at most this often (by one ask, in its transaction),
#: not by every ask: the sweep cannot use the table's index, and an hour of asks made each
#: ask scan them all while every other write waited (0.9-1.3 s an ask at 250,000 rows).
SWEEP_S: Final = 60


#: The command an operator runs for an owner whose password leaked (every credential ends,
#: the password is set aside, a link to choose a new one is mailed).
OPERATOR_RESET_COMMAND: Final = "mtgateway owner reset-password --email"
#: What the operator's reset stores instead of a password hash: no password matches it
#: (``passwords.verify_password`` refuses a string that is not a hash), so the old password
#: signs in nowhere until the owner sets a new one.
SET_ASIDE: Final = "!set-aside-by-the-operator"


class AskedTooOften(AuthorityError):
    """One address asked for more reset links than its share (``fairshare``'s
    :data:`~mtgateway_console.fairshare.FORGOT_PER_ADDRESS` an hour): nothing is kept; ask again
    after ``retry_after_s``. It says nothing about which addresses are owners'."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("too many password-reset asks from this address")
        self.retry_after_s = retry_after_s


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


def operator_reset_message(owner_email: str, link: str | None, at: int,
                           from_address: str) -> EmailMessage:
    """The mail of the operator's reset: what was done, and the link to choose a new
    password (None: no console serves the authority; the sign-in page's "Forgot your
    password?" then mails one)."""
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = owner_email
    message["Subject"] = "MT Gateway: the operator signed you out and set your password aside"
    message["Date"] = formatdate(at, usegmt=True)
    domain = from_address.rpartition("@")[2].strip(" >") or "localhost"
    message["Message-ID"] = make_msgid("mtgw", domain=domain)
    choose = (f"Open this link to choose a new password:\n\n  {link}\n\nIt works once, for "
              f"{TTL_S // 60} minutes; after that, \"Forgot your password?\" on the sign-in "
              "page mails another." if link is not None else
              "Choose a new one with \"Forgot your password?\" on the console's sign-in page.")
    message.set_content(
        f"At {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(at))}, the operator of your "
        "MT Gateway console signed out every browser and every console API sign-in of yours "
        f"and set your password aside ({OPERATOR_RESET_COMMAND}): it no longer signs in "
        f"anywhere.\n\n{choose}\n\nIf you turned on two-step sign-in, it stays on: you "
        "will still need the code from your app.\n\nDid not ask for it? Tell the operator. "
        "Afterwards, read your Activity page, revoke the devices and tokens you do not know, "
        "and check where your alerts go.\n")
    return message


class Resets:
    """Reset links: asked for, checked, spent; and the operator's reset."""

    def __init__(self, shared: Shared, randbelow: Callable[[int], int]) -> None:
        self._shared = shared
        self._randbelow = randbelow
        #: When this process last swept the asks out of their window (:data:`SWEEP_S`).
        self._swept_at = 0

    async def request(self, address: str, *, client: str = "") -> None:
        """Mail a link to the console's ``/reset/<token>`` if ``address`` is an owner's and
        the limits allow; answers nothing either way (the caller shows one page for every
        case). The link names the console's own address (``address.py``), never one the
        request chose. ``client``: where the ask comes from (``fairshare.address_key``),
        held to its share of asks (each is a row kept an hour).

        Raises:
            ValueError: no console serves this authority (no address to name).
            AskedTooOften: ``client`` asked its share already (nothing kept).
        """
        link_base = self._shared.address.link("/reset/")
        if link_base is None:
            raise ValueError("no console serves this authority: a reset link has no address")
        address = normalize_email(address)[:320]
        if not address:
            return
        shares = self._shared.shares
        if shares is not None:
            wait = shares.forgot.admit(client)
            if wait is not None:
                raise AskedTooOften(wait)
        raw = bytes(self._randbelow(256) for _ in range(_TOKEN_BYTES))
        token = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        now = self._shared.now()
        sweep = now - self._swept_at >= SWEEP_S
        if sweep:
            self._swept_at = now
        if await self._shared.run(self._request, address, _digest(token), now, sweep):
            self._shared.mail(reset_message(address, link_base + token, now,
                                            self._shared.mailer.from_address))

    def _request(self, tx: Tx, address: str, digest: str, now: int, sweep: bool) -> bool:
        tx.lock(f"mtgateway-password-reset:{address}")
        if sweep:
            links.sweep_asks(tx, now - _ADDRESS_WINDOW_S)
        if links.asks_since(tx, address, now - _ADDRESS_WINDOW_S) >= PER_ADDRESS:
            return False
        links.note_ask(tx, address, now)
        if owner_rows.owner_password_hash(tx, address) is None:
            return False
        if links.links_since(tx, address, now - _OWNER_WINDOW_S) >= PER_OWNER:
            return False
        links.sweep_links(tx, now - _OWNER_WINDOW_S)
        links.add_link(tx, digest, address, now, now + TTL_S)
        self._shared.activity.add(tx, address, "password_reset_sent", "", now)
        return True

    async def valid(self, token: str) -> bool:
        """Whether ``token`` is a link not yet used nor expired (spends nothing)."""
        return await self._shared.run(self._valid, _digest(token), self._shared.now())

    @staticmethod
    def _valid(tx: Tx, digest: str, now: int) -> bool:
        return links.link_owner(tx, digest, now) is not None

    async def complete(self, token: str, new_password: str) -> str | None:
        """Spend the link and set ``new_password``: the owner's e-mail, or ``None`` for a
        link used, expired or unknown (nothing changed). ``ValueError`` for a short password
        (the link is not spent).

        The link is looked up before the password is hashed, so a link made up, used or
        expired costs one indexed read and no hash, and is answered alike whichever it is
        (a hash per made-up link, with no credential and no throttle, once kept every
        owner's sign-in waiting); a live one is hashed in its owner's turn, then spent by
        the conditional ``UPDATE`` (another instance may have spent it meanwhile)."""
        problem = short_password(new_password)
        if problem is not None:
            raise InvalidRequest(problem)
        digest = _digest(token)
        owner = await self._shared.run(links.link_owner, digest, self._shared.now())
        if owner is None:
            return None
        hashed = await self._shared.hashing.hash(new_password, owner=owner)
        now = self._shared.now()
        email = await self._shared.run(self._complete, digest, hashed, now)
        if email is not None:
            self._shared.notify(email, "password_reset", now)
        return email

    async def by_operator(self, email: str) -> asyncio.Task[bool]:
        """The operator's reset (``mtgateway owner reset-password``: the owner's password
        leaked, whatever their second factor): every session, half-done sign-in and API
        sign-in of the owner ended (the sign-in generation raised: every token refused),
        the password set aside (:data:`SET_ASIDE`: the old one signs in nowhere), the
        owner's reset links void and a new one mailed (the operator's, outside the owner's
        five a day), the activity noted. The second factor, the take-back links and the
        day's enrolments stay as they are (``owner reset-2fa`` is the operator's command for
        the factor). The mail's delivery. ``ValueError`` for an address no owner has."""
        email, now = normalize_email(email), self._shared.now()
        raw = bytes(self._randbelow(256) for _ in range(_TOKEN_BYTES))
        token = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        link_base = self._shared.address.link("/reset/")
        await self._shared.run(self._by_operator, email, _digest(token), now,
                               link_base is not None)
        return self._shared.mail(operator_reset_message(
            email, link_base + token if link_base is not None else None, now,
            self._shared.mailer.from_address))

    def _by_operator(self, tx: Tx, email: str, digest: str, now: int, link: bool) -> None:
        if not owner_rows.set_owner_password(tx, email, SET_ASIDE):
            raise InvalidRequest(f"no owner has the address {email}")
        links.void_links(tx, email, now)
        if link:
            links.add_link(tx, digest, email, now, now + TTL_S)
        end_credentials(tx, email, now, reason="password_reset_by_operator")
        self._shared.activity.add(tx, email, "password_reset_by_operator", "", now)

    def _complete(self, tx: Tx, digest: str, hashed: str, now: int) -> str | None:
        email = links.spend_link(tx, digest, now)
        if email is None:
            return None
        if not owner_rows.set_owner_password(tx, email, hashed):
            return None
        links.void_links(tx, email, now)
        end_credentials(tx, email, now, reason="password_reset")
        self._shared.activity.add(tx, email, "password_reset", "", now)
        return email
