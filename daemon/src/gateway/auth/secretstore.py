"""Where the device's private key is kept: the OS keyring if a real one exists, else a 0600 file.

The trap this module exists for (``docs/authority.md``, "Daemon decisions", key storage):
``keyring`` picks the highest-priority *viable* backend, and on a headless Linux box that is the
``fail`` keyring -- unless ``keyrings.alt`` is installed, whose ``PlaintextKeyring`` (a plaintext
file) or ``EncryptedKeyring`` (AES-CFB without a MAC, and a ``getpass`` prompt that hangs a
daemon) then win silently. So the keyring is used only when
``keyring.core.recommended(backend)`` holds and the backend is none of ``keyrings.alt.*``,
``fail``, ``null`` or a chainer of such; otherwise the key goes to our own file, created with
``os.open(O_CREAT | O_EXCL | O_WRONLY, 0o600)`` (set to exactly 0600 on its descriptor before
anything is written, so the umask decides nothing) and refused at start if group or others
can read it or it is a symbolic link (``mtgateway_base.files``). Encrypting that file
would add nothing while its key sits beside it, so it is plaintext and says so
(``describe()``, shown by ``device status``).

On Windows the file check is skipped: the file lives in the per-user ``%LOCALAPPDATA%``
directory, whose ACL admits only the user, SYSTEM and administrators; and Windows normally has
a real keyring (Credential Manager) anyway.

This is the only module that imports ``keyring``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any, Literal, Protocol

from mtgateway_base.files import (
    InsecurePath,
    create_private_file,
    ensure_private_dir,
    read_private_file,
)

__all__ = [
    "FileSecretStore",
    "InsecureSecretFile",
    "KeyringSecretStore",
    "MemorySecretStore",
    "SecretStore",
    "SecretStoreError",
    "acceptable_keyring_backend",
    "open_secret_store",
    "usable_keyring_backend",
]

log = logging.getLogger(__name__)

_SERVICE = "mtgateway"
_REFUSED_MODULES = ("keyring.backends.fail", "keyring.backends.null")


class SecretStoreError(Exception):
    """The secret store cannot be used; the message says what to do."""


class InsecureSecretFile(SecretStoreError, InsecurePath):
    """A key file (or its directory) is accessible to group or others, owned by someone else,
    or a symbolic link (``mtgateway_base.files``)."""


class SecretStore(Protocol):
    """A tiny named-secret store. ``create`` never overwrites: the first key written wins."""

    def get(self, name: str) -> bytes | None:
        """The secret, or None when there is none."""
        ...

    def create(self, name: str, value: bytes) -> None:
        """Store ``value`` unless a secret of that name exists already (then keep that one)."""
        ...

    def describe(self) -> str:
        """Where secrets live, for ``device status`` (no secret in it)."""
        ...


class MemorySecretStore:
    """Secrets in a dict: tests and the demo's throw-away device."""

    def __init__(self) -> None:
        self._values: dict[str, bytes] = {}

    def get(self, name: str) -> bytes | None:
        """The secret, or None."""
        return self._values.get(name)

    def create(self, name: str, value: bytes) -> None:
        """Keep the first value for ``name``."""
        self._values.setdefault(name, bytes(value))

    def describe(self) -> str:
        """``memory``: nothing survives the process."""
        return "memory (not persisted)"


