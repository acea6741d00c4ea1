"""``last_error()``: what went wrong with the last call, in the package's codes, with ours kept.

The package answers ``None`` (or ``False``) on failure and keeps ``(code, description)`` for
``last_error()``, where ``code`` is one of its ``RES_*`` values (``1`` success, ``-1`` generic
failure, ``-2`` bad parameters, ``-4`` not found, ``-6`` authorization, ``-10004`` no
connection, ``-10005`` timeout, ...). So do we: code that reconnects or retries on the package's
codes runs unchanged. The gateway's own detail is kept, not lost: its JSON-RPC code
(``-32006`` unknown symbol, ``-32003`` trade outcome unknown, ...; ``docs/api.md``) is
:attr:`LastError.gateway_code` and is named in the description, and its error ``data``
(``client_id``, ``retry_after_ms``, ``reason``, ...) is :attr:`LastError.data`.

The tree of the one exception this package raises::

    MtGatewayError               a call failed; .error is the LastError
"""

from __future__ import annotations

from typing import Any, Final

from . import constants as c

__all__ = ["CALL_FAILED", "NOT_FOUND", "OK", "LastError", "MtGatewayError", "gateway_error",
           "in_package_words", "local_error", "not_connected"]

#: The gateway's codes (``docs/api.md``) by the package code that means the same to a caller.
_MT5_CODES: Final[dict[int, int]] = {
    -32700: c.RES_E_INTERNAL_FAIL,
    -32600: c.RES_E_INVALID_PARAMS,
    -32601: c.RES_E_UNSUPPORTED,
    -32602: c.RES_E_INVALID_PARAMS,
    -32603: c.RES_E_INTERNAL_FAIL,
    -32001: c.RES_E_INTERNAL_FAIL_CONNECT,
    -32002: c.RES_E_INTERNAL_FAIL_CONNECT,
    -32003: c.RES_E_INTERNAL_FAIL_TIMEOUT,
    -32004: c.RES_E_AUTH_FAILED,
    -32005: c.RES_E_FAIL,
    -32006: c.RES_E_NOT_FOUND,
    -32007: c.RES_E_AUTO_TRADING_DISABLED,
    -32008: c.RES_E_FAIL,
    -32009: c.RES_E_UNSUPPORTED,
    -32010: c.RES_E_FAIL,
    -32011: c.RES_E_INVALID_PARAMS,
    -32012: c.RES_E_FAIL,
    -32013: c.RES_E_INTERNAL_FAIL_TIMEOUT,
    -32014: c.RES_E_FAIL,
}


class LastError(tuple[int, str]):
    """``(code, description)`` as the package's, with the gateway's code and data beside it.

    A 2-tuple, so ``code, description = last_error()``, ``last_error()[0]``, equality with a
    plain tuple and ``print()`` (``(-4, 'text')``) work as with the package; ``.code``,
    ``.description``, ``.gateway_code`` and ``.data`` name the parts.
    """

    _data: Any
    _gateway_code: int | None

    def __new__(cls, code: int, description: str, data: Any = None, *,
                gateway_code: int | None = None) -> LastError:
        self = super().__new__(cls, (code, description))
        self._data = data
        self._gateway_code = gateway_code
        return self

    @property
    def code(self) -> int:
        """The package's ``RES_*`` code."""
        return self[0]

    @property
    def description(self) -> str:
        """What failed: the gateway's message (with its code), or what failed locally."""
        return self[1]

    @property
    def data(self) -> Any:
        """The JSON-RPC error's ``data`` (None when it had none)."""
        return self._data

    @property
    def gateway_code(self) -> int | None:
        """The gateway's JSON-RPC error code (``docs/api.md``); None for a local failure."""
        return self._gateway_code

    def __repr__(self) -> str:
        """The package's tuple, ``(-4, 'text')``: what ``print(mt5.last_error())`` shows in
        every documentation example. The gateway's code and data stay attributes."""
        return tuple.__repr__(self)

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.code, self.description, self._data, self._gateway_code))


def _rebuild(code: int, description: str, data: Any, gateway_code: int | None) -> LastError:
    """Unpickles a :class:`LastError` with its gateway code and data."""
    return LastError(code, description, data, gateway_code=gateway_code)


#: What ``last_error()`` answers after a call that succeeded (the package's words).
OK: Final = LastError(c.RES_S_OK, "Success")


def gateway_error(gateway_code: int, message: str, data: Any = None) -> LastError:
    """The gateway refused a call: its code mapped to the package's nearest ``RES_E_*``, and
    kept in the description and in :attr:`LastError.gateway_code`."""
    return LastError(_MT5_CODES.get(gateway_code, c.RES_E_FAIL),
                     f"{message} (gateway error {gateway_code})", data,
                     gateway_code=gateway_code)


#: The package's texts (its C extension's) for a terminal call that found nothing to answer
#: (an unknown symbol) and for one that failed (bars beyond the history): what code written
#: against terminals compares ``last_error()`` with.
NOT_FOUND: Final = "Terminal: Not found"
CALL_FAILED: Final = "Terminal: Call failed"


def in_package_words(error: LastError, code: int, description: str) -> LastError:
    """``error`` as the package words the same failure: its ``(code, description)``, with the
    gateway's own message moved to ``.data["reason"]`` and its code kept in
    :attr:`LastError.gateway_code`.

    Why: code written against terminals compares the pair, or searches the text, to tell an
    unknown symbol from a broken link; the gateway's wording would fail those tests although
    it means the same, and is still there for a person reading why."""
    reason = error.description.removesuffix(f" (gateway error {error.gateway_code})")
    if error.data is None:
        data: Any = {"reason": reason}
    elif isinstance(error.data, dict):
        data = {"reason": reason, **error.data}
    else:
        data = error.data
    return LastError(code, description, data, gateway_code=error.gateway_code)


def local_error(code: int, description: str, data: Any = None) -> LastError:
    """A failure with no gateway answer, under one of the package's ``RES_E_*`` codes."""
    return LastError(code, description, data)


def not_connected() -> LastError:
    """A call before ``initialize`` (or after ``shutdown``): the package's code and text for
    it, ``(-10004, 'No IPC connection')`` (its C extension's), with what to do in ``.data``."""
    return LastError(c.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection",
                     {"reason": "not connected: call initialize() first"})


class MtGatewayError(Exception):
    """A call failed; ``error`` is what ``last_error()`` reports.

    Raised only by the ``call``-style API (:meth:`mtgateway.Client.call`) and inside the
    clients; the package-style functions catch it and answer ``None`` as the package does.
    """

    def __init__(self, error: LastError) -> None:
        super().__init__(f"{error.code}: {error.description}")
        self.error = error
