"""Authentication on the daemon: tokens, this machine's device identity, and the checks.

``tokens`` (format) and ``records`` (the principal and the :class:`RecordSource` seam) are
pure; ``device`` and ``secretstore`` are this machine's Ed25519 identity and where its key is
kept; ``cache`` holds the authority's verified signed records (embedded authority or
``mtgateway-console`` behind it); ``service`` is the :class:`Authenticator` that the HTTP layer
and the EA bridge both ask.
"""

from __future__ import annotations

from mtgateway_base.wire.tokens import generate_token, is_well_formed

from .cache import RecordCache
from .device import DeviceIdentity, load_or_create_device
from .records import SCOPES, Principal, RecordSource
from .secretstore import (
    FileSecretStore,
    KeyringSecretStore,
    MemorySecretStore,
    SecretStore,
    SecretStoreError,
    open_secret_store,
)
from .service import Authenticator

__all__ = [
    "SCOPES",
    "Authenticator",
    "DeviceIdentity",
    "FileSecretStore",
    "KeyringSecretStore",
    "MemorySecretStore",
    "Principal",
    "RecordCache",
    "RecordSource",
    "SecretStore",
    "SecretStoreError",
    "generate_token",
    "is_well_formed",
    "load_or_create_device",
    "open_secret_store",
]