class FileSecretStore:
    """One file per secret, ``<directory>/<name>.key``, mode 0600, created exclusively."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        """The file for ``name``."""
        return self.directory / f"{name}.key"

    def exists(self, name: str) -> bool:
        """Whether a file for ``name`` is there (not whether it is any good)."""
        return self.path(name).exists()

    def get(self, name: str) -> bytes | None:
        """Read a secret, refusing a file others could read.

        Raises:
            InsecureSecretFile: on POSIX, the directory or file is group/other accessible, not
                ours, or the file is a symbolic link.
            SecretStoreError: it cannot be read.
        """
        path = self.path(name)
        try:
            if path.parent.exists():
                ensure_private_dir(path.parent)
            return read_private_file(path)
        except InsecurePath as exc:
            raise InsecureSecretFile(str(exc)) from None
        except OSError as exc:
            raise SecretStoreError(f"cannot read {path}: {exc.strerror or exc}") from None

    def create(self, name: str, value: bytes) -> None:
        """Write ``value`` to a new 0600 file, unless one exists (then it is kept).

        The bytes go to a temporary file first (exactly 0600 whatever the umask, fsynced)
        which is then hard-linked to its name (POSIX) or renamed (Windows, where rename never
        overwrites): either fails if the name exists, so a half-written key is never seen and
        two processes starting at once agree on one key.

        Raises:
            InsecureSecretFile: the directory is group/other accessible or not ours.
        """
        try:
            ensure_private_dir(self.directory)
        except InsecurePath as exc:
            raise InsecureSecretFile(str(exc)) from None
        final = self.path(name)
        tmp = self.directory / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            create_private_file(tmp, value)
            with contextlib.suppress(FileExistsError):
                if sys.platform == "win32":
                    os.rename(tmp, final)
                else:
                    os.link(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def describe(self) -> str:
        """The file path and the honest caveat."""
        return (f"file {self.directory} (no OS keyring; protected by file permissions "
                "only)")


class KeyringSecretStore:
    """Secrets in the OS keyring (service ``mtgateway``), base64 text.

    ``scope`` (the data directory) is hashed into the entry name so that two daemons with
    different data directories on one machine are two devices, as their files would be.
    """

    def __init__(self, backend: Any, scope: str) -> None:
        self._backend = backend
        self._scope = hashlib.sha256(scope.encode("utf-8")).hexdigest()[:12]

    def _user(self, name: str) -> str:
        return f"{name}:{self._scope}"

    def get(self, name: str) -> bytes | None:
        """The secret, or None.

        Raises:
            SecretStoreError: the keyring refused (locked, no session bus, ...).
        """
        try:
            text = self._backend.get_password(_SERVICE, self._user(name))
        except Exception as exc:  # any backend failure; keyring's errors vary by platform
            raise SecretStoreError(f"the OS keyring refused: {type(exc).__name__}") from None
        if text is None:
            return None
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise SecretStoreError("the keyring entry is not base64") from None

    def create(self, name: str, value: bytes) -> None:
        """Store ``value`` unless an entry exists."""
        if self.get(name) is not None:
            return
        try:
            self._backend.set_password(_SERVICE, self._user(name),
                                       base64.b64encode(value).decode("ascii"))
        except Exception as exc:
            raise SecretStoreError(f"the OS keyring refused: {type(exc).__name__}") from None

    def describe(self) -> str:
        """The backend's class, e.g. ``OS keyring (WinVaultKeyring)``."""
        return f"OS keyring ({type(self._backend).__name__})"


def acceptable_keyring_backend(backend: Any) -> bool:
    """Whether ``backend`` is a real OS keyring we may use (see the module docstring)."""
    from keyring.backends.chainer import ChainerBackend
    from keyring.core import recommended

    module = type(backend).__module__
    if module.startswith("keyrings.alt") or module.startswith(_REFUSED_MODULES):
        return False
    if isinstance(backend, ChainerBackend):
        children = list(backend.backends)
        if not children or not all(acceptable_keyring_backend(c) for c in children):
            return False
    try:
        return bool(recommended(backend))
    except Exception:  # a backend whose priority check itself fails is not viable
        return False


def usable_keyring_backend() -> Any | None:
    """The process's keyring backend if acceptable, else None. Never prompts."""
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception:
        return None
    return backend if acceptable_keyring_backend(backend) else None


def open_secret_store(key_storage: Literal["auto", "keyring", "file"],
                      data_dir: Path, *, name: str = "device") -> SecretStore:
    """The store ``[device] key_storage`` asks for.

    ``auto``: an existing key file wins (the identity stays stable if a keyring appears
    later); else the OS keyring if acceptable and answering; else the file, with a warning.
    ``keyring``: the keyring or an error. ``file``: the file.

    Raises:
        SecretStoreError: ``keyring`` was asked for and none is usable.
    """
    file_store = FileSecretStore(data_dir)
    if key_storage == "file":
        return file_store
    backend = usable_keyring_backend()
    if key_storage == "keyring":
        if backend is None:
            raise SecretStoreError(
                "[device] key_storage = \"keyring\" but no usable OS keyring was found "
                "(keyrings.alt and the fail backend are never used); use \"auto\" or \"file\"")
        return KeyringSecretStore(backend, str(data_dir.resolve()))
    if file_store.exists(name) or backend is None:
        if not file_store.exists(name):
            # INFO, not WARNING: a Linux server or container has no keyring, and the 0600
            # file is this product's documented store there -- a normal start, which logs
            # nothing at WARNING (docs/operations.md). `device status` shows the storage.
            log.info("no OS keyring; the device key is kept in %s, protected by file "
                     "permissions", file_store.path(name))
        return file_store
    store = KeyringSecretStore(backend, str(data_dir.resolve()))
    try:
        store.get(name)
    except SecretStoreError as exc:
        log.warning("%s; keeping the device key in %s instead (a new device to approve)",
                    exc, file_store.path(name))
        return file_store
    return store
