"""Proofs from device keys the console has not seen: bounded before they cost anything.

A device proof costs the console an Ed25519 check on the event loop and a database write (the
replay guard's row, ``store.StoredProofReplays``) on one of the database door's workers; a key
costs its maker nothing. Unbounded, 768 long-polls, each under a fresh key, sent within 3 s
kept ``/health`` and a legitimate daemon's calls unanswered for about ten seconds while the
console checked 50-75 proofs a second (``python -m bench.proofflood`` replays it).

So the console goes straight on with a device the authority knows (:meth:`KeyGate.known`, a
bounded least-recently-used set of device ids): every device that had asked an owner's
approval when the console started (read once: approved, waiting or revoked), and one known
since, after a proof of it passed and its row was found. A device row is written only by a
lookup naming a live token, so a key costs nothing to make but a known device does. Every
other key passes through :class:`KeyGate` first: a token bucket per peer address and one for
all peers together. Beyond either, the request is answered 429 with ``Retry-After`` before
its signature is checked or anything is read or written (no database read per refused
request: a flood's keys are all new, and a read costs ~1 ms on SQLite). So a known daemon is
never slowed, also after a restart, and a new daemon's first calls get through at once unless
a flood is under way, when it retries after the pause it was told (as it does for any 429).
The clock is injected.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["ALL_PEERS", "KNOWN_KEYS_MAX", "PER_PEER", "KeyGate", "Rate"]

#: Device ids remembered as known (each ~170 bytes with its place in the order: 17 MB at
#: most); a daemon is touched on every call, so the longest silent ones are forgotten first,
#: and come back through the gate once. An instance serves 10,000 daemons and more: a bound
#: at the fleet's size would send each call of a larger fleet through the gate for new keys
#: in turn. New devices arrive through that gate (10 a second in all), so filling the set
#: with strangers takes hours of proofs naming live tokens.
KNOWN_KEYS_MAX: Final = 100_000
#: Peers whose bucket is remembered (a loopback attacker may use any 127.x.y.z); the stalest
#: is forgotten first, and the bucket for all peers still bounds the total.
_PEERS_MAX: Final = 4096


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket's refill (per second) and depth (the burst let through at once)."""

    per_s: float
    burst: float


#: New keys' proofs checked per second from one address, and from all together. A proof's
#: database write takes ~10 ms on a 2-vCPU VM's disk (SQLite commits with fsync): the bound
#: for all keeps new keys to about a tenth of the event loop, whatever the number of
#: addresses, and its burst lets a new daemon's first calls through at once.
PER_PEER: Final = Rate(per_s=5.0, burst=10.0)
ALL_PEERS: Final = Rate(per_s=10.0, burst=10.0)


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens, self.at = tokens, at

    def wait(self, rate: Rate, now: float) -> float:
        """Refill to ``now``; 0 if a token is there, else the seconds until one is."""
        self.tokens = min(rate.burst, self.tokens + (now - self.at) * rate.per_s)
        self.at = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / rate.per_s


class KeyGate:
    """Known device ids, and the buckets new ones pass through (one console process)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 per_peer: Rate = PER_PEER, all_peers: Rate = ALL_PEERS,
                 known_max: int = KNOWN_KEYS_MAX) -> None:
        self._clock = clock
        self.per_peer, self.all_peers = per_peer, all_peers
        self._known: OrderedDict[str, None] = OrderedDict()
        self._known_max = known_max
        self._peers: OrderedDict[str, _Bucket] = OrderedDict()
        self._all: _Bucket | None = None
        #: New keys' proofs refused (for tests and the log).
        self.refused = 0

    def known(self, device_id: str) -> bool:
        """Whether ``device_id`` is noted known to the authority (and note its use)."""
        if device_id in self._known:
            self._known.move_to_end(device_id)
            return True
        return False

    def verified(self, device_id: str) -> None:
        """Note ``device_id`` known to the authority (read at start, or a proof of it passed
        and its row was found): its proofs skip the gate."""
        self._known[device_id] = None
        self._known.move_to_end(device_id)
        while len(self._known) > self._known_max:
            self._known.popitem(last=False)

    def admit(self, peer: str) -> int | None:
        """Let one new key's proof from ``peer`` be checked: None, or the whole seconds to
        wait (``Retry-After``) when the peer's bucket or the one for all peers is empty.
        Nothing is taken from either bucket when one of them refuses."""
        now = self._clock()
        bucket = self._peers.get(peer)
        if bucket is None:
            bucket = self._peers[peer] = _Bucket(self.per_peer.burst, now)
            while len(self._peers) > _PEERS_MAX:
                self._peers.popitem(last=False)
        else:
            self._peers.move_to_end(peer)
        if self._all is None:
            self._all = _Bucket(self.all_peers.burst, now)
        wait = max(bucket.wait(self.per_peer, now), self._all.wait(self.all_peers, now))
        if wait > 0:
            self.refused += 1
            return max(1, math.ceil(wait))
        bucket.tokens -= 1
        self._all.tokens -= 1
        return None
