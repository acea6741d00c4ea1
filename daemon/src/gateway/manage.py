"""The management commands behind ``mtgateway token|device|paper`` (``owner`` is the
console's: ``mtgateway_console/operator.py``).

Two places to act on, chosen per command: the **local** authority (``authority.sqlite3`` in
``data_dir``, the database the daemon embeds in ``[authority] mode = "local"``, or the one a
console serves), opened directly -- whoever can write that file is its owner, so no password
is asked -- or a **remote** console (``--console URL``, or ``[authority] url`` in remote mode)
over HTTP with the owner's e-mail and password (``MTGATEWAY_OWNER_EMAIL`` / ``--email``, and
``MTGATEWAY_OWNER_PASSWORD`` or a no-echo prompt; never an argument, which ``ps`` would show),
and, for an owner with two-step sign-in on, the code (``MTGATEWAY_OWNER_CODE`` or a prompt).

Device commands use this machine's device key (``[device]``), which signs the call, so a code
read from the e-mail only completes the approval on the machine that asked for it.

Tokens are printed once at creation and never again; listings show ids, terminals, scopes,
owners, times and states, never a token or a hash.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from mtgateway_base.environment import read_env
from mtgateway_base.wire.api import (
    AuthorityRefused,
    AuthorityUnreachable,
    IssuedToken,
    normalize_code,
)
from mtgateway_base.wire.errors import AuthorityError, ConsoleUnproven
from mtgateway_base.wire.records import AuthorityKey

from .config import GatewayConfig, console_url_problem
from .localconsole import require_console

if TYPE_CHECKING:  # the console is imported only where a command acts on the local authority
    from mtgateway_console.service import Authority

    from .auth.owner import OwnerConsole

__all__ = ["run_command"]

#: Where the owner's password is read from (the console's operator commands read the same).
_PASSWORD_ENV = "MTGATEWAY_OWNER_PASSWORD"
_EMAIL_ENV = "MTGATEWAY_OWNER_EMAIL"
#: The owner's second-factor code for one command (it is spent once used).
_CODE_ENV = "MTGATEWAY_OWNER_CODE"
#: What to do about the console's second-factor refusals.
_REFUSAL_HINTS = {
    "bad_second_factor": "the second-factor code is wrong or was already used; wait for the "
                         "app's next code and run the command again",
    "second_factor_required": f"this owner has two-step sign-in on: set {_CODE_ENV} to the "
                              "app's current code (or a recovery code) or run interactively",
}


class _Usage(Exception):
    """A mistake the user must fix (exit 2)."""


async def run_command(args: argparse.Namespace, config: GatewayConfig) -> int:
    """Run one ``token``/``device``/``paper`` action; the exit code."""
    try:
        if args.command == "token":
            return await _token(args, config)
        if args.command == "paper":
            return await _paper(args, config)
        return await _device(args, config)
    except _Usage as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except AuthorityUnreachable:
        print("error: the token authority (console) cannot be reached", file=sys.stderr)
        return 1
    except AuthorityRefused as exc:
        hint = _REFUSAL_HINTS.get(exc.reason)
        print(f"error: the console refused: {exc.reason}" + (f": {hint}" if hint else ""),
              file=sys.stderr)
        return 1
    except ConsoleUnproven as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except AuthorityError as exc:  # the local authority's (its database's: no password in it)
        print(f"error: {exc}", file=sys.stderr)
        return 1


# -- where to act ------------------------------------------------------------------------


def _console_url(args: argparse.Namespace, config: GatewayConfig) -> str | None:
    if getattr(args, "console", None):
        problem = console_url_problem(str(args.console))
        if problem:
            raise _Usage(problem)
        return str(args.console)
    if config.authority.mode == "remote":
        return config.authority.url
    return None


def _owner_console(url: str, args: argparse.Namespace,
                   config: GatewayConfig) -> OwnerConsole:
    """The console's owner API, which must prove the pinned key (``--console-key``, else
    ``[authority] public_key``) before a password is sent."""
    # the owner API (and the auth package's HTTP client) only when a console is named: on the
    # local authority no token command needs either
    from .auth.owner import OwnerConsole

    text = getattr(args, "console_key", None) or config.authority.public_key
    try:
        pinned = AuthorityKey.from_base64(text) if text else None
    except ValueError as exc:
        raise _Usage(f"--console-key: {exc}") from None
    try:
        return OwnerConsole(url, pinned, timeout_s=config.authority.request_timeout_s,
                            code=_owner_code)
    except ConsoleUnproven as exc:
        raise _Usage(str(exc)) from None


async def _local_authority(args: argparse.Namespace, config: GatewayConfig) -> Authority:
    """The authority the daemon's local mode embeds, in ``data_dir`` (and the PostgreSQL
    database the config names), opened directly (``mtgateway_console.operator.open_local``):
    the console, composed here only for the commands that act on it."""
    require_console(f"mtgateway {args.command} on the local authority (without --console)")
    from mtgateway_console import operator

    try:
        return await operator.open_local(config.resolved_data_dir(), config.authority,
                                         getattr(args, "config_file", None))
    except operator.Usage as exc:
        raise _Usage(str(exc)) from None


def _owner_credentials(args: argparse.Namespace) -> tuple[str, str]:
    """The owner's e-mail (``--email``, else the environment) and password: from
    ``MTGATEWAY_OWNER_PASSWORD``, a prompt, or the first line of standard input when it is
    not a terminal (``echo "$PW" | mtgateway token create ...``, as ``device verify`` takes
    its code), never an argument, which the process list shows to every local user."""
    email = args.email or read_env(_EMAIL_ENV) or ""
    if not email:
        raise _Usage(f"the console needs the owner: pass --email or set {_EMAIL_ENV}")
    password = read_env(_PASSWORD_ENV)
    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass(f"Password for {email}: ")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise _Usage(f"no password: standard input was empty; pipe it in, set "
                             f"{_PASSWORD_ENV} or run interactively")
    return email, password


def _owner_code() -> str:
    """The second-factor code, asked only when the console says the owner has one: from
    ``MTGATEWAY_OWNER_CODE`` or a prompt (never an argument, which ``ps`` would show)."""
    code = read_env(_CODE_ENV)
    if code is not None:
        return code
    if not sys.stdin.isatty():
        raise _Usage(_REFUSAL_HINTS["second_factor_required"])
    return input("Two-step sign-in code (from your authenticator app, or a recovery code): ")


async def _local_owner(authority: Authority, args: argparse.Namespace) -> str:
    email = str(args.email or read_env(_EMAIL_ENV) or "")
    if email:
        return email
    owners = await authority.owners.emails()
    if not owners:
        raise _Usage("there is no owner yet: run `mtgateway owner create --email ADDR`")
    if len(owners) > 1:
        raise _Usage("there are several owners: pass --email")
    return owners[0]


# -- paper -------------------------------------------------------------------------------


async def _paper(args: argparse.Namespace, config: GatewayConfig) -> int:
    """``mtgateway paper on|off --login L --server S``: switch the account's paper trading, in
    the console the config or ``--console`` names (the owner signs in as for ``token create
    --console``) or else in the local authority. Daemons holding its tokens hear of it through
    the revocation feed and route the next call accordingly (a call in flight keeps its
    venue). Going to paper while the live book holds trades at the broker is refused, saying
    what stays open, unless ``--confirm-live-open``."""
    enabled = args.switch == "on"
    confirm = bool(getattr(args, "confirm_live_open", False))
    url = _console_url(args, config)
    if url is not None:
        remote = _owner_console(url, args, config)
        email, password = _owner_credentials(args)
        try:
            await remote.switch_paper(email, password, args.login, args.server, enabled,
                                      confirm_live_open=confirm)
        except AuthorityRefused as exc:
            if exc.reason == "live_trades_open":
                raise _Usage(f"{_what_stays_open(exc)}; nothing was changed: add "
                             "--confirm-live-open to switch anyway") from None
            if exc.reason == "not_found":
                raise _Usage(f"no account {args.login}@{args.server} is registered for "
                             f"{email} on the console: register it first (its Accounts "
                             "page)") from None
            raise
    else:
        authority = await _local_authority(args, config)
        from mtgateway_console.service.accounts import AccountChanges, LiveOpen

        try:
            owner = await _local_owner(authority, args)
            account = next((a for a in await authority.accounts.of(owner)
                            if (a.login, a.server) == (args.login, args.server)), None)
            if account is None:
                raise _Usage(f"no account {args.login}@{args.server} is registered for "
                             f"{owner}: register it first (POST /v1/accounts, or the console)")
            await authority.accounts.update(owner, account.id,
                                            AccountChanges(paper_trade_enabled=enabled),
                                            by_operator=True, confirm_live_open=confirm)
        except LiveOpen as exc:
            raise _Usage(f"{exc.words}; nothing was changed: add --confirm-live-open to "
                         "switch anyway") from None
        finally:
            await authority.close()
    print(f"paper trading of {args.login}@{args.server}: {'on' if enabled else 'off'}")
    return 0


def _said(refused: AuthorityRefused) -> str:
    """A console's refusal message without its status and reason prefix."""
    text = str(refused)
    prefix = f"{refused.status} {refused.reason}: "
    return text[len(prefix):] if text.startswith(prefix) else text


