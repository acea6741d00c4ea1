"""``last_error()``: what went wrong with the last call, in the package's shape and ours.

The package answers ``None`` (or ``False``) on failure and keeps ``(code, description)`` for
``last_error()``. So do we, and the code is the **gateway's** JSON-RPC code (``-32006`` for an
unknown symbol, ``-32003`` for an unknown trade outcome, ...; ``docs/api.md``) with the
gateway's message, plus the error's ``data`` (``client_id``, ``retry_after_ms``, ``reason``,
...) as an attribute. A failure with no gateway answer (no connection, a timeout, an answer we
cannot read) uses the package's own ``RES_E_*`` codes, as the package would.

Unpacking stays the package's: ``code, description = mt5.last_error()``. For code written
against the package's codes, :attr:`LastError.mt5_code` maps a gateway code to the nearest
``RES_E_*``.

The tree of the one exception this package raises::

    MtGatewayError               a call failed; .error is the LastError
"""

from __future__ import annotations

from typing import Any, Final

from . import constants as c

__all__ = ["OK", "LastError", "MtGatewayError", "local_error"]

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
    """``(code, description)`` like the package's, with the gateway's ``data`` beside it.

    A 2-tuple, so ``code, description = last_error()`` and ``last_error()[0]`` work as with the
    package; ``.code``, ``.description`` and ``.data`` name the parts.
    """

    _data: Any

    def __new__(cls, code: int, description: str, data: Any = None) -> LastError:
        self = super().__new__(cls, (code, description))
        self._data = data
        return self

    @property
    def code(self) -> int:
        """The gateway's JSON-RPC code, or a package ``RES_*`` code for local failures."""
        return self[0]

    @property
    def description(self) -> str:
        """The gateway's message, or what failed locally."""
        return self[1]

    @property
    def data(self) -> Any:
        """The JSON-RPC error's ``data`` (None when it had none)."""
        return self._data

    @property
    def mt5_code(self) -> int:
        """The package's ``RES_*`` code nearest to :attr:`code` (the same when it is one)."""
        return _MT5_CODES.get(self.code, self.code)

    def __repr__(self) -> str:
        if self._data is None:
            return f"LastError({self.code}, {self.description!r})"
        return f"LastError({self.code}, {self.description!r}, data={self._data!r})"


#: What ``last_error()`` answers after a call that succeeded (the package's words).
OK: Final = LastError(c.RES_S_OK, "Success")


def local_error(code: int, description: str, data: Any = None) -> LastError:
    """A failure with no gateway answer, under one of the package's ``RES_E_*`` codes."""
    return LastError(code, description, data)


class MtGatewayError(Exception):
    """A call failed; ``error`` is what ``last_error()`` reports.

    Raised only by the ``call``-style API (:meth:`mtgateway.Client.call`) and inside the
    clients; the package-style functions catch it and answer ``None`` as the package does.
    """

    def __init__(self, error: LastError) -> None:
        super().__init__(f"{error.code}: {error.description}")
        self.error = error
