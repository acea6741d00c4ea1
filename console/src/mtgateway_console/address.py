"""Where the console is: the address every link it mails names, and the names it signs for.

A request's ``Host`` says where the *requester* thinks the console is, and the Host rule
(``base.edge``) admits every loopback name with any port, because loopback is one site to a
browser. So nothing the console sends on, or signs, may be built from it:

- **Links in e-mails** (a password reset, undoing a second factor, the approval and alert
  mails' pointer to the console) name ``[console] public_url`` when set (the address owners
  open: a TLS proxy's), else the address the console serves on, learnt when it binds.
  A local user who asks for a reset with ``Host: 127.0.0.1:9999`` gets the owner mailed a link
  to the console, not to their own port.
- **The hello proof** (``routes/probes.py``, which the CLI checks before it sends the owner's
  password) is signed only for a name of this console: the address it is bound to, exactly
  as configured, with its port (bound to every interface: that family's loopback address),
  ``public_url``'s host, or a name of ``allowed_hosts`` (the proxy's). A relay on another
  loopback port that passes the hello through gets a 421, not a signature for its own
  address; so does ``localhost`` for a console bound to ``127.0.0.1`` (it may resolve to
  ``::1``, where another process may hold the port).
"""

from __future__ import annotations

import logging
from typing import Final
from urllib.parse import urlsplit

__all__ = ["ConsoleAddress", "check_public_url"]

log = logging.getLogger(__name__)

_WILDCARDS: Final = frozenset({"0.0.0.0", "::", ""})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def check_public_url(url: str) -> str:
    """``[console] public_url`` as kept (no trailing slash), or ``ValueError`` saying what is
    wrong: empty, or ``http``/``https`` with a host, no user name, query or fragment."""
    url = url.strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise ValueError("not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an http:// or https:// address with a host "
                         "(e.g. https://console.example.com)")
    if parts.username is not None or parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ValueError("no user name, ?query or #fragment")
    return url.rstrip("/")


def _host_port(value: str) -> tuple[str, int | None]:
    """``host[:port]`` (a bracketed IPv6 address too) as (lower-case host, port or None);
    a port that is not written as a port is (``08720``, ``abc``: what a relay may pass on,
    which no client of this console sends) is -1, which matches no port."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:
        host, port = value, ""
    if not port:
        return host, None
    canonical = port.isdigit() and port.isascii() and str(int(port)) == port
    return host, int(port) if canonical else -1


class ConsoleAddress:
    """The console's own address (module docstring).

    Args:
        public_url: ``[console] public_url`` (checked by :func:`check_public_url`), or empty.
        allowed_hosts: ``[console] allowed_hosts``: a proxy's public names.
    """

    def __init__(self, public_url: str = "", allowed_hosts: tuple[str, ...] = ()) -> None:
        self.public_url = check_public_url(public_url)
        self._allowed = {h.strip().lower() for h in allowed_hosts}
        self._serving: tuple[str, str, int] | None = None

    def serving(self, scheme: str, host: str, port: int) -> None:
        """The console listens on ``host:port`` (``port`` as bound: port 0 resolved)."""
        self._serving = (scheme, host.strip().lower(), port)
        if host.strip() in _WILDCARDS and not self.public_url:
            log.warning("[console] host = %r serves every interface, and [console] public_url "
                        "is not set: the links the console mails name %s, which owners "
                        "elsewhere cannot open; set public_url to the address they use",
                        host, self.base)

    @property
    def base(self) -> str | None:
        """The address links name (no trailing slash), or ``None`` before the console serves
        (the authority without a console: the CLI, a daemon in local mode)."""
        if self.public_url:
            return self.public_url
        if self._serving is None:
            return None
        scheme, host, port = self._serving
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}:{port}"

    def link(self, path: str) -> str | None:
        """``path`` (``/reset/…``) on the console's address, or ``None`` without one."""
        base = self.base
        return None if base is None else base + path

    def hint(self, path: str = "") -> str:
        """How a mail names the console: "the console at <address><path>", or "the
        console" when it has no address (no console serves this authority)."""
        found = self.link(path)
        return f"the console at {found}" if found else "the console"

    def signs_for(self, host_header: str) -> bool:
        """Whether the hello may be signed for ``host_header`` (module docstring)."""
        host, port = _host_port(host_header)
        if host in self._allowed:
            return True
        if self.public_url:
            parts = urlsplit(self.public_url)
            want = parts.port or _DEFAULT_PORTS[parts.scheme]
            if host == (parts.hostname or "").lower() and (port or _DEFAULT_PORTS.get(
                    parts.scheme)) == want:
                return True
        if self._serving is None:
            return False
        _, bound, bound_port = self._serving
        if port != bound_port:
            return False
        if host == bound:
            return True
        # Bound to every interface: the loopback address of that family is this console too
        # (no one else can bind it on this port). Nothing else is: ``localhost`` may resolve
        # to the other family, where another process may hold the port.
        return (bound, host) in {("0.0.0.0", "127.0.0.1"), ("::", "::1")}
