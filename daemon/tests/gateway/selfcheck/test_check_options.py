"""``mtgateway check``'s waits as options: what an owner runs keeps its defaults (5 s for the
EA to connect, 20 spaced calls), a test may shorten them, and a count of calls below one, or a
wait of no time, is refused with a clear error rather than a report without its spaced row; and
no check waits past its bound."""

from __future__ import annotations

import asyncio

import pytest

from gateway.cli import build_parser
from gateway.selfcheck import SPACED_CALLS, _guarded
from gateway.selfcheck.probe import Probe
from gateway.selfcheck.report import FAIL, PASS
from mtgateway.aio import AsyncClient


def test_the_defaults_are_the_commands_own() -> None:
    args = build_parser().parse_args(["check"])
    assert (args.wait, args.spaced_calls) == (5.0, SPACED_CALLS) == (5.0, 20)


def test_a_shorter_wait_and_fewer_calls_are_taken() -> None:
    args = build_parser().parse_args(["check", "--wait", "0.5", "--spaced-calls", "3"])
    assert (args.wait, args.spaced_calls) == (0.5, 3)


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_no_spaced_call_is_refused(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["check", "--spaced-calls", value])
    assert exited.value.code == 2
    assert "expected a number of calls, 1 or more" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "soon", "86400"])
def test_a_wait_of_no_time_is_refused(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["check", "--wait", value])
    assert exited.value.code == 2
    assert "expected seconds above 0" in capsys.readouterr().err


async def test_a_check_that_never_ends_is_stopped_and_failed() -> None:
    """A check whose call is never answered fails at its bound, naming it, instead of holding
    ``mtgateway check`` forever (a Windows check once waited 20 minutes for nothing); the
    bound here is no time at all, so the test waits on nothing."""
    never = asyncio.Event()

    async def unanswered(p: Probe) -> tuple[str, str]:
        await never.wait()
        return PASS, "answered"

    check = await _guarded("quotes", unanswered, Probe(AsyncClient(), {}), 0)
    assert (check.name, check.outcome) == ("quotes", FAIL)
    assert check.evidence == "stopped: no outcome in 0 s (a call went unanswered)"


async def test_a_check_that_ends_within_its_bound_keeps_its_outcome() -> None:
    async def answered(p: Probe) -> tuple[str, str]:
        return PASS, "answered"

    check = await _guarded("quotes", answered, Probe(AsyncClient(), {}), 60)
    assert (check.outcome, check.evidence) == (PASS, "answered")
