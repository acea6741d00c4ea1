"""Who may read a process's metrics: the bearer token both processes ask for by default.

``/metrics`` tells when and how much the owner trades, which tokens were refused and why,
how often owners sign in or fail to, and ``/ready``'s details tell when the EA is down:
nobody else's business on a machine whose loopback every local user shares. So both the
daemon and the console ask for a bearer token by default (:func:`scrape_token`):

1. ``metrics_token`` when the section sets one (a token the operator also gives Prometheus);
2. else, unless ``metrics_open`` asks for the old open way, a random token the process keeps
   in :data:`TOKEN_FILE` in its data directory: made 0600 at the first start, read at every
   later one, so a Prometheus running as the same user reads the same file
   (``authorization: credentials_file:``), and anyone else has to be given it.

:func:`bearer_ok` compares in constant time. Both processes stand on this module (the
ground floor): the rule is written once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .files import create_private_file, ensure_private_dir, read_private_file

__all__ = ["TOKEN_FILE", "ScrapeGuard", "bearer_ok", "scrape_token"]

#: The file in the data directory holding the made-up metrics token.
TOKEN_FILE: Final = "metrics.token"
_TOKEN_BYTES: Final = 32
#: A token shorter than this in the file is not trusted (someone wrote it by hand).
_MIN_CHARS: Final = 16


@dataclass(frozen=True, slots=True)
class ScrapeGuard:
    """What a scrape must carry: ``Bearer <token>``, or nothing when ``token`` is ``None``
    (``metrics_open``: each process's older rule applies)."""

    token: str | None

    def allows(self, authorization: str) -> bool:
        """Whether a request with this ``Authorization`` value may read the metrics."""
        return self.token is None or bearer_ok(authorization, self.token)

    @classmethod
    def of(cls, configured: str, open_: bool, data_dir: Path) -> ScrapeGuard:
        """The guard :func:`scrape_token` makes (same errors)."""
        return cls(scrape_token(configured, open_, data_dir))


def scrape_token(configured: str, open_: bool, data_dir: Path) -> str | None:
    """The bearer token ``/metrics`` asks for: ``configured``, else ``None`` (no token: the
    process's older rule) when ``open_``, else the one in ``data_dir``'s :data:`TOKEN_FILE`
    (made now if missing).

    Raises:
        InsecurePath: the data directory or the file is not private (mode, owner, a link).
        ValueError: the file holds no usable token (fewer than 16 characters, or blanks).
    """
    if configured:
        return configured
    if open_:
        return None
    ensure_private_dir(data_dir)
    path = data_dir / TOKEN_FILE
    create_private_file(path, secrets.token_urlsafe(_TOKEN_BYTES).encode("ascii") + b"\n")
    raw = read_private_file(path) or b""
    token = raw.decode("utf-8", "replace").strip()
    if len(token) < _MIN_CHARS or any(c.isspace() for c in token):
        raise ValueError(f"{path} holds no usable metrics token (16+ characters without "
                         "blanks); delete it and a new one is made at the next start")
    return token


def bearer_ok(authorization: str, token: str) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <token>`` (the token compared in
    constant time)."""
    scheme, _, value = authorization.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode("utf-8", "replace"), token.encode("utf-8"))
