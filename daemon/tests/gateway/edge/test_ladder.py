"""``gateway.edge.ladder``: the refusals of ``/rpc`` in one order, whichever fault comes first.

The same ladder over sockets, through every door: ``daemon/tests/e2e/test_rpc_doors.py``.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from gateway.config import ServerConfig
from gateway.edge.head import RequestHead
from gateway.edge.ladder import body_refusal, content_refusal, edge_refusal, head_refusal, is_json
from gateway.errors import (
    BODY_TIMEOUT,
    MALFORMED_REQUEST,
    MISDIRECTED,
    NOT_ONE_HOST,
    ORIGIN_REFUSED,
    TOKEN_IN_URL,
    UNSUPPORTED_MEDIA_TYPE,
    USE_POST,
    HttpRefusal,
    body_too_large,
)

SERVER = ServerConfig(max_body_bytes=2048)
GOOD: dict[str, Any] = {
    "malformed": False, "hosts": ["127.0.0.1:8710"], "target": "/rpc", "origin": None,
    "query_keys": (), "peer": "127.0.0.1", "method": "POST",
    "content_type": "application/json", "content_length": 10, "authorization": None,
}
#: The header-block rungs in order: what each changes, and what it is refused with.
RUNGS: list[tuple[dict[str, Any], HttpRefusal]] = [
    ({"malformed": True}, MALFORMED_REQUEST),
    ({"hosts": ["127.0.0.1", "evil.example"]}, NOT_ONE_HOST),
    ({"target": "http://evil.example/rpc"}, MISDIRECTED),
    ({"origin": "https://evil.example"}, ORIGIN_REFUSED),
    ({"query_keys": ["access_token"]}, TOKEN_IN_URL),
    ({"method": "GET"}, USE_POST),
    ({"content_type": "text/plain"}, UNSUPPORTED_MEDIA_TYPE),
    ({"content_length": 2049}, body_too_large(2048)),
]


def head(**parts: Any) -> RequestHead:
    return RequestHead(**{**GOOD, **parts})


def test_a_good_head_passes() -> None:
    assert head_refusal(SERVER, head()) is None


@pytest.mark.parametrize("earlier, later", list(itertools.combinations(RUNGS, 2)))
def test_the_earlier_rung_refuses_first(earlier: tuple[dict[str, Any], HttpRefusal],
                                        later: tuple[dict[str, Any], HttpRefusal]) -> None:
    assert head_refusal(SERVER, head(**{**later[0], **earlier[0]})) == earlier[1]
    assert head_refusal(SERVER, head(**later[0])) == later[1]


@pytest.mark.parametrize("hosts", [[], ["127.0.0.1", "127.0.0.1"], ["evil.example", "x"]])
def test_not_exactly_one_host_is_misdirected_and_closes(hosts: list[str]) -> None:
    """Rung 2a (once the guard's and the llhttp edge's own check, outside the ladder): 421
    with the Host rule's words, and the connection closes."""
    refusal = edge_refusal(SERVER, head(hosts=hosts))
    assert refusal == NOT_ONE_HOST
    assert (refusal.status, refusal.error) == (MISDIRECTED.status, MISDIRECTED.error)
    assert refusal.headers == {"Connection": "close"}
    assert edge_refusal(SERVER, head(hosts=["evil.example"])) == MISDIRECTED


def test_the_body_rungs_in_order() -> None:
    assert body_refusal(2048, timed_out=False, malformed=False, too_large=False) is None
    assert body_refusal(2048, timed_out=True, malformed=True, too_large=True) == BODY_TIMEOUT
    assert body_refusal(2048, timed_out=False, malformed=True,
                        too_large=True) == MALFORMED_REQUEST
    assert body_refusal(1024, timed_out=False, malformed=False,
                        too_large=True) == body_too_large(1024)


def test_the_content_rungs_take_the_doors_limit() -> None:
    """Rungs 6-7 for a door with its own limit (the client challenge's 1 KiB)."""
    assert content_refusal(head(content_length=1024), 1024) is None
    assert content_refusal(head(content_length=1025), 1024) == body_too_large(1024)
    assert content_refusal(head(content_type=None, content_length=5000),
                           1024) == UNSUPPORTED_MEDIA_TYPE


@pytest.mark.parametrize("value, expected", [
    ("application/json", True), ("application/json; charset=utf-8", True),
    ("Application/JSON", True), (" application/json ;x=1", True), ("text/plain", False),
    ("application/json-seq", False), (None, False), ("", False)])
def test_json_is_judged_by_one_parse(value: str | None, expected: bool) -> None:
    assert is_json(value) is expected
