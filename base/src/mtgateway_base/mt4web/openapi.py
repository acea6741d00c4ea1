"""The OpenAPI 3.1 document of one side of the MT4 Web API, made from ``table.ENDPOINTS``.

One builder for both sides: the operations, parameters, bodies, answers and the statuses each
endpoint's handler adds come from the table's column for that side; what the side's door
answers before any handler (its refusals, how it reads a path parameter, its title and
token) comes from the side's :class:`Profile`, declared beside the side's door
(``gateway/openapi.py``, ``mtgateway_console/mt4api/openapi.py``). Every path and method of
the document is listed, with its 501 and the reason where the side does not answer it, so a
client, and the fuzzing of each side (schemathesis), reads exactly what is served.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel

from .table import ENDPOINTS, Endpoint, Side

__all__ = ["OPENAPI_VERSION", "Profile", "build_document"]

OPENAPI_VERSION: Final = "3.1.0"
_REF: Final = "#/components/schemas/{model}"

#: The console's sign-in form (``application/x-www-form-urlencoded``).
_FORM: Final[dict[str, Any]] = {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["username", "password"],
        "properties": {
            "username": {"type": "string", "description": "the owner's e-mail"},
            "password": {"type": "string"},
            "otp": {"type": "string",
                    "description": "the two-step sign-in code, when it is on"}}}}}}


@dataclass(frozen=True)
class Profile:
    """What one side's door answers around the table's rows, and how its document is titled."""

    title: str
    description: str
    server: str
    #: The ``bearer`` security scheme.
    bearer: Mapping[str, Any]
    #: Every refusal and failure's body.
    error: type[BaseModel]
    #: Before an unanswered endpoint's reason: "Not available from a terminal".
    not_here: str
    #: A path parameter's schema, by its name and whether the side answers the endpoint.
    path_param: Callable[[str, bool], dict[str, Any]]
    #: What every operation behind the token may answer before its handler runs.
    door: Mapping[int, str]
    #: What an operation with a JSON body may answer for the body itself.
    body: Mapping[int, str]
    #: Whether the door's refusals carry :attr:`error` (the daemon's carry ``/rpc``'s
    #: JSON-RPC error object, which is not a model of this document).
    door_bodies: bool
    #: A path's ``{login}`` that is not a login, when the side says it apart from the door's.
    bad_login: str | None = None
    #: What an operation without a token may answer before its handler (and, for a form,
    #: :attr:`form_door` besides).
    open_door: Mapping[int, str] = field(default_factory=dict)
    form_door: Mapping[int, str] = field(default_factory=dict)
    #: What every answered operation behind the token may answer from its handler.
    answered: Mapping[int, str] = field(default_factory=dict)


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF, by_alias=True)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


def _json(description: str, ref: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _operation(endpoint: Endpoint, side: Side, profile: Profile,
               components: dict[str, Any]) -> dict[str, Any]:
    answer = endpoint.answer(side)
    error = _schema(profile.error, components)

    def refusal(text: str) -> dict[str, Any]:
        return _json(text, error) if profile.door_bodies else {"description": text}

    op: dict[str, Any] = {"summary": answer.summary, "operationId": endpoint.operation_id,
                          "responses": {}}
    responses: dict[str, Any] = op["responses"]
    if endpoint.path_params:
        op["parameters"] = [{"name": name, "in": "path", "required": True,
                             "schema": profile.path_param(name, answer.answered)}
                            for name in endpoint.path_params]
        if "login" in endpoint.path_params and profile.bad_login is not None:
            responses["400"] = _json(profile.bad_login, error)
    if answer.why is not None:
        op["description"] = f"{profile.not_here}: {answer.why}"
        responses["501"] = _json(answer.why, error)
    elif answer.response is not None:
        responses["201" if answer.created else "200"] = _json(
            "Created" if answer.created else "OK", _schema(answer.response, components))
    if answer.body is not None:
        needed = any(f.is_required() for f in answer.body.model_fields.values())
        op["requestBody"] = {"required": needed, "content": {"application/json": {
            "schema": _schema(answer.body, components)}}}
        for number, text in profile.body.items():
            responses.setdefault(str(number), refusal(text))
    if answer.form:
        op["requestBody"] = _FORM
    for number, text in answer.statuses.items():
        if number == 202 and answer.response is not None:
            responses["202"] = _json(text, _schema(answer.response, components))
        else:
            responses.setdefault(str(number), _json(text, error))
    if answer.auth:
        op["security"] = [{"bearer": []}]
        for number, text in profile.door.items():
            responses.setdefault(str(number), refusal(text))
        if answer.answered:
            for number, text in profile.answered.items():
                responses[str(number)] = _json(text, error)
    else:
        op["security"] = []
        for number, text in profile.open_door.items():
            responses.setdefault(str(number), _json(text, error))
        if answer.form:
            for number, text in profile.form_door.items():
                responses.setdefault(str(number), _json(text, error))
    return op


def build_document(side: Side, profile: Profile, version: str,
                   endpoints: Sequence[Endpoint] | None = None) -> dict[str, Any]:
    """``side``'s OpenAPI document: every endpoint of ``endpoints`` (:data:`~.table.ENDPOINTS`,
    unless a test gives a table of its own), as that side answers it."""
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS if endpoints is None else endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(
            endpoint, side, profile, components)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": profile.title,
            "version": version,
            "description": profile.description,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": profile.server}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {"bearer": dict(profile.bearer)},
        },
    }
