"""The package's answer to arguments it cannot take: a failed call, never a ``TypeError``.

The ``MetaTrader5`` package's functions are C functions that read their arguments
themselves, so an unknown keyword, too many or too few arguments, or an argument of the wrong
type is not Python's ``TypeError`` but a failed call: ``None`` (``False`` for the boolean
functions) with ``last_error()`` one of three texts its C extension
(``_core.cp311-win_amd64.pyd``, version 5.0.6231) holds:

* ``(-2, 'Invalid arguments')``: a keyword the function does not take, or one given twice (a
  terminal's answer to ``history_deals_get`` with keywords it does not take; pymt5adapter's
  README shows it). Code written against terminals relies on it: an agent server's history
  tool passes ``symbol=`` and shows the ``None`` as an empty list.
* ``(-2, 'Invalid number of arguments')``: too many positional arguments, or a required one
  missing.
* ``(-2, 'Invalid "login" argument')``: an argument of a type the parameter does not take,
  named. A terminal's run log shows it for ``initialize(path, login, password, server)`` with
  the login read as text from a ``.env`` file, and the published advice for that mistake keys
  on this text.
* ``(-2, 'Unnamed arguments not allowed')``: a positional argument to a function that takes
  its selection by keyword only (``positions_get``, ``orders_get``: ``_core``'s docstrings
  name only keyword forms, ``positions_get([symbol="SYMBOL"],[ticket=TICKET],
  [group="GROUP"])``, and a public project's notes from a build-6231 terminal record
  ``positions_get("Ger40")`` and ``positions_get(None, ticket=...)`` answering ``None``).

A trade request is read field by field (:func:`request_refusal`), as the package's C code
fills an ``MqlTradeRequest`` from the dict: a field it cannot read is ``(-2, 'Invalid
"volume" argument')``, naming the field (``_core`` holds one such text per ``TradeRequest``
field; an agent's incident notes show it for a close whose ``volume`` was ``None``).

:func:`refusal` binds a call to a function's signature (``inspect.Signature.bind``, so a
``TypeError`` raised inside a method is never mistaken for one of binding), then checks each
argument given against its parameter's annotation (:data:`KINDS`), and answers the package's
error, with Python's own reason kept in ``last_error().data["reason"]``. The kinds are what
the package's C functions take: an integer is an ``int`` or anything with ``__index__``
(numpy's integers), never a float or text; a flag is anything, read for its truth; a number is
anything with ``__float__`` or ``__index__`` but text; a time is a ``datetime`` (pandas'
``Timestamp`` is one) or a number of seconds; a request is a mapping (or the package's own
``TradeRequest``). ``None`` for an
optional parameter is the same as leaving it out. A function may add its own rule on the
arguments bound (a ``check``: the history reads need a range, a ticket or a position).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from . import constants as c
from . import records as r
from .errors import LastError, local_error

__all__ = [
    "COMMENT_MAX",
    "INVALID_ARGUMENTS",
    "INVALID_ARGUMENT_COUNT",
    "KINDS",
    "REQUEST_FIELDS",
    "UNNAMED_NOT_ALLOWED",
    "Check",
    "invalid_argument",
    "refusal",
    "request_refusal",
]

#: The package's texts (its C extension's) for the kinds of refused argument lists.
INVALID_ARGUMENTS: Final = "Invalid arguments"
INVALID_ARGUMENT_COUNT: Final = "Invalid number of arguments"
UNNAMED_NOT_ALLOWED: Final = "Unnamed arguments not allowed"

#: A function's own rule on its bound arguments (by name, only those given): the package's
#: error for them, or None when they are a call it takes.
Check = Callable[[str, Mapping[str, Any]], LastError | None]

#: How ``Signature.bind`` words a wrong count (every other refusal names an argument).
_COUNT_REASONS: Final = ("missing a required argument", "too many positional arguments")


def invalid_argument(name: str) -> str:
    """The package's text for an argument of a type its parameter does not take."""
    return f'Invalid "{name}" argument'


def _text(value: object) -> bool:
    return isinstance(value, str)


def _integer(value: object) -> bool:
    return hasattr(value, "__index__") and not isinstance(value, str | bytes)


def _number(value: object) -> bool:
    return (hasattr(value, "__float__") or _integer(value)) and not isinstance(value,
                                                                                str | bytes)


def _time(value: object) -> bool:
    return isinstance(value, datetime) or _number(value)


def _request(value: object) -> bool:
    return isinstance(value, Mapping) or (isinstance(value, tuple) and hasattr(value, "_asdict"))


