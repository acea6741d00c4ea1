"""One access line per HTTP request, the same on both processes (the daemon and the console).

``[logging] access_log`` turns them on for either. As text the line reads ``remote METHOD /path
[rpc,methods] status bytes 1.2ms``; the record also carries the request as fields (under
:data:`ACCESS_FIELDS`), which the JSON log format writes as keys of their own beside the
message, so a log shipper filters on ``status`` without parsing text (review round 4, m20;
the console's half, m6). The path is logged without its query string: a query string is
nobody's business in a log (and the redaction filter still sees every line).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

__all__ = ["ACCESS_FIELDS", "log_access"]

#: The record attribute holding an access line's fields.
ACCESS_FIELDS: Final = "access"


def log_access(logger: logging.Logger, remote: str | None, method: str, path: str,
               called: Sequence[str] | None, status: int, size: int | None,
               seconds: float) -> None:
    """One access line; the fields ``remote``, ``method``, ``path``, ``status``, ``bytes``,
    ``duration_ms``, and ``rpc_methods`` when ``called`` is given (the daemon's ``/rpc``
    names the JSON-RPC methods it answered; the console has none)."""
    fields: dict[str, Any] = {"remote": remote, "method": method, "path": path}
    if called is not None:
        fields["rpc_methods"] = list(called)
    fields.update(status=status, bytes=size, duration_ms=round(seconds * 1000, 1))
    logger.info("%s %s %s%s %d %s %.1fms", remote, method, path,
                f" [{','.join(called)}]" if called else "", status, size, seconds * 1000,
                extra={ACCESS_FIELDS: fields})
