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

:func:`refusal` binds a call to a function's signature (``inspect.Signature.bind``, so a
``TypeError`` raised inside a method is never mistaken for one of binding), then checks each
argument given against its parameter's annotation (:data:`KINDS`), and answers the package's
error, with Python's own reason kept in ``last_error().data["reason"]``. The kinds are what
the package's C functions take: an integer is an ``int`` or anything with ``__index__``
(numpy's integers), never a float or text; a flag is anything, read for its truth; a number is
anything with ``__float__`` or ``__index__`` but text; a time is a ``datetime`` (pandas'
``Timestamp`` is one) or a number of seconds; a request is a mapping (or the package's own
``TradeRequest``). ``None`` for an
optional parameter is the same as leaving it out.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from . import constants as c
from .errors import LastError, local_error

__all__ = [
    "INVALID_ARGUMENTS",
    "INVALID_ARGUMENT_COUNT",
    "KINDS",
    "invalid_argument",
    "refusal",
]

#: The package's texts (its C extension's) for the two kinds of refused argument lists.
INVALID_ARGUMENTS: Final = "Invalid arguments"
INVALID_ARGUMENT_COUNT: Final = "Invalid number of arguments"

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


def _takes(parameter: inspect.Parameter, value: object) -> bool:
    """Whether ``parameter`` takes ``value``, by its annotation (a string: every table module
    says ``from __future__ import annotations``)."""
    annotation = parameter.annotation
    if not isinstance(annotation, str):
        annotation = getattr(annotation, "__name__", "")
    members = [member.strip() for member in annotation.split("|")]
    return any(KINDS.get(member, _anything)(value) for member in members if member != "None")


def refusal(name: str, signature: inspect.Signature, args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> LastError | None:
    """The package's error for calling ``name`` (with ``signature``) with ``args`` and
    ``kwargs``, or None when they bind and each has a type its parameter takes."""
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
    return None
