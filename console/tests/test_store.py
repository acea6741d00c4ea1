"""The authority store: secret files, hashes only for tokens, encrypted MT5 passwords.

The behaviour tests run on both backends (``store`` is parametrised): the embedded SQLite file
and a real PostgreSQL server (``tests/pgkit.py``), through the same :class:`AuthorityStore`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from console.tests.dbkit import fetch, migrated_store
from mtgateway_base.throttle import AuthThrottle
from mtgateway_console.devices import Approval
from mtgateway_console.tables import approvals as approval_rows
from mtgateway_console.tables import owners as owner_rows
from mtgateway_console.tables.signins import StoredLoginFailures
from mtgateway_console.tables.store import (
    DATA_KEY_FILE,
    DB_FILE,
    PROOF_SWEEP_S,
    SIGNING_KEY_FILE,
    AccountExists,
    AccountRow,
    AuthorityStore,
    TokenRow,
    load_or_create_secret,
)
from tests.pgkit import PostgresServer
from tests.testkit import FakeClock

posix_only = pytest.mark.not_on_windows("posix-modes")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """``""`` (the SQLite file in the data dir) or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return ""
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


@pytest.fixture
async def store(tmp_path: Path, database_url: str) -> AsyncIterator[AuthorityStore]:
    """A new store on either backend."""
    async with migrated_store(tmp_path, database_url) as opened:
        yield opened


def _account(login: int = 5012345) -> AccountRow:
    return AccountRow(0, "o@example.com", "Demo", "MetaQuotes", login, "MTG-Demo", False, True,
                      ("EURUSD",), "0.1", "0.01", True, False, "", "USD", 1000)


@posix_only
def test_key_files_are_created_0600_and_reused(tmp_path: Path) -> None:
    """Both secret files are private, and a second open keeps the same signing key."""
    first = AuthorityStore(tmp_path)
    for name in (SIGNING_KEY_FILE, DATA_KEY_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert AuthorityStore(tmp_path).signer.key.kid == first.signer.key.kid


@posix_only
def test_a_secret_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    """A key file with group/other bits is not trusted."""
    path = tmp_path / "k"
    load_or_create_secret(path, 32)
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError):
        load_or_create_secret(path, 32)


def test_a_truncated_secret_file_is_refused(tmp_path: Path) -> None:
    """A key file of the wrong size is an error, never silently replaced."""
    path = tmp_path / "k"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    with pytest.raises(ValueError):
        load_or_create_secret(path, 32)


async def test_owners_are_added_once_and_their_password_replaced(store: AuthorityStore) -> None:
    """A taken e-mail is refused; a password change touches only that owner."""
    assert await store.run(owner_rows.add_owner, "b@example.com", "h1", 1)
    assert not await store.run(owner_rows.add_owner, "b@example.com", "other", 2)
    assert await store.run(owner_rows.add_owner, "a@example.com", "h2", 3)
    assert await store.run(owner_rows.set_owner_password, "b@example.com", "h3")
    assert not await store.run(owner_rows.set_owner_password, "nobody@example.com", "h4")
    assert await store.run(owner_rows.owner_password_hash, "b@example.com") == "h3"
    assert await store.run(owner_rows.owner_password_hash, "a@example.com") == "h2"
    assert await store.run(owner_rows.owner_password_hash, "nobody@example.com") is None
    assert await store.run(owner_rows.owners) == ["a@example.com", "b@example.com"]


async def test_tokens_are_found_by_hint_and_id_and_revoked_by_owner(store: AuthorityStore) -> None:
    """Lookups by hint and id agree; only the owner can revoke, once; the server key
    comes back sealed under the data key and opens."""
    row = TokenRow("tok_1", "a" * 64, store.seal_server_key("tok_1", b"k" * 32), "b" * 32,
                   "o@example.com", 1, "S", ("read",), 100)
    await store.run(store.add_token, row)
    assert await store.run(store.token_by_id, "tok_1") == row
    assert await store.run(store.token_by_hint, "b" * 32) == row
    assert store.server_key(row) == b"k" * 32
    assert not await store.run(store.revoke_token, "x@example.com", "tok_1", 200)
    assert await store.run(store.revoke_token, "o@example.com", "tok_1", 200)
    assert await store.run(store.revoke_token, "o@example.com", "tok_1", 300)
    revoked = await store.run(store.token_by_id, "tok_1")
    assert revoked is not None and revoked.revoked_at == 200
    assert await store.run(store.token_by_id, "tok_2") is None


