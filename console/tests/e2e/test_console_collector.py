"""A serving console process freezes what start-up built, runs its collector on a clock and
times its collections.

Real ``mtgateway-console`` processes: one on SQLite, and an instance of two processes on a real
PostgreSQL (``tests/pgkit.py``), each scraped over ``/metrics`` with the data directory's
token. ``mtgateway_gc_frozen_objects`` is what ``gc.freeze()`` moved out of every later
collection's way (0 in a process that never called it): the console at the daemons' cadence
once spent its tail in full collections of its whole heap, and later in young collections
that walked every poll renewed since the last one (``mtgateway_base/gcpolicy.py``): the oldest
generation's threshold at ``PACED_OLDEST_THRESHOLD`` says the pacer owns its collections.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mtgateway_base.gcpolicy import GEN0_THRESHOLD, PACED_OLDEST_THRESHOLD
from tests.e2e.consolekit import console_process
from tests.e2e.fixtures import WAIT_S
from tests.pgkit import PostgresServer


def _config(tmp_path: Path, processes: int = 1) -> Path:
    config = tmp_path / "console.toml"
    config.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n[console]\nport = 0\n'
                      f'processes = {processes}\n[smtp]\nhost = "127.0.0.1"\nport = 1\n'
                      'security = "none"\n', encoding="utf-8")
    return config


def _scrape(url: str, data_dir: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """One scrape on a connection of its own (a new connection may reach another process)."""
    token = (data_dir / "metrics.token").read_text("utf-8").strip()
    request = urllib.request.Request(url + "/metrics",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Connection": "close"})
    with urllib.request.urlopen(request, timeout=WAIT_S) as answer:  # noqa: S310 - loopback
        text = answer.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


_PACED = [GEN0_THRESHOLD, 10, PACED_OLDEST_THRESHOLD]  # 10: CPython's own


def _thresholds(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> list[float]:
    return [samples[("mtgateway_gc_threshold", (("generation", str(g)),))] for g in range(3)]


def test_a_console_process_freezes_start_up_and_times_its_collections(tmp_path: Path) -> None:
    with console_process(_config(tmp_path), dict(os.environ)) as console:
        samples = _scrape(console.url, tmp_path / "data")
    assert samples[("mtgateway_gc_frozen_objects", ())] > 10_000
    assert _thresholds(samples) == _PACED
    # tune_gc's own full collection, once the console served, was timed
    assert samples[("mtgateway_gc_pause_seconds_count", (("generation", "2"),))] >= 1


@pytest.mark.not_on_windows("so-reuseport")
def test_every_process_of_an_instance_freezes_its_start_up(
        tmp_path: Path, postgres: PostgresServer) -> None:
    """Eight scrapes on new connections, spread by the kernel over both processes (all eight
    on one of two: under 1 %): every one answers from a process that froze its start-up and
    paces its collector."""
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": postgres.new_database()}
    with console_process(_config(tmp_path, processes=2), env) as console:
        scrapes = [_scrape(console.url, tmp_path / "data") for _ in range(8)]
    frozen = [s[("mtgateway_gc_frozen_objects", ())] for s in scrapes]
    assert min(frozen) > 10_000, frozen
    assert all(_thresholds(s) == _PACED for s in scrapes)
