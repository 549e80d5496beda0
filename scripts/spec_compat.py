"""Breaking changes between a released OpenAPI spec and the current one, for phones that run old app versions.

``breaking_changes(old, new)`` lists, as stable one-line strings, what an app built from ``old`` could trip on:

* ``removed operation GET /api/v1/x``: a method and path gone;
* ``removed field <operationId> <status> <path>``: a property of a 2xx response body gone (``$ref`` resolved
  into ``components``), e.g. ``removed field getMerchantDetail 200 .contacts[].phones``; ``[]`` is an array's
  item, ``{}`` a map's value;
* ``removed enum value <where> <value>``: a value gone from an enum, where ``<where>`` is a component schema
  and the path inside it (``ErrorCode``, ``Merchant .audit_status``), an operation's parameter
  (``listMyLeads parameter query.state``) or an inline schema of an operation (``getMe 200 .role``,
  ``createTask body .kind``);
* ``newly required parameter <operationId> <in>.<name>``: a parameter that old apps need not send is required
  now (or a required one was added);
* ``newly required body <operationId>``: the request body became required;
* ``newly required field <operationId> body <path>``: a request-body property old apps need not send is
  required now (or a required one was added).

Additions (operations, optional parameters, response fields, enum values, error codes) are never breaking.

``undocumented(changes, changelog)`` keeps the changes no entry of the changelog covers. An entry is any
`` `code span` `` of ``mobile_api_docs/CHANGELOG.md``; it covers a change that equals it, or starts with it
followed by a space, ``.`` or ``[`` (``removed field getMerchantDetail 200 .contacts`` covers every field
under ``.contacts``; ``removed operation GET /api/v1/x`` covers only that operation).

``python scripts/spec_compat.py`` prints what the newest released snapshot's comparison finds.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "mobile_api_docs"
RELEASED = DOCS / "released"
CHANGELOG = DOCS / "CHANGELOG.md"
CURRENT = DOCS / "openapi.json"

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
JSON = "application/json"

Spec = dict[str, Any]


def _operations(spec: Spec) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                found[(method.upper(), path)] = {**item[method], "_shared_parameters": item.get("parameters", [])}
    return found


def _resolve(spec: Spec, node: Any) -> Any:
    """Follow ``$ref`` chains to ``#/components/...`` (a dangling one resolves to ``{}``)."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen or not ref.startswith("#/"):
            return {}
        seen.add(ref)
        target: Any = spec
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = target
    return node


def _field_paths(spec: Spec, schema: Any, prefix: str = "", stack: tuple[str, ...] = ()) -> Iterator[str]:
    """Every property path of a schema, ``$ref`` resolved (a schema recursing into itself stops there)."""
    if isinstance(schema, dict) and "$ref" in schema:
        if schema["$ref"] in stack:
            return
        stack = (*stack, schema["$ref"])
    schema = _resolve(spec, schema)
    if not isinstance(schema, dict):
        return
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key, []):
            yield from _field_paths(spec, part, prefix, stack)
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{name}"
        yield path
        yield from _field_paths(spec, sub, path, stack)
    if "items" in schema:
        yield from _field_paths(spec, schema["items"], prefix + "[]", stack)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _field_paths(spec, schema["additionalProperties"], prefix + "{}", stack)


def _required_paths(spec: Spec, schema: Any, prefix: str = "", stack: tuple[str, ...] = ()) -> Iterator[str]:
    """The property paths a body must send: required properties, inside objects that are sent (required) too."""
    if isinstance(schema, dict) and "$ref" in schema:
        if schema["$ref"] in stack:
            return
        stack = (*stack, schema["$ref"])
    schema = _resolve(spec, schema)
    if not isinstance(schema, dict):
        return
    for part in schema.get("allOf", []):
        yield from _required_paths(spec, part, prefix, stack)
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        path = f"{prefix}.{name}"
        yield path
        if name in properties:
            yield from _required_paths(spec, properties[name], path, stack)
    if "items" in schema:
        yield from _required_paths(spec, schema["items"], prefix + "[]", stack)


