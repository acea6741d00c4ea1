"""The token authority and the owners' web console: owners, tokens, accounts, devices and their
approval, signed records, the pages and the two JSON APIs.

A service of its own (``mtgateway-console``): it imports nothing of the daemon, only the ground
floor both stand on (``mtgateway_base``: the wire contract in ``mtgateway_base.wire``, the MT4
Web API document, the edge rules) and the client's token proofs (``mtgateway.credential``).
A daemon talks to it through the contract's :class:`~mtgateway_base.wire.api.AuthorityAPI`,
over HTTP (``mtgateway-console``), or embedded in its own process (local mode): only the
daemon's composition roots import this package. Import-linter contracts in ``pyproject.toml``
keep both rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__: list[str] = []

if TYPE_CHECKING:  # mypy proves the embedded authority implements the protocol the daemon uses
    from mtgateway_base.wire.api import AuthorityAPI

    from .service import Authority

    def _implements(embedded: Authority) -> AuthorityAPI:
        return embedded
