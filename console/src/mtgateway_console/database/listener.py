"""A PostgreSQL ``LISTEN`` on one channel, in a thread of its own, that calls back on each
notification.

Several console instances share one PostgreSQL database; a revocation written by one must wake
the long-polls held by all. PostgreSQL carries that itself: the writer runs ``NOTIFY`` in the
transaction of the change (delivered when, and only when, it commits), and each instance holds
one connection that ``LISTEN``\\s. That connection lives in a thread, not on the event loop: a
blocking wait there cannot stall a request, and it works the same on uvloop, asyncio's loop and
Windows' proactor loop (psycopg's asyncio connections need a selector loop).

Notifications sent while the connection is down are lost (PostgreSQL queues them only for a
listening session), so every (re)connection calls ``wake`` once after its ``LISTEN`` holds:
the waiters look again and find whatever was written meanwhile. A dropped connection is seen
at once when the server closes it, and within about a minute through TCP keepalives when the
network drops it silently; the thread then reconnects every ``retry_s`` until it can.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from mtgateway_base.configfile import redact_url

__all__ = ["NotificationListener"]

log = logging.getLogger(__name__)

#: How the listening session is named in ``pg_stat_activity`` (operators, and the tests).
APPLICATION_NAME: Final = "mtgateway-console-listen"


class NotificationListener:
    """LISTEN on ``channel`` of the database ``url``; ``wake`` (called from the listener's
    thread) on each notification and after each (re)connection."""

    def __init__(self, url: str, channel: str, wake: Callable[[], None], *,
                 retry_s: float = 1.0, check_s: float = 1.0) -> None:
        self._url = url
        self._channel = channel
        self._wake = wake
        self._retry_s = retry_s
        self._check_s = check_s
        self._stopping = threading.Event()
        #: Set whenever a LISTEN holds (tests and readiness can wait on it).
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"listen-{channel}",
                                        daemon=True)

    def start(self) -> None:
        """Connect and listen in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end (it does within ``check_s``); :meth:`join` waits for it."""
        self._stopping.set()

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for the thread to end after :meth:`stop`."""
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        import psycopg  # noqa: PLC0415 - only PostgreSQL deployments need the driver
        from psycopg import sql  # noqa: PLC0415

        listen = sql.SQL("LISTEN {}").format(sql.Identifier(self._channel))
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=10,
                                     application_name=APPLICATION_NAME, keepalives=1,
                                     keepalives_idle=30, keepalives_interval=10,
                                     keepalives_count=3) as conn:
                    conn.execute(listen)
                    self.listening.set()
                    self._wake()  # whatever was written while nobody listened
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=self._check_s):
                            self._wake()
            except psycopg.Error as exc:
                # psycopg's text may quote the connection string: its class only, and where.
                log.warning("lost the LISTEN connection to %s (%s); reconnecting in %.0f s",
                            redact_url(self._url), type(exc).__name__, self._retry_s)
            finally:
                self.listening.clear()
            self._stopping.wait(self._retry_s)
