"""The package's answer to arguments it cannot take: a failed call, never a ``TypeError``.

The ``MetaTrader5`` package's functions are C functions that read their arguments
themselves, so an unknown keyword, or too many or too few arguments, is not Python's
``TypeError`` but a failed call: ``None`` (``False`` for the boolean functions) with
``last_error()`` ``(-2, 'Invalid arguments')``, the answer a terminal gave to
``history_deals_get`` with keywords it does not take (pymt5adapter's README shows it), or
``(-2, 'Invalid number of arguments')``; both texts are in its C extension
(``_core.cp311-win_amd64.pyd``, version 5.0.6231). Code written against terminals relies on it:
an agent server's history tool passes ``symbol=`` and shows the ``None`` as an empty list.

:func:`package_arguments` gives a client method that answer: it binds the call to the method's
signature first (``inspect.Signature.bind``, so a ``TypeError`` raised inside the method is
never mistaken for one of binding) and, when binding fails, answers the method's failure value
and records the error through the client's ``_refuse``, with Python's own reason kept in
``last_error().data["reason"]``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from . import constants as c
from .errors import LastError, local_error

__all__ = ["INVALID_ARGUMENTS", "INVALID_ARGUMENT_COUNT", "package_arguments", "refusal"]

#: The package's texts (its C extension's) for the two kinds of refused argument lists.
INVALID_ARGUMENTS = "Invalid arguments"
INVALID_ARGUMENT_COUNT = "Invalid number of arguments"

#: How ``Signature.bind`` words a wrong count (every other refusal names an argument).
_COUNT_REASONS = ("missing a required argument", "too many positional arguments")

F = TypeVar("F", bound=Callable[..., Any])


class _Refusing(Protocol):
    """A client that records a refused call as its last error."""

    def _refuse(self, error: LastError) -> None: ...


def refusal(name: str, signature: inspect.Signature, args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> LastError | None:
    """The package's error for calling ``name`` (whose ``signature`` includes ``self``) with
    ``args`` and ``kwargs``, or None when they bind."""
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        reason = str(exc)
        text = INVALID_ARGUMENT_COUNT if reason.startswith(_COUNT_REASONS) else INVALID_ARGUMENTS
        return local_error(c.RES_E_INVALID_PARAMS, text, {"reason": f"{name}(): {reason}"})
    return None


def package_arguments(failed: object = None) -> Callable[[F], F]:
    """Make a client method (plain or ``async``) answer ``failed`` with the package's
    argument error instead of raising ``TypeError`` when its arguments do not bind."""
    def wrap(method: F) -> F:
        signature = inspect.signature(method)
        name = method.__name__
        if inspect.iscoroutinefunction(method):
            @functools.wraps(method)
            async def checked_async(self: _Refusing, *args: Any, **kwargs: Any) -> Any:
                error = refusal(name, signature, (self, *args), kwargs)
                if error is not None:
                    self._refuse(error)
                    return failed
                return await method(self, *args, **kwargs)
            return cast(F, checked_async)

        @functools.wraps(method)
        def checked(self: _Refusing, *args: Any, **kwargs: Any) -> Any:
            error = refusal(name, signature, (self, *args), kwargs)
            if error is not None:
                self._refuse(error)
                return failed
            return method(self, *args, **kwargs)
        return cast(F, checked)
    return wrap