#: Where the console's 409 ``live_trades_open`` turns from what stays open to its advice for
#: an API caller (``"confirm_live_open": true``, the Accounts page), which a CLI user cannot
#: follow: the CLI gives its own (``--confirm-live-open``) in its place.
_API_ADVICE: Final = ". Nothing was changed:"


def _what_stays_open(refused: AuthorityRefused) -> str:
    """What a ``live_trades_open`` refusal says stays open at the broker, without the API's
    advice (the whole message when a console words it otherwise)."""
    return _said(refused).split(_API_ADVICE, 1)[0]


# -- tokens ------------------------------------------------------------------------------


async def _token(args: argparse.Namespace, config: GatewayConfig) -> int:
    url = _console_url(args, config)
    if url is None:
        authority = await _local_authority(args, config)
        try:
            return await _token_local(args, authority, config.authority.refresh_interval_s)
        finally:
            await authority.close()
    remote = _owner_console(url, args, config)
    email, password = _owner_credentials(args)
    if args.token_command == "create":
        _print_issued(await remote.issue_token(
            email, password, args.login, args.server, scopes=sorted(args.scopes),
            expires_in_s=args.expires_in, label=args.label))
        return 0
    if args.token_command == "list":
        _print_listing(await remote.list_tokens(email, password))
        return 0
    return _revoked(await remote.revoke_token(email, password, args.token_id),
                    args.token_id, "daemons connected to the console are told over its "
                    "revocation feed and refuse it within seconds; a daemon cut off from the "
                    "console refuses it when it next reaches it")


