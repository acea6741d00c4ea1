"""The approval state machine: code format, lifetime, tries, voiding and resend limits."""

from __future__ import annotations

import pytest

from mtgateway_base.wire.api import normalize_code
from mtgateway_console.devices import (
    CODE_TTL_S,
    MAX_TRIES,
    Approval,
    check_send,
    check_token_send,
    format_code,
    has_live_code,
    issue_code,
    new_code,
    verify_code,
)

PEPPER = b"p" * 32
T0 = 1_000_000


def _pending(code: str = "12345678", at: int = T0) -> Approval:
    fresh = Approval("apr_1", "o@example.com", "D" * 26, "pending", created_at=at)
    return issue_code(fresh, code, PEPPER, at)


def test_codes_are_eight_digits_shown_in_two_groups() -> None:
    """randbelow(10**8) is zero-padded to 8 digits and shown as ``1234 5678``."""
    assert new_code(lambda n: 42) == "00000042"
    assert format_code("12345678") == "1234 5678"
    assert normalize_code(" 1234 5678 ") == "12345678" == normalize_code("1234-5678")
    assert normalize_code("1234567") is None and normalize_code("abcdefgh") is None


def test_the_right_code_approves_once() -> None:
    """The code approves; afterwards there is nothing pending to verify."""
    approval, outcome = verify_code(_pending(), "1234 5678", PEPPER, T0 + 10)
    assert outcome.approved and approval.status == "approved" and approval.approved_at == T0 + 10
    assert approval.code_mac is None
    _, again = verify_code(approval, "12345678", PEPPER, T0 + 11)
    assert again.reason == "no_pending_approval"


def test_only_a_mac_bound_to_device_and_approval_is_kept() -> None:
    """The stored MAC is not the code and differs for another device with the same code."""
    approval = _pending()
    other = issue_code(Approval("apr_1", "o@example.com", "E" * 26, "pending", T0),
                       "12345678", PEPPER, T0)
    assert approval.code_mac is not None and "12345678" not in approval.code_mac
    assert approval.code_mac != other.code_mac


def test_five_wrong_tries_void_the_code() -> None:
    """Each wrong try costs one; after the fifth even the right code is refused."""
    approval = _pending()
    lefts = []
    for _ in range(MAX_TRIES):
        approval, outcome = verify_code(approval, "00000000", PEPPER, T0 + 1)
        assert outcome.reason == "wrong_code"
        lefts.append(outcome.tries_left)
    assert lefts == [4, 3, 2, 1, 0]
    _, outcome = verify_code(approval, "12345678", PEPPER, T0 + 2)
    assert not outcome.approved and outcome.reason == "code_voided"
    assert not has_live_code(approval, T0 + 2)


def test_the_code_expires_after_ten_minutes() -> None:
    """At issue + 600 s the right code answers ``code_expired``."""
    approval = _pending()
    assert has_live_code(approval, T0 + CODE_TTL_S - 1)
    _, outcome = verify_code(approval, "12345678", PEPPER, T0 + CODE_TTL_S)
    assert outcome.reason == "code_expired" and not has_live_code(approval, T0 + CODE_TTL_S)


def test_a_new_code_voids_the_old_one() -> None:
    """After a resend only the newest code works, with a full set of tries."""
    approval = _pending("11111111")
    approval, _ = verify_code(approval, "00000000", PEPPER, T0 + 1)
    approval = issue_code(approval, "22222222", PEPPER, T0 + 60)
    assert approval.tries_left == MAX_TRIES
    _, old = verify_code(approval, "11111111", PEPPER, T0 + 61)
    assert old.reason == "wrong_code"
    _, new = verify_code(approval, "22222222", PEPPER, T0 + 61)
    assert new.approved


def test_an_approved_approval_takes_no_new_code() -> None:
    """Issuing a code for a completed approval is a programming error."""
    done, _ = verify_code(_pending(), "12345678", PEPPER, T0)
    with pytest.raises(ValueError):
        issue_code(done, "1", PEPPER, T0)


def test_resends_are_sixty_seconds_apart() -> None:
    """A send within 60 s of the last is refused with the seconds left."""
    assert check_send([], [], T0).allowed
    decision = check_send([T0], [T0], T0 + 45)
    assert not decision.allowed and decision.retry_after_s == 15
    assert check_send([T0], [T0], T0 + 60).allowed


def test_at_most_five_sends_an_hour_per_device() -> None:
    """The sixth send within an hour waits until the oldest of the five is an hour old."""
    sends = [T0 + 60 * i for i in range(5)]
    decision = check_send(sends, sends, T0 + 600)
    assert not decision.allowed and decision.retry_after_s == 3000
    assert check_send(sends, sends, T0 + 3600).allowed


def test_at_most_ten_codes_a_day_per_owner() -> None:
    """An owner's eleventh code in 24 h waits, whichever devices asked."""
    owner_sends = [T0 + 3600 * i for i in range(10)]
    decision = check_send([], owner_sends, T0 + 3600 * 10)
    assert not decision.allowed and decision.retry_after_s == 3600 * 14
    assert check_send([], owner_sends, T0 + 86400).allowed


def test_at_most_five_codes_a_day_per_token() -> None:
    """A token's lookups cause at most five codes in a rolling day, whichever devices (fresh
    keys are free) presented it."""
    token_sends = [T0 + 600 * i for i in range(5)]
    decision = check_token_send(token_sends, T0 + 3000)
    assert not decision.allowed and decision.retry_after_s == 86400 - 3000
    assert check_token_send(token_sends[1:], T0 + 3000).allowed
    assert check_token_send(token_sends, T0 + 86400).allowed
