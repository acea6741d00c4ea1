"""Validation at the JSON-RPC edge: strict pydantic models for method params.

Everything a client sends is checked here before anything reaches a terminal, and every
failure becomes :class:`InvalidParams` with a message that names the field. Strict mode because
the lax defaults are exactly the bugs the security policy lists: ``"0.1"`` coerced to a number,
``true`` taken as ``1``, ``NaN`` and ``Infinity`` accepted by a ``gt=0`` bound.

What MT5 users send is accepted in both its forms:

* enum parameters as the integer or the constant's full name (``"ORDER_TYPE_BUY"``);
* times as epoch seconds (int or float) or ISO-8601 strings. MT5 times are the broker server's
  wall clock written as epoch seconds ("UTC" in its docs), so an ISO time without an offset is
  read as that wall clock, and one with an offset is converted to UTC first (the rule is
  ``mtgateway_base/epoch.py``'s, which the MT4 Web API document's bodies take too).

:func:`parse` maps a call's positional or named params onto a model in field order, so
``symbol_info("EURUSD")`` and ``symbol_info(symbol="EURUSD")`` validate the same way.
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Annotated, Any, Final, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)

from mt5model.mt5 import ENUM_PREFIXES
from mtgateway_base.epoch import EpochSeconds, to_epoch_seconds

from .errors import InvalidParams

__all__ = [
    "MAX_SYMBOL_LENGTH",
    "SYMBOL_PATTERN",
    "EpochSeconds",
    "Params",
    "Symbol",
    "enum_param",
    "parse",
    "reusable",
    "to_epoch_seconds",
]

MAX_SYMBOL_LENGTH = 64

M = TypeVar("M", bound="Params")


class Params(BaseModel):
    """Base of every params model: strict, finite, closed, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


#: The models :func:`reusable` marks, and what :func:`parse` validated for them (at most
#: :data:`_REUSED_MAX` entries; full, it starts again).
_REUSABLE: Final[set[type[Params]]] = set()
_REUSED: Final[dict[tuple[Any, ...], Params]] = {}
_REUSED_MAX: Final = 1024


#: What a symbol name may hold (every method's ``symbol``, the WebSocket's ``symbols``).
SYMBOL_PATTERN: Final = re.compile(r"^[A-Za-z0-9._#+\-]+$")

Symbol = Annotated[str, Field(min_length=1, max_length=MAX_SYMBOL_LENGTH,
                              pattern=SYMBOL_PATTERN.pattern)]


def _enum_coercer(enum_cls: type[IntEnum]) -> Any:
    prefix = ENUM_PREFIXES[enum_cls]

    def coerce(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"expected an integer or a {prefix}* name")
        if isinstance(value, str):
            name = value.strip()
            if name.startswith(prefix):
                member = enum_cls.__members__.get(name[len(prefix):])
                if member is not None:
                    return int(member)
            raise ValueError(f"unknown {prefix}* name {value[:40]!r}")
        if isinstance(value, int):
            if value not in enum_cls._value2member_map_:
                raise ValueError(f"{value} is not a valid {prefix}* value")
            return value
        raise ValueError(f"expected an integer or a {prefix}* name")

    return coerce


def enum_param(enum_cls: type[IntEnum]) -> Any:
    """An annotated int accepting a member's value or its full constant name (its JSON
    schema, for ``rpc.discover``, lists both)."""
    prefix = ENUM_PREFIXES[enum_cls]
    schema = {"anyOf": [{"type": "integer", "enum": [int(m) for m in enum_cls]},
                        {"type": "string", "enum": [prefix + m.name for m in enum_cls]}],
              "description": f"MT5 {prefix}* by value or by name"}
    return Annotated[int, BeforeValidator(_enum_coercer(enum_cls)), WithJsonSchema(schema)]


