"""The daemon's version, reported by ``/health`` and ``version``.

It is the client's: every distribution is released at one version (``tests/test_versions.py``
holds them equal), and the daemon pins the client to it exactly, so the installed client
package, a dependency of the daemon, answers it.
"""

from __future__ import annotations

from mtgateway._version import __version__

__all__ = ["__version__"]
