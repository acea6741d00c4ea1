"""``mtgateway_base.jsonbytes``: the standard library's JSON bytes for the same settings, with
its C encoder made once, or ``json.dumps`` itself where there is none."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mtgateway_base import jsonbytes

VALUES: list[Any] = [{"b": [1, -2.5, True, None], "a": "é\n\"\\\u2028\x01"}, [], "x", 0,
                     {"nested": {"list": [{}, []]}}, 1e100]


@pytest.mark.parametrize("value", VALUES)
def test_the_bytes_json_response_writes(value: Any) -> None:
    assert jsonbytes.encoder()(value) == json.dumps(value).encode("utf-8")


@pytest.mark.parametrize("value", VALUES)
def test_the_canonical_settings(value: Any) -> None:
    settings: dict[str, Any] = {"sort_keys": True, "separators": (",", ":"),
                                "ensure_ascii": False, "allow_nan": False}
    assert jsonbytes.encoder(**settings)(value) == json.dumps(value, **settings).encode()


def test_what_json_cannot_hold_is_refused_as_json_dumps_refuses_it() -> None:
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        jsonbytes.encoder()({"x": {1}})
    with pytest.raises(ValueError):
        jsonbytes.encoder(allow_nan=False)([float("inf")])
    assert jsonbytes.encoder()([float("nan")]) == b"[NaN]"


def test_without_the_c_encoder_json_dumps_itself_is_used(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonbytes._json_encoder, "c_make_encoder", None)
    encode = jsonbytes.encoder(sort_keys=True)
    assert encode.__name__ == "dumps"
    assert encode({"b": 1, "a": "é"}) == b'{"a": "\\u00e9", "b": 1}'
