"""The record cache: verified signed records, refreshed from the authority, served offline.

Why a cache and not a call per request: the authority may be another host (``mtgateway
console``), and a trading daemon must keep answering reads when it is briefly out of reach.
So every record the authority hands this device is verified (pinned key, ``v``/``alg``/``kid``,
signature, this ``device_id``, not issued in the future; ``mtgateway_base.wire.records``) and
kept; requests are answered from memory.

Freshness (``docs/authority.md``, "On the daemon"):

* every ``refresh_interval_s`` the cache refreshes every live record. A record whose last
  successful refresh is older than one interval plus a slack is **stale**: reads go on, trades
  are refused (``Principal.fresh`` is false; the trade desk answers ``-32014 auth_stale``);
* a stale record serves reads until its ``valid_until`` (and at most ``offline_grace_s`` after
  its last refresh); past that the token is ``invalid_token`` until the authority answers again;
* a refresh that brings a tampered or otherwise refused record keeps the last good copy (it
  then goes stale like any other unrefreshed record);
* revocation or expiry seen at a refresh (or when an expiry time passes) calls the
  ``on_dead`` callbacks once per token, so the daemon can close that token's WebSockets (1008)
  and say ``bye`` to its EA.

Answers are bound to the request (``docs/security.md``, "Replay and freshness"): every lookup
and refresh sends a fresh random nonce, the authority signs it into each record it returns, and
a record whose nonce is not the one just sent is refused like a tampered one. Every request also
carries a fresh X25519 key, to which the authority seals each record's ``server_key``
(``mtgateway_base/wire/boxes.py``): only this process, which keeps the private half in memory for
the length of the request, can open it, so whoever replays a captured request gets records that
prove nothing (``docs/security.md``, "A replayed device request yields nothing"). So a network
attacker who captured an earlier answer (a record from before a revocation) and replays it
refreshes nothing: the record goes stale, trades stop, and reads end at its ``valid_until``.
Freshness is thus "the authority answered *this* request", never "some record arrived".

Nothing cached and no answer from the authority is ``-32014 authority_unreachable``; an answer
that fails verification counts as no answer (the warning in the log names the check).

Every change to what the cache holds (a record stored, replaced, dropped or pruned, a death
announced) bumps :attr:`RecordCache.generation`, so the authenticator's per-token fast path
(``service.py``) can tell in one comparison that what it verified may no longer hold.

Times come from an injected ``clock`` (epoch seconds) so tests pass 300 s without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from ea_bridge.messages import DENIED_PREFIX
from mtgateway_base.wire.api import AuthorityAPI, AuthorityRefused, AuthorityUnreachable, DeviceInfo
from mtgateway_base.wire.boxes import BoxOpener
from mtgateway_base.wire.records import (
    AuthorityKey,
    RecordRejected,
    SignedRecord,
    verify_signed_record,
)

from ..errors import Unauthorized, Unavailable

__all__ = ["DENIED_GUIDANCE", "PENDING_GUIDANCE", "DeadCallback", "RecordCache", "StoredCallback"]

log = logging.getLogger(__name__)
#: What a refused EA and client are told while this machine waits for approval. It names the
#: command without an example code: the log redactor masks anything shaped like one.
PENDING_GUIDANCE: Final = (
    "This machine is not approved for the token's owner yet: a code is being e-mailed to the "
    "owner: run `mtgateway device verify` on this machine and type it (`mtgateway device "
    "resend` if none arrives: it says whether the e-mail could be sent)")
#: What they are told once the owner denied this machine: no code is coming.
DENIED_GUIDANCE: Final = (
    f"{DENIED_PREFIX} in the console: no code is coming. The owner can allow it again "
    "(Devices, Allow again); the EA retries by itself meanwhile")
#: Security events: WARNING, ids only.
security_log = logging.getLogger("gateway.security")

#: Called with a record that just became revoked or expired, and its reason word.
DeadCallback = Callable[[SignedRecord, str], None]
#: Called with each record stored (verified, new or replacing its copy).
StoredCallback = Callable[[SignedRecord], None]

#: The most slack allowed past one refresh interval before a record counts as stale.
_MAX_SLACK_S: Final = 60.0


@dataclass(slots=True)
class _Entry:
    record: SignedRecord
    #: Our clock at the last answer from the authority for this record.
    refreshed_at: float


class RecordCache:
    """Signed records of this device, by ``token_hint`` and ``token_id``.

    Args:
        authority: the embedded authority or the console client.
        keys: the pinned authority key(s).
        device: this device; records bound to another are refused.
        device_name, os_name: what the owner's approval e-mail names this machine by.
        refresh_interval_s: how often :meth:`run` refreshes; also the staleness bound.
        offline_grace_s: the longest a record serves reads after its last refresh.
        clock: epoch seconds.
        new_nonce: a fresh random nonce per request (hex, 32 to 64 characters).
    """

    def __init__(self, authority: AuthorityAPI, keys: Sequence[AuthorityKey],
                 device: DeviceInfo, *, device_name: str = "", os_name: str = "",
                 refresh_interval_s: float = 300.0,
                 offline_grace_s: float = 86_400.0,
                 clock: Callable[[], float] = time.time,
                 new_nonce: Callable[[], str] = lambda: secrets.token_hex(16)) -> None:
        self.authority = authority
        self._new_nonce = new_nonce
        self._keys = tuple(keys)
        self.device = device
        self.device_id = device.device_id
        self._device_name, self._os_name = device_name, os_name
        self.refresh_interval_s = refresh_interval_s
        self._stale_after_s = refresh_interval_s + min(_MAX_SLACK_S, 0.2 * refresh_interval_s)
        self._grace_s = offline_grace_s
        self.clock = clock
        self._by_id: dict[str, _Entry] = {}
        self._by_hint: dict[str, str] = {}
        self._dead_announced: set[str] = set()
        self._callbacks: list[DeadCallback] = []
        self._stored: list[StoredCallback] = []
        self._inflight: dict[str, asyncio.Future[SignedRecord]] = {}
        #: Bumped on every change of the cached records (see the module docstring).
        self.generation = 0

    # -- what the authenticator asks -------------------------------------------------------

    def on_dead(self, callback: DeadCallback) -> None:
        """Register a callback for tokens revoked or expired while cached."""
        self._callbacks.append(callback)

    def on_stored(self, callback: StoredCallback) -> None:
        """Register a callback for every record stored: what a record carries besides the
        token's terms (the owner's instructions) is acted on as it arrives."""
        self._stored.append(callback)

    async def find(self, *, token_hint: str) -> SignedRecord:
        """The verified record of the token with this hint.

        Raises:
            Unauthorized: ``invalid_token`` (unknown, or cached but past its grace with no
                answer from the authority) or ``device_not_approved`` (approval pending).
            Unavailable: ``authority_unreachable``: nothing cached and no trustworthy answer.
        """
        cached = self.peek(token_hint)
        if cached is not None:
            return cached
        entry = self._by_id.get(self._by_hint.get(token_hint, ""))
        pending = self._inflight.get(token_hint)
        if pending is None:
            pending = asyncio.ensure_future(self._lookup(token_hint))
            self._inflight[token_hint] = pending
            pending.add_done_callback(lambda _: self._inflight.pop(token_hint, None))
        try:
            return await asyncio.shield(pending)
        except Unavailable:
            if entry is not None:  # cached but past its grace: refused until it answers
                raise Unauthorized("invalid_token", "The auth token could not be "
                                   "confirmed with the token authority") from None
            raise

    def peek(self, token_hint: str) -> SignedRecord | None:
        """The usable cached record with this hint, without asking the authority."""
        tid = self._by_hint.get(token_hint)
        entry = self._by_id.get(tid) if tid is not None else None
        if entry is not None and self.clock() < self._usable_until(entry):
            return entry.record
        return None

    def is_fresh(self, token_id: str) -> bool:
        """Whether the record was refreshed within one interval (plus slack): trades may go."""
        entry = self._by_id.get(token_id)
        return entry is not None and self.clock() - entry.refreshed_at <= self._stale_after_s

    def usable_until(self, token_id: str) -> float:
        """Until when (by :attr:`clock`) the record may answer without the authority; 0 if
        it is not cached."""
        entry = self._by_id.get(token_id)
        return self._usable_until(entry) if entry is not None else 0.0

    def get(self, token_id: str) -> SignedRecord | None:
        """The cached record with this id, usable or not."""
        entry = self._by_id.get(token_id)
        return entry.record if entry is not None else None

    # -- refreshing ------------------------------------------------------------------------

    async def refresh_once(self) -> bool:
        """Ask the authority for every live cached record once; True if it answered.

        Records that come back verified replace their copies (and become fresh); refused ones
        leave the last good copy in place; ids the authority no longer knows are dropped.
        Then expiries that passed and revocations seen are announced to ``on_dead``.
        """
        now = self.clock()
        ids = [tid for tid, e in self._by_id.items() if not _dead(e.record, now)]
        answered = True
        if ids:
            nonce = self._new_nonce()
            box = BoxOpener(self.device_id, nonce)
            try:
                envelopes = await self.authority.refresh(self.device, ids, nonce,
                                                         box.public_key)
            except (AuthorityUnreachable, AuthorityRefused) as exc:
                log.warning("token authority did not refresh (%s); serving cached records, "
                            "trades refused once they are stale", _why(exc))
                answered = False
            else:
                for envelope in envelopes:
                    self._accept(envelope, now, box)
                for tid in set(ids) - _named_ids(envelopes):
                    self._drop(tid)  # the authority no longer knows it
        self._announce_dead(now)
        self._prune(now)
        return answered

    async def run(self) -> None:
        """Refresh every ``refresh_interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.refresh_interval_s)
            try:
                await self.refresh_once()
            except Exception:  # keep refreshing whatever one pass hit
                log.exception("record refresh failed")

    # -- internals -------------------------------------------------------------------------

    def _usable_until(self, entry: _Entry) -> float:
        return min(float(entry.record.valid_until), entry.refreshed_at + self._grace_s)

    async def _lookup(self, token_hint: str) -> SignedRecord:
        nonce = self._new_nonce()
        box = BoxOpener(self.device_id, nonce)
        try:
            answer = await self.authority.lookup(
                self.device, token_hint=token_hint, device_name=self._device_name,
                os=self._os_name, nonce=nonce, box_key=box.public_key)
        except (AuthorityUnreachable, AuthorityRefused) as exc:
            log.warning("token authority gave no record at lookup (%s)", _why(exc))
            raise Unavailable("authority_unreachable",
                              "The token authority cannot be reached; retry later") from None
        status = answer.status
        if status == "pending":
            raise Unauthorized("device_not_approved",
                               DENIED_GUIDANCE if answer.denied else PENDING_GUIDANCE)
        if status != "ok":
            raise Unauthorized("invalid_token", "The auth token is not valid")
        now = self.clock()
        tid = self._accept(answer.record, now, box)
        if tid is None:
            raise Unavailable("authority_unreachable",
                              "The token authority's answer could not be verified")
        entry = self._by_id[tid]
        if entry.record.token_hint != token_hint:
            log.warning("token authority answered a lookup with another token's record")
            raise Unauthorized("invalid_token", "The auth token is not valid")
        self._announce_dead(now)
        return entry.record

    def _accept(self, envelope: Any, now: float, box: BoxOpener) -> str | None:
        """Verify and store one envelope answering the request sent with ``box``'s nonce and
        key, opening its ``server_key``; its token_id, or None when refused."""
        try:
            record = verify_signed_record(envelope, self._keys, self.device_id, now)
        except RecordRejected as exc:
            log.warning("refused a record from the token authority (%s); keeping the last "
                        "good copy", exc.reason)
            return None
        if record.nonce is None or not secrets.compare_digest(record.nonce, box.nonce):
            security_log.warning(
                "refused a record of token %s that does not answer this request (a replayed "
                "answer?); keeping the last good copy, which goes stale", record.token_id)
            return None
        try:
            if record.box_key is None or record.server_key_box is None:
                raise RecordRejected("bad_box", "the record carries no sealed server key")
            record = replace(record, server_key=box.open(record.box_key, record.server_key_box,
                                                         record.token_id))
        except RecordRejected as exc:
            log.warning("refused a record from the token authority (%s); keeping the last "
                        "good copy", exc.reason)
            return None
        old = self._by_id.get(record.token_id)
        if old is not None and record.issued_at < old.record.issued_at:
            log.warning("refused an older copy of a record (replay?); keeping the newer one")
            return None
        if old is not None:
            self._unindex(old.record)
        self.generation += 1
        self._by_id[record.token_id] = _Entry(record, now)
        self._by_hint[record.token_hint] = record.token_id
        for callback in self._stored:
            try:
                callback(record)
            except Exception:
                log.exception("a record callback failed")
        return record.token_id

    def _unindex(self, record: SignedRecord) -> None:
        self.generation += 1
        if self._by_hint.get(record.token_hint) == record.token_id:
            del self._by_hint[record.token_hint]

    def _drop(self, token_id: str) -> None:
        entry = self._by_id.pop(token_id, None)
        if entry is not None:
            self._unindex(entry.record)
            if token_id not in self._dead_announced:
                self._dead_announced.add(token_id)
                self._fire(entry.record, "invalid_token")

    def _announce_dead(self, now: float) -> None:
        for entry in list(self._by_id.values()):
            record = entry.record
            reason = _dead(record, now)
            if reason and record.token_id not in self._dead_announced:
                self._dead_announced.add(record.token_id)
                self._fire(record, reason)

    def _fire(self, record: SignedRecord, reason: str) -> None:
        self.generation += 1
        log.info("token %s of %s@%s is now %s", record.token_id, record.login, record.server,
                 reason.removeprefix("token_"))
        for callback in self._callbacks:
            try:
                callback(record, reason)
            except Exception:
                log.exception("a revocation callback failed")

    def _prune(self, now: float) -> None:
        for tid, entry in list(self._by_id.items()):
            if _dead(entry.record, now) and now >= self._usable_until(entry):
                del self._by_id[tid]
                self._unindex(entry.record)


def _dead(record: SignedRecord, now: float) -> str | None:
    """``token_revoked`` / ``token_expired`` when the record says so at ``now``, else None.

    A revocation counts as soon as the authority reports it, whatever its timestamp: the
    authority writes whole seconds on its own clock, and a device clock a little behind must
    not postpone a revocation. Expiry is a time the owner chose, so it is compared with ``now``.
    """
    if record.revoked_at is not None:
        return "token_revoked"
    if record.expires_at is not None and record.expires_at <= now:
        return "token_expired"
    return None


def _why(exc: Exception) -> str:
    """A log-safe word for an authority failure (no URLs with credentials, no bodies)."""
    if isinstance(exc, AuthorityRefused):
        return f"HTTP {exc.status} {exc.reason}"
    return "unreachable"


def _named_ids(envelopes: Iterable[Any]) -> set[str]:
    """The token ids the envelopes claim to be about (verified or not: a refused copy of a
    known token keeps its last good copy rather than dropping it)."""
    ids = set()
    for envelope in envelopes:
        record = envelope.get("record") if isinstance(envelope, Mapping) else None
        tid = record.get("token_id") if isinstance(record, Mapping) else None
        if isinstance(tid, str):
            ids.add(tid)
    return ids
