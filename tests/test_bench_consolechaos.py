"""``python -m bench.consolechaos`` runs end to end with tiny counts (no speed asserted): fair
callers and every kind of attacker against the real console, the failed fair calls counted
(none), and the count shown to fail when a fair caller cannot complete."""

from __future__ import annotations

import json
from pathlib import Path

from bench.consolechaos import ATTACKS, main

#: A short run: a small budget, a few attackers of each kind from four addresses.
SHORT = ["--seed", "7", "--seconds", "2", "--owners", "1", "--daemons", "1",
         "--attackers", "24", "--max-connections", "32", "--max-connections-per-peer", "16"]


def test_a_short_seeded_run_keeps_every_fair_call(tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    assert main([*SHORT, "--json", str(out)]) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["seed"] == 7 and figures["failed_fair_calls"] == 0
    assert figures["fair"]["daemon_report"] > 0 and figures["fair"]["daemon_long_poll"] > 0
    assert sum(figures["fair"].values()) > 2
    assert sum(figures["attackers"].values()) == 24
    assert set(figures["attackers"]) <= set(ATTACKS)
    assert sum(figures["attacks"].values()) >= 24  # each attacker was answered or cut


def test_a_fair_call_that_cannot_complete_is_counted(tmp_path: Path) -> None:
    """A fair caller that waits no time at all completes nothing: every call fails, by kind
    and reason, and the run's exit status says so (the count can fail)."""
    out = tmp_path / "chaos.json"
    assert main([*SHORT, "--attackers", "0", "--fair-timeout-s", "0.000001",
                 "--json", str(out)]) == 1
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["failed_fair_calls"] == sum(figures["fair"].values()) > 0
    assert all(reason.endswith(": timeout") for reason in figures["reasons"])
