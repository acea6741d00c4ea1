"""``mtgateway_base.edge.HeldRequests``: the long-poll bound per key and per peer (issue 16
F6; the console's per-key bound is also tested over sockets in
console/tests/e2e/test_console_edge.py)."""

from __future__ import annotations

from mtgateway_base.edge import HeldRequests


async def test_held_requests_are_bounded_per_key_and_per_peer() -> None:
    held = HeldRequests(per_key=2, per_peer=3)
    assert held.enter("k1", "10.0.0.1") and held.enter("k1", "10.0.0.1")
    assert not held.enter("k1", "10.0.0.2")  # the key's bound, whatever the address
    assert held.enter("k2", "10.0.0.1")
    assert not held.enter("k3", "10.0.0.1")  # the address's bound: fresh keys cost nothing
    assert held.enter("k3", "10.0.0.2")  # another address is still served
    assert held.held(key="k1") == 2 and held.held(peer="10.0.0.1") == 3
    held.leave("k1", "10.0.0.1")
    assert held.enter("k4", "10.0.0.1")  # room again once one is answered
    assert held.held(key="k1") == 1 and held.held(peer="10.0.0.1") == 3
    for key, peer in (("k1", "10.0.0.1"), ("k2", "10.0.0.1"), ("k4", "10.0.0.1"),
                      ("k3", "10.0.0.2")):
        held.leave(key, peer)
    assert held.held(key="k1") == 0 and held.held(peer="10.0.0.1") == 0
