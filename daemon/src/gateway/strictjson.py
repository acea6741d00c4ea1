"""Strict JSON for request bodies: no NaN/Infinity, no duplicate object keys, bounded depth.

Two attacks this stops:

* **Duplicate keys.** orjson keeps the last of duplicate keys, so ``{"volume":0.01,
  "volume":0.05}`` could mean one thing to a proxy or log reader that takes the first and
  another to us. Every object of the whole request is checked, however it is spaced.
* **Deep nesting.** orjson parses up to 1024 levels, but Python code walking the result (ours,
  pydantic's) recurses and dies with ``RecursionError`` near 1000 levels:
  an HTTP 500 and a traceback per request. Past :data:`MAX_DEPTH` levels a request is refused
  before anything walks it. No JSON-RPC call of the contract nests deeper than a few levels.

The common case costs two C-speed byte counts beside one walk of the parsed objects (which
also measures the depth). When every colon in the body follows a quote, every key's occurrence
in the text ends in ``":``, so the text holds at least as many ``":`` as the parsed objects
hold keys: equal counts prove there is no duplicate (a duplicate adds an occurrence the parse
dropped; a ``":`` inside a string only adds to the text's side). Otherwise -- some colon not
right after a quote (whitespace before a key's colon, or a colon inside a string value), or
unequal counts -- the body is re-read by the exact parser with an ``object_pairs_hook``.
(Counting ``":`` alone, as this check once did, let ``"volume":0.01,"volume" :0.05`` through.)
"""

from __future__ import annotations

import json
from typing import Any, Final

import orjson

__all__ = ["MAX_DEPTH", "DuplicateKey", "TooDeep", "loads_strict"]

#: Deepest nesting of arrays and objects a request may have (the contract needs about 4).
MAX_DEPTH: Final = 32


class TooDeep(ValueError):
    """The JSON nests arrays and objects deeper than :data:`MAX_DEPTH`."""


class DuplicateKey(ValueError):
    """An object of the JSON holds one key twice."""


def loads_strict(body: bytes | str) -> Any:
    """Parse a request body as strict JSON.

    Raises:
        TooDeep: nested deeper than :data:`MAX_DEPTH` (valid JSON; a request we refuse).
        DuplicateKey: an object repeats a key.
        ValueError: invalid JSON or a non-finite number (orjson's ``JSONDecodeError``).
    """
    raw = body.encode() if isinstance(body, str) else body
    obj = orjson.loads(raw)
    if type(obj) is dict:  # a lone request: its own keys here, and a flat ``params`` object
        keys = len(obj)    # too (the usual call): a call only for what nests deeper
        for value in obj.values():
            if type(value) is dict:
                keys += len(value)
                for inner in value.values():
                    if type(inner) is dict or type(inner) is list:
                        keys += _count_keys(inner, 3)
            elif type(value) is list:
                keys += _count_keys(value, 2)
    else:
        keys = _count_keys(obj, 1) if type(obj) is list else 0
    key_ends = raw.count(b'":')
    if keys != key_ends or raw.count(b":") != key_ends:
        json.loads(raw, object_pairs_hook=_no_duplicates)
    return obj


def _count_keys(obj: Any, depth: int) -> int:
    """Keys of every object in ``obj`` (a dict or list at nesting level ``depth``).

    ``type() is``: orjson makes exact dicts and lists, and this runs on every request.

    Raises:
        TooDeep: past :data:`MAX_DEPTH` levels (checked before recursing, so the walk never
            gets near Python's recursion limit).
    """
    if depth > MAX_DEPTH:
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels")
    count = 0
    if type(obj) is dict:
        count = len(obj)
        for value in obj.values():
            if type(value) is dict or type(value) is list:
                count += _count_keys(value, depth + 1)
    else:
        for value in obj:
            if type(value) is dict or type(value) is list:
                count += _count_keys(value, depth + 1)
    return count


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(f"duplicate key {key[:40]!r}")
        result[key] = value
    return result
