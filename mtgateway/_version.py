"""The installed distribution's version (the daemon and this client ship as one: ``mtgateway``).

Read from the distribution's metadata rather than from ``gateway._version``, because this
package imports nothing of the daemon.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("mtgateway")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
