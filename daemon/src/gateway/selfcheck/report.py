"""What ``mtgateway check`` found, as an owner pastes it into a bug report.

One :class:`Check` per behaviour, each PASS, FAIL or N/A (the check could not apply here: a
market closed, a symbol with no depth of market) with the evidence it rests on; the terminal's
identity (platform, build, EA version, account kind); and the latencies measured. Plain text
for a person (:meth:`Report.text`), JSON for a machine (:meth:`Report.as_json`); neither holds
the token or any other secret.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["FAIL", "NA", "PASS", "Check", "Latency", "Report"]

PASS: Final = "PASS"
FAIL: Final = "FAIL"
NA: Final = "N/A"

#: ACCOUNT_TRADE_MODE_* (account_info().trade_mode) as the report names them.
ACCOUNT_KINDS: Final = {0: "demo", 1: "contest", 2: "real"}


@dataclass(frozen=True)
class Check:
    """One behaviour checked: its name, its outcome and why."""

    name: str
    outcome: str
    evidence: str

    @property
    def failed(self) -> bool:
        return self.outcome == FAIL


@dataclass(frozen=True)
class Latency:
    """Round trips (or tick ages) measured, in microseconds."""

    what: str
    n: int
    p50_us: float
    p99_us: float

    def text(self) -> str:
        if self.n == 0:
            return f"{self.what}: none measured"
        return (f"{self.what}: p50 {self.p50_us / 1000:.2f} ms, p99 {self.p99_us / 1000:.2f} ms "
                f"(n = {self.n})")


@dataclass
class Report:
    """Everything one run found."""

    url: str
    daemon_version: str = ""
    platform: str = ""
    build: int | None = None
    ea_version: str = ""
    login: int | None = None
    server: str = ""
    account_kind: str = ""
    started: str = field(default_factory=lambda: datetime.datetime.now(datetime.UTC)
                         .isoformat(timespec="seconds"))
    checks: list[Check] = field(default_factory=list)
    latency: list[Latency] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, outcome: str, evidence: str) -> Check:
        check = Check(name, outcome, evidence)
        self.checks.append(check)
        return check

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.failed]

    def text(self) -> str:
        counts = {o: sum(c.outcome == o for c in self.checks) for o in (PASS, FAIL, NA)}
        lines = [f"MT Gateway self-check, {self.started} UTC",
                 f"daemon: mtgateway {self.daemon_version or '?'} at {self.url}",
                 f"terminal: {self.platform or '?'} build {self.build if self.build else '?'}, "
                 f"EA {self.ea_version or '?'}, account {self.login or '?'} @ "
                 f"{self.server or '?'} ({self.account_kind or '?'})",
                 f"checks: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[NA]} not "
                 "applicable", ""]
        width = max((len(c.name) for c in self.checks), default=0)
        for check in self.checks:
            lines.append(f"{check.outcome:<4}  {check.name:<{width}}  {check.evidence}")
        if self.latency:
            lines += ["", "latency:"] + [f"  {lat.text()}" for lat in self.latency]
        if self.notes:
            lines += [""] + self.notes
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
