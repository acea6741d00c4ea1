"""``python -m gateway``: the ``mtgateway`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
