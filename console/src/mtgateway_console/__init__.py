"""The token authority: owners, tokens, accounts, devices and their approval, signed records.

It runs embedded in the daemon (local mode) or behind ``mtgateway console`` (HTTP); the
daemon talks to either through :class:`AuthorityAPI`. A separately deployable service: its
exceptions (``errors.py``), config sections (``config.py``), token format (``tokens.py``) and
console are all here; of ``gateway`` it imports only the ground floor both processes share
(``mtgateway_base``: the connection guard, the edge rules, the throttle, the private files, the
loopback check), and nothing of ``ea_bridge``. Import-linter contracts in ``pyproject.toml``
keep it so. ``records`` is pure and is what a device needs to check what the authority hands
it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mtgateway_base.wire.api import (
    AuthorityAPI,
    AuthorityRefused,
    AuthorityUnreachable,
    DeviceInfo,
    DeviceStatus,
    IssuedToken,
    LookupAnswer,
    ResendAnswer,
    VerifyAnswer,
)
from mtgateway_base.wire.errors import (
    AccountExists,
    AuthorityError,
    ConsoleConfigError,
    ProofRejected,
)
from mtgateway_base.wire.records import (
    AuthorityKey,
    AuthoritySigner,
    RecordRejected,
    RiskPolicy,
    SignedRecord,
    canonical_json,
    device_id_for,
    verify_signed_record,
)

__all__ = [
    "AccountExists",
    "AuthorityError",
    "ConsoleConfigError",
    "ProofRejected",
    "AuthorityAPI",
    "AuthorityRefused",
    "AuthorityUnreachable",
    "DeviceInfo",
    "DeviceStatus",
    "IssuedToken",
    "LookupAnswer",
    "ResendAnswer",
    "VerifyAnswer",
    "AuthorityKey",
    "AuthoritySigner",
    "RecordRejected",
    "RiskPolicy",
    "SignedRecord",
    "canonical_json",
    "device_id_for",
    "verify_signed_record",
]

if TYPE_CHECKING:  # mypy proves the embedded authority implements the protocol the daemon uses
    from .service import Authority

    def _implements(embedded: Authority) -> AuthorityAPI:
        return embedded
