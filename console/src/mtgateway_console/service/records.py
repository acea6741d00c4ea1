"""Signed records for devices: a lookup by a token's hint, a refresh by token ids.

What a record says (the token's verifier, terminal, scopes, lifetime, its account's risk
policy, the kill switch and pending instructions) is read in one transaction, in one round trip
(``basis.py``). The signing (Ed25519) and the sealing of each token's
``server_key`` to the request's box key (X25519, ``boxes.py``) run where
:attr:`Records.sign_off_loop` says: by default after the transaction, on the event loop,
which gives the connection back at once (the embedded authority: few calls, one SQLite
worker); with it set (the console's ``[console] public_key_work = "workers"``), inside the
transaction function on the database door's worker, where libsodium and ``cryptography``
release the GIL and the loop serves other requests meanwhile, at the cost of holding the
connection while the record is signed. Each record names the device and the request's
nonce: a replayed request's answer opens nothing and says nothing new.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from typing import Any

from mtgateway_base.wire.api import DeviceInfo, LookupAnswer
from mtgateway_base.wire.boxes import seal
from mtgateway_base.wire.records import OFFLINE_GRACE_S, RiskPolicy

from ..database import Tx
from ..devices import Approval, has_live_code
from ..labels import clean_label
from ..tables import approvals as approval_rows
from ..tables import basis
from ..tables.basis import Basis
from ..tables.store import ProofClaim, TokenRow, claimed
from ..tables.token_details import note_use
from .approvals import Approvals, checked
from .common import Shared, risk_of_account, serves_account

__all__ = ["Records"]

#: What a record is signed from: a token, its terminal's risk policy (with the owner's kill
#: switch) and the owner's pending instructions for the terminal.
Signable = tuple[TokenRow, RiskPolicy, list[dict[str, Any]]]


def signable(found: Basis) -> Signable:
    """What a record of ``found``'s token says beside the token: its terminal's policy (its
    registered account's), halted when the token's owner pulled the kill switch on it
    (``halts.py``), and the owner's pending instructions for it (``instructions.py``)."""
    risk = risk_of_account(found.account)
    if found.halted:
        risk = dataclasses.replace(risk, trading_halted=True)
    return found.token, risk, [i.as_record() for i in found.pending]


def serving(found: Basis | None) -> Basis | None:
    """``found`` when a record of its token may be handed out (:func:`~.common.serves`: its
    terminal's account, if one is registered, is the token's owner's), else None."""
    if found is None or not serves_account(found.token, found.account):
        return None
    return found


def _not_approved(why: str) -> LookupAnswer:
    """``pending``, and whether because the owner denied the device (``why``: what
    :meth:`Records._lookup` said)."""
    return LookupAnswer("pending", denied=why == "denied")


class Records:
    """The device-facing lookup and refresh."""

    def __init__(self, shared: Shared, approvals: Approvals, *,
                 sign_off_loop: bool = False) -> None:
        self._shared = shared
        self._store = shared.store
        self._approvals = approvals
        #: Sign and seal on the database door's worker, in the record's transaction (see the
        #: module), instead of on the event loop after it.
        self.sign_off_loop = sign_off_loop

    async def lookup(self, device: DeviceInfo, *, token_hint: str, device_name: str = "",
                     os: str = "", nonce: str | None = None,
                     box_key: bytes | None = None, address: str = "",
                     claim: ProofClaim | None = None) -> LookupAnswer:
        """A token's record for an approved device (signed with the request's ``nonce``, its
        ``server_key`` sealed to ``box_key``; the token's use from ``address`` noted, empty:
        this machine); else ask the owner and say ``pending``. A device the owner denied is
        answered ``pending`` too (not approved) with ``denied`` set, without a new request or
        e-mail: a denial holds while its daemon keeps asking, and the daemon can say so. With
        ``claim``, the call's proof's replay row is written first, in the same transaction.

        Raises:
            ProofRejected: the claim's proof was seen before (nothing is read or written).
        """
        now = self._shared.now()
        if self.sign_off_loop:
            signed = await self._shared.run(claimed(claim, self._lookup_signed),
                                            checked(device), token_hint, device_name, os, now,
                                            address, nonce, box_key)
            if isinstance(signed, dict):
                return LookupAnswer("ok", signed)
            return LookupAnswer("unknown") if signed is None else _not_approved(signed)
        found = await self._shared.run(claimed(claim, self._lookup), checked(device),
                                       token_hint, device_name, os, now, address)
        if found is None:
            return LookupAnswer("unknown")
        if isinstance(found, str):
            return _not_approved(found)
        return LookupAnswer("ok", self._signed([found], device.device_id, now, nonce,
                                               box_key)[0])

    def _lookup_signed(self, tx: Tx, device: DeviceInfo, token_hint: str, device_name: str,
                       os: str, now: int, address: str, nonce: str | None,
                       box_key: bytes | None) -> dict[str, Any] | str | None:
        """:meth:`_lookup`, its record signed and sealed in the same job (on the worker)."""
        found = self._lookup(tx, device, token_hint, device_name, os, now, address)
        if found is None or isinstance(found, str):
            return found
        return self._signed([found], device.device_id, now, nonce, box_key)[0]

    def _lookup(self, tx: Tx, device: DeviceInfo, token_hint: str, device_name: str, os: str,
                now: int, address: str = "") -> Signable | str | None:
        found = serving(basis.ask(tx, device.device_id, "token_hint", token_hint).read())
        if found is None:
            return None
        row = found.token
        # The device names itself: cleaned before anyone sees it (e-mails, the device list).
        # A lookup that gives no name or OS keeps the stored one (a daemon may omit them);
        # only a device never named is "unnamed".
        name, os_name = clean_label(device_name, ""), clean_label(os, "")
        known = found.device
        name = name or (known[0] if known else "unnamed")
        os_name = os_name or (known[1] if known else "unknown")
        approval_rows.upsert_device(tx, device.device_id, device.public_key, name, os_name, now)
        approval = found.approval
        if found.approved:
            note_use(tx, self._shared.uses, [row.token_id], device.device_id, address, now)
            return signable(found)
        if approval is not None and approval.status == "denied":
            # The owner said no: no new request, no code, no e-mail. Which token it presents
            # is still noted, so the devices page can offer to revoke it.
            approval_rows.note_approval_token(tx, approval.approval_id, row.token_id, now)
            return "denied"
        if approval is None or approval.status == "revoked":
            approval = Approval(approval_id="apr_" + secrets.token_hex(8),
                                owner_email=row.owner_email, device_id=device.device_id,
                                status="pending", created_at=now)
            approval_rows.save_approval(tx, approval)
        approval_rows.note_approval_token(tx, approval.approval_id, row.token_id, now)
        if not has_live_code(approval, now):
            _, message = self._approvals.send_code(tx, approval, now)
            if message is not None:
                self._approvals.mail_after(tx, message)
        return "pending"

    async def refresh(self, device: DeviceInfo, token_ids: Sequence[str],
                      nonce: str | None = None, box_key: bytes | None = None,
                      address: str = "", claim: ProofClaim | None = None
                      ) -> list[dict[str, Any]]:
        """Fresh records for the tokens whose owner still approves this device, each signed
        with the request's ``nonce`` (``server_key`` sealed to ``box_key``); their use from
        ``address`` noted. With ``claim``, the call's proof's replay row is written first, in
        the same transaction.

        Raises:
            ProofRejected: the claim's proof was seen before (nothing is read or written).
        """
        now = self._shared.now()
        ids = list(dict.fromkeys(token_ids))
        if self.sign_off_loop:
            return await self._shared.run(claimed(claim, self._refresh_signed),
                                          checked(device).device_id, ids, now, address, nonce,
                                          box_key)
        rows = await self._shared.run(claimed(claim, self._refresh), checked(device).device_id,
                                      ids, now, address)
        return self._signed(rows, device.device_id, now, nonce, box_key)

    def _refresh_signed(self, tx: Tx, device_id: str, token_ids: list[str], now: int,
                        address: str, nonce: str | None,
                        box_key: bytes | None) -> list[dict[str, Any]]:
        """:meth:`_refresh`, its records signed and sealed in the same job (on the worker)."""
        rows = self._refresh(tx, device_id, token_ids, now, address)
        return self._signed(rows, device_id, now, nonce, box_key)

    def _refresh(self, tx: Tx, device_id: str, token_ids: list[str], now: int = 0,
                 address: str = "") -> list[Signable]:
        # Every token's basis asked before any is read: one round trip for all of them.
        asked = [basis.ask(tx, device_id, "token_id", token_id) for token_id in token_ids]
        rows = []
        for each in asked:
            found = serving(each.read())
            if found is not None and found.approved:
                rows.append(signable(found))
        note_use(tx, self._shared.uses, [r.token_id for r, _, _ in rows], device_id, address,
                 now)
        return rows

    def _signed(self, rows: Sequence[Signable], device_id: str, now: int,
                nonce: str | None, box_key: bytes | None) -> list[dict[str, Any]]:
        """Signed records of ``rows`` for one request: each names the device and the request's
        ``nonce``; with the request's ``box_key``, each carries its ``server_key`` sealed to
        it (``boxes.py``), so a replayed request's answer opens nothing."""
        if box_key is not None:
            sealed: dict[str, bytes] = {}  # (a loop, not a comprehension: a call of its own)
            for r, _, _ in rows:
                sealed[r.token_id] = self._store.server_key(r)
            authority_key, boxes = seal(box_key, device_id, nonce or "", sealed)
        out = []
        for row, risk, pending in rows:
            record: dict[str, Any] = {
                "token_id": row.token_id, "stored_key": row.stored_key,
                "token_hint": row.token_hint, "login": row.login, "server": row.server,
                "scopes": list(row.scopes), "owner_email": row.owner_email,
                "device_id": device_id, "created_at": row.created_at,
                "expires_at": row.expires_at, "revoked_at": row.revoked_at,
                "issued_at": now, "valid_until": now + OFFLINE_GRACE_S,
                "risk": risk.as_json()}
            if pending:
                record["instructions"] = pending
            if nonce is not None:  # binds this copy to the request: a replay answers nothing else
                record["nonce"] = nonce
            if box_key is not None:
                record["box_key"] = authority_key
                record["server_key_box"] = boxes[row.token_id]
            out.append(self._store.signer.sign(record))
        return out
