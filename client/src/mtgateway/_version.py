"""The version of MT Gateway: the one place it is written.

Both distributions are released together at this version: the client's (``mtgateway-client``,
``client/pyproject.toml`` reads it from here) and the daemon's (``mtgateway``, whose
``setup.py`` reads this file for its own version and for its exact pin of the client). Read
statically at build time, so it must stay a plain string literal.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
