"""``[server] unix_socket``: ``/rpc`` and ``/ws`` on a UNIX socket only our user can open (POSIX).

Loopback TCP is not a permission boundary: any local user may connect to the port, or take it
while the daemon is down (the client challenge covers the second). A UNIX socket file with mode
0600, in a directory only we can write, is one the operating system itself keeps other users out
of: a bot connecting to it knows the daemon is ours, and nobody else can even reach the edge. It
serves the same application as the TCP port (same auth, same rules), beside it.

Windows: not offered. Its AF_UNIX sockets do not carry POSIX permission bits that other
accounts are held to, so the option would promise what it cannot keep; the configuration
refuses it there with a one-line error (:func:`refusal`), and the TCP port with the client
challenge is the way.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import socket
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where served: the configuration's check needs no aiohttp
    from aiohttp import web

__all__ = ["bind_unix", "refusal", "remove", "start_unix"]


def refusal(path: str | None, platform: str = sys.platform) -> str | None:
    """Why ``[server] unix_socket = path`` cannot be used here, or None when it can."""
    if path is None:
        return None
    if platform == "win32":
        return ("server.unix_socket is not offered on Windows (its UNIX sockets carry no "
                "permissions other accounts are held to): remove it and use the TCP port, "
                "which the mtgateway clients authenticate with the challenge")
    if not posixpath.isabs(path):  # a POSIX path, by POSIX rules, wherever this runs
        return f"server.unix_socket must be an absolute path, not {path!r}"
    if len(os.fsencode(path)) > 100:
        return f"server.unix_socket is too long for a socket address ({path!r})"
    return None


def bind_unix(path: str) -> socket.socket:
    """A listening UNIX socket at ``path``, mode 0600, in a directory others cannot write.

    A socket file left by a daemon that died is replaced; any other file there is refused.

    Raises:
        OSError: the path's directory is missing or writable by others, something other than
            a socket is in the way, or it cannot be bound (another daemon is listening).
    """
    if sys.platform == "win32":  # the config refuses it first (refusal)
        raise OSError("server.unix_socket is not offered on Windows")
    parent = Path(path).parent
    mode = parent.stat().st_mode
    if mode & (stat.S_IWGRP | stat.S_IWOTH) and not mode & stat.S_ISVTX:
        raise OSError(f"{parent} is writable by others: put server.unix_socket in a "
                      "directory only this user can write")
    with contextlib.suppress(FileNotFoundError):
        existing = os.lstat(path)
        if not stat.S_ISSOCK(existing.st_mode):
            raise OSError(f"{path} exists and is not a socket: refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            os.unlink(path)  # left by a daemon that is gone
        else:
            raise OSError(f"another process is listening on {path}")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # born 0600: no window in which others may connect
    try:
        sock.bind(path)
    except BaseException:
        sock.close()
        raise
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


async def start_unix(runner: web.AppRunner, sock: socket.socket) -> web.SockSite:
    """Serve ``runner``'s application on ``sock``, bound by :func:`bind_unix` before the
    daemon opened anything (as its TCP ports are)."""
    from aiohttp import web

    site = web.SockSite(runner, sock)
    await site.start()
    return site


def remove(path: str) -> None:
    """Remove the socket file at shutdown (only a socket, never another file)."""
    with contextlib.suppress(OSError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
