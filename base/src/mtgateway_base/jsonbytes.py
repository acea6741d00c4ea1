"""JSON as bytes, the standard library's bytes for the same settings, with its encoder made once.

``json.dumps`` builds a ``JSONEncoder`` and its C encoder on every call, in Python, before the
C call that encodes (a device call encodes its answer, and a record its canonical form, on
every call). :func:`encoder` makes the C encoder
once for a set of ``json.dumps`` settings and gives back a function that runs it alone: the
same bytes as ``json.dumps(obj, **settings).encode("utf-8")``, checked when it is made (where
the interpreter has no C encoder, or it answers otherwise, ``json.dumps`` itself is used).

Not for objects that may hold themselves: the circular-reference check is off (a cycle ends
in ``RecursionError`` rather than ``ValueError``); what is encoded here is built per call
from plain values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _json_encoder
from typing import Any, Final

__all__ = ["encoder"]

#: What the C encoder is checked on when made: every kind of value it writes.
_SAMPLE: Final = {"b": [1, -2, 3.5, True, False, None], "a": "é\n\"\\\u2028\x01", "c": {}}


def _refuse(obj: Any) -> Any:
    """What ``JSONEncoder.default`` does with a value JSON cannot hold."""
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def encoder(*, sort_keys: bool = False, separators: tuple[str, str] = (", ", ": "),
            ensure_ascii: bool = True, allow_nan: bool = True) -> Callable[[Any], bytes]:
    """A function giving ``json.dumps(obj, sort_keys=..., separators=..., ensure_ascii=...,
    allow_nan=...).encode("utf-8")`` for ``obj``.

    Raises (from the function made):
        TypeError: a value JSON cannot hold.
        ValueError: NaN or an infinity with ``allow_nan`` False.
    """
    item_separator, key_separator = separators

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, sort_keys=sort_keys, separators=separators,
                          ensure_ascii=ensure_ascii, allow_nan=allow_nan).encode("utf-8")

    make = getattr(_json_encoder, "c_make_encoder", None)
    if make is None:
        return dumps
    strings = _json_encoder.encode_basestring_ascii if ensure_ascii \
        else _json_encoder.encode_basestring
    try:
        c_encoder = make(None, _refuse, strings, None, key_separator, item_separator,
                         sort_keys, False, allow_nan)
        made = "".join(c_encoder(_SAMPLE, 0)).encode("utf-8")
    except (TypeError, ValueError):  # another interpreter's C encoder, another signature
        return dumps
    if made != dumps(_SAMPLE):
        return dumps
    join = "".join

    def encode(obj: Any) -> bytes:
        return join(c_encoder(obj, 0)).encode("utf-8")

    return encode
