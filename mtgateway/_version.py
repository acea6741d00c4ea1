"""The installed distribution's version: ``mtgateway-client`` (the client alone, built from
``client/pyproject.toml``) or ``mtgateway`` (the daemon's distribution, which carries it too).

Read from the distribution's metadata rather than from ``gateway._version``, because this
package imports nothing of the daemon.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]


def _installed() -> str:
    for distribution in ("mtgateway-client", "mtgateway"):
        try:
            return version(distribution)
        except PackageNotFoundError:
            continue
    return "0+unknown"  # run from a source tree that was never installed


__version__ = _installed()
