"""flask-smorest wiring: our Api and Blueprint, the documented error schema, and the offline docs UI."""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import flask
import flask_smorest
import marshmallow as ma
import swagger_ui_bundle
from apispec import BasePlugin
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import MultiDict

from app.errors import (
    AppError,
    ErrorCode,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    MalformedJson,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
    error_body,
    handle_http_exception,
)
from app.idempotency import service as idempotency
from app.spec_components import SharedEnums, object_size_limits


class ErrorSchema(ma.Schema):
    """Every error response: branch on ``error_code``."""

    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code", "example": 422})
    status = ma.fields.String(required=True, metadata={"description": "HTTP status phrase"})
    message = ma.fields.String(required=True, metadata={"description": "Human-readable explanation"})
    error_code = ma.fields.Enum(
        ErrorCode,
        by_value=True,
        required=True,
        metadata={"description": "Stable machine-readable code", "example": "VALIDATION_ERROR"},
    )
    errors = ma.fields.Dict(metadata={"description": "Per-location, per-field messages (validation errors)"})
    retry_after = ma.fields.Integer(
        metadata={"description": "Seconds to wait (429 and `IDEMPOTENCY_IN_PROGRESS` only)"}
    )
    geometry_error = ma.fields.Dict(
        metadata={"description": "`INVALID_GEOMETRY` only: `{code, reason, location: [lng, lat]?, path?}`"}
    )
    # the few codes that carry one more fact for the app to act on
    until = ma.fields.String(metadata={"description": "`RECLAIM_COOLDOWN` only: when the lead may be claimed again"})
    cap = ma.fields.Integer(metadata={"description": "`CLAIM_CAP_REACHED` only: the private pool's size limit"})
    current_status = ma.fields.String(metadata={"description": "`INVALID_TRANSITION` only: the to-do's status now"})
    audit_status = ma.fields.String(metadata={"description": "`NOT_PENDING_AUDIT` only: the merchant's audit status"})
    max_rows = ma.fields.Integer(metadata={"description": "`EXPORT_TOO_LARGE` only: the most rows answered at once"})
    store_url = ma.fields.String(
        metadata={"description": "`APP_UPGRADE_REQUIRED` only: where to get the current app (may be empty)"}
    )


# Limits on what a request may carry, checked at the edge so hostile input is a 4xx, never a 500 deep inside:
# PostgreSQL text cannot hold NUL, psycopg cannot encode a lone UTF-16 surrogate (which Python's json turns
# "\ud800" into), JSONB has no NaN or Infinity (which Python's json reads, and 1e400 as inf), and no body of
# this API nests more than a few levels (a territory's GeoJSON multipolygon: 6; free-form payloads: a few).
MAX_JSON_DEPTH = 64
NUL_MESSAGE = "Text may not contain NUL (\\u0000) characters."
SURROGATE_MESSAGE = "Text may not contain lone UTF-16 surrogates (\\ud800-\\udfff); send valid Unicode."
DEPTH_MESSAGE = f"JSON may not nest deeper than {MAX_JSON_DEPTH} levels."
NUMBER_MESSAGE = "A number in the JSON body is too long to read."
NON_FINITE_MESSAGE = "Numbers must be finite: no NaN, Infinity or magnitudes beyond 1.8e308."

_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def hostile_value(value: Any, depth: int = 0) -> str | None:
    """Why a decoded value (JSON, query arguments, path arguments) is refused, in one walk: a NUL or a lone
    surrogate in a string or a key, a number that is not finite, or lists and objects nested deeper than
    ``MAX_JSON_DEPTH``; ``None`` if it is fine."""
    if isinstance(value, str):
        found = _BAD_CHARACTER.search(value)
        if found is None:
            return None
        return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE
    if isinstance(value, float):
        return None if math.isfinite(value) else NON_FINITE_MESSAGE
    if isinstance(value, dict):
        if depth >= MAX_JSON_DEPTH:
            return DEPTH_MESSAGE
        for key, item in value.items():
            reason = hostile_value(key, depth + 1) or hostile_value(item, depth + 1)
            if reason:
                return reason
    elif isinstance(value, list | tuple):
        if depth >= MAX_JSON_DEPTH:
            return DEPTH_MESSAGE
        for item in value:
            reason = hostile_value(item, depth + 1)
            if reason:
                return reason
    return None