def _anything(value: object) -> bool:
    return True


#: What an argument may be, by the type its parameter's annotation names (``str``, ``int``,
#: ``float``, ``bool``, ``Time``, ``Request``; of a union, any of its members): a type not
#: listed (the gateway's own ``state_file``, which also takes a path) is not checked.
KINDS: Final[dict[str, Callable[[object], bool]]] = {
    "str": _text,
    "int": _integer,
    "float": _number,
    "bool": _anything,  # a flag is read for its truth, as C reads a predicate argument
    "Time": _time,
    "Request": _request,
}


#: The longest ``comment`` the package takes in a trade request: ``MqlTradeRequest.comment``
#: holds 31 characters and its terminator; a longer one is refused by name, not cut.
COMMENT_MAX: Final = 31


def _comment(value: object) -> bool:
    return isinstance(value, str) and len(value) <= COMMENT_MAX


#: How the package's C code reads each ``TradeRequest`` field from a request dict, in the
#: record's order (its annotations: ``int`` fields as C integers, which take an ``int`` or
#: anything with ``__index__``, never a float, text or a constant's name; ``float`` fields as
#: C doubles, which take any number but text; ``symbol`` as text and ``comment`` as text of
#: at most :data:`COMMENT_MAX` characters). ``expiration`` is a time, as every time argument
#: (a ``datetime`` or epoch seconds). ``None`` is never read: a field is given or left out.
REQUEST_FIELDS: Final[dict[str, Callable[[object], bool]]] = {
    name: (_comment if name == "comment" else _time if name == "expiration"
           else KINDS[kind])
    for name, kind in r.TradeRequest.__annotations__.items()
    if name in r.TradeRequest.__match_args__}


def request_refusal(request: object) -> LastError | None:
    """The package's error for a trade request one of whose fields it cannot read (the first
    such field in ``TradeRequest`` order), or None. Keys that are no ``TradeRequest`` field
    are not read here: the package ignores them (the client warns, ``calls.py``)."""
    if isinstance(request, tuple) and hasattr(request, "_asdict"):
        request = request._asdict()
    if not isinstance(request, Mapping):
        return None  # the request parameter's own kind refused it already
    for name, reads in REQUEST_FIELDS.items():
        if name in request and not reads(request[name]):
            value = request[name]
            return local_error(c.RES_E_INVALID_PARAMS, invalid_argument(name), {
                "reason": f"request[{name!r}]: the package cannot read "
                          f"{type(value).__name__} {value!r:.40} as this field"})
    return None


def _takes(parameter: inspect.Parameter, value: object) -> bool:
    """Whether ``parameter`` takes ``value``, by its annotation (a string: every table module
    says ``from __future__ import annotations``)."""
    annotation = parameter.annotation
    if not isinstance(annotation, str):
        annotation = getattr(annotation, "__name__", "")
    members = [member.strip() for member in annotation.split("|")]
    return any(KINDS.get(member, _anything)(value) for member in members if member != "None")


def _keywords_only(signature: inspect.Signature) -> bool:
    """Whether a function takes arguments, all of them by keyword only."""
    kinds = {parameter.kind for parameter in signature.parameters.values()}
    return kinds == {inspect.Parameter.KEYWORD_ONLY}


def refusal(name: str, signature: inspect.Signature, args: tuple[Any, ...],
            kwargs: dict[str, Any], check: Check | None = None) -> LastError | None:
    """The package's error for calling ``name`` (with ``signature``) with ``args`` and
    ``kwargs``, or None when they bind, each has a type its parameter takes, and ``check``
    (the function's own rule) takes them."""
    if args and _keywords_only(signature):
        return local_error(c.RES_E_INVALID_PARAMS, UNNAMED_NOT_ALLOWED, {
            "reason": f"{name}(): takes its arguments by keyword only, got {len(args)} "
                      "positional"})
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        reason = str(exc)
        text = INVALID_ARGUMENT_COUNT if reason.startswith(_COUNT_REASONS) else INVALID_ARGUMENTS
        return local_error(c.RES_E_INVALID_PARAMS, text, {"reason": f"{name}(): {reason}"})
    for parameter_name, value in bound.arguments.items():
        parameter = signature.parameters[parameter_name]
        if value is None and parameter.default is None:
            continue
        if not _takes(parameter, value):
            return local_error(c.RES_E_INVALID_PARAMS, invalid_argument(parameter_name), {
                "reason": f"{name}(): {parameter_name} must be {parameter.annotation}, not "
                          f"{type(value).__name__}"})
    return None if check is None else check(name, bound.arguments)
