"""The installed client's version: ``mtgateway-client`` (built from ``client/pyproject.toml``,
installed alone or as the daemon's dependency).

Read from the distribution's metadata rather than from ``gateway._version``, because this
package imports nothing of the daemon.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]


def _installed() -> str:
    try:
        return version("mtgateway-client")
    except PackageNotFoundError:
        return "0+unknown"  # run from a source tree that was never installed


__version__ = _installed()
