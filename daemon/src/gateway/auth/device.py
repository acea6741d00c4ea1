"""This machine's device identity: an Ed25519 key pair, its ``device_id``, and device proofs.

Why a device key at all: a token copied to another machine must not simply work there. The
authority binds every signed record to one ``device_id`` and approves devices per owner, and
approval (and every later call to the console) needs a signature by this key, which never
leaves the machine. ``device_id`` = unpadded base32 of SHA-256 of the raw public key, 26
characters (``docs/authority.md``). The proof headers are made by
:func:`mtgateway_base.wire.proofs.device_proof_headers`, one implementation for both sides.

The key is made on first start and kept in a :class:`~gateway.auth.secretstore.SecretStore`
(the OS keyring when a real one exists, else a 0600 file). It is stored as the raw 32-byte
private seed; nothing else about the device is secret.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from mtgateway_base.curve25519 import SigningKey
from mtgateway_base.wire.api import DeviceInfo
from mtgateway_base.wire.records import device_id_for

from .secretstore import SecretStore, SecretStoreError

__all__ = ["DEVICE_KEY_NAME", "DeviceIdentity", "load_or_create_device"]

#: The secret store entry holding the device's private key.
DEVICE_KEY_NAME: Final = "device"


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """A device key pair, its id, and where the private half is kept (for ``device status``)."""

    private_key: Ed25519PrivateKey
    #: A human word for the store: ``"OS keyring (…)"`` or ``"file …"``.
    storage: str = "memory"
    #: The key in libsodium's form (``mtgateway_base.curve25519``: the same signatures, made
    #: faster than by OpenSSL), converted once.
    _signing: SigningKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_signing", SigningKey(self.private_key))

    @classmethod
    def generate(cls, storage: str = "memory") -> DeviceIdentity:
        """A fresh identity (not stored anywhere)."""
        return cls(Ed25519PrivateKey.generate(), storage)

    @property
    def public_key_raw(self) -> bytes:
        """The raw 32-byte public key."""
        return self._signing.public_raw

    @property
    def public_key_b64(self) -> str:
        """Standard base64 of the raw public key (the ``X-Device-Key`` header)."""
        return base64.b64encode(self.public_key_raw).decode("ascii")

    @property
    def device_id(self) -> str:
        """``base32(SHA-256(raw public key))[:26]``."""
        return device_id_for(self.public_key_raw)

    def sign(self, message: bytes) -> bytes:
        """A raw Ed25519 signature over ``message``."""
        return self._signing.sign(message)

    @property
    def info(self) -> DeviceInfo:
        """The id and public key, as every call to the authority carries them."""
        return DeviceInfo(self.device_id, self.public_key_raw)


def load_or_create_device(store: SecretStore) -> DeviceIdentity:
    """This machine's identity from ``store``, made and saved on first use.

    If two processes start at once, the store's create-only write lets exactly one key win and
    both end up with it.

    Raises:
        SecretStoreError: the store cannot be read or written, or holds something that is not
            an Ed25519 key (never silently replaced: a new key means a new device to approve).
    """
    seed = store.get(DEVICE_KEY_NAME)
    if seed is None:
        fresh = Ed25519PrivateKey.generate()
        raw = fresh.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        store.create(DEVICE_KEY_NAME, raw)
        seed = store.get(DEVICE_KEY_NAME)
        if seed is None:
            raise SecretStoreError(f"the device key just written to {store.describe()} "
                                   "cannot be read back")
    if len(seed) != 32:
        raise SecretStoreError(f"the device key in {store.describe()} is not a 32-byte Ed25519 "
                               "key; move it away to make a new device (it needs approval)")
    return DeviceIdentity(Ed25519PrivateKey.from_private_bytes(seed), store.describe())
