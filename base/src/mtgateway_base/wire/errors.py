"""The authority's exceptions: one root, so the daemon maps them in its one table.

The authority is its own service (``mtgateway console``) and imports nothing of the daemon; the
daemon's ``gateway/errors.py`` gives these their JSON-RPC codes, as it does ``ea_bridge``'s.
The tree, and how the caller reacts::

    AuthorityError
    ├── AuthorityUnreachable      no answer (network, timeout, 5xx, not JSON): serve from the
    │                             cache, retry later
    ├── AuthorityRefused          an answer that is an error: ``status`` and the contract's
    │                             ``reason`` say which; do not retry unchanged
    ├── ConsoleUnproven           the peer did not prove it holds the pinned authority key
    │                             (or none is pinned for plain http): nothing secret was sent
    ├── RecordRejected            a signed record failed a check: do not trust it
    ├── ProofRejected             a device proof failed a check: 401 with ``reason``
    ├── AccountExists             the login and server are registered already: 409
    ├── ConsoleConfigError        ``[console]`` is not servable as configured: fix the file
    ├── SignInRefused             (``service/signin.py``) wrong credentials or code: ask again
    ├── PasswordNeeded            (``service/consent.py``) the change lets a bot do more: send
    │                             it again with the owner's password
    ├── CredentialEnded           (``service/credentials.py``) a console-API token whose
    │                             sign-in ended: sign in again
    └── Refusal                   the console's own answer of refusal on its way out (its
                                  door raises it; each entry point renders it): the client
                                  reads ``status`` and ``reason``

:class:`Refusal` is the console's side of :class:`AuthorityRefused`: what the console raises
to answer an error, where the daemon's client raises the other on reading that answer.

A brute-force lockout is the throttle's own ``RateLimited`` (``mtgateway_base.throttle``, the
ground floor both processes share), not a branch of this tree.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccountExists",
    "AuthorityError",
    "AuthorityRefused",
    "AuthorityUnreachable",
    "ConsoleConfigError",
    "ConsoleUnproven",
    "ProofRejected",
    "RecordRejected",
    "Refusal",
]


class AuthorityError(Exception):
    """Root of every exception raised by ``mtgateway_console``."""


class AuthorityUnreachable(AuthorityError):
    """The authority did not answer (network, timeout, 5xx): ``-32014`` at the daemon, with
    ``reason`` ``authority_unreachable``. Retry later; cached records still serve reads."""

    reason = "authority_unreachable"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ConsoleUnproven(AuthorityError):
    """Whatever answers at the console's address did not prove it holds the authority key the
    config pins, or no key is pinned for a plain-http console: the owner's password was not
    sent. Pin the key (or fix it), or wait until the console is back."""


class AuthorityRefused(AuthorityError):
    """The authority answered with an error: HTTP ``status`` and the contract's ``reason``."""

    def __init__(self, status: int, reason: str, message: str = "",
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.extra = extra or {}


class RecordRejected(AuthorityError):
    """A signed record failed a check; ``reason`` is a short machine word for logs and tests."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class ProofRejected(AuthorityError):
    """A device proof failed; ``reason`` says which check."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
