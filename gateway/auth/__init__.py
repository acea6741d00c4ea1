"""Authentication: the token format, token records, where records come from, and the checks.

``tokens`` (format) and ``records`` (the record and the :class:`RecordSource` seam) are pure;
``store`` is the local SQLite record source; ``service`` is the :class:`Authenticator` that the
HTTP layer and the EA bridge both ask. The token authority (signed records, device approval,
the console) plugs in as another :class:`RecordSource` and changes nothing above it.
"""

from __future__ import annotations

from .records import Principal, RecordSource, TokenRecord
from .service import Authenticator
from .store import IssuedToken, LocalTokenStore
from .tokens import generate_token, is_well_formed, token_sha256

__all__ = [
    "Authenticator",
    "IssuedToken",
    "LocalTokenStore",
    "Principal",
    "RecordSource",
    "TokenRecord",
    "generate_token",
    "is_well_formed",
    "token_sha256",
]
