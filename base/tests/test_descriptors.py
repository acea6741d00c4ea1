"""The arithmetic of round-4 T4-F7 (``mtgateway_base/descriptors.py``): the soft open-file
limit raised only as far as the budget needs and the hard limit allows, the budget capped
when it cannot be, and a start refused when not one connection fits."""

from __future__ import annotations

import logging

import pytest

from mtgateway_base.descriptors import DescriptorPlan, DescriptorsTooFew, fit_connections, plan

INF = -1  # stands for RLIM_INFINITY


@pytest.mark.parametrize(("wanted", "soft", "hard", "expected"), [
    (512, 20_000, 20_000, DescriptorPlan(None, 512)),  # enough already: untouched
    (512, 1088, 1088, DescriptorPlan(None, 512)),  # exactly enough
    (512, INF, INF, DescriptorPlan(None, 512)),
    (512, 256, 4096, DescriptorPlan(1088, 512)),  # raised just as far as needed
    (512, 256, INF, DescriptorPlan(1088, 512)),
    (512, 256, 600, DescriptorPlan(600, 268)),  # raised to the hard limit, then capped
    (512, 256, 256, DescriptorPlan(None, 96)),  # nothing to raise: (256 - 64) // 2
    (256, 256, 256, DescriptorPlan(None, 96)),
    (10, 70, 70, DescriptorPlan(None, 3)),
])
def test_plan(wanted: int, soft: int, hard: int, expected: DescriptorPlan) -> None:
    assert plan(wanted, 64, soft, hard, INF) == expected


def test_no_room_for_one_connection_is_refused() -> None:
    with pytest.raises(DescriptorsTooFew, match=r"open-file limit \(65\).*ulimit -n 1088"):
        plan(512, 64, 65, 65, INF)


@pytest.mark.not_on_windows("rlimit")
def test_fit_connections_raises_then_caps_when_the_raise_is_refused(
        caplog: pytest.LogCaptureFixture) -> None:
    """The raise is asked for; a system refusing it (macOS caps an unlimited hard limit at
    kern.maxfilesperproc) leaves the soft limit, and the budget is capped with a warning."""
    caplog.set_level(logging.INFO, logger="mtgateway_base.descriptors")
    asked: list[tuple[int, int]] = []

    def accept(soft: int, hard: int) -> None:
        asked.append((soft, hard))

    assert fit_connections(512, "[console] max_connections", limits=lambda: (256, 4096),
                           set_soft=accept) == 512
    assert asked == [(1088, 4096)]
    assert "raised the open-file limit from 256 to 1088" in caplog.text

    def refuse(soft: int, hard: int) -> None:
        raise ValueError("not allowed")

    caplog.clear()
    assert fit_connections(512, "[console] max_connections", limits=lambda: (256, 4096),
                           set_soft=refuse) == 96
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "cannot raise the open-file limit from 256 to 1088" in warnings[0]
    assert "serving at most 96 connections" in warnings[1] and "ulimit -n 1088" in warnings[1]