def _enums(schema: Any, prefix: str = "") -> Iterator[tuple[str, list[Any]]]:
    """``(path, values)`` of every enum in a schema, not following ``$ref`` (components are walked by name)."""
    if not isinstance(schema, dict) or "$ref" in schema:
        return
    if isinstance(schema.get("enum"), list):
        yield prefix, schema["enum"]
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key, []):
            yield from _enums(part, prefix)
    for name, sub in schema.get("properties", {}).items():
        yield from _enums(sub, f"{prefix}.{name}")
    if "items" in schema:
        yield from _enums(schema["items"], prefix + "[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _enums(schema["additionalProperties"], prefix + "{}")


def _success_schemas(operation: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for status, response in operation.get("responses", {}).items():
        if str(status).startswith("2") and isinstance(response, dict):
            schema = response.get("content", {}).get(JSON, {}).get("schema")
            if schema is not None:
                yield str(status), schema


def _body_schema(spec: Spec, operation: dict[str, Any]) -> Any:
    body = _resolve(spec, operation.get("requestBody", {}))
    content = body.get("content", {})
    media = content.get(JSON) or next(iter(content.values()), {})
    return media.get("schema")


def _parameters(spec: Spec, operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for raw in [*operation.get("_shared_parameters", []), *operation.get("parameters", [])]:
        parameter = _resolve(spec, raw)
        found[f"{parameter.get('in')}.{parameter.get('name')}"] = parameter
    return found


def _operation_enums(spec: Spec, name: str, operation: dict[str, Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for key, parameter in _parameters(spec, operation).items():
        for path, values in _enums(parameter.get("schema", {}), ""):
            found[f"{name} parameter {key}{path}"] = values
    body = _body_schema(spec, operation)
    for path, values in _enums(body, ""):
        found[f"{name} body {path}".rstrip()] = values
    for status, schema in _success_schemas(operation):
        for path, values in _enums(schema, ""):
            found[f"{name} {status} {path}".rstrip()] = values
    return found


def _component_enums(spec: Spec) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for component, schema in spec.get("components", {}).get("schemas", {}).items():
        for path, values in _enums(schema, ""):
            found[f"{component} {path}".rstrip()] = values
    return found


def breaking_changes(old: Spec, new: Spec) -> list[str]:
    """What an app built from ``old`` may trip on in ``new``; see the module docstring for the strings."""
    changes: list[str] = []
    old_ops, new_ops = _operations(old), _operations(new)
    old_enums, new_enums = _component_enums(old), _component_enums(new)
    for (method, path), old_op in sorted(old_ops.items()):
        new_op = new_ops.get((method, path))
        if new_op is None:
            changes.append(f"removed operation {method} {path}")
            continue
        name = old_op.get("operationId") or f"{method} {path}"
        # response fields
        new_success = dict(_success_schemas(new_op))
        for status, schema in _success_schemas(old_op):
            kept = set(_field_paths(new, new_success[status])) if status in new_success else set()
            for field in dict.fromkeys(_field_paths(old, schema)):
                if field not in kept:
                    changes.append(f"removed field {name} {status} {field}")
        # parameters
        old_params, new_params = _parameters(old, old_op), _parameters(new, new_op)
        for key, parameter in new_params.items():
            was = old_params.get(key)
            if parameter.get("required") and not (was and was.get("required")):
                changes.append(f"newly required parameter {name} {key}")
        # request body
        old_body, new_body = _resolve(old, old_op.get("requestBody", {})), _resolve(new, new_op.get("requestBody", {}))
        if new_body.get("required") and not old_body.get("required"):
            changes.append(f"newly required body {name}")
        was_required = set(_required_paths(old, _body_schema(old, old_op)))
        for field in dict.fromkeys(_required_paths(new, _body_schema(new, new_op))):
            if field not in was_required:
                changes.append(f"newly required field {name} body {field}")
        # inline enums of the operation
        old_enums.update(_operation_enums(old, name, old_op))
        new_enums.update(_operation_enums(new, name, new_op))
    for where, values in old_enums.items():
        remaining = new_enums.get(where)
        if remaining is None:
            continue  # the field itself is gone (reported above) or was made a free value
        for value in values:
            if value not in remaining:
                changes.append(f"removed enum value {where} {value}")
    return changes


_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def changelog_entries(text: str) -> set[str]:
    return {span.strip() for span in _CODE_SPAN.findall(text)}


def _covers(entry: str, change: str) -> bool:
    return change == entry or (change.startswith(entry) and change[len(entry)] in " .[")


def undocumented(changes: list[str], changelog: str) -> list[str]:
    """The changes that no `` `entry` `` of the changelog names (exactly, or as a prefix; see the module)."""
    entries = changelog_entries(changelog)
    return [change for change in changes if not any(_covers(entry, change) for entry in entries)]


def released_snapshots() -> list[Path]:
    return sorted(RELEASED.glob("openapi-*.json"))


def main() -> int:
    current = json.loads(CURRENT.read_text(encoding="utf-8"))
    changelog = CHANGELOG.read_text(encoding="utf-8")
    missing = 0
    for snapshot in released_snapshots():
        changes = breaking_changes(json.loads(snapshot.read_text(encoding="utf-8")), current)
        left = set(undocumented(changes, changelog))
        for change in changes:
            print(f"{snapshot.name}: {'UNDOCUMENTED ' if change in left else ''}{change}")
        missing += len(left)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
