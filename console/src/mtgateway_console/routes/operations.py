"""The owner's instructions to terminals, read back: ``GET /v1/operations/{operation_id}``
answers one (a paper deposit, withdrawal or credit, a chart message) as it stands:
``pending`` until the terminal's daemon reports it ``applied``, ``refused`` or ``shown``.

The MT4 Web API makes them (``POST /api/admin/mail``, ``/api/accounts/{login}/deposit`` and
the like) and answers with their ids, but a chart message is always ``pending`` in that
answer (its EA shows it afterwards), and a deposit is while its daemon has not seen it: this
is where the owner reads what became of one. Either of the owner's credentials reads it: the
access token that made it (``Authorization: Bearer``, as the MT4 Web API takes it), or the
owner API's Basic credentials, as its other routes take them.
"""

from __future__ import annotations

from aiohttp import web

from ..appkeys import AUTHORITY
from ..door import DOOR
from ..errors import Refusal
from ..shapes import operation_out
from .refusals import OWNER_API

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/v1/operations/{operation_id}")
async def get_operation(request: web.Request) -> web.Response:
    """The owner's instruction with this id as it stands (404 for another owner's id, the
    same as for one that never was, so ids of others cannot be told from nothing)."""
    entry = await request.app[DOOR].enter(request, "owner", api=OWNER_API)
    found = await request.app[AUTHORITY].instructions.get(
        entry.caller.owner, request.match_info["operation_id"])
    if found is None:
        raise Refusal(404, "not_found", "no such operation of yours")
    return web.json_response({"operation": operation_out(found).model_dump(mode="json")})