async def test_live_token_owners_skip_revoked_and_expired(store: AuthorityStore) -> None:
    """Only unrevoked, unexpired tokens of that terminal count; a login beyond 32 bits fits."""
    login = 5_000_000_000
    for row in (TokenRow("t1", "1" * 64, b"1" * 60, "1" * 32, "a@example.com", login, "S",
                         ("read", "trade"), 10, expires_at=1000),
                TokenRow("t2", "2" * 64, b"2" * 60, "2" * 32, "b@example.com", login, "S",
                         ("read",), 20, expires_at=100),
                TokenRow("t3", "3" * 64, b"3" * 60, "3" * 32, "c@example.com", login, "S",
                         ("read",), 30),
                TokenRow("t4", "4" * 64, b"4" * 60, "4" * 32, "d@example.com", login, "T",
                         ("read",), 40)):
        await store.run(store.add_token, row)
    await store.run(store.revoke_token, "c@example.com", "t3", 50)
    assert await store.run(store.live_token_owners, login, "S", 500) == {"a@example.com"}
    assert [t.token_id for t in await store.run(store.tokens_of, "a@example.com")] == ["t1"]
    assert (await store.run(store.tokens_of, "a@example.com"))[0].scopes == ("read", "trade")


async def test_a_duplicate_token_verifier_is_refused(store: AuthorityStore,
                                               database_url: str) -> None:
    """Two tokens never share a verifier: the database refuses the second."""
    await store.run(store.add_token, TokenRow("t1", "1" * 64, b"1" * 60, "1" * 32,
                                              "a@example.com", 1, "S", ("read",), 10))
    with pytest.raises(store.database.integrity_errors):
        await store.run(store.add_token, TokenRow("t2", "1" * 64, b"1" * 60, "2" * 32,
                                                  "a@example.com", 1, "S", ("read",), 10))
    assert [t.token_id for t in await store.run(store.tokens_of, "a@example.com")] == ["t1"]


async def test_mt5_password_is_encrypted_at_rest(tmp_path: Path, database_url: str) -> None:
    """The password is not in the stored bytes, yet decrypts with the data key."""
    async with migrated_store(tmp_path, database_url) as store:
        stored = await store.run(store.add_account, _account(), "Sup3r-Secret-MT5")
        assert stored.id > 0 and stored.allowed_symbols == ("EURUSD",)
        blob = bytes((await fetch(store.database, "SELECT password_enc FROM accounts"))[0][0])
    assert b"Sup3r-Secret-MT5" not in blob
    if database_url:  # nothing is written beside the keys: not even an empty SQLite file
        assert not (tmp_path / DB_FILE).exists()
    else:
        assert b"Sup3r-Secret-MT5" not in (tmp_path / DB_FILE).read_bytes()
    async with migrated_store(tmp_path, database_url) as again:
        assert await again.run(again.account_password, 5012345, "MTG-Demo") \
            == "Sup3r-Secret-MT5"
        assert await again.run(again.account_password, 1, "MTG-Demo") is None


async def test_a_terminal_is_registered_once(store: AuthorityStore) -> None:
    """The same login and server again is AccountExists."""
    await store.run(store.add_account, _account(), "pw")
    with pytest.raises(AccountExists):
        await store.run(store.add_account, _account(), "pw")
    await store.run(store.add_account, _account(5012346), "pw")
    assert [a.login for a in await store.run(store.accounts_of, "o@example.com")] \
        == [5012345, 5012346]


async def test_an_account_is_changed_only_by_its_owner(store: AuthorityStore) -> None:
    """One statement writes the account's changeable fields to its row, and only to a row
    of the owner it names."""
    stored = await store.run(store.add_account, _account(), "pw")
    theirs = replace(stored, owner_email="x@example.com", max_lot_size="1")
    assert not await store.run(store.update_account, theirs)
    changed = replace(stored, name="desk 2", allowed_symbols=("GBPUSD", "XAUUSD"),
                      max_lot_size="0.5", risk_pct="0.02", auto_trade_enabled=False,
                      paper_trade_enabled=True, is_live=True, mt5_path="C:/mt5",
                      account_type="USC")
    assert await store.run(store.update_account, changed)
    assert await store.run(store.account_for, 5012345, "MTG-Demo") == changed


async def test_devices_keep_their_key_and_update_their_name(store: AuthorityStore) -> None:
    """A device seen again gets its new name and last_seen; the key and first_seen stay."""
    await store.run(approval_rows.upsert_device, "D" * 26, b"\x01" * 32, "laptop", "linux", 10)
    await store.run(approval_rows.upsert_device, "D" * 26, b"\x01" * 32, "desk", "windows", 20)
    device = await store.run(approval_rows.device, "D" * 26)
    assert device is not None
    assert (device.public_key, device.name, device.os, device.first_seen, device.last_seen) == (
        b"\x01" * 32, "desk", "windows", 10, 20)
    assert await store.run(approval_rows.device, "E" * 26) is None


