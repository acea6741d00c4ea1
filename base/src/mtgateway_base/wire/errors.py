"""The wire exceptions: what goes wrong between the daemon and the console, one root for both.

Raised on either side of the contract: the daemon's client of the console raises
:class:`AuthorityUnreachable`, :class:`AuthorityRefused` and :class:`ConsoleUnproven` on
reading (or not getting) an answer; whoever checks a signed record or a device proof raises
:class:`RecordRejected` or :class:`ProofRejected`. The daemon's ``gateway/errors.py`` gives
them their JSON-RPC codes, as it does ``ea_bridge``'s; the console's own exceptions
(``mtgateway_console/errors.py``) hang under the same root, so an embedded authority's
failure is one the daemon's table knows. The tree, and how the caller reacts::

    AuthorityError
    ├── AuthorityUnreachable      no answer (network, timeout, 5xx, not JSON): serve from the
    │                             cache, retry later
    ├── AuthorityRefused          an answer that is an error: ``status`` and the contract's
    │                             ``reason`` say which; do not retry unchanged
    ├── ConsoleUnproven           the peer did not prove it holds the pinned authority key
    │                             (or none is pinned for plain http): nothing secret was sent
    ├── RecordRejected            a signed record failed a check: do not trust it
    ├── ProofRejected             a device proof failed a check: 401 with ``reason``
    └── (the console's own: ``mtgateway_console/errors.py``)

A brute-force lockout is the throttle's own ``RateLimited`` (``mtgateway_base.throttle``, the
ground floor both processes share), not a branch of this tree.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthorityError",
    "AuthorityRefused",
    "AuthorityUnreachable",
    "ConsoleUnproven",
    "ProofRejected",
    "RecordRejected",
]


class AuthorityError(Exception):
    """Root of every exception of the two processes' contract, and of the console's own."""


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
