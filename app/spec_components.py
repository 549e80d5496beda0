"""Shared pieces of the OpenAPI document, so that a generated client gets one type where the API has one idea.

- Enums: a field whose choices are those of a registered enum (``CoordSys``, ``LeadState``, ``ErrorCode``, ...)
  is written as a reference to one component instead of an inline copy, whichever way the schema declared it
  (a marshmallow ``Enum`` field or a ``OneOf`` on a string).
- The cursor of every paged list is one parameter component (``Cursor``); every page is ``items`` + ``next_cursor``.
- Headers where they occur: ``X-Request-ID`` on every response, ``X-App-Version`` on every operation (426 below the
  business line's minimum), ``If-None-Match`` where a response carries an ``ETag``.
- A path id that is not a positive integer matches no route: every operation with a path parameter documents that
  generic ``404 NOT_FOUND`` beside its own not-found code.
- A dict field limited in size is ``maxProperties`` (``maxLength`` means nothing on an object).

apispec has no notion of "the same enum in many schemas" (it writes each one inline), hence this module.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any

import marshmallow as ma
from apispec import APISpec, BasePlugin

from app.errors import NotFound, error_body

REQUEST_ID_HEADER = {
    "description": "The request's id (the one sent in `X-Request-ID` when well-formed): quote it when reporting "
    "a problem; the server's logs carry it",
    "schema": {"type": "string"},
}
APP_VERSION_PARAMETER = {
    "in": "header",
    "name": "X-App-Version",
    "required": False,
    "description": "The app's version (`major.minor.patch`). Below the business line's minimum, every call "
    "answers `426 APP_UPGRADE_REQUIRED` with the store link. Scripts and the console send none.",
    "schema": {"type": "string", "maxLength": 32, "example": "2.14.0"},
}
CURSOR_PARAMETER = {
    "in": "query",
    "name": "cursor",
    "required": False,
    "description": "`next_cursor` of the previous page; omit it for the first page. Opaque and signed: a cursor "
    "edited, or sent with other filters than the page it came from, is `400 INVALID_CURSOR`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 1024},
}
IF_NONE_MATCH_PARAMETER = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "description": "The `ETag` of the copy the app holds: `304` with no body when nothing changed",
    "schema": {"type": "string"},
}
GENERIC_NOT_FOUND = "the URL names no resource (for example an id that is not a positive integer)"


class SharedEnums:
    """Enums documented once, as components, and the attribute function that refers to them."""

    def __init__(self) -> None:
        self._names: dict[frozenset[str], str] = {}
        self._components: dict[str, dict[str, Any]] = {}

    def register(self, name: str, values: enum.EnumMeta | Iterable[str], description: str) -> None:
        choices = [member.value for member in values] if isinstance(values, enum.EnumMeta) else list(values)
        self._names[frozenset(choices)] = name
        self._components[name] = {"type": "string", "enum": choices, "description": description}

    def add_to(self, spec: APISpec) -> None:
        for name, component in self._components.items():
            if name not in spec.components.schemas:
                spec.components.schema(name, component=component)

    def attribute_function(self) -> Callable[..., dict[str, Any]]:
        def shared_enum_reference(_converter: Any, _field: ma.fields.Field, ret: dict[str, Any], **_: Any):
            choices = ret.get("enum")
            if not isinstance(choices, list):
                return {}
            name = self._names.get(frozenset(value for value in choices if value is not None))
            if name is None:
                return {}
            ret.pop("enum")
            ret.pop("type", None)
            reference = {"$ref": f"#/components/schemas/{name}"}
            if not ret:
                ret.update(reference)  # a bare reference: nothing else to say about the field
                return {}
            # OpenAPI 3.0 ignores the siblings of a $ref: the field's description, default, nullable go beside allOf
            return {"allOf": [reference]}

        return shared_enum_reference


def object_size_limits(_converter: Any, field: ma.fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """A size limit on a dict field is a number of properties, not a length."""
    if ret.get("type") != "object":
        return {}
    for length, properties in (("maxLength", "maxProperties"), ("minLength", "minProperties")):
        if length in ret:
            ret[properties] = ret.pop(length)
    return {}


def _with_not_found_example(responses: dict[Any, Any]) -> None:
    # flask-smorest keys responses by int or str status, whichever the decorator was given
    response = next((value for key, value in responses.items() if str(key) == "404"), None)
    example = {"summary": NotFound.error_code, "value": error_body(404, NotFound.error_code, GENERIC_NOT_FOUND)}
    if response is None:
        responses["404"] = {
            "description": f"Not Found. `{NotFound.error_code}`: {GENERIC_NOT_FOUND}",
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"},
                    "examples": {NotFound.error_code: example},
                }
            },
        }
        return
    if not isinstance(response, dict) or "$ref" in response:
        return
    content = response.setdefault("content", {}).setdefault("application/json", {})
    examples = content.setdefault("examples", {})
    if NotFound.error_code not in examples:
        examples[NotFound.error_code] = example
        response["description"] = f"{response.get('description', 'Not Found.')}; `NOT_FOUND`: {GENERIC_NOT_FOUND}"


class SharedComponentsPlugin(BasePlugin):
    """Writes the shared parameters and headers into each operation (see the module docstring)."""

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        spec.components.parameter("Cursor", "query", {k: v for k, v in CURSOR_PARAMETER.items() if k != "in"})
        spec.components.parameter("AppVersion", "header", {k: v for k, v in APP_VERSION_PARAMETER.items() if k != "in"})
        spec.components.parameter(
            "IfNoneMatch", "header", {k: v for k, v in IF_NONE_MATCH_PARAMETER.items() if k != "in"}
        )
        spec.components.header("RequestId", REQUEST_ID_HEADER)

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not path or not path.startswith("/api/"):
            return
        for operation in (operations or {}).values():
            if not isinstance(operation, dict):
                continue
            parameters = operation.setdefault("parameters", [])
            for index, parameter in enumerate(parameters):
                if parameter.get("in") == "query" and parameter.get("name") == "cursor":
                    parameters[index] = "Cursor"  # a component id: apispec writes the $ref
            responses = operation.get("responses", {})
            inline = [
                response for response in responses.values() if isinstance(response, dict) and "$ref" not in response
            ]
            if any("ETag" in (response.get("headers") or {}) for response in inline):
                parameters.append("IfNoneMatch")
            parameters.append("AppVersion")
            if "{" in path:
                _with_not_found_example(responses)
            for response in inline:
                response.setdefault("headers", {})["X-Request-ID"] = "RequestId"
