"""Forged cursors and hostile JSON are 4xx, never 500: signed cursors with bounded values, and JSON depth and
text checked at the edge (app/pagination.py, app/api.py). Each case here was a 500."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from app import clock, pagination
from app.api import DEPTH_MESSAGE, MAX_JSON_DEPTH, NON_FINITE_MESSAGE, NUMBER_MESSAGE, SURROGATE_MESSAGE
from app.merchants.models import Lead, LeadState
from app.org.models import Role
from tests.factories import MerchantFactory, TenantFactory, UserFactory, auth_headers

SPOT = {"lat": 60.17, "lng": 24.94}
HUGE = 2**64 - 1  # beyond PostgreSQL's bigint
NO_FILTERS_VISITS = {"user_id": None, "merchant_id": None, "from": None, "to": None}
NO_FILTERS_AUDIT = {
    "audit": {"action": None, "actor_id": None, "subject_type": None, "subject_id": None, "since": None, "until": None}
}


@pytest.fixture
def people(session):
    tenant = TenantFactory()
    users = {role: UserFactory(tenant=tenant, role=role) for role in (Role.BD, Role.MANAGER, Role.OPS, Role.ADMIN)}
    for i in range(2):
        MerchantFactory(tenant=tenant, name=f"Hostile shop {i}", lat=SPOT["lat"] + i * 0.0001, lng=SPOT["lng"])
    return {"tenant": tenant, **{role.value: user for role, user in users.items()}}


def assert_invalid_cursor(response):
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error_code"] == "INVALID_CURSOR"
    assert response.json["errors"]["query"]["cursor"]


def nearby_fingerprint(client, path, headers):
    """The fingerprint of a nearby query, from the query the server echoes."""
    query = client.get(path, query_string=SPOT, headers=headers).json["query"]
    return pagination.fingerprint({k: v for k, v in query.items() if k != "limit"})


def forge(key_json: str, query_key: str) -> str:
    """A cursor with a genuine signature around hostile values (JSON text: integers of any size)."""
    return pagination.sign(b'{"k":' + key_json.encode() + b',"f":"' + query_key.encode() + b'"}')


@pytest.mark.parametrize("path", ["/api/v1/merchants/nearby", "/api/v1/leads/public"])
@pytest.mark.parametrize(
    "key",
    [
        f"[1.0,{2**64 - 1}]",  # the id beyond bigint
        f"[1.0,{-(2**63) - 1}]",
        "[1.0,1e30]",
        "[1e400,1]",
        '["far",1]',
        "[1.0,true]",
        "[1.0]",
    ],
)
def test_nearby_cursor_with_out_of_range_values_is_invalid_cursor(client, people, path, key):
    headers = auth_headers(people["bd"])
    token = forge(key, nearby_fingerprint(client, path, headers))
    assert_invalid_cursor(client.get(path, query_string={**SPOT, "cursor": token}, headers=headers))


@pytest.mark.parametrize(
    "moment", ['"not-a-date"', '"2024-13-45T25:00:00+00:00"', '"2024-01-01T00:00:00"', "17", "null"]
)
def test_visits_cursor_with_a_non_date_key_is_invalid_cursor(client, people, moment):
    token = forge(f"[{moment},1]", pagination.fingerprint(NO_FILTERS_VISITS))
    response = client.get("/api/v1/visits", query_string={"cursor": token}, headers=auth_headers(people["bd"]))
    assert_invalid_cursor(response)


@pytest.mark.parametrize("after_id", [str(2**63), str(10**30), str(-(2**63) - 1), "1.5", '"1"'])
def test_tasks_cursor_with_a_huge_id_is_invalid_cursor(client, people, after_id):
    manager = people["manager"]
    token = forge(f"[{after_id}]", pagination.fingerprint({"creator": manager.id}))
    assert_invalid_cursor(client.get("/api/v1/tasks", query_string={"cursor": token}, headers=auth_headers(manager)))


def test_audit_and_audit_queue_cursors_with_a_huge_id_are_invalid_cursor(client, people):
    audit = forge(f'["2024-01-01T00:00:00+00:00",{HUGE}]', pagination.fingerprint(NO_FILTERS_AUDIT))
    response = client.get("/api/v1/audit", query_string={"cursor": audit}, headers=auth_headers(people["admin"]))
    assert_invalid_cursor(response)
    queue = forge(f"[{HUGE}]", "audit-queue")
    response = client.get(
        "/api/v1/merchants/audit-queue", query_string={"cursor": queue}, headers=auth_headers(people["ops"])
    )
    assert_invalid_cursor(response)


def test_todos_cursor_with_values_of_the_wrong_kind_is_invalid_cursor(client, people):
    bd = people["bd"]
    token = forge("[1,2,3]", pagination.fingerprint({"todos": bd.id}))
    assert_invalid_cursor(client.get("/api/v1/todos", query_string={"cursor": token}, headers=auth_headers(bd)))


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _flip(token: str, at: int) -> str:
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]


def test_a_tampered_unsigned_or_foreign_cursor_is_refused(client, app, people):
    headers = auth_headers(people["bd"])
    first = client.get("/api/v1/merchants/nearby", query_string={**SPOT, "limit": 1}, headers=headers).json
    cursor = first["next_cursor"]
    assert cursor
    again = client.get("/api/v1/merchants/nearby", query_string={**SPOT, "limit": 1, "cursor": cursor}, headers=headers)
    assert again.status_code == 200 and again.json["items"][0]["id"] != first["items"][0]["id"]
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    payload = raw[32:]
    unsigned = b64(payload)  # the format before cursors were signed
    app.config["SECRET_KEY"], secret = "another-secret-another-secret-another-secret", app.config["SECRET_KEY"]
    try:
        other_secret = pagination.sign(payload)
    finally:
        app.config["SECRET_KEY"] = secret
    edited_payload = b64(raw[:32] + payload.replace(b'"k":[', b'"k":[0.0,1],"x":['))
    for forged in (
        _flip(cursor, 0),  # the signature
        _flip(cursor, 20),
        _flip(cursor, len(cursor) - 3),  # the payload under it
        unsigned,
        other_secret,
        edited_payload,
        cursor + "A",
        cursor[:-1],
        "garbage",
        "~" + cursor,
    ):
        response = client.get(
            "/api/v1/merchants/nearby", query_string={**SPOT, "limit": 1, "cursor": forged}, headers=headers
        )
        assert_invalid_cursor(response)


def _create_merchant(client, headers, raw: str):
    return client.post("/api/v1/merchants", data=raw, content_type="application/json", headers=headers)


def test_json_nested_thousands_of_levels_is_a_422(client, people):
    headers = auth_headers(people["bd"])
    for raw in (
        "[" * 5000 + "]" * 5000,
        '{"name": ' + '{"a":' * 5000 + "1" + "}" * 5000 + "}",
        '{"name": "x", "address": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),  # parses, and is still too deep
    ):
        response = _create_merchant(client, headers, raw)
        assert response.status_code == 422, response.get_data(as_text=True)[:300]
        assert response.json["error_code"] == "VALIDATION_ERROR"
        assert response.json["errors"] == {"json": {"_schema": [DEPTH_MESSAGE]}}


def test_json_at_the_depth_limit_reaches_the_schema(client, people):
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    response = _create_merchant(client, auth_headers(people["bd"]), '{"name": ' + nested + "}")
    assert response.status_code == 422
    assert "name" in response.json["errors"]["json"]  # refused by the schema (not a string), not by the depth


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Shop", **SPOT, "address": "Mannerheimintie 1 \ud800"},
        {"name": "\udfff", **SPOT},
        {"name": "Shop", **SPOT, "photo_ids": ["\ud83d"]},
        {"name": "Shop", **SPOT, "\ud800": 1},
    ],
)
def test_a_lone_surrogate_in_a_body_is_a_422(client, people, body):
    raw = json.dumps(body)  # "\ud800" escapes: valid JSON text, but not valid Unicode
    response = _create_merchant(client, auth_headers(people["bd"]), raw)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.json["errors"] == {"json": {"_schema": [SURROGATE_MESSAGE]}}


def test_a_surrogate_pair_is_fine(client, people):
    raw = json.dumps({"name": "Kahvila \U0001f600", "lat": 61.5, "lng": 23.8, "address": "Hämeenkatu 1"})
    response = _create_merchant(client, auth_headers(people["bd"]), raw)
    assert response.status_code == 201, response.json


def test_a_number_too_long_to_read_is_a_422(client, people):
    response = _create_merchant(client, auth_headers(people["bd"]), '{"name": "x", "lat": ' + "1" * 5000 + "}")
    assert response.status_code == 422
    assert response.json["errors"] == {"json": {"_schema": [NUMBER_MESSAGE]}}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_number_that_is_not_finite_is_a_422(client, session, people, number):
    """Python's json reads them; JSONB refuses them (a task's free-form payload was a 500)."""
    shop = MerchantFactory(tenant=people["tenant"])
    session.add(
        Lead(
            merchant_id=shop.id,
            tenant_id=shop.tenant_id,
            state=LeadState.PRIVATE,
            owner_id=people["bd"].id,
            claimed_at=clock.now(),
            drops_at=clock.now() + timedelta(days=10),
            drop_reason="no_visit",
        )
    )
    session.commit()
    raw = '{"title": "Price check", "kind": "visit", "items": [{"merchant_id": %d, "payload": {"price": %s}}]}'
    response = client.post(
        "/api/v1/tasks/bulk",
        data=raw % (shop.id, number),
        content_type="application/json",
        headers=auth_headers(people["admin"]),
    )
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.json["errors"] == {"json": {"_schema": [NON_FINITE_MESSAGE]}}
