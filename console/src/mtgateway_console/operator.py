"""The operator's commands on an owner, and the authority they act on, opened directly.

``mtgateway-console owner create|reset-2fa|reset-password`` (and ``mtgateway owner ...``,
the same commands for an operator who installed the console beside a daemon) act on the
authority in the config's ``data_dir`` (and the PostgreSQL database ``[authority]`` names),
opened directly: whoever can write those files is the authority, so no password is asked. The
owner's password comes from ``MTGATEWAY_OWNER_PASSWORD`` or a no-echo prompt, never an
argument (which ``ps`` would show). The owner is mailed through ``[smtp]``; the mail's links
name ``[console] public_url``, else the console's configured address.

:func:`open_local` is also how the daemon's local commands (``mtgateway token ...`` and
``paper`` without a console) open the authority its local mode embeds.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

from mtgateway_base.configfile import AuthorityConfig, database_url, redact_url
from mtgateway_base.environment import read_env

from .address import ConsoleAddress
from .config import ConsoleFile
from .database import DatabaseError
from .errors import InvalidRequest
from .mailer import Mailer, NoMailer
from .service import Authority
from .tables.store import DATA_KEY_FILE, DB_FILE, SIGNING_KEY_FILE

__all__ = ["PASSWORD_ENV", "Usage", "open_local", "run", "where"]

#: Where an owner's password is read from (never an argument).
PASSWORD_ENV = "MTGATEWAY_OWNER_PASSWORD"


class Usage(Exception):
    """A mistake the user must fix (exit 2); the message says how."""


def where(data_dir: Path, section: AuthorityConfig, config_file: Path | None) -> str:
    """Where a local command looks, fit to print: the data directory, the PostgreSQL database
    when there is one (no password), and the config file that named them."""
    url = database_url(section)
    return (f"{data_dir}" + (f" and the PostgreSQL database {redact_url(url)}" if url else "")
            + f" (config: {config_file if config_file is not None else 'none, the defaults'})")


async def open_local(data_dir: Path, section: AuthorityConfig, config_file: Path | None, *,
                     create: bool = False, mailer: Mailer | None = None,
                     **kwargs: Any) -> Authority:
    """The authority in ``data_dir`` (and the PostgreSQL database ``section`` names), opened
    directly. Only ``owner create`` (``create``) may start one: every other command refuses a
    data directory without the authority's files, saying where it looked, rather than leave
    an empty authority there as a side effect (an operator pointed at the wrong config would
    otherwise be told "no owner" by a database the command itself had just made).

    Raises:
        Usage: no authority there (and ``create`` is false).
    """
    url = database_url(section)
    if not create:
        wanted = (SIGNING_KEY_FILE, DATA_KEY_FILE) + (() if url else (DB_FILE,))
        missing = [name for name in wanted if not (data_dir / name).is_file()]
        if missing:
            raise Usage(f"no token authority in {where(data_dir, section, config_file)}: "
                        f"{', '.join(missing)} missing; pass -c with the config of the "
                        "console or daemon whose authority it is (its data_dir, and "
                        "[authority] database_url if it uses PostgreSQL)")
    return await Authority.open(data_dir, mailer or NoMailer(), database_url=url,
                                connect_timeout_s=section.database_connect_timeout_s,
                                statement_timeout_s=section.database_statement_timeout_s,
                                **kwargs)


async def run(action: str, email: str, config: ConsoleFile, config_file: Path | None) -> int:
    """``owner create|reset-2fa|reset-password --email``; the exit code."""
    try:
        if action == "reset-2fa":
            return await _reset_2fa(email, config, config_file)
        if action == "reset-password":
            return await _reset_password(email, config, config_file)
        return await _create(email, config, config_file)
    except Usage as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:  # never a password in it
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _new_password() -> str:
    password = read_env(PASSWORD_ENV)
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise Usage(f"no password: set {PASSWORD_ENV} or run interactively")
    first = getpass.getpass("New owner password (8+ characters): ")
    if getpass.getpass("Repeat it: ") != first:
        raise Usage("the passwords differ")
    return first


async def _create(email: str, config: ConsoleFile, config_file: Path | None) -> int:
    password = _new_password()
    data_dir = config.resolved_data_dir()
    authority = await open_local(data_dir, config.authority, config_file, create=True)
    try:
        await authority.owners.create(email, password)
    except InvalidRequest as exc:
        raise Usage(str(exc)) from None
    finally:
        await authority.close()
    url = database_url(config.authority)
    print(f"owner {email} created in "
          + (f"the PostgreSQL database {redact_url(url)} (the authority's keys in "
             f"{data_dir})" if url else str(data_dir)))
    return 0


async def _mailing(config: ConsoleFile, config_file: Path | None) -> Authority:
    """The local authority, mailing through ``[smtp]`` with links to the console's address."""
    from .console import mailer_from_config

    console = config.console
    address = ConsoleAddress(console.public_url)
    address.serving("http", console.host, console.port)
    return await open_local(config.resolved_data_dir(), config.authority, config_file,
                            mailer=mailer_from_config(config.smtp), address=address)


def _not_here(exc: ValueError, config: ConsoleFile, config_file: Path | None) -> Usage:
    return Usage(f"{exc} in {where(config.resolved_data_dir(), config.authority, config_file)};"
                 " the console's owners are in the data_dir (or database_url) of the config it "
                 "runs with: pass that config with -c")


async def _reset_2fa(email: str, config: ConsoleFile, config_file: Path | None) -> int:
    """The operator's way back for an owner who lost the authenticator and the recovery codes
    (access to the database is the authority, as ``token revoke`` treats it)."""
    authority = await _mailing(config, config_file)
    try:
        try:
            notice = await authority.second_factor.reset_by_operator(email)
        except InvalidRequest as exc:
            raise _not_here(exc, config, config_file) from None
        if notice is None:
            print(f"{email} has no two-step sign-in on; nothing changed", file=sys.stderr)
            return 1
        mailed = await notice
    finally:
        await authority.close()
    print(f"two-step sign-in of {email} is off; every session and console API sign-in "
          "of theirs ended; noted in their Activity; " + ("the owner was mailed" if mailed else
                                "the e-mail to the owner could not be sent (check [smtp]): "
                                "tell them yourself"))
    return 0


async def _reset_password(email: str, config: ConsoleFile, config_file: Path | None) -> int:
    """The operator's answer to "my password leaked" whatever the owner's two-step sign-in
    (``reset-2fa`` changes nothing for an owner without one): every session, half-done
    sign-in and console API sign-in ends, the password is set aside and a link to choose a
    new one is mailed."""
    authority = await _mailing(config, config_file)
    try:
        try:
            notice = await authority.resets.by_operator(email)
        except InvalidRequest as exc:
            raise _not_here(exc, config, config_file) from None
        mailed = await notice
    finally:
        await authority.close()
    print(f"every session and console API sign-in of {email} ended and their password "
          "is set aside (it signs in nowhere); noted in their Activity; "
          + ("the owner was mailed a link to choose a new one" if mailed else
             "the e-mail to the owner could not be sent (check [smtp]): tell them to use "
             "\"Forgot your password?\" on the sign-in page"))
    return 0
