"""``gateway.edge.tokenshare``: each token's work and streams, each under its bound.

Over sockets, against a real daemon: ``daemon/tests/e2e/test_token_share.py``.
"""

from __future__ import annotations

import pytest

from gateway.edge.tokenshare import TokenShare, work_bound
from gateway.errors import TOO_MANY_REQUESTS, TOO_MANY_STREAMS, to_rpc_error, too_many_streams


@pytest.mark.parametrize(("budget", "bound"), [(256, 128), (8, 4), (3, 1), (1, 1)])
def test_a_tokens_work_is_half_the_budget_and_at_least_one(budget: int, bound: int) -> None:
    assert work_bound(budget) == bound


def test_requests_are_bounded_per_token_and_given_back() -> None:
    share = TokenShare(8, 2)
    assert all(share.enter("a") for _ in range(4))
    assert not share.enter("a")  # refused: nothing taken
    assert share.held("a") == 4
    assert share.enter("b")  # another token has its own share
    share.leave("a")
    assert share.enter("a")
    for _ in range(4):
        share.leave("a")
    share.leave("b")
    assert share.work == {}  # nothing left behind for a token that holds nothing


def test_streams_are_bounded_apart_and_within_the_tokens_work() -> None:
    share = TokenShare(8, 2)
    one, two, three = object(), object(), object()
    assert share.open(one, "a") and share.open(two, "a")
    assert not share.open(three, "a")  # the stream bound
    share.close(two)
    assert share.held("a") == 1 and all(share.enter("a") for _ in range(3))
    assert not share.open(three, "a")  # a place among its streams, none in its work
    assert not share.enter("a")  # and its streams count in its work
    share.leave("a")
    assert share.open(three, "a")
    share.close(three)
    share.close(three)  # once only
    assert (share.streams, share.work) == ({"a": 1}, {"a": 3})


def test_a_stream_moves_to_another_token_only_within_its_bound() -> None:
    share = TokenShare(8, 1)
    mine, theirs = object(), object()
    assert share.open(mine, "a") and share.open(theirs, "b")
    assert not share.move(mine, "b")  # b is at its bound: mine stays a's
    assert share.streams == {"a": 1, "b": 1}
    share.close(theirs)
    assert share.move(mine, "b") and share.move(mine, "b")
    assert share.streams == {"b": 1} and share.work == {"b": 1}
    share.close(mine)
    assert (share.streams, share.work) == ({}, {})


def test_the_refusals_say_why_and_when_to_retry() -> None:
    for refusal, reason, retry in ((TOO_MANY_REQUESTS, "too_many_requests", "1"),
                                   (TOO_MANY_STREAMS, "too_many_streams", "30")):
        assert (refusal.status, refusal.reason, refusal.headers["Retry-After"]) == (
            429, reason, retry)
        assert refusal.error.code == -32005
        assert refusal.error.data == {"reason": reason, "retry_after_ms": int(retry) * 1000}
    assert to_rpc_error(too_many_streams()) == TOO_MANY_STREAMS.error
