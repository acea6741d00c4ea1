"""E-mail to owners: the approval code, the "device approved" notice, the approval lock and
the security notices (the password or the second factor changed).

:class:`SmtpMailer` is the only place aiosmtplib is imported. :class:`RecordingMailer` keeps
messages in memory behind the same :class:`Mailer` protocol, for tests and for ``mtgateway
demo``; it lives here, beside the real one, so the two cannot drift apart, as does
:class:`NoMailer`, which sends nothing (an authority with no mail server). The messages name
the device, its OS and the time, and say what to do if it was not the owner; they never carry
the token (a mailbox is not a secret store).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Final, Literal, Protocol

import aiosmtplib

from .address import ConsoleAddress
from .devices import CODE_TTL_S, format_code

__all__ = [
    "ApprovalRequest",
    "Mailer",
    "NoMailer",
    "RecordingMailer",
    "SmtpMailer",
    "approval_code_message",
    "approvals_locked_message",
    "approved_message",
    "RESET_2FA_COMMAND",
    "SECURITY_NOTICES",
    "security_notice_message",
]

log = logging.getLogger(__name__)

SmtpSecurity = Literal["starttls", "tls", "none"]


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """What the owner is told about a device asking for approval."""

    owner_email: str
    device_id: str
    device_name: str
    os: str
    requested_at: int
    #: The owner's token the device presented: its id, label and terminal, as the console
    #: names it (``tok_… “EA on the VPS” for 5012345@MTG-Demo``); empty when unknown.
    token: str = ""


class Mailer(Protocol):
    """Something that delivers an e-mail (or fails with an exception)."""

    #: The ``From`` address the authority puts on its messages.
    from_address: str

    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message``."""


