"""The authority store: secret files, hashes only for tokens, encrypted MT5 passwords."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from gateway.authority.devices import Approval
from gateway.authority.store import (
    DATA_KEY_FILE,
    DB_FILE,
    SIGNING_KEY_FILE,
    AccountExists,
    AccountRow,
    AuthorityStore,
    TokenRow,
    load_or_create_secret,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


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


def test_tokens_are_found_by_hash_and_hint_and_revoked_by_owner(tmp_path: Path) -> None:
    """Lookups by hash, hint and id agree; only the owner can revoke, once."""
    store = AuthorityStore(tmp_path)
    row = TokenRow("tok_1", "a" * 64, "b" * 32, "o@example.com", 1, "S", ("read",), 100)
    store.add_token(row)
    assert store.token_by_sha256("a" * 64) == store.token_by_hint("b" * 32) == row
    assert not store.revoke_token("x@example.com", "tok_1", 200)
    assert store.revoke_token("o@example.com", "tok_1", 200)
    assert store.revoke_token("o@example.com", "tok_1", 300)
    revoked = store.token_by_id("tok_1")
    assert revoked is not None and revoked.revoked_at == 200


def test_mt5_password_is_encrypted_at_rest(tmp_path: Path) -> None:
    """The password is not in the database file, yet decrypts with the data key."""
    store = AuthorityStore(tmp_path)
    stored = store.add_account(_account(), "Sup3r-Secret-MT5")
    assert stored.id > 0 and stored.allowed_symbols == ("EURUSD",)
    assert b"Sup3r-Secret-MT5" not in (tmp_path / DB_FILE).read_bytes()
    assert AuthorityStore(tmp_path).account_password(5012345, "MTG-Demo") == "Sup3r-Secret-MT5"


def test_a_terminal_is_registered_once(tmp_path: Path) -> None:
    """The same login and server again is AccountExists."""
    store = AuthorityStore(tmp_path)
    store.add_account(_account(), "pw")
    with pytest.raises(AccountExists):
        store.add_account(_account(), "pw")


def test_approvals_and_sends_round_trip(tmp_path: Path) -> None:
    """An approval is saved and replaced per (owner, device); sends are counted per side."""
    store = AuthorityStore(tmp_path)
    approval = Approval("apr_1", "o@example.com", "D" * 26, "pending", 10, "mac", 10, 5)
    store.save_approval(approval)
    assert store.approval("o@example.com", "D" * 26) == approval
    store.save_approval(Approval("apr_1", "o@example.com", "D" * 26, "approved", 10,
                                 approved_at=20))
    assert [a.status for a in store.approvals_of_device("D" * 26)] == ["approved"]
    store.record_send("D" * 26, "o@example.com", 100)
    store.record_send("E" * 26, "o@example.com", 200)
    assert store.sends(device_id="D" * 26, since=0) == [100]
    assert store.sends(owner_email="o@example.com", since=150) == [200]
