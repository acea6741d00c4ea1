"""One access line per HTTP request, the same on both processes (the daemon and the console).

``[logging] access_log`` turns them on for either. As text the line reads ``remote METHOD /path
[rpc,methods] status bytes 1.2ms``; the record also carries the request as fields (under
:data:`ACCESS_FIELDS`), which the JSON log format writes as keys of their own beside the
message, so a log shipper filters on ``status`` without parsing text. The path is logged without
its query string: a query string is nobody's business in a log (and the redaction filter still
sees every line).

Some paths carry a secret themselves: the one-time links the console mails (``/reset/<token>``
sets the owner's password, ``/recover/<token>`` takes back a second factor someone else turned
on), which a reader of the log could spend before the owner. :func:`mask_path` masks the
segment after each prefix of :data:`SECRET_PATH_PREFIXES` where the line is made, so the
record's text and its fields never hold it; the redaction filter (``mtgateway_base.log``) applies
the same pattern to every other line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, Final

__all__ = ["ACCESS_FIELDS", "SECRET_PATH", "SECRET_PATH_PREFIXES", "log_access", "mask_path"]

#: The record attribute holding an access line's fields.
ACCESS_FIELDS: Final = "access"
#: Paths whose next segment is a secret (a one-time link's token, the demo's mailbox key). A
#: route that takes a secret in its path must be listed here (a test walks the console's
#: routes, the demo's mailbox mounted, to hold it).
SECRET_PATH_PREFIXES: Final = ("/reset/", "/recover/", "/demo/mail/")
#: The secret segment of such a path, wherever it appears in a line.
SECRET_PATH: Final = re.compile(
    "(" + "|".join(re.escape(p) for p in SECRET_PATH_PREFIXES) + r")[^/\s?#\"']+")


def mask_path(path: str) -> str:
    """``path`` with the secret segment of every one-time link masked
    (``/reset/abc`` → ``/reset/[REDACTED]``)."""
    return SECRET_PATH.sub(r"\1[REDACTED]", path)


def log_access(logger: logging.Logger, remote: str | None, method: str, path: str,
               called: Sequence[str] | None, status: int, size: int | None,
               seconds: float) -> None:
    """One access line; the fields ``remote``, ``method``, ``path``, ``status``, ``bytes``,
    ``duration_ms``, and ``rpc_methods`` when ``called`` is given (the daemon's ``/rpc``
    names the JSON-RPC methods it answered; the console has none); ``path`` is masked
    (:func:`mask_path`)."""
    path = mask_path(path)
    fields: dict[str, Any] = {"remote": remote, "method": method, "path": path}
    if called is not None:
        fields["rpc_methods"] = list(called)
    fields.update(status=status, bytes=size, duration_ms=round(seconds * 1000, 1))
    logger.info("%s %s %s%s %d %s %.1fms", remote, method, path,
                f" [{','.join(called)}]" if called else "", status, size, seconds * 1000,
                extra={ACCESS_FIELDS: fields})
