"""The owner's side of setup: the authority a token comes from, and this machine's approval.

Two authorities, as the ``token`` and ``device`` commands have them (``gateway.manage``):

- **local** (the default): the token authority the daemon embeds, ``authority.sqlite3`` in the
  data directory, opened directly (whoever can write that file owns it). It approves this
  machine by itself. Setup makes its first owner when it has none (the e-mail asked or given,
  the password from ``MTGATEWAY_OWNER_PASSWORD`` or a no-echo prompt, never an argument).
  Whose each terminal already is (its tokens', its registered account's owner) is read
  first: an e-mail naming someone else is refused naming the owner to pass, before anything
  is made or installed (issuing would refuse it anyway, after the EA was installed, with a
  second owner left behind);
- **a console** (``--console URL``, or ``[authority] mode = "remote"``): the owner's hosted
  console, over its owner API with the owner's e-mail and password, after it proved the pinned
  key (``--console-key`` or ``[authority] public_key``). This machine asks for approval the way
  the daemon does (a signed lookup of the new token, sealed to a fresh box key), the console
  e-mails the owner a code, and the code typed here approves it (``device verify``'s call).
"""

from __future__ import annotations

import platform
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from mtgateway.credential import TokenKeys
from mtgateway_base.wire.api import IssuedToken, normalize_code
from mtgateway_base.wire.boxes import BoxOpener
from mtgateway_base.wire.records import AuthorityKey
from mtgateway_base.wire.tokens import DEFAULT_LIFETIME_DAYS

from ..auth.client import RemoteAuthority
from ..auth.owner import OwnerConsole
from ..config import GatewayConfig
from ..identity import device_name, open_device
from ..localconsole import require_console

if TYPE_CHECKING:
    from mtgateway_console.service import Authority

__all__ = ["LocalPairing", "NewPassword", "PairingError", "RemotePairing"]

#: What setup's tokens may do: the EA serves reads and trades, and bots use the same token.
SCOPES: Final = ("read", "trade")
#: A token's life, as ``mtgateway token create`` and the console give it; setup run again
#: before it ends issues the next.
LIFETIME_S: Final = DEFAULT_LIFETIME_DAYS * 86_400


#: Asks for a new owner's password: ``(email, problem)``, where ``problem(password)`` says
#: why the authority would refuse it (too short), or ``None``; so a person at a prompt is
#: asked again on the spot rather than sent back to the first question.
NewPassword = Callable[[str, Callable[[str], "str | None"]], str]


class PairingError(Exception):
    """The authority cannot be used as asked (the message says what to do)."""


def _claimed(email: str, held: dict[tuple[int, str], list[str]]) -> str | None:
    """Why ``email`` cannot have the terminals ``held`` names (each terminal's holders), or
    ``None``: the first terminal another owner holds, and the ``--email`` to pass."""
    for (login, server), owners in held.items():
        if owners and email.lower() not in owners:
            named = ", ".join(owners)
            flag = (f"--email {owners[0]}" if len(owners) == 1
                    else "--email with one of them")
            return f"terminal {login}@{server}'s tokens belong to {named}: pass {flag}"
    return None


def _active(rows: list[dict[str, Any]]) -> set[str]:
    """The ids of the rows that are neither revoked nor expired."""
    now = time.time()
    return {str(r["token_id"]) for r in rows if r.get("revoked_at") is None
            and not (isinstance(r.get("expires_at"), int) and r["expires_at"] <= now)}


