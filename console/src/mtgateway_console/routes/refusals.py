"""How the owner API and the device calls answer a refusal: the console's own shape,
``{"error": {"code", "reason", "message", ...}}`` (``docs/authority.md``), with HTTP Basic's
challenge on a 401 and ``Retry-After`` on a 429 or 503 that says how long.

The door (``door/``) decides every refusal; this is only how this entry point writes one.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from ..door import plain, refusal_headers
from ..errors import Refusal

__all__ = ["OWNER_API", "render"]

#: What the Origin rule's refusal calls this API.
OWNER_API: Final = "the owner API"
_CHALLENGE: Final = 'Basic realm="mtgateway", charset="UTF-8"'


async def render(request: web.Request, refusal: Refusal) -> web.StreamResponse:
    """``refusal`` as the owner API answers it."""
    return plain(refusal, refusal_headers(refusal, _CHALLENGE))
