"""What the request sent: its body, read once, as a JSON model or a form.

Every body the console reads comes through here, so each refusal is answered alike by every
entry point: 415 for a body of another media type (where the entry point holds its callers to
one: a browser's cross-site ``<form>`` cannot send JSON without a preflight the console never
grants), 413 past the console's limit (``client_max_size``, 64 KiB), 400 for bytes that are
not JSON, and for JSON a model refuses the entry point's status (422; a device call's 400)
naming each field, in the message and as ``fields``. An empty JSON body is ``{}``.

The one deadline is the connection guard's: ``[console] body_timeout_s`` after the end of the
headers, a body that has not fully arrived closes its connection (``mtgateway_base.guard``),
whoever reads it; nothing here waits longer. Pydantic is used here, at the edge; the service below
sees plain values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeAlias, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ..errors import Refusal

if TYPE_CHECKING:
    from multidict import MultiDictProxy  # aiohttp's: what ``request.post()`` answers

__all__ = ["FORM", "JSON", "Posted", "form", "media_refusal", "model", "raw"]

JSON: Final = "application/json"
FORM: Final = "application/x-www-form-urlencoded"

M = TypeVar("M", bound=BaseModel)
#: A POSTed form: every value of every field (``get`` gives a field's first).
Posted: TypeAlias = "MultiDictProxy[str | bytes | bytearray | web.FileField]"


def _too_large() -> Refusal:
    return Refusal(413, "body_too_large", "the request body is too large")


def media_refusal(request: web.Request, *, form: bool) -> Refusal | None:
    """415 for a body not sent as the entry point reads it: a form (``form``: whatever
    the request carries), else JSON (when a body is sent at all)."""
    if form:
        if request.content_type != FORM:
            return Refusal(415, "unsupported_media_type", f"send the form as {FORM}")
    elif request.body_exists and request.content_type != JSON:
        return Refusal(415, "unsupported_media_type",
                       "the body must be JSON with Content-Type: application/json")
    return None


async def raw(request: web.Request) -> bytes:
    """The body's bytes (aiohttp keeps them: a second read costs nothing).

    Raises:
        Refusal: 413 past the console's limit.
    """
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large() from None


def model(data: bytes, shape: type[M], invalid: int) -> M:
    """``data`` as ``shape`` (``{}`` when empty).

    Raises:
        Refusal: 400 ``bad_json`` for bytes that are not JSON; ``invalid`` with
            ``invalid_request`` for JSON ``shape`` refuses, every field named (``fields``).
    """
    try:
        # the model's validator itself (what ``model_validate_json`` calls, without the method)
        return shape.__pydantic_validator__.validate_json(data or b"{}")  # type: ignore[no-any-return]
    except ValidationError as exc:
        problems = exc.errors()
        if any(e["type"] == "json_invalid" for e in problems):
            raise Refusal(400, "bad_json", "the body is not JSON") from None
        fields = [{"field": ".".join(str(p) for p in e["loc"]) or "(body)", "error": e["msg"]}
                  for e in problems]
        raise Refusal(invalid, "invalid_request",
                      "; ".join(f"{f['field']}: {f['error']}" for f in fields),
                      fields=fields) from None


async def form(request: web.Request) -> Posted:
    """The POSTed form.

    Raises:
        Refusal: 413 past the console's limit.
    """
    try:
        return await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large() from None