class LocalPairing:
    """The embedded authority in the data directory."""

    where = "local"

    def __init__(self, authority: Authority, owner: str, made: bool = False) -> None:
        self.authority = authority
        self.owner = owner
        #: Whether this run made the owner (the password is the one just chosen).
        self.made = made

    @classmethod
    async def open(cls, config: GatewayConfig, email: str, new_password: NewPassword,
                   terminals: Sequence[tuple[int, str]] = ()) -> LocalPairing:
        """The authority (created when new) with its owner: ``email``, the only one, the one
        holding every terminal in ``terminals`` (login, server) when several and none named,
        or a new one made with ``email`` and ``new_password``.

        Raises:
            PairingError: one of ``terminals`` is another owner's (naming the ``--email`` to
                pass); no e-mail for a first owner, or several owners and none named.
        """
        # the embedded authority is the console's: composed here, only when used
        require_console("mtgateway setup on the local authority (without --console)")
        from mtgateway_console import operator
        from mtgateway_console.passwords import short_password

        authority = await operator.open_local(config.resolved_data_dir(), config.authority,
                                              None, create=True)
        try:
            owners = await authority.owners.emails()
            held = {(login, server): await authority.tokens.holders(login, server)
                    for login, server in terminals}
            if not email:
                holding = {o for names in held.values() for o in names}
                if len(owners) == 1:
                    email = owners[0]
                elif len(holding) == 1 and holding <= set(owners):
                    email = holding.pop()  # several owners: the terminals' own
                else:
                    raise PairingError("the authority has several owners: pass --email"
                                       if owners else "no owner yet: pass --email (yours)")
            refused = _claimed(email, held)
            if refused is not None:
                raise PairingError(refused)
            if email.lower() in (o.lower() for o in owners):
                return cls(authority, email)
            try:
                await authority.owners.create(email, new_password(email, short_password))
            except ValueError as exc:
                raise PairingError(str(exc)) from None
            return cls(authority, email, made=True)
        except BaseException:
            await authority.close()
            raise

    def console_url(self, config_file: Path | None) -> str:
        """Where this machine's console serves this authority: ``[console]`` ``host`` and
        ``port`` of the config setup ran with, which ``mtgateway-console`` reads too when
        started with no ``-c`` (the Start menu's *MT Gateway console*); its defaults when the
        file has none (or a section it refuses: the console says why when it starts)."""
        from mtgateway_console.config import ConsoleFile, load_console_config
        from mtgateway_console.errors import ConsoleConfigError

        try:
            part = load_console_config(config_file).console
        except ConsoleConfigError:
            part = ConsoleFile().console
        host = part.host if part.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return f"http://{f'[{host}]' if ':' in host else host}:{part.port}/"

    async def active_token_ids(self) -> set[str]:
        return _active(await self.authority.tokens.of(self.owner))

    async def issue(self, login: int, server: str, label: str) -> IssuedToken:
        try:
            return await self.authority.tokens.issue(self.owner, login, server, scopes=SCOPES,
                                                     expires_in_s=LIFETIME_S, label=label)
        except ValueError as exc:
            raise PairingError(str(exc)) from None

    async def revoke(self, token_id: str) -> bool:
        return await self.authority.tokens.revoke(self.owner, token_id)

    async def approve(self, config: GatewayConfig, token: str,
                      ask_code: Callable[[], str]) -> str:
        return "this machine: approved by the local authority itself"

    async def close(self) -> None:
        await self.authority.close()


class RemotePairing:
    """The owner's console at ``url``."""

    #: A console's owner exists before setup signs in as it.
    made = False

    def __init__(self, url: str, console: OwnerConsole, owner: str, password: str) -> None:
        self.where = url
        self.console = console
        self.owner = owner
        self._password = password

    @classmethod
    def open(cls, url: str, key: str, timeout_s: float, email: str,
             password: str) -> RemotePairing:
        """The console's owner API, its key pinned (it must prove it before the password is
        sent).

        Raises:
            PairingError: no key or e-mail, or a key that does not parse.
        """
        if not key:
            raise PairingError("--console-key: the console's authority key (the line its start "
                               "prints: public_key=...) is needed to trust it")
        if not email:
            raise PairingError("the console needs the owner: pass --email")
        try:
            pinned = AuthorityKey.from_base64(key)
        except ValueError as exc:
            raise PairingError(f"--console-key: {exc}") from None
        return cls(url, OwnerConsole(url, pinned, timeout_s=timeout_s), email, password)

    def console_url(self, config_file: Path | None) -> str:
        """The console setup paired with: its owner signs in there."""
        return self.where

    async def active_token_ids(self) -> set[str]:
        return _active(await self.console.list_tokens(self.owner, self._password))

    async def issue(self, login: int, server: str, label: str) -> IssuedToken:
        return await self.console.issue_token(self.owner, self._password, login, server,
                                              scopes=list(SCOPES), expires_in_s=LIFETIME_S,
                                              label=label)

    async def revoke(self, token_id: str) -> bool:
        return await self.console.revoke_token(self.owner, self._password, token_id)

    async def approve(self, config: GatewayConfig, token: str,
                      ask_code: Callable[[], str]) -> str:
        """Ask the console to approve this machine for ``token`` (a lookup, as the daemon's
        first one), then complete it with the e-mailed code; what happened, in words.

        Raises:
            PairingError: the owner denied this machine, or the code was refused.
        """
        device = open_device(config)
        nonce = secrets.token_hex(16)
        box = BoxOpener(device.device_id, nonce)
        async with RemoteAuthority(self.where, device.private_key,
                                   timeout_s=config.authority.request_timeout_s) as remote:
            answer = await remote.lookup(
                device.info, token_hint=TokenKeys.of(token).hint,
                device_name=device_name(config),
                os=f"{platform.system()} {platform.release()}".strip(), nonce=nonce,
                box_key=box.public_key)
            if answer.status == "ok":
                return f"this machine ({device.device_id[:8]}): already approved"
            if answer.denied:
                raise PairingError("the owner denied this machine in the console (Devices): "
                                   "allow it again there, then run setup again")
            while True:
                typed = ask_code()
                if normalize_code(typed) is None:
                    print("the code is the 8 digits from the e-mail, e.g. 1234 5678")
                    continue
                verdict = await remote.verify_device(device.info, typed)
                if verdict.status == "approved":
                    return f"this machine ({device.device_id[:8]}): approved with the code"
                if verdict.tries_left == 0 or verdict.retry_after_s:
                    raise PairingError(f"the console refused the code ({verdict.reason}); "
                                       "`mtgateway device resend` mails a new one")
                print(f"the console refused the code ({verdict.reason}"
                      + (f", {verdict.tries_left} tries left" if verdict.tries_left else "")
                      + ")")

    async def close(self) -> None:
        """Nothing is held open between calls to the console."""