async def _token_local(args: argparse.Namespace, authority: Authority, refresh_s: float) -> int:
    if args.token_command == "create":
        owner = await _local_owner(authority, args)
        try:
            issued = await authority.tokens.issue(owner, args.login, args.server,
                                                  scopes=sorted(args.scopes),
                                                  expires_in_s=args.expires_in,
                                                  label=args.label)
        except ValueError as exc:
            raise _Usage(str(exc)) from None
        _print_issued(issued)
        return 0
    email = args.email or read_env(_EMAIL_ENV) or ""
    owners = [email] if email else await authority.owners.emails()
    if args.token_command == "list":
        _print_listing([row for owner in owners for row in await authority.tokens.of(owner)])
        return 0
    revoked = False
    for owner in owners:
        if await authority.tokens.revoke(owner, args.token_id):
            revoked = True
            break
    return _revoked(revoked, args.token_id, "a running daemon using this data directory finds the "
                    "revocation within a second (it looks every 0.5 s) and refuses the token "
                    "at once (token_revoked): its EA and bots are cut off within 2 s; one not "
                    f"running refuses it from its start (record refresh: {refresh_s:g} s)")


def _print_issued(issued: IssuedToken) -> None:
    record = issued.record
    print(f"token_id: {issued.token_id}")
    print(f"terminal: {record['login']}@{record['server']}")
    if record.get("label"):
        print(f"label:    {record['label']}")
    print(f"scopes:   {','.join(record['scopes'])}")
    print(f"owner:    {record['owner_email']}")
    print(f"expires:  {_when(record.get('expires_at'))}")
    print(f"token:    {issued.token}")
    print("This is the only time the token is shown. Paste it into the EA's inputs and your "
          "client's configuration.")


def _when(epoch: Any) -> str:
    if not isinstance(epoch, int):
        return "never"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _state(row: dict[str, Any]) -> str:
    now = datetime.now(UTC).timestamp()
    if row.get("revoked_at") is not None:
        return "revoked"
    expires = row.get("expires_at")
    if isinstance(expires, int) and expires <= now:
        return "expired"
    return "active"


def _last_use(row: dict[str, Any]) -> str:
    """When a token was last used, by which device (its id's first 8 characters, as the
    console shows it) and from where (empty: this machine), or ``never``."""
    if not isinstance(row.get("used_at"), int):
        return "never"
    device = str(row.get("used_device") or "")[:8] or "?"
    name = str(row.get("used_device_name") or "")
    return (f"{_when(row['used_at'])} by {f'{name} ({device})' if name else device} from "
            f"{row.get('used_address') or 'this machine'}")


