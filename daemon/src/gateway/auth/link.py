"""The daemon's link to its token authority, whichever it is: the device API, started and closed.

In remote mode it is the HTTP client of a console elsewhere
(:class:`~gateway.auth.client.RemoteAuthority`); in local mode, the console embedded in this
process (:class:`~gateway.auth.local.SelfApprovingAuthority`, composed only then: a daemon
with a remote console runs without the console installed). The app starts it with the
daemon and closes it at the end, and asks nothing else of which it is.
"""

from __future__ import annotations

from typing import Protocol

from mtgateway_base.wire.api import AuthorityAPI

__all__ = ["AuthorityLink"]


class AuthorityLink(AuthorityAPI, Protocol):
    """The device API (:class:`~mtgateway_base.wire.api.AuthorityAPI`), and its life."""

    async def start(self) -> None:
        """Be ready before the daemon serves (an embedded authority prepares its database).

        Raises:
            Exception: the authority cannot be used; the daemon does not start.
        """
        ...

    async def close(self) -> None:
        """Let go of what the link holds (an HTTP session, an embedded database)."""
        ...
