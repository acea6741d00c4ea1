"""``python -m bench.consolechaos`` runs end to end with tiny counts (no speed asserted): fair
callers and every kind of attacker against the real console, the failed fair calls counted
(none), and the count shown to fail for a call that does not complete."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bench.consolechaos import ATTACKS, ChaosReport, _fair, main

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


async def test_a_fair_call_that_does_not_complete_is_counted() -> None:
    """The count can fail: a call past its deadline, one answered otherwise than expected
    and one whose connection was cut are each a failed fair call, by kind and reason; an
    expected answer is not."""
    report = ChaosReport(seed=1)

    async def answered(status: int, delay_s: float = 0.0) -> tuple[int, bytes]:
        await asyncio.sleep(delay_s)
        return status, b""

    await _fair(report, "page", {200}, 1.0, lambda: answered(200))
    await _fair(report, "page", {200}, 0.01, lambda: answered(200, 1.0))
    await _fair(report, "daemon_report", {200}, 1.0, lambda: answered(503))
    await _fair(report, "health", {200}, 1.0, lambda: answered(0))
    assert report.fair == {"page": 2, "daemon_report": 1, "health": 1}
    assert report.failed_fair_calls == 3
    assert report.reasons == {"page: timeout": 1, "daemon_report: status 503": 1,
                              "health: cut": 1}
    assert "failed fair calls: 3" in "\n".join(report.lines())
