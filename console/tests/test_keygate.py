"""Round-4 T4-F13's gate (``mtgateway_console/keygate.py``): proofs of keys the authority does
not know are let through per peer and in all at bounded rates; known devices pass freely."""

from __future__ import annotations

from mtgateway_console.keygate import KeyGate, Rate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_peer_gets_its_burst_then_its_rate() -> None:
    clock = Clock()
    gate = KeyGate(clock=clock, per_peer=Rate(2.0, 3.0), all_peers=Rate(100.0, 100.0))
    assert [gate.admit("127.0.0.1") for _ in range(4)] == [None, None, None, 1]
    clock.now += 0.5  # one token back at 2 per second
    assert gate.admit("127.0.0.1") is None
    assert gate.admit("127.0.0.1") == 1  # Retry-After in whole seconds, at least 1
    assert gate.admit("127.0.0.2") is None  # another peer has its own bucket
    assert gate.refused == 2


def test_all_peers_share_one_bound() -> None:
    """Many addresses (any 127.x.y.z on loopback) do not add up past the bound for all."""
    clock = Clock()
    gate = KeyGate(clock=clock, per_peer=Rate(5.0, 10.0), all_peers=Rate(1.0, 4.0))
    answers = [gate.admit(f"127.0.0.{i}") for i in range(2, 10)]
    assert answers == [None] * 4 + [1] * 4
    clock.now += 3.0
    assert [gate.admit(f"127.0.1.{i}") for i in range(4)] == [None] * 3 + [1]


def test_a_refusal_takes_nothing() -> None:
    """A peer refused by the bound for all keeps its own tokens (and the reverse)."""
    clock = Clock()
    gate = KeyGate(clock=clock, per_peer=Rate(1.0, 2.0), all_peers=Rate(1.0, 1.0))
    assert gate.admit("a") is None
    assert gate.admit("b") == 1  # the bound for all is spent; b's bucket is untouched
    clock.now += 1.0
    assert gate.admit("b") is None


def test_known_devices_are_bounded_and_least_recently_used_leave_first() -> None:
    gate = KeyGate(known_max=2)
    gate.verified("A")
    gate.verified("B")
    assert gate.known("A")  # A used: B is now the least recently used
    gate.verified("C")
    assert gate.known("A") and gate.known("C") and not gate.known("B")


def test_a_console_serving_its_target_fleet_keeps_every_device_known() -> None:
    """Issue 44: one instance is sized for 10,000 daemons and more (the open-loop bench
    ramps past it). With room for exactly 10,000 known devices, every call of a fleet one
    larger found its device forgotten in turn and sent it through the gate for new keys (10
    proofs a second for all peers: 429 for the rest). The gate now remembers 100,000."""
    gate = KeyGate()
    fleet = [f"device-{i}" for i in range(20_000)]
    for device_id in fleet:
        gate.verified(device_id)
    assert all(gate.known(device_id) for device_id in fleet)
