"""A connection budget the process's open-file limit can honour.

Every connection a listener holds is a file descriptor, and so are the database files, the
mailer's socket, the listener and the logs. ``[console] max_connections`` (512) and ``[server]
max_connections`` (256) were taken as given whatever ``RLIMIT_NOFILE`` was: under a soft limit
of 256 (macOS's default, some service managers') descriptors ran out before the budget acted,
``accept`` failed, ``/health`` went unanswered and SQLite could not open its file.

The rule, at start, for each serving process (what nginx's ``worker_rlimit_nofile`` and
most servers' operators do by hand):

1. A budget of ``n`` connections needs ``2 n + reserve`` descriptors: the guard lets at most
   ``2 n`` sockets be open (evicted ones still closing, ``guard.ConnectionBudget.admit``), and
   ``reserve`` covers everything else.
2. If the soft limit is below that, raise it toward the hard limit (an unprivileged process
   may raise its soft limit up to its hard limit), just as far as needed; logged at INFO.
3. If the hard limit still falls short, serve a smaller budget, ``(soft - reserve) // 2``,
   with a WARNING naming the numbers and the fix (``ulimit -n``, ``LimitNOFILE=``).
4. If not even one connection fits, refuse to start (:class:`DescriptorsTooFew`).

Windows has no ``RLIMIT_NOFILE`` (the ``resource`` module is POSIX-only): sockets are
handles bounded by memory, and the proactor loop the daemon runs on there has no
``FD_SETSIZE``, so the configured budget is served as it is.

:func:`plan` is the arithmetic (no I/O); :func:`fit_connections` reads and raises the limit.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["RESERVE", "DescriptorPlan", "DescriptorsTooFew", "fit_connections", "plan"]

log = logging.getLogger(__name__)

#: Descriptors kept beside the connections: standard streams and log files, the event loop's
#: own (epoll or kqueue, its wake-up pipe), the listeners, the key files read at start, the
#: mailer's SMTP connection, and the database (SQLite opens its file, and its journal, once per
#: transaction on each of the default executor's threads; a PostgreSQL pool's connections).
RESERVE: Final = 64


class DescriptorsTooFew(Exception):
    """Not even one connection fits under the hard open-file limit."""


@dataclass(frozen=True, slots=True)
class DescriptorPlan:
    """What to do: the soft limit to set (``None``: leave it) and the budget to serve."""

    soft: int | None
    connections: int


def plan(wanted: int, reserve: int, soft: int, hard: int, infinity: int = -1) -> DescriptorPlan:
    """The soft limit to ask for and the connections to serve under ``soft``/``hard``.

    Args:
        wanted: the configured ``max_connections``.
        reserve: descriptors kept for everything but the connections.
        soft, hard: ``getrlimit(RLIMIT_NOFILE)``; ``infinity`` is ``RLIM_INFINITY``.

    Raises:
        DescriptorsTooFew: not one connection fits under the hard limit.
    """
    need = 2 * wanted + reserve
    if soft == infinity or soft >= need:
        return DescriptorPlan(None, wanted)
    reachable = need if hard == infinity else min(need, hard)
    target = max(soft, reachable)
    connections = wanted if target >= need else (target - reserve) // 2
    if connections < 1:
        raise DescriptorsTooFew(
            f"the open-file limit ({target}) leaves no room for connections beside the "
            f"{reserve} this process keeps for its files; raise it (ulimit -n {need})")
    return DescriptorPlan(target if target > soft else None, connections)


def fit_connections(wanted: int, setting: str, *, reserve: int = RESERVE,
                    limits: Callable[[], tuple[int, int]] | None = None,
                    set_soft: Callable[[int, int], None] | None = None) -> int:
    """The budget to serve for ``setting`` (e.g. ``[console] max_connections``) configured
    as ``wanted``: the soft open-file limit raised if it must be and can be, the budget
    capped (with a WARNING) if the hard limit is too low. ``limits`` and ``set_soft`` stand
    for ``getrlimit``/``setrlimit`` (tests inject them).

    Raises:
        DescriptorsTooFew: not one connection fits.
    """
    if sys.platform == "win32":
        return wanted  # no RLIMIT_NOFILE: handles, bounded by memory (module docstring)
    import resource  # noqa: PLC0415 - POSIX only

    def read() -> tuple[int, int]:
        return resource.getrlimit(resource.RLIMIT_NOFILE)

    def write(soft: int, hard: int) -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    soft, hard = (limits or read)()
    decided = plan(wanted, reserve, soft, hard, resource.RLIM_INFINITY)
    if decided.soft is not None:
        try:
            (set_soft or write)(decided.soft, hard)
        except (ValueError, OSError) as exc:  # e.g. macOS caps it below an unlimited hard
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft,
                        decided.soft, exc)
            decided = plan(wanted, reserve, soft, soft)
        else:
            log.info("raised the open-file limit from %d to %d (hard limit %s) for %s = %d",
                     soft, decided.soft, "unlimited" if hard == resource.RLIM_INFINITY
                     else hard, setting, wanted)
    if decided.connections < wanted:
        need = 2 * wanted + reserve
        log.warning(
            "%s = %d needs %d open files (2 per connection, while evicted ones close, plus "
            "%d for the database, mailer, listeners and logs), but the limit is %d (hard: "
            "%s): serving at most %d connections. Raise it to serve them all: ulimit -n %d, "
            "or LimitNOFILE=%d in the systemd unit", setting, wanted, need, reserve,
            decided.soft or soft, "unlimited" if hard == resource.RLIM_INFINITY else hard,
            decided.connections, need, need)
    return decided.connections