def reject_hostile_text() -> None:
    """Refuse a NUL or a lone surrogate in the path or the query string up front (a 422) instead of failing
    deep in a query. (The JSON body and form fields are checked where they are parsed: ``Parser``.)"""
    reason = hostile_value(flask.request.view_args or {})
    if reason:
        raise ValidationFailed(errors={"path": {"_schema": [reason]}})
    reason = hostile_value(dict(flask.request.args.lists()))
    if reason:
        raise ValidationFailed(errors={"query": {"_schema": [reason]}})


def takes_query(view_function: Callable, method: str) -> bool:
    """Whether an API operation reads query parameters (an ``@blp.arguments(..., location="query")``)."""
    view_class = getattr(view_function, "view_class", None)
    handler = getattr(view_class, method.lower(), None) if view_class is not None else None
    if handler is None:
        return True  # not one of our MethodViews (the docs UI, static files): not ours to judge
    parameters = getattr(handler, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    return any(parameter.get("in") == "query" for parameter in parameters)


def reject_unexpected_query() -> None:
    """An operation without query parameters refuses any (422), like the others refuse unknown ones: a typo or
    a parameter the app thinks exists (``?limit=`` on a list that is not paged) must not pass silently."""
    request = flask.request
    if not request.args or request.url_rule is None or request.method in ("HEAD", "OPTIONS"):
        return
    view = flask.current_app.view_functions.get(request.url_rule.endpoint)
    if view is not None and not takes_query(view, request.method):
        unknown = {name: ["Unknown field."] for name in request.args}
        raise ValidationFailed(errors={"query": unknown})


def _in_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if isinstance(value, dict):
        return {key: _in_utc(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_in_utc(item) for item in value]
    return value


_SCHEMA_INSTANCES: dict[type[ma.Schema], ma.Schema] = {}
_DEEP_OBJECT_KEY = re.compile(r"^([a-z_]+)\[([^\[\]]*)\]$")


def _map_entry(key: str, prefixed: dict[str, str]) -> tuple[str, str | None] | None:
    """``(field, map key)`` for a query key that belongs to a map field (``None`` as map key: ``field=k:v``)."""
    if key in prefixed.values():
        return key, None
    deep = _DEEP_OBJECT_KEY.match(key)
    if deep and deep.group(1) in prefixed.values():
        return deep.group(1), deep.group(2)
    prefix = next((p for p in prefixed if key.startswith(p)), None)
    return (prefixed[prefix], key[len(prefix) :]) if prefix is not None else None


def _pair(field: str, value: str) -> tuple[str, str]:
    name, separator, item = value.partition(":")
    if not separator:
        raise ValidationFailed(errors={"query": {field: [f"`{field}=<key>:<value>`, e.g. `{field}=cuisine:sichuan`."]}})
    return name, item


def query_pairs(_converter: Any, field: ma.fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """A query map field (``x-query-prefix``) as the spec shows it: repeated ``key:value`` strings, which every
    client generator can send (``style: deepObject`` is not supported by all of them)."""
    if "x-query-prefix" not in field.metadata:
        return {}
    key_pattern = next(
        (v.regex.pattern.strip("^$") for v in getattr(field.key_field, "validators", []) if hasattr(v, "regex")),
        ".+",
    )
    max_value = next((v.max for v in getattr(field.value_field, "validators", []) if getattr(v, "max", None)), None)
    value_pattern = f".{{1,{max_value}}}" if max_value else ".+"
    max_items = ret.get("maxProperties")
    description = ret.get("description")
    ret.clear()
    if description:
        ret["description"] = description
    ret.update(
        {
            "type": "array",
            "items": {"type": "string", "pattern": f"^{key_pattern}:{value_pattern}$", "example": "cuisine:sichuan"},
        }
    )
    if max_items is not None:
        ret["maxItems"] = max_items
    return {}


class Parser(FlaskParser):
    """Strict parsing: unknown query parameters and body fields are rejected, not silently ignored."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": ma.RAISE}

    def _get_schema(self, argmap: Any, req: flask.Request) -> ma.Schema:
        # webargs builds a new instance of a schema class on every request (a deep copy of all its fields);
        # loading is stateless, so one instance per class serves every request
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = _SCHEMA_INSTANCES.get(argmap)
            if schema is None:
                schema = _SCHEMA_INSTANCES[argmap] = argmap()
            return schema
        return super()._get_schema(argmap, req)

    def load_querystring(self, req: flask.Request, schema: ma.Schema) -> Any:
        """Query parameters; a schema's ``PREFIXED_PARAMS`` (``{"attr.": "attr"}``) gathers a map of filters
        into one dict field, the only deliberate exception to strict parsing. Three spellings, one meaning:
        ``attr=cuisine:sichuan`` (repeatable; what generated clients send, the spec's form),
        ``attr[cuisine]=sichuan`` (deepObject) and ``attr.cuisine=sichuan``."""
        prefixed = getattr(schema, "PREFIXED_PARAMS", None)
        if not prefixed:
            return super().load_querystring(req, schema)
        fields = set(prefixed.values())
        if not any(_map_entry(key, prefixed) for key in req.args):
            return super().load_querystring(req, schema)
        args = MultiDict()
        gathered: dict[str, dict[str, Any]] = {field: {} for field in fields}
        for key, values in req.args.lists():
            entry = _map_entry(key, prefixed)
            if entry is None:
                args.setlist(key, values)
                continue
            field, name = entry
            pairs = [(name, value) for value in values] if name is not None else [_pair(field, v) for v in values]
            for pair_key, pair_value in pairs:
                previous = gathered[field].get(pair_key)
                # a repeated key becomes a list so that the field's validation refuses it
                gathered[field][pair_key] = pair_value if previous is None else [previous, pair_value]
        for field, value in gathered.items():
            args[field] = value
        return self._makeproxy(args, schema)

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        """Parsed arguments, with every date-time in UTC: what the server stores and answers is UTC, whatever
        offset the phone sent (an answer built from the request would otherwise echo it)."""
        return _in_utc(super().parse(*args, **kwargs))

    def load_files(self, req: flask.Request, schema: ma.Schema) -> Any:
        """A multipart body: its files and its form fields together, so that one schema (documented as one
        ``multipart/form-data`` request body) describes a file and the fields sent with it."""
        data = MultiDict(req.form)
        for key, values in req.files.lists():
            data.setlist(key, values)
        return self._makeproxy(data, schema)

    def load_json(self, req: flask.Request, schema: ma.Schema) -> Any:
        if req.content_length and not is_json_request(req):
            raise UnsupportedMediaType()
        return super().load_json(req, schema)

    def _raw_load_json(self, req: flask.Request) -> Any:
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            # Python's json recurses once per level: thousands of levels exhaust the stack before any check
            raise ValidationFailed(errors={"json": {"_schema": [DEPTH_MESSAGE]}}) from None
        except json.JSONDecodeError:
            raise  # the parser's own handling: MALFORMED_JSON, or no body at all
        except ValueError:
            # an integer literal longer than Python's int conversion limit (4,300 digits)
            raise ValidationFailed(errors={"json": {"_schema": [NUMBER_MESSAGE]}}) from None

    def _load_location_data(self, *, schema: ma.Schema, req: flask.Request, location: str) -> Any:
        data = super()._load_location_data(schema=schema, req=req, location=location)
        if location in ("json", "form"):
            reason = hostile_value(data if location == "json" else dict(req.form.lists()))
            if reason:
                raise ValidationFailed(errors={location: {"_schema": [reason]}})
        return data

    def _handle_invalid_json_error(self, error: Exception, req: flask.Request, *args: Any, **kwargs: Any) -> Any:
        raise MalformedJson()

    def handle_error(self, error: ma.ValidationError, req: flask.Request, schema: ma.Schema, **kwargs: Any) -> Any:
        raise ValidationFailed(errors=error.normalized_messages())


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


def nullable_reference(_converter: Any, _field: ma.fields.Field, ret: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
    """A nullable nested object as ``allOf: [$ref]`` + ``nullable``, which client generators read as the model.

    apispec writes OpenAPI 3.0's nullable reference as ``anyOf: [{type: object, nullable: true}, {$ref}]``;
    generators take the untyped object first and lose the model (openapi-python-client, openapi-typescript).
    """
    any_of = ret.get("anyOf")
    null = {"type": "object", "nullable": True}
    if not isinstance(any_of, list) or null not in any_of:
        return {}
    references = [item for item in any_of if item != null]
    if not references or not all("$ref" in item for item in references):
        return {}
    ret.pop("anyOf")
    return {"allOf": references, "nullable": True}


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared_enums = SharedEnums()

    def _register_responses(self) -> None:
        # flask-smorest's last step before it converts the first schema (the error schema): our attribute
        # functions must be in place by then, or that schema keeps its inline enum
        converter = self.ma_plugin.converter
        converter.add_attribute_function(nullable_reference)
        converter.add_attribute_function(object_size_limits)
        converter.add_attribute_function(query_pairs)
        converter.add_attribute_function(self.shared_enums.attribute_function())
        self.shared_enums.add_to(self.spec)
        super()._register_responses()

    def register_enums(self, enums: Iterable[tuple[str, Any, str]]) -> None:
        """Enums the spec shows once, as components (see ``app.spec_components``); call before ``init_app``."""
        for name, values, description in enums:
            self.shared_enums.register(name, values, description)

    def handle_http_exception(self, error: Exception) -> flask.Response:
        return handle_http_exception(error)


# An error an operation documents: its class, or the class with what it means for that operation.
DocumentedError = type[AppError] | tuple[type[AppError], str]


def error_example(error: type[AppError], when: str | None = None) -> dict[str, Any]:
    return {"summary": error.error_code, "value": error_body(error.status, error.error_code, when or error.when())}


# Errors only a request with a body can get: not documented on GET and DELETE, which take none.
BODY_ERRORS = (MalformedJson, UnsupportedMediaType)
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer", "minimum": 1}}
}


def document_errors(blp: Blueprint, errors: Iterable[DocumentedError]) -> Callable:
    """Document an endpoint's error responses from the catalogue's classes (``app.errors``).

    Every operation can meet a database outage (503 with ``Retry-After``), so that one is always listed.
    """
    items = [*errors, ServiceUnavailable]

    def decorator(func: Callable) -> Callable:
        takes_body = func.__name__ not in ("get", "delete")
        by_status: dict[int, dict[str, tuple[type[AppError], str]]] = defaultdict(dict)
        for item in items:
            error, when = item if isinstance(item, tuple) else (item, item.when())
            if takes_body or error not in BODY_ERRORS:
                by_status[error.status][error.error_code] = (error, when)
        for status, entries in sorted(by_status.items(), reverse=True):
            description = (
                HTTPStatus(status).phrase + ". " + "; ".join(f"`{code}`: {when}" for code, (_, when) in entries.items())
            )
            examples = {code: error_example(error, when) for code, (error, when) in entries.items()}
            headers = RETRY_AFTER if any(error.retry_after_header for error, _ in entries.values()) else None
            func = blp.alt_response(
                status, schema=ErrorSchema, description=description, examples=examples, headers=headers
            )(func)
        return func

    return decorator


VALIDATION_ERRORS = (MalformedJson, UnsupportedMediaType, ValidationFailed)

ERROR_REFERENCE = {"$ref": "#/components/schemas/Error"}
IDEMPOTENCY_ERRORS = (InvalidIdempotencyKey, IdempotencyKeyReused, IdempotencyInProgress)
IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": idempotency.KEY_HEADER,
    "required": False,
    "description": (
        "Makes the request safe to retry: a new UUID per user action, sent again unchanged on every retry of it. "
        "A retry within the key's lifetime (72 h by default) gets the first answer again, with "
        "`Idempotent-Replayed: true`, and changes nothing. See the guide's *Retries*."
    ),
    "schema": {
        "type": "string",
        "minLength": idempotency.KEY_MIN_LENGTH,
        "maxLength": idempotency.KEY_MAX_LENGTH,
        "pattern": "^[!-~]+$",
        "example": "5f0c7a52-9a43-4e7e-8a0e-0b6f3d8b2c11",
    },
}
REPLAYED_HEADER = {
    idempotency.REPLAYED_HEADER: {
        "description": (
            "Sent when the request had an `Idempotency-Key`: `true` if this is the stored answer of an earlier "
            "request with the key (nothing was changed now), `false` if the request ran now"
        ),
        "schema": {"type": "string", "enum": ["true", "false"]},
    }
}


class IdempotencyPlugin(BasePlugin):
    """Documents the retry mechanism on every POST that honours it (``app.idempotency``, all but
    ``NOT_IDEMPOTENT``): the ``Idempotency-Key`` header, ``Idempotent-Replayed`` on its successful answers,
    and its errors. Done once here, so a POST added later is documented as it behaves."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        operation = (operations or {}).get("post")
        if operation is None or ("POST", path) in idempotency.NOT_IDEMPOTENT:
            return
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("in") == "header" and p.get("name") == idempotency.KEY_HEADER for p in parameters):
            parameters.append(IDEMPOTENCY_KEY_PARAMETER)
        responses = operation.setdefault("responses", {})
        for status, response in responses.items():
            if str(status).startswith("2"):
                response.setdefault("headers", {}).update(REPLAYED_HEADER)
        for error in IDEMPOTENCY_ERRORS:
            _document_error(responses, error)


def _document_error(responses: dict[str, Any], error: type[AppError]) -> None:
    """Add an error's example to the operation's response of its status (made if there is none)."""
    # flask-smorest keys the responses by int here (apispec turns them into strings afterwards)
    status = next((code for code in responses if str(code) == str(error.status)), error.status)
    response = responses.get(status)
    if response is None:
        response = responses[status] = {
            "description": HTTPStatus(error.status).phrase + ".",
            "content": {"application/json": {"schema": ERROR_REFERENCE}},
        }
    content = response["content"]["application/json"]
    examples = content.setdefault("examples", {})
    if error.error_code in examples:
        return
    if content.get("schema") not in (ERROR_REFERENCE, "Error", None) and "oneOf" not in content["schema"]:
        # a richer error of the operation's own (POSSIBLE_DUPLICATE's candidates), or ours: Error forbids other
        # fields, so exactly one of the two fits any answer
        content["schema"] = {"oneOf": [content["schema"], ERROR_REFERENCE]}
    separator = " " if not examples else "; "
    examples[error.error_code] = error_example(error)
    response["description"] += f"{separator}`{error.error_code}`: {error.when()}"
    if error.retry_after_header:
        response.setdefault("headers", {}).update(RETRY_AFTER)


def register_docs_assets(app: flask.Flask) -> None:
    """Serve Swagger UI's files ourselves so the docs page needs no CDN."""
    assets = flask.Blueprint(
        "docs_assets", __name__, static_folder=swagger_ui_bundle.swagger_ui_path, static_url_path="/api/v1/docs/assets"
    )
    app.register_blueprint(assets)