def _when(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _message(from_address: str, to: str, subject: str, at: int) -> EmailMessage:
    """A message with the headers every mail needs: ``Date`` (the event's time, so a mail
    delayed in a queue still says when it happened) and a ``Message-ID`` on the sender's
    domain (spam filters score mail without either, and some servers refuse it)."""
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(at, usegmt=True)
    domain = from_address.rpartition("@")[2].strip(" >") or "localhost"
    message["Message-ID"] = make_msgid("mtgw", domain=domain)
    return message


def approval_code_message(request: ApprovalRequest, code: str, from_address: str,
                          console_hint: str = "the console") -> EmailMessage:
    """The code e-mail: which machine, when, the code as ``1234 5678``, and how to refuse."""
    message = _message(from_address, request.owner_email,
                       f"MT Gateway: approve the device {request.device_name!r}?",
                       request.requested_at)
    token = f"  token:       {request.token}\n" if request.token else ""
    message.set_content(
        "A machine asked to use your MT Gateway tokens:\n\n"
        f"  device name: {request.device_name}\n"
        f"  OS:          {request.os}\n"
        f"  device id:   {request.device_id}\n"
        f"{token}"
        f"  time:        {_when(request.requested_at)}\n\n"
        f"If this is you, approve it in {console_hint} (Devices, Approve, with your\n"
        "console password), or run on that machine:\n\n"
        f"  mtgateway device verify {format_code(code)}\n\n"
        f"The code works for {CODE_TTL_S // 60} minutes and only on that machine.\n\n"
        f"Not you? Do not share the code. Deny it in {console_hint} (Devices, Deny):\n"
        "it stays denied while it keeps asking, and you get no more e-mails about it.\n"
        "Whoever runs it holds the token it presented: revoke that token too (the deny\n"
        "dialog offers it; or Devices, Revoke its token; or Tokens, Revoke).\n")
    return message


def approved_message(request: ApprovalRequest, from_address: str,
                     console_hint: str = "the console") -> EmailMessage:
    """The notice sent once a device is approved (a factor changed: tell the owner)."""
    message = _message(from_address, request.owner_email,
                       f"MT Gateway: device {request.device_name!r} approved",
                       request.requested_at)
    message.set_content(
        f"The device {request.device_name} ({request.os}, id {request.device_id}) was approved "
        f"at {_when(request.requested_at)} and can now use your tokens.\n\n"
        f"Not you? Revoke it in {console_hint} (Devices, Revoke), and revoke the token\n"
        "it presented (Tokens, Revoke).\n")
    return message


#: The changes an owner is told of at once, by the activity kind that records each: the subject
#: and what happened. Each is what someone who took the password (or the mailbox's reset
#: link) would do to keep the account, or what undid it, so the owner hears of it even when
#: it was not them.
SECURITY_NOTICES: Final = {
    "password_changed": ("your console password was changed",
                         "your console password was changed on the Settings page"),
    "password_reset": ("your console password was reset",
                       "your console password was reset with a link sent to this address"),
    "second_factor_on": ("two-step sign-in was turned on",
                         "two-step sign-in was turned on for your console"),
    "second_factor_off": ("two-step sign-in was turned off",
                          "two-step sign-in was turned off for your console: a password "
                          "alone signs in again"),
    "recovery_codes_new": ("new recovery codes were made",
                           "new recovery codes were made for your console's two-step "
                           "sign-in (the old ones no longer work)"),
    "second_factor_undone": ("two-step sign-in was taken back",
                             "two-step sign-in was turned off with the link from our notice "
                             "that it had been turned on; every browser and every console "
                             "API sign-in was signed out, the alerts' webhook (if one was "
                             "set) was removed, and a new password was set"),
    "second_factor_reset": ("the operator turned two-step sign-in off",
                            "the operator of your console turned your two-step sign-in off "
                            "(mtgateway owner reset-2fa); every browser and every console "
                            "API sign-in was signed out"),
}

#: The command an operator runs for an owner who lost the authenticator and the recovery codes.
RESET_2FA_COMMAND: Final = "mtgateway owner reset-2fa --email"


def _not_you(kind: str, owner_email: str, address: ConsoleAddress,
             undo: tuple[str, int] | None) -> str:
    """What works if the change was not the owner's, kind by kind (no secret but the undo
    link, which is the owner's own way back)."""
    forgot = address.hint("/forgot")
    reset = (f"Reset your password now: \"Forgot your password?\" on the sign-in page of "
             f"{forgot} mails you a link, and a new password signs out every browser.")
    operator = (f"ask the operator of your console to run:\n\n  {RESET_2FA_COMMAND} "
                f"{owner_email}\n\n(it turns two-step sign-in off, signs out every browser and "
                "tells you by e-mail).")
    if kind == "second_factor_on":
        head = ("Not you? Then someone who knows your password holds the only authenticator and "
                "recovery codes, and a password reset alone keeps two-step sign-in on.")
        if undo is None:
            return f"{head} To get your account back, {operator}"
        link, hours = undo
        return (f"{head} Open this link within {hours} hours to take it back:\n\n  {link}\n\n"
                "It works once, for this change or a later one: it turns two-step sign-in off, "
                "signs out every browser and every console API sign-in, removes the alerts' "
                "webhook and asks you for a new password. Whoever did it cannot void it (by "
                "changing your password, signing you out, or turning two-step sign-in off and "
                f"on again). Once it has expired, {operator}")
    if kind in ("password_reset", "second_factor_undone"):
        return ("Not you? Then someone can read this mailbox. Secure the mailbox first (its "
                f"password, its forwarding rules), then {reset[0].lower()}{reset[1:]}")
    if kind in ("recovery_codes_new", "second_factor_off"):
        return (f"Not you? Then someone has your password and a current code. {reset} Then "
                "turn two-step sign-in on again (Settings). If your own app's codes no longer "
                f"work, {operator}")
    if kind == "second_factor_reset":
        return ("Did not ask for it? Tell the operator, and turn two-step sign-in on again "
                f"(Settings). {reset}")
    return f"Not you? Then someone knows your password. {reset}"


def security_notice_message(owner_email: str, kind: str, at: int, from_address: str,
                            address: ConsoleAddress | None = None,
                            undo: tuple[str, int] | None = None) -> EmailMessage:
    """The notice of one of :data:`SECURITY_NOTICES`: what changed, when, and exactly what
    works if it was not the owner (``undo``: the link that takes a second factor back and
    its hours, for ``second_factor_on``). Links name the console's own ``address``.
    ``KeyError`` for a kind that is not one of them."""
    subject, what = SECURITY_NOTICES[kind]
    address = address if address is not None else ConsoleAddress()
    message = _message(from_address, owner_email, f"MT Gateway: {subject}", at)
    message.set_content(
        f"At {_when(at)}, {what}.\n\n"
        "If that was you, there is nothing to do.\n\n"
        f"{_not_you(kind, owner_email, address, undo)}\n\n"
        f"Afterwards, read the Activity page of {address.hint()}, sign out the browsers and "
        "console API sign-ins you do not know (Settings, Signed-in sessions), revoke the "
        "devices (Devices) and tokens (Tokens) you do not know, and check where your alerts "
        "go (Settings, Alerts: a webhook you do not know sends them to someone else).\n")
    return message


def approvals_locked_message(owner_email: str, failures: int, devices: Sequence[str],
                             locked_at: int, locked_until: int, from_address: str,
                             console_hint: str = "the console") -> EmailMessage:
    """The notice of the account-wide lock (device approvals locked for 24 h, and the owner
    told by e-mail once).

    Wrong codes in numbers mean someone holds one of the owner's tokens and is guessing, so the
    mail says so and what to revoke; it names the devices (ids and names, not secrets) and
    carries no code, token or password: the mailbox may be what the guesser is reading.
    """
    message = _message(from_address, owner_email,
                       "MT Gateway: device approvals locked after repeated wrong codes",
                       locked_at)
    listed = "".join(f"  {d}\n" for d in devices) or "  (unknown)\n"
    message.set_content(
        f"{failures} wrong device-approval codes were entered for your account\n"
        f"within 24 hours, so approving new devices is locked\n"
        f"  from  {_when(locked_at)}\n"
        f"  until {_when(locked_until)}.\n\n"
        "Devices already approved keep working. Until then no code is sent\n"
        "and none is accepted.\n\n"
        f"The wrong codes came from:\n{listed}\n"
        "Only someone holding one of your tokens can ask for a code. If this\n"
        f"was not you, revoke your tokens in {console_hint} (tokens: revoke)\n"
        "and issue new ones.\n")
    return message


class NoMailer:
    """A mailer for an authority with no mail server: a daemon's embedded one (local mode
    approves its own device, so no approval mail is ever due) and the operator's commands run
    without ``[smtp]``; a message that were due is dropped with a warning rather than sent
    nowhere."""

    from_address = "mtgateway@localhost"

    async def send(self, message: EmailMessage) -> None:
        """Drop the message (its subject only is logged: the body may hold a code)."""
        log.warning("no mail server here; not sent: %r", message["Subject"])


class SmtpMailer:
    """Sends through an SMTP server with aiosmtplib."""

    def __init__(self, host: str, port: int, security: SmtpSecurity, username: str = "",
                 password: str = "", from_address: str = "mtgateway@localhost",
                 timeout_s: float = 30.0) -> None:
        self.host, self.port, self.security = host, port, security
        self.from_address = from_address
        self._username, self._password = username, password
        self._timeout_s = timeout_s

    def __repr__(self) -> str:  # never show the password
        return f"SmtpMailer({self.host!r}, {self.port}, {self.security!r})"

    async def check(self) -> None:
        """Connect, greet, secure and log in as a send would, then quit: the console's
        start-up check of ``[smtp]`` (raises aiosmtplib's errors, ``OSError``)."""
        client = aiosmtplib.SMTP(hostname=self.host, port=self.port,
                                 use_tls=self.security == "tls",
                                 start_tls=self.security == "starttls",
                                 timeout=self._timeout_s)
        await client.connect()
        try:
            if self._username:
                await client.login(self._username, self._password)
        finally:
            client.close()

    async def send(self, message: EmailMessage) -> None:
        """Deliver one message (raises aiosmtplib's errors on failure)."""
        await aiosmtplib.send(
            message, hostname=self.host, port=self.port,
            use_tls=self.security == "tls", start_tls=self.security == "starttls",
            username=self._username or None, password=self._password or None,
            timeout=self._timeout_s)


class RecordingMailer:
    """Keeps sent messages in :attr:`messages`; :meth:`wait_for` waits without sleeping."""

    def __init__(self, from_address: str = "mtgateway@localhost") -> None:
        self.from_address = from_address
        self.messages: list[EmailMessage] = []
        self._changed = asyncio.Event()

    async def send(self, message: EmailMessage) -> None:
        """Record ``message``."""
        self.messages.append(message)
        self._changed.set()

    async def wait_for(self, count: int) -> list[EmailMessage]:
        """Return once at least ``count`` messages have been sent."""
        while len(self.messages) < count:
            self._changed.clear()
            await self._changed.wait()
        return list(self.messages)
