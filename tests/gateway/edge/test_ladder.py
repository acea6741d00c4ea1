"""``gateway.edge.ladder``: the refusals of ``/rpc`` in one order, whichever fault comes first.

The same ladder over sockets, through every door: ``tests/e2e/test_rpc_doors.py``.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from gateway.config import ServerConfig
from gateway.edge.ladder import body_refusal, head_refusal, is_json
from gateway.errors import (
    BODY_TIMEOUT,
    MALFORMED_REQUEST,
    MISDIRECTED,
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
    "content_type": "application/json", "content_length": 10,
}
#: The header-block rungs in order: what each changes, and what it is refused with.
RUNGS: list[tuple[dict[str, Any], HttpRefusal]] = [
    ({"malformed": True}, MALFORMED_REQUEST),
    ({"hosts": ["evil.example"]}, MISDIRECTED),
    ({"origin": "https://evil.example"}, ORIGIN_REFUSED),
    ({"query_keys": ["access_token"]}, TOKEN_IN_URL),
    ({"method": "GET"}, USE_POST),
    ({"content_type": "text/plain"}, UNSUPPORTED_MEDIA_TYPE),
    ({"content_length": 2049}, body_too_large(2048)),
]


def test_a_good_head_passes() -> None:
    assert head_refusal(SERVER, **GOOD) is None


@pytest.mark.parametrize("earlier, later", list(itertools.combinations(RUNGS, 2)))
def test_the_earlier_rung_refuses_first(earlier: tuple[dict[str, Any], HttpRefusal],
                                        later: tuple[dict[str, Any], HttpRefusal]) -> None:
    assert head_refusal(SERVER, **{**GOOD, **later[0], **earlier[0]}) == earlier[1]
    assert head_refusal(SERVER, **{**GOOD, **later[0]}) == later[1]


def test_the_body_rungs_in_order() -> None:
    assert body_refusal(SERVER, timed_out=False, malformed=False, too_large=False) is None
    assert body_refusal(SERVER, timed_out=True, malformed=True, too_large=True) == BODY_TIMEOUT
    assert body_refusal(SERVER, timed_out=False, malformed=True,
                        too_large=True) == MALFORMED_REQUEST
    assert body_refusal(SERVER, timed_out=False, malformed=False,
                        too_large=True) == body_too_large(2048)


@pytest.mark.parametrize("value, expected", [
    ("application/json", True), ("application/json; charset=utf-8", True),
    ("Application/JSON", True), (" application/json ;x=1", True), ("text/plain", False),
    ("application/json-seq", False), (None, False), ("", False)])
def test_json_is_judged_by_one_parse(value: str | None, expected: bool) -> None:
    assert is_json(value) is expected
