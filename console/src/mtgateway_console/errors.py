"""The console's own exceptions, under the contract's root (``mtgateway_base.wire.errors``).

The console is its own service and imports nothing of the daemon; its exceptions hang under
:class:`~mtgateway_base.wire.errors.AuthorityError`, the root the daemon's one table maps, so
an embedded authority (the daemon's local mode) fails in words the daemon knows. The tree,
and how the caller reacts::

    AuthorityError                (``mtgateway_base.wire.errors``: the wire's, above these)
    ├── InvalidRequest            what a request asks is out of the rules' bounds (an unknown
    │                             scope, a lot size past the policy's): 422, fix the request
    ├── TerminalClaimed           (``service/common.py``) another owner's token or account
    │                             holds the terminal: 409
    ├── AccountExists             the login and server are registered already: 409
    ├── LiveMoney                 (``service/instructions.py``) money may move on a paper
    │                             account only: 409
    ├── KeyReused                 (``service/instructions.py``) an ``operation_id`` used for
    │                             another operation: 409, use a new one
    ├── LiveOpen                  (``service/accounts.py``) paper would hide live trades at
    │                             the broker: 409, confirm to switch anyway
    ├── PasswordNeeded            (``service/consent.py``) the change lets a bot do more: send
    │                             it again with the owner's password (401; 429 in a lockout)
    ├── SignInRefused             (``service/signin.py``) wrong credentials or code: ask again
    ├── CredentialEnded           (``service/credentials.py``) a console-API token whose
    │                             sign-in ended: sign in again
    ├── ApiTokenRefused           (``apitokens.py``) a bearer token the console does not
    │                             accept: 401 with its reason
    ├── AskedTooOften             (``service/resets.py``) a reset asked past its share: wait
    ├── DatabaseError             (``database/``) the database cannot be used: 500, or 503
    │   └── DatabaseUnavailable   when it does not answer in time (also the wire's
    │                             ``AuthorityUnreachable``): retry shortly
    ├── ConsoleConfigError        ``[console]`` is not servable as configured: fix the file
    └── Refusal                   the console's own answer of refusal on its way out (its
                                  door raises it; each entry point renders it): the client
                                  reads ``status`` and ``reason``

How each leaves the console is one table, the door's (``door/answers.py`` ``REFUSALS``):
every entry point answers the same failure with the same status and reason word, and a
handler never translates one by hand. What is in no branch here (a bare ``ValueError``, a
``KeyError``) is a bug, answered 500 and logged.

:class:`Refusal` is the console's side of ``AuthorityRefused``: what the console raises to
answer an error, where the daemon's client raises the other on reading that answer.
"""

from __future__ import annotations

from typing import Any

from mtgateway_base.wire.errors import AuthorityError

__all__ = ["AccountExists", "ConsoleConfigError", "InvalidRequest", "Refusal"]


class InvalidRequest(AuthorityError, ValueError):
    """What a request asks is outside the rules' bounds (the message says which): the
    service's own check, behind the entry points' models. A ``ValueError`` too, so a page that
    shows it beside the form field reads it as it reads the models' words."""


class AccountExists(AuthorityError):
    """An account with this login and server is already registered."""


class ConsoleConfigError(AuthorityError, ValueError):
    """The console cannot be served as configured (say, a non-loopback host not allowed); the
    message names the key. Raised at start only."""


class Refusal(AuthorityError):
    """An error answer of the console on its way out: the HTTP ``status``, the contract's
    ``reason`` word, a ``message`` for a person, and ``data``, the answer's other fields
    (``retry_after_s`` for a 429 or 503, ``fields`` naming what a body got wrong,
    ``allowed`` for a 405...).

    The one failure type of every entry point of the console: raised by its door
    (``door/``) and by the handlers behind it, and turned into an answer once, by the
    renderer the entry point registered with its routes (the owner API's ``{"error":
    ...}``, the MT4 Web API document's ``{"status": "error", ...}``, a page). Nothing in it
    is secret: ``message`` and ``data`` are shown as they are.
    """

    def __init__(self, status: int, reason: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.data = data