def _print_listing(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("no tokens")
        return
    print(f"{'TOKEN_ID':<22} {'TERMINAL':<28} {'SCOPES':<11} {'STATE':<8} {'EXPIRES':<21} "
          f"{'OWNER':<28} {'LAST USE':<52} LABEL")
    for row in sorted(rows, key=lambda r: (r.get("created_at", 0), r.get("token_id", ""))):
        terminal = f"{row['login']}@{row['server']}"
        print(f"{row['token_id']:<22} {terminal:<28} {','.join(row['scopes']):<11} "
              f"{_state(row):<8} {_when(row.get('expires_at')):<21} {row['owner_email']:<28} "
              f"{_last_use(row):<52} {row.get('label') or ''}".rstrip())


def _revoked(done: bool, token_id: str, how_fast: str) -> int:
    """Say the token is revoked and how soon a running daemon acts on it."""
    if done:
        print(f"revoked {token_id}: {how_fast}")
        return 0
    print(f"error: no token {token_id!r} of this owner", file=sys.stderr)
    return 1


# -- this device -------------------------------------------------------------------------


async def _device(args: argparse.Namespace, config: GatewayConfig) -> int:
    from .identity import device_name, open_device

    device = open_device(config)
    url = _console_url(args, config)
    if args.device_command == "status":
        print(f"device id:   {device.device_id}")
        print(f"name:        {device_name(config)}")
        print(f"key storage: {device.storage}")
        config_file = getattr(args, "config_file", None)
        print(f"config:      {config_file or 'none found (defaults; see -c, MTGATEWAY_CONFIG)'}")
        print(f"authority:   {url or 'local (embedded; this machine approves itself)'}")
    if url is None:
        if args.device_command != "status":
            print("local mode: the embedded authority approves this machine by itself; "
                  "there is nothing to verify")
            return 0
        try:
            authority = await _local_authority(args, config)
        except _Usage:  # no authority yet: nothing approved here, and nothing made by asking
            _print_approvals(())
            return 0
        try:
            status = await authority.device_status(device.info)
        finally:
            await authority.close()
        _print_approvals(status.approvals)
        return 0
    from .auth.client import RemoteAuthority  # aiohttp's client: only for a console named

    async with RemoteAuthority(url, device.private_key,
                               timeout_s=config.authority.request_timeout_s) as remote:
        if args.device_command == "status":
            _print_approvals((await remote.device_status(device.info)).approvals)
            return 0
        if args.device_command == "resend":
            sent = await remote.resend(device.info)
            if sent.status == "sent":
                print("a new code was e-mailed to the owner (the previous one no longer works)")
                return 0
            if sent.status == "mail_failed":
                print("error: a new code was made but the console could not e-mail it "
                      "(its [smtp] settings need fixing); the previous code no longer works",
                      file=sys.stderr)
                return 1
            if sent.status == "no_pending_approval":
                return _nothing_pending(
                    (await remote.device_status(device.info)).approvals)
            print(f"error: {sent.status}" + (f"; retry in {sent.retry_after_s} s"
                                              if sent.retry_after_s else ""), file=sys.stderr)
            return 1
        typed = " ".join(args.code) if args.code else _ask_code()
        if normalize_code(typed) is None:
            print("error: the code is the 8 digits from the e-mail, e.g. 1234 5678; nothing "
                  "was sent, so no try was used", file=sys.stderr)
            return 2
        answer = await remote.verify_device(device.info, typed)
    if answer.status == "approved":
        print(f"device {device.device_id} approved. The daemon picks it up at its next "
              "lookup: the EA's next reconnect succeeds and clients' next calls pass, "
              "no restart needed.")
        return 0
    extra = f" ({answer.tries_left} tries left)" if answer.tries_left is not None else ""
    if answer.retry_after_s:
        extra += f"; retry in {answer.retry_after_s} s"
    print(f"error: {answer.reason}{extra}", file=sys.stderr)
    return 1


def _ask_code() -> str:
    """The approval code typed at a prompt, or the first line of standard input: never only
    an argument, which the process list shows to every local user while the command runs."""
    if sys.stdin.isatty():
        return input("Code from the e-mail (8 digits): ")
    return sys.stdin.readline().strip()


def _nothing_pending(approvals: tuple[tuple[str, str], ...]) -> int:
    """Why ``device resend`` had no code to send, from this device's approvals: the token's
    owner denied it (then no code is coming: the owner allows it again on the Devices page),
    or it is approved already, or it never asked; exit 1."""
    denied = [owner for owner, status in approvals if status == "denied"]
    if denied:
        print(f"error: denied: the token's owner ({', '.join(denied)}) denied this machine in "
              "the console: no code is coming. The owner can allow it again (Devices, Allow "
              "again); the daemon and its EA retry by themselves", file=sys.stderr)
    elif any(status == "approved" for _, status in approvals):
        print("error: no_pending_approval: this machine is approved already (mtgateway "
              "device status); there is no code to send", file=sys.stderr)
    else:
        print("error: no_pending_approval: this machine has not asked for approval yet: start "
              "the daemon with a token (its first lookup mails the owner a code)",
              file=sys.stderr)
    return 1


def _print_approvals(approvals: tuple[tuple[str, str], ...]) -> None:
    if not approvals:
        print("approvals:   none yet (the first lookup of a token asks its owner)")
        return
    print("approvals:")
    for owner, status in approvals:
        print(f"  {owner:<30} {status}")
