"""The published spec is what the code serves, and every operation documents auth, errors and examples."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from app.errors import catalogue
from app.operation_ids import OPERATION_IDS
from scripts.gen_api_docs import GUIDE_PATH, SPEC_PATH, render_guide, render_spec

PUBLIC = {
    ("post", "/api/v1/auth/login"),
    ("get", "/api/v1/health"),
    ("get", "/api/v1/livez"),
    ("get", "/api/v1/readyz"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/public/onboarding"),
    # signed URLs that an <img> loads: the signature is the authorisation
    ("get", "/api/v1/photos/{photo_id}"),
    ("get", "/api/v1/photos/{photo_id}/thumbnail"),
    ("get", "/api/v1/exports/{export_id}/file"),
}

# health and the load balancer's probes answer their own 503 body (the health schemas), never the error JSON
PROBES = {"/api/v1/health", "/api/v1/livez", "/api/v1/readyz"}


@pytest.fixture(scope="module")
def spec(app):
    return json.loads(render_spec(app))


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield method, path, operation


def test_committed_spec_is_up_to_date(app):
    assert SPEC_PATH.read_text(encoding="utf-8") == render_spec(app), (
        "mobile_api_docs/openapi.json is stale: run `make docs` (python scripts/gen_api_docs.py) and commit it"
    )


def test_the_guides_error_catalogue_is_generated_and_up_to_date(app):
    guide = GUIDE_PATH.read_text(encoding="utf-8")
    assert guide == render_guide(render_spec(app)), (
        "the error catalogue in mobile_api_docs/guide.md is stale: run `make docs` and commit it"
    )
    for error in catalogue():
        assert f"| `{error.error_code}` | {error.status} |" in guide


def test_served_spec_matches_the_file(client):
    served = client.get("/api/v1/openapi.json").json
    assert served["paths"].keys() == json.loads(SPEC_PATH.read_text())["paths"].keys()


def test_every_operation_has_a_summary_and_documented_errors(spec):
    for method, path, operation in operations(spec):
        assert operation.get("summary"), f"{method} {path} has no summary (docstring)"
        errors = {code: r for code, r in operation["responses"].items() if code[0] in "45"}
        if path in PROBES:
            continue
        assert errors, f"{method} {path} documents no error responses"
        for code, response in errors.items():
            examples = response["content"]["application/json"].get("examples", {})
            assert examples, f"{method} {path} {code} has no example"
            for example in examples.values():
                assert example["value"]["code"] == int(code) and example["value"]["error_code"]


def test_every_private_operation_requires_a_bearer_token(spec):
    for method, path, operation in operations(spec):
        if (method, path) in PUBLIC:
            continue
        assert operation.get("security") == [{"bearerAuth": []}], f"{method} {path} is not marked as authenticated"
        assert "401" in operation["responses"], f"{method} {path} does not document 401"


def test_docs_ui_works_offline(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "https://" not in html and "http://" not in html
    assert client.get("/api/v1/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/api/v1/docs/assets/swagger-ui.css").status_code == 200


def test_every_operation_has_its_own_stable_operation_id(spec):
    ids = {(method.upper(), path): operation.get("operationId") for method, path, operation in operations(spec)}
    assert None not in ids.values(), [key for key, value in ids.items() if value is None]
    assert len(set(ids.values())) == len(ids)
    # every entry of app/operation_ids.py names a real operation (a removed one leaves no stale id behind)
    assert set(OPERATION_IDS) == set(ids)
    assert ids[("GET", "/api/v1/merchants/nearby")] == "listNearbyMerchants"
    assert ids[("POST", "/api/v1/leads/{merchant_id}/claim")] == "claimLead"
    assert ids[("POST", "/api/v1/visits")] == "checkIn"


def test_the_committed_spec_is_valid_openapi():
    """What a client generator is fed first: openapi-spec-validator accepts it (a multipart body is a
    requestBody, not OpenAPI 2's formData parameters)."""
    validate(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


def test_errors_are_documented_where_they_can_happen(spec):
    for method, path, operation in operations(spec):
        responses = operation["responses"]
        # a database outage can meet any operation; the app is told when to come back (health reports it)
        assert path in PROBES or "Retry-After" in responses["503"].get("headers", {}), (method, path)
        if method in ("get", "delete"):  # no body: no malformed JSON, no wrong content type
            assert "415" not in responses, (method, path)
            assert "MALFORMED_JSON" not in json.dumps(responses.get("400", {})), (method, path)
    assert spec["servers"]
