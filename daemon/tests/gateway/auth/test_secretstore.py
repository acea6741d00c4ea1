"""Where the device key lives: a real keyring only, else a 0600 file others may not read."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.backends.chainer import ChainerBackend

from gateway.auth import (
    FileSecretStore,
    KeyringSecretStore,
    MemorySecretStore,
    SecretStoreError,
    open_secret_store,
)
from gateway.auth.secretstore import InsecureSecretFile, acceptable_keyring_backend

posix_only = pytest.mark.not_on_windows("posix-modes")


class DictKeyring(KeyringBackend):
    """A viable keyring backend (priority 5) keeping passwords in a dict."""

    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.values.pop((service, username), None)


class PlaintextLookalike(DictKeyring):
    """Shaped like keyrings.alt's backends: high priority, but from keyrings.alt."""


PlaintextLookalike.__module__ = "keyrings.alt.file"


@pytest.fixture
def global_keyring() -> Iterator[None]:
    """Restore the process's keyring backend after a test sets one."""
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


@posix_only
def test_file_store_creates_0600_and_reads_back(tmp_path: Path) -> None:
    """The key file is created with mode 0600 and read back unchanged."""
    store = FileSecretStore(tmp_path / "data")
    store.create("device", b"k" * 32)
    path = store.path("device")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.get("device") == b"k" * 32
    assert [p.name for p in path.parent.iterdir()] == ["device.key"]  # no temp file left


def test_file_store_never_overwrites(tmp_path: Path) -> None:
    """A second create keeps the first secret (two processes agree on one key)."""
    store = FileSecretStore(tmp_path)
    store.create("device", b"first")
    store.create("device", b"second")
    assert store.get("device") == b"first"
    assert FileSecretStore(tmp_path / "absent").get("device") is None


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_file_store_refuses_a_key_others_can_read(tmp_path: Path, mode: int) -> None:
    """A key file readable or writable by group or others is refused with the fix named."""
    store = FileSecretStore(tmp_path)
    store.create("device", b"k" * 32)
    os.chmod(store.path("device"), mode)
    with pytest.raises(InsecureSecretFile, match="chmod 600"):
        store.get("device")


def test_memory_store_is_create_only() -> None:
    """The in-memory fake keeps the first value too."""
    store = MemorySecretStore()
    assert store.get("device") is None
    store.create("device", b"a")
    store.create("device", b"b")
    assert store.get("device") == b"a"


@pytest.mark.parametrize("backend, accepted", [
    (DictKeyring(), True),
    (fail.Keyring(), False),
    (PlaintextLookalike(), False),
])
def test_only_real_keyrings_are_acceptable(backend: Any, accepted: bool) -> None:
    """A recommended backend is used; the fail keyring and keyrings.alt never are."""
    assert acceptable_keyring_backend(backend) is accepted


class MixedChain(ChainerBackend):
    """A chainer holding a real backend and a keyrings.alt one."""

    backends = [DictKeyring(), PlaintextLookalike()]  # type: ignore[assignment]


class RealChain(ChainerBackend):
    """A chainer of two real backends."""

    backends = [DictKeyring(), DictKeyring()]  # type: ignore[assignment]


def test_a_chainer_is_acceptable_only_if_all_its_backends_are() -> None:
    """A chainer with any keyrings.alt backend in it is refused; one of real ones is not."""
    assert not acceptable_keyring_backend(MixedChain())
    assert acceptable_keyring_backend(RealChain())


def test_keyring_store_round_trip_scoped_by_data_dir() -> None:
    """Secrets go to the keyring as base64, one entry per data directory."""
    backend = DictKeyring()
    one, two = KeyringSecretStore(backend, "/data/one"), KeyringSecretStore(backend, "/data/two")
    one.create("device", b"\x00\xff" * 16)
    assert one.get("device") == b"\x00\xff" * 16 and two.get("device") is None
    assert one.describe() == "OS keyring (DictKeyring)"


@pytest.mark.usefixtures("global_keyring")
def test_auto_falls_back_to_the_file_without_a_real_keyring(tmp_path: Path) -> None:
    """auto: with only the fail keyring, the file store; keyring mode is an error."""
    keyring.set_keyring(fail.Keyring())
    assert isinstance(open_secret_store("auto", tmp_path), FileSecretStore)
    with pytest.raises(SecretStoreError, match="no usable OS keyring"):
        open_secret_store("keyring", tmp_path)


@pytest.mark.usefixtures("global_keyring")
def test_auto_never_uses_keyrings_alt(tmp_path: Path) -> None:
    """auto: a keyrings.alt backend is passed over for the file store."""
    keyring.set_keyring(PlaintextLookalike())
    assert isinstance(open_secret_store("auto", tmp_path), FileSecretStore)


@pytest.mark.usefixtures("global_keyring")
def test_auto_prefers_a_real_keyring_but_an_existing_file_wins(tmp_path: Path) -> None:
    """auto: a real keyring is used, unless a key file exists (the identity stays stable)."""
    keyring.set_keyring(DictKeyring())
    assert isinstance(open_secret_store("auto", tmp_path), KeyringSecretStore)
    FileSecretStore(tmp_path).create("device", b"k" * 32)
    assert isinstance(open_secret_store("auto", tmp_path), FileSecretStore)


@posix_only
@pytest.mark.usefixtures("global_keyring")
def test_no_keyring_is_said_at_info_not_as_a_warning(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """m16 (review round 4): a box without a keyring (a Linux server, a container) keeps the
    key in the 0600 file, the documented store there: a normal start, which logs nothing at
    WARNING (docs/operations.md). It used to warn "no OS keyring"."""
    keyring.set_keyring(fail.Keyring())
    caplog.set_level("DEBUG", logger="gateway.auth.secretstore")
    assert isinstance(open_secret_store("auto", tmp_path), FileSecretStore)
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "no OS keyring" in caplog.records[0].getMessage()
