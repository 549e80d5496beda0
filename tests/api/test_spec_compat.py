"""Evolution without breaking phones: the committed spec against every released snapshot, and the comparator on
small hand-made specs."""

from __future__ import annotations

import copy
import json

import pytest

from scripts.spec_compat import (
    CHANGELOG,
    CURRENT,
    breaking_changes,
    changelog_entries,
    released_snapshots,
    undocumented,
)


def test_there_is_a_released_snapshot():
    assert released_snapshots(), "keep a copy of each released spec in mobile_api_docs/released/"


@pytest.mark.parametrize("snapshot", released_snapshots(), ids=lambda path: path.name)
def test_every_breaking_change_since_a_release_is_in_the_changelog(snapshot):
    """A removed operation, response field or enum value, or a newly required parameter or body field breaks
    apps built from an older spec: each must be named in mobile_api_docs/CHANGELOG.md (see scripts/spec_compat)."""
    changes = breaking_changes(json.loads(snapshot.read_text(encoding="utf-8")), json.loads(CURRENT.read_text()))
    missing = undocumented(changes, CHANGELOG.read_text(encoding="utf-8"))
    assert missing == [], (
        f"breaking changes since {snapshot.name} that mobile_api_docs/CHANGELOG.md does not name (add each as a "
        "`code span` under today's date, or keep the old shape): " + "; ".join(missing)
    )


# --- the comparator on hand-made specs


def _spec() -> dict:
    return {
        "openapi": "3.0.3",
        "paths": {
            "/api/v1/things/{id}": {
                "get": {
                    "operationId": "getThing",
                    "parameters": [
                        {"in": "path", "name": "id", "required": True, "schema": {"type": "integer"}},
                        {"in": "query", "name": "lang", "required": False, "schema": {"enum": ["en", "zh"]}},
                    ],
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                        "404": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    },
                },
            },
            "/api/v1/things": {
                "post": {
                    "operationId": "createThing",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ThingCreate"}}},
                    },
                    "responses": {"201": {"content": {"application/json": {"schema": {"type": "object"}}}}},
                },
            },
        },
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "status": {"type": "string", "enum": ["new", "done"]},
                        "contacts": {"type": "array", "items": {"$ref": "#/components/schemas/Contact"}},
                    },
                },
                "Contact": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "phones": {"type": "array", "items": {}}},
                },
                "ThingCreate": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}, "note": {"type": "string"}},
                },
                "Error": {"type": "object", "properties": {"code": {"type": "integer"}, "retry_after": {}}},
            }
        },
    }


def _changed(edit) -> list[str]:
    new = copy.deepcopy(_spec())
    edit(new)
    return breaking_changes(_spec(), new)


def test_the_same_spec_has_no_breaking_changes():
    assert breaking_changes(_spec(), _spec()) == []


def test_additions_are_allowed():
    def add(spec):
        spec["paths"]["/api/v1/things"]["get"] = {"operationId": "listThings", "responses": {}}
        thing = spec["components"]["schemas"]["Thing"]
        thing["properties"]["extra"] = {"type": "string"}
        thing["properties"]["status"]["enum"].append("archived")
        spec["paths"]["/api/v1/things/{id}"]["get"]["parameters"].append(
            {"in": "query", "name": "fields", "required": False, "schema": {"type": "string"}}
        )
        spec["components"]["schemas"]["ThingCreate"]["properties"]["tags"] = {"type": "array"}
        # error bodies are not 2xx: their fields are not watched
        del spec["components"]["schemas"]["Error"]["properties"]["retry_after"]

    assert _changed(add) == []


def test_a_removed_operation_is_detected():
    def remove(spec):
        del spec["paths"]["/api/v1/things"]

    assert _changed(remove) == ["removed operation POST /api/v1/things"]


def test_a_removed_response_field_is_detected_through_refs_and_arrays():
    def remove(spec):
        del spec["components"]["schemas"]["Contact"]["properties"]["phones"]

    assert _changed(remove) == ["removed field getThing 200 .contacts[].phones"]


def test_a_removed_enum_value_is_detected_in_schemas_and_parameters():
    def remove(spec):
        spec["components"]["schemas"]["Thing"]["properties"]["status"]["enum"] = ["new"]
        spec["paths"]["/api/v1/things/{id}"]["get"]["parameters"][1]["schema"]["enum"] = ["en"]

    assert sorted(_changed(remove)) == [
        "removed enum value Thing .status done",
        "removed enum value getThing parameter query.lang zh",
    ]


def test_newly_required_parameters_and_body_fields_are_detected():
    def require(spec):
        spec["paths"]["/api/v1/things/{id}"]["get"]["parameters"][1]["required"] = True
        spec["paths"]["/api/v1/things/{id}"]["get"]["parameters"].append(
            {"in": "header", "name": "X-New", "required": True, "schema": {"type": "string"}}
        )
        spec["components"]["schemas"]["ThingCreate"]["required"] = ["name", "note"]

    assert sorted(_changed(require)) == [
        "newly required field createThing body .note",
        "newly required parameter getThing header.X-New",
        "newly required parameter getThing query.lang",
    ]


def test_a_documented_change_passes_and_an_entry_covers_what_is_under_it():
    def remove(spec):
        del spec["components"]["schemas"]["Thing"]["properties"]["contacts"]
        del spec["paths"]["/api/v1/things"]

    changes = _changed(remove)
    assert sorted(changes) == [
        "removed field getThing 200 .contacts",
        "removed field getThing 200 .contacts[].name",
        "removed field getThing 200 .contacts[].phones",
        "removed operation POST /api/v1/things",
    ]
    changelog = "## 2027-01-10\n\n- `removed field getThing 200 .contacts`: moved to /things/{id}/contacts\n"
    assert undocumented(changes, changelog) == ["removed operation POST /api/v1/things"]
    changelog += "- `removed operation POST /api/v1/things`: use the console\n"
    assert undocumented(changes, changelog) == []
    # a prefix only covers at a boundary: `.contact` does not name `.contacts`
    assert undocumented(["removed field getThing 200 .contacts"], "`removed field getThing 200 .contact`") != []


def test_the_changelog_has_a_policy_and_names_the_header():
    text = CHANGELOG.read_text(encoding="utf-8")
    assert "X-App-Version" in changelog_entries(text) and "min_version" in text
