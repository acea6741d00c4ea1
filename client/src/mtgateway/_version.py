"""The version of MT Gateway, as the code reports it (``mtgateway.__version__``).

Every distribution of this repository is released together at one version, declared in each
project's ``pyproject.toml`` (``[project] version``) and written here as a plain literal, so
asking it costs no metadata read and a checkout run without installing answers it too.
``tests/test_versions.py`` holds this literal, every ``pyproject.toml`` and every exact pin
between the distributions equal; ``python -m deploy.version X.Y.Z`` rewrites them all.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
