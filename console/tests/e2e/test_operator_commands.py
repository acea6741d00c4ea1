"""The operator's commands say where they act and make nothing they were not asked to make.

``mtgateway owner reset-2fa`` pointed at a data directory without an authority, and ``token
list`` beside it, say which directory (and config file) they looked in and leave nothing
behind (an empty authority used to be made there, its keys and a 385 KB database); ``owner
create`` on PostgreSQL names the database it wrote to and makes no SQLite file beside the keys;
``token list`` shows each token's last use; ``token create`` and the console's form give a new
token the same lifetime.

Every command runs as a process through its entry point (``tests/e2e/commands.py``), against
real files, a real PostgreSQL (``tests/pgkit.py``) and a real console with its SMTP sink.
"""

from __future__ import annotations

import time
from pathlib import Path

from mtgateway_base.wire.tokens import DEFAULT_LIFETIME_DAYS
from mtgateway_console.console import AUTHORITY
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.tables.store import DB_FILE
from mtgateway_console.tables.token_details import UseThrottle, note_use
from tests.e2e.commands import cli
from tests.e2e.consolekit import OWNER as CONSOLE_OWNER
from tests.e2e.consolekit import PASSWORD, Browser, Console, signed_in
from tests.pgkit import PostgresServer

OWNER = "owner@example.com"
DAY_S = 86_400


def _config(path: Path, data: Path, extra: str = "") -> Path:
    path.write_text(f'data_dir = "{data.as_posix()}"\n{extra}', encoding="utf-8")
    return path


async def test_reset_2fa_says_where_it_looked_and_makes_no_authority(tmp_path: Path) -> None:
    """Pointed at a data directory that holds no authority, `owner reset-2fa` (and `token
    list`) names that directory and the config file, says how to point it at the console's,
    exits 2, and creates nothing there; pointed at one that holds an authority without that
    owner, it names the database it searched."""
    empty = tmp_path / "elsewhere"
    config = _config(tmp_path / "other.toml", empty)
    for command in (("owner", "reset-2fa", "--email", OWNER), ("token", "list")):
        code, out, err = await cli(*command, "-c", config)
        assert code == 2, (out, err)
        assert err.startswith("error: no token authority in ") and str(empty) in err, err
        assert str(config) in err and "data_dir" in err and "Traceback" not in err
        assert not empty.exists(), list(empty.iterdir())

    data = tmp_path / "data"
    authority = await Authority.open(data, RecordingMailer())
    await authority.owners.create("someone@example.com", PASSWORD)
    await authority.close()
    made = sorted(p.name for p in data.iterdir())
    named = _config(tmp_path / "c.toml", data)
    code, _, err = await cli("owner", "reset-2fa", "-c", named, "--email", OWNER)
    assert code == 2 and f"no owner has the address {OWNER} in {data}" in err, err
    assert str(named) in err, err
    assert sorted(p.name for p in data.iterdir()) == made


async def test_owner_create_on_postgresql_names_the_database_and_makes_no_sqlite_file(
        tmp_path: Path, postgres: PostgresServer) -> None:
    """With the database in PostgreSQL (`MTGATEWAY_DATABASE_URL`), `owner create` says it
    created the owner in that database (its address, no password) with the keys in the data
    directory, and leaves no `authority.sqlite3` there: nothing is ever written to one."""
    url = postgres.new_database()
    data = tmp_path / "data"
    config = _config(tmp_path / "config.toml", data)
    code, out, err = await cli("owner", "create", "-c", config, "--email", OWNER,
                               env={"MTGATEWAY_DATABASE_URL": url,
                                    "MTGATEWAY_OWNER_PASSWORD": PASSWORD})
    assert code == 0, err
    database = url.rsplit("/", 1)[1]
    assert f"owner {OWNER} created in the PostgreSQL database " in out, out
    assert database in out and str(data) in out and PASSWORD not in out
    assert not (data / DB_FILE).exists(), sorted(p.name for p in data.iterdir())
    authority = await Authority.open(data, RecordingMailer(), database_url=url)
    try:
        assert await authority.owners.emails() == [OWNER]
    finally:
        await authority.close()


async def test_token_list_shows_each_tokens_last_use(tmp_path: Path) -> None:
    """`token list` has a LAST USE column: when, by which device and from where the token
    was last used (a lookup, a refresh or a report), `never` for one never used; the label
    stays the last column."""
    data = tmp_path / "data"
    config = _config(tmp_path / "config.toml", data)
    authority = await Authority.open(data, RecordingMailer())
    try:
        await authority.owners.create(OWNER, PASSWORD)
        used = await authority.tokens.issue(OWNER, 5012345, "MTG-Demo", label="EA on the VPS")
        idle = await authority.tokens.issue(OWNER, 5012345, "MTG-Demo", label="spare")
        at = int(time.time()) - 120
        await authority.run(note_use, UseThrottle(), [used.token_id],
                            "23YU2R2FABCDEFGHIJKLMNOPQR", "192.0.2.7", at)
    finally:
        await authority.close()
    code, out, err = await cli("token", "list", "-c", config)
    assert code == 0, err
    header, *rows = out.splitlines()
    assert "LAST USE" in header and header.endswith("LABEL"), header
    (row,) = [r for r in rows if used.token_id in r]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))
    assert f"{when} by 23YU2R2F from 192.0.2.7" in row, row
    assert row.endswith("EA on the VPS")
    (spare,) = [r for r in rows if idle.token_id in r]
    assert " never " in spare and spare.endswith("spare"), spare


async def test_the_cli_and_the_console_give_a_new_token_the_same_lifetime(
        tmp_path: Path, console: Console, browser: Browser) -> None:
    """A token made without choosing a lifetime lives `DEFAULT_LIFETIME_DAYS` days whether
    `mtgateway token create` made it or the console's form as it opens (its expiry field
    shows that many days; it showed empty: never)."""
    await signed_in(browser)
    page = await browser.get("/tokens")
    assert f'id="expires_days" value="{DEFAULT_LIFETIME_DAYS}"' in page.text
    made = await browser.submit("/tokens", "/tokens", {
        "login": "5012345", "server": "MTG-Demo", "scopes": "read",
        "expires_days": str(DEFAULT_LIFETIME_DAYS), "owner_password": PASSWORD})
    assert made.status == 201, made.text
    (listed,) = await console.app[AUTHORITY].tokens.of(CONSOLE_OWNER)
    assert listed["expires_at"] - listed["created_at"] == DEFAULT_LIFETIME_DAYS * DAY_S

    data = tmp_path / "cli"
    authority = await Authority.open(data, RecordingMailer())
    await authority.owners.create(OWNER, PASSWORD)
    await authority.close()
    code, out, err = await cli("token", "create", "-c", _config(tmp_path / "cli.toml", data),
                               "--login", "5012345", "--server", "MTG-Demo")
    assert code == 0, err
    authority = await Authority.open(data, RecordingMailer())
    try:
        (row,) = await authority.tokens.of(OWNER)
    finally:
        await authority.close()
    assert row["expires_at"] - row["created_at"] == DEFAULT_LIFETIME_DAYS * DAY_S
    code, help_text, _ = await cli("token", "create", "--help")
    assert f"{DEFAULT_LIFETIME_DAYS}d (default)" in help_text
