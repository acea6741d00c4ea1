"""``python -m mtgateway_console``: the ``mtgateway-console`` command."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