async def test_approvals_and_sends_round_trip(store: AuthorityStore) -> None:
    """An approval is saved and replaced per (owner, device); sends are counted per side."""
    approval = Approval("apr_1", "o@example.com", "D" * 26, "pending", 10, "mac", 10, 5)
    await store.run(approval_rows.save_approval, approval)
    assert await store.run(approval_rows.approval, "o@example.com", "D" * 26) == approval
    await store.run(approval_rows.save_approval, Approval("apr_1", "o@example.com", "D" * 26,
                                                  "approved", 10, approved_at=20))
    assert [a.status for a in await store.run(approval_rows.approvals_of_device, "D" * 26)] \
        == ["approved"]
    assert [a.status for a in await store.run(approval_rows.approvals_of_owner, "o@example.com")] \
        == ["approved"]
    await store.run(approval_rows.record_send, "D" * 26, "o@example.com", 100)
    await store.run(approval_rows.record_send, "E" * 26, "o@example.com", 200)
    assert await store.run(approval_rows.sends, device_id="D" * 26, since=0) == [100]
    assert await store.run(approval_rows.sends, owner_email="o@example.com", since=150) == [200]


async def test_failures_count_until_the_lock_clears_them(store: AuthorityStore) -> None:
    """Wrong codes are kept per owner; locking records the end and starts a new count."""
    await store.run(approval_rows.record_failure, "o@example.com", "D" * 26, 100)
    await store.run(approval_rows.record_failure, "o@example.com", "E" * 26, 110)
    await store.run(approval_rows.record_failure, "p@example.com", "E" * 26, 120)
    assert await store.run(approval_rows.failures, "o@example.com", since=100) == [(110, "E" * 26)]
    assert await store.run(approval_rows.approvals_locked_until, "o@example.com") is None
    await store.run(approval_rows.lock_approvals, "o@example.com", 130, 1000)
    await store.run(approval_rows.lock_approvals, "o@example.com", 140, 2000)
    assert await store.run(approval_rows.approvals_locked_until, "o@example.com") == 2000
    assert await store.run(approval_rows.failures, "o@example.com", since=0) == []
    assert await store.run(approval_rows.failures, "p@example.com", since=0) == [(120, "E" * 26)]


async def test_a_proof_is_remembered_once_until_its_window_closes(store: AuthorityStore) -> None:
    """The second note of one proof is a replay; after its expiry the row is gone at the next
    sweep, which a note makes at most every PROOF_SWEEP_S (one statement per device call, not
    two: a row past its time refuses nothing the skew check lets through)."""
    assert await store.run(store.remember_proof, "ab" * 32, 1300, 1000)
    assert not await store.run(store.remember_proof, "ab" * 32, 1300, 1200)
    assert await store.run(store.remember_proof, "cd" * 32, 1400, 1299)  # swept at 1299
    # expired at 1300; the notes until 1304 do not sweep, the one at 1304 does
    assert not await store.run(store.remember_proof, "ab" * 32, 1700, 1301)
    assert not await store.run(store.remember_proof, "ab" * 32, 1700, 1303)
    assert await store.run(store.remember_proof, "ab" * 32, 1700, 1299 + PROOF_SWEEP_S)


async def test_login_failures_add_up_across_instances_and_a_restart(tmp_path: Path,
                                                               database_url: str) -> None:
    """Two console instances' throttles on one database: failures on each add up to one
    limit, the lockout holds on both, a store opened afterwards (a restart) still sees it, and
    another scope is not affected. Per-process counting (the daemon's MemoryLedger) would see
    two failures on each and no lockout."""
    clock = FakeClock()
    opened: list[AuthorityStore] = []

    def throttle(scope: str = "console-owner") -> AuthThrottle:
        store = AuthorityStore(tmp_path, database_url)
        opened.append(store)
        return AuthThrottle(delay_s=0, limit=3, window_s=10, lockout_s=60, clock=clock,
                            ledger=StoredLoginFailures(lambda: store.database, scope))

    async with migrated_store(tmp_path, database_url):
        pass  # the schema, once
    first, second = throttle(), throttle()
    await first.record_failure()
    await second.record_failure()
    await first.record_failure()
    assert (await first.retry_after_s(), await second.retry_after_s()) == (None, None)
    await second.record_failure()
    assert await first.retry_after_s() == pytest.approx(60)
    assert await throttle().retry_after_s() == pytest.approx(60)
    assert await throttle("other-scope").retry_after_s() is None
    clock.advance(60)
    assert await first.retry_after_s() is None
    for store in opened:
        await store.database.close()
