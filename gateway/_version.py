"""The daemon's version, reported by ``/health`` and ``version``.

It is the client's: both distributions are built at the one version written in
``client/src/mtgateway/_version.py`` (``setup.py`` at the root reads it, and pins the client to
it exactly), so the installed client package, a dependency of the daemon, answers it.
"""

from __future__ import annotations

from mtgateway._version import __version__

__all__ = ["__version__"]