def reusable(model: type[M]) -> type[M]:
    """Mark ``model`` (a class decorator) as one whose validation reads nothing but the
    params, so :func:`parse` may give a model it validated again for the same params when
    they are all strings (a frozen model is never changed): ``{"symbol": "EURUSD"}`` is
    checked against the symbol's pattern once, not on every call. Only strings: equal
    strings are the same value, where ``1 == 1.0 == True`` and ``0.0 == -0.0`` are not."""
    _REUSABLE.add(model)
    return model


def parse(model: type[M], args: tuple[Any, ...], kwargs: dict[str, Any]) -> M:
    """Validate a call's params (positional, in field order, or named) into ``model``.

    Raises:
        InvalidParams: too many positional params, a field given twice, or any field invalid;
            the message names each offending field.
    """
    if not args:  # params by name (the usual call): validate the object as it came, with the
        # model's validator itself (``model_validate`` adds argument handling, and a copy of
        # the params more, to every call: ``docs/history/performance-notes.md``, "Measured
        # costs by module")
        reuse: tuple[Any, ...] | None = None
        if model in _REUSABLE:
            for value in kwargs.values():
                if type(value) is not str:
                    break
            else:
                reuse = (model, *kwargs.items())
                kept = _REUSED.get(reuse)
                if kept is not None:
                    return kept  # type: ignore[return-value]  # (kept under its model)
        try:
            validated: M = model.__pydantic_validator__.validate_python(kwargs)
        except ValidationError as exc:
            return _retry_integral(model, kwargs, exc)
        if reuse is not None:
            if len(_REUSED) >= _REUSED_MAX:
                _REUSED.clear()
            _REUSED[reuse] = validated
        return validated
    # ``__pydantic_fields__``, not ``model_fields``: on the class pydantic 2.11+ routes the
    # latter through a deprecation-checking property, paid on every call (the cost:
    # ``docs/history/performance-notes.md``, "Measured costs by module").
    fields = list(model.__pydantic_fields__)
    if len(args) > len(fields):
        raise InvalidParams(f"expected at most {len(fields)} positional params "
                            f"({', '.join(fields) or 'none'}), got {len(args)}")
    data = dict(zip(fields, args, strict=False))
    for key, value in kwargs.items():
        if key in data:
            raise InvalidParams(f"{key}: given both by position and by name")
        data[key] = value
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return _retry_integral(model, data, exc)


def _retry_integral(model: type[M], data: dict[str, Any], exc: ValidationError) -> M:
    """``data`` validated again with every integral float (``1.0``) read as the integer it is,
    or ``exc`` as :class:`InvalidParams` when there is none or it still fails.

    JSON does not tell ``1.0`` from ``1``, and JSON Schema counts both as an ``integer``: a
    client whose encoder writes every number as a float (JavaScript's ``Number``, many JSON
    libraries) sends params the published document allows, which the strict models alone would
    refuse. Tried only after a failure, so a well-typed call pays nothing for it. A float field
    takes the integer unchanged (strict mode accepts an int for a float).

    When the call still fails with its integral floats read as integers, the faults said are
    that second pass's: the call's real ones. The first pass's would also blame every integral
    float the document allows (``deviation: 0.0`` beside a missing volume was refused as
    "request.deviation: Input should be a valid integer"). The message names fields and
    rules, never the values, so what it says of the call as sent and as read is the same.
    """
    normalized = _integral_as_int(data)
    if normalized is not data:
        try:
            return model.model_validate(normalized)
        except ValidationError as again:
            exc = again
    raise InvalidParams(_describe(exc)) from None


def _integral_as_int(value: Any) -> Any:
    """``value`` with each finite float holding an integer replaced by that ``int``, through
    lists and objects; ``value`` itself (the same object) when nothing changed."""
    if type(value) is float:
        return int(value) if value.is_integer() else value
    if type(value) is dict:
        items = {k: _integral_as_int(v) for k, v in value.items()}
        return items if any(items[k] is not value[k] for k in value) else value
    if type(value) is list:
        elements = [_integral_as_int(v) for v in value]
        return elements if any(a is not b for a, b in zip(elements, value, strict=True)) \
            else value
    return value


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in error["loc"]) or "params"
        message = error["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
