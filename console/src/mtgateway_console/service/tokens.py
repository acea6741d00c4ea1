"""Tokens: issued for one terminal, listed without secrets, labelled, revoked.

A token's plaintext is in the answer to its issue and nowhere else: the store keeps its
verifier (``store.py``). Issuing checks and writes the terminal's claim under the terminal's
lock, in one transaction with the token and its activity entry; a revocation and its
revocation-feed row commit as one, so connected daemons hear of it within seconds
(``feed.py``). A listing carries the token's label and last use (``token_details.py``), so
two tokens of one terminal can be told apart.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any, Final

from mtgateway.credential import TokenKeys
from mtgateway_base.wire.api import IssuedToken

from ..database import Tx
from ..errors import InvalidRequest
from ..tables import approvals as approval_rows
from ..tables import owners as owner_rows
from ..tables.store import TokenRow
from ..tables.token_details import TokenDetails, clean_label, details_of, set_label
from .common import Shared, check_claim, holders, normalize_email, revoke_in, terminal_lock

__all__ = ["SCOPES", "Tokens", "listing", "listings"]

SCOPES: Final = frozenset({"read", "trade"})


def listing(row: TokenRow, details: TokenDetails | None = None) -> dict[str, Any]:
    """A token as its owner sees it: no token, no verifier; its label and last use
    (``used_at`` ``None``: never used; ``used_address`` empty: this machine)."""
    details = details or TokenDetails()
    return {"token_id": row.token_id, "login": row.login, "server": row.server,
            "scopes": list(row.scopes), "owner_email": row.owner_email,
            "created_at": row.created_at, "expires_at": row.expires_at,
            "revoked_at": row.revoked_at, "label": details.label,
            "used_at": details.used_at, "used_device": details.used_device,
            "used_address": details.used_address}


def listings(tx: Tx, rows: Sequence[TokenRow]) -> list[dict[str, Any]]:
    """:func:`listing` of each row, their details read in ``tx``."""
    details = details_of(tx, [r.token_id for r in rows])
    return [listing(r, details.get(r.token_id)) for r in rows]


class Tokens:
    """Issue, list and revoke owners' tokens."""

    def __init__(self, shared: Shared, new_token: Callable[[], str]) -> None:
        self._shared = shared
        self._store = shared.store
        self._new_token = new_token

    async def issue(self, owner_email: str, login: int, server: str,
                    scopes: Sequence[str] = ("read", "trade"),
                    expires_in_s: int | None = None, label: str = "") -> IssuedToken:
        """Issue a token for one terminal, with an optional ``label`` (say where it goes:
        "EA on the VPS", "backtest bot"); the plaintext is in the answer and nowhere else.

        Raises:
            TerminalClaimed: another owner registered the terminal's account or holds live
                tokens for it (a terminal's streams and trades are one owner's).
            ValueError: an unknown owner or a parameter out of range.
        """
        owner_email = normalize_email(owner_email)
        if not scopes or not SCOPES.issuperset(scopes):
            raise InvalidRequest(f"scopes must be a non-empty subset of {sorted(SCOPES)}")
        if login <= 0 or not 0 < len(server) <= 200:
            raise InvalidRequest("login must be positive and server 1-200 characters")
        if expires_in_s is not None and expires_in_s <= 0:
            raise InvalidRequest("expires_in_s must be positive")
        label = clean_label(label)
        now = self._shared.now()
        token = self._new_token()
        keys = TokenKeys.of(token)
        token_id = "tok_" + secrets.token_hex(8)
        row = TokenRow(token_id=token_id, stored_key=keys.verifier.stored_key.hex(),
                       server_key_enc=self._store.seal_server_key(token_id,
                                                                  keys.verifier.server_key),
                       token_hint=keys.hint, owner_email=owner_email, login=login,
                       server=server, scopes=tuple(sorted(set(scopes))), created_at=now,
                       expires_at=None if expires_in_s is None else now + expires_in_s)
        await self._shared.run(self._issue, row, label)
        return IssuedToken(token=token, token_id=row.token_id,
                           record=listing(row, TokenDetails(label=label)))

    def _issue(self, tx: Tx, row: TokenRow, label: str = "") -> None:
        """The owner's check, the terminal's claim, the token and its activity, as one."""
        if owner_rows.owner_password_hash(tx, row.owner_email) is None:
            raise InvalidRequest("unknown owner")
        tx.lock(terminal_lock(row.login, row.server))
        check_claim(tx, self._store, row.owner_email, row.login, row.server, row.created_at)
        self._store.add_token(tx, row)
        if label:
            set_label(tx, row.token_id, label)
        expiry = "never expires" if row.expires_at is None else f"expires at {row.expires_at}"
        self._shared.activity.add(tx, row.owner_email, "token_created",
                                  f"{row.token_id} for {row.login}@{row.server}, "
                                  f"scopes {','.join(row.scopes)}, {expiry}", row.created_at)

    async def holders(self, login: int, server: str) -> list[str]:
        """Whose the terminal is, as :meth:`issue` decides it: the owner who registered its
        account, else the owners holding live tokens for it (empty: no one yet). For the
        local authority's own commands, whose user owns every owner (``mtgateway setup``
        names the owner to pass before it makes anything); no owner is shown another's."""
        def read(tx: Tx) -> set[str]:
            return holders(tx, self._store, login, server, self._shared.now())

        return sorted(await self._shared.run(read))

    async def of(self, owner_email: str) -> list[dict[str, Any]]:
        """The owner's tokens without secrets (no token, no hashes)."""
        return await self._shared.run(self._of, normalize_email(owner_email))

    def _of(self, tx: Tx, owner_email: str) -> list[dict[str, Any]]:
        """The listings, each last use's device named as the owner's pages name it
        (``used_device_name``: the device's own name, for a device that asked this owner;
        empty otherwise), so the CLI's list and the Tokens page say the same."""
        rows = listings(tx, self._store.tokens_of(tx, owner_email))
        asked = {a.device_id for a in approval_rows.approvals_of_owner(tx, owner_email)}
        names: dict[str, str] = {}
        for row in rows:
            used = str(row["used_device"] or "")
            if used and used in asked and used not in names:
                device = approval_rows.device(tx, used)
                names[used] = device.name if device is not None else ""
            row["used_device_name"] = names.get(used, "")
        return rows

    async def relabel(self, owner_email: str, token_id: str, label: str) -> bool:
        """Change the label of one of the owner's tokens (empty clears it); ``False`` if no
        such token is theirs.

        Raises:
            ValueError: the label is too long.
        """
        return await self._shared.run(self._relabel, normalize_email(owner_email), token_id,
                                      clean_label(label), self._shared.now())

    def _relabel(self, tx: Tx, owner_email: str, token_id: str, label: str, now: int) -> bool:
        row = self._store.token_by_id(tx, token_id)
        if row is None or row.owner_email != owner_email:
            return False
        set_label(tx, token_id, label)
        self._shared.activity.add(tx, owner_email, "token_labelled",
                                  f"{token_id}: {label!r}" if label else f"{token_id}: cleared",
                                  now)
        return True

    async def revoke(self, owner_email: str, token_id: str) -> bool:
        """Revoke one of the owner's tokens; ``False`` if no such token is theirs.

        A first revocation is logged and put on the feed, so connected daemons hear of it
        within seconds (``feed.py``)."""
        return await self._shared.run(self._revoke, normalize_email(owner_email), token_id,
                                      self._shared.now())

    def _revoke(self, tx: Tx, owner_email: str, token_id: str, now: int) -> bool:
        return revoke_in(tx, self._shared, owner_email, token_id, now)
