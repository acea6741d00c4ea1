"""The event loop the long-running processes run on: uvloop where the platform has it.

uvloop is not available on Windows (where terminals live), so everything here must also run
on asyncio's own loop; this is the one place that chooses. The daemon (``mtgateway run``,
``demo``, ``console``) and the emulated terminal (``mtgateway emulator``) both start through
:func:`run`, so the emulated EA's side of the bridge costs what a compiled EA's would come
closer to, rather than asyncio's selector loop (a 256 KiB buffer allocated per socket read).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on uvloop if it is installed, else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)
