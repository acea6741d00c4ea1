"""Fault injection at scale, CI-sized: seeded trade sequences with client retries through the
fault-injecting proxy between the real daemon and the real emulated terminal. The full
exercise is ``python -m bench.chaos --runs 10000``."""

from __future__ import annotations

from bench.chaos import chaos
from ea_bridge.faultproxy import KINDS


async def test_seeded_runs_through_every_fault_keep_the_invariants() -> None:
    """150 runs, half of them with a fault: every kind fires in both directions, every
    order settles, zero duplicates, the journal agrees with the broker, one outcome each."""
    report = await chaos(150, seed=20261122, fault_rate=0.5)
    assert report.violations == [], "\n".join(report.lines())
    assert report.runs == 150 and report.retries > 0
    fired = {key.split("/")[0] for key in report.faults}
    assert fired == set(KINDS), report.faults
    assert {"ACCEPTED", "RESOLVED_ACCEPTED"} <= set(report.states)


async def test_the_checker_catches_a_duplicate_order() -> None:
    """An EA without the client_id record (1.0) executes a duplicated request twice: the
    invariant check reports the duplicate -- the harness can fail."""
    report = await chaos(12, seed=7, fault_rate=1.0, kinds=("duplicate",), ea_version="1.0.0")
    assert any("duplicate" in v for v in report.violations), "\n".join(report.lines())
