"""``python -m ea_bridge.emulator``: the same as ``mtgateway emulator``."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
