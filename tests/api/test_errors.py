"""One error shape for everything that can go wrong, and never a 500 for bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from app import db
from tests.factories import UserFactory, auth_headers

LOGIN = "/api/v1/auth/login"
ERROR_KEYS = {"code", "status", "message", "error_code"}


def assert_error(response, status, error_code):
    assert response.status_code == status, response.json
    assert response.is_json
    assert ERROR_KEYS <= set(response.json)
    assert response.json["code"] == status
    assert response.json["error_code"] == error_code
    return response.json


def test_malformed_json_is_400(client):
    response = client.post(LOGIN, data='{"username": "a",', content_type="application/json")
    assert_error(response, 400, "MALFORMED_JSON")


def test_non_utf8_body_is_400(client):
    response = client.post(LOGIN, data=b'{"username": "\xff\xfe"}', content_type="application/json")
    assert_error(response, 400, "MALFORMED_JSON")


def test_wrong_content_type_is_415(client):
    response = client.post(LOGIN, data="username=a&password=b", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": 12, "password": "x"}, "username"),
        ({"username": "a", "password": ["x"]}, "password"),
        ({"username": "a"}, "password"),
        ({"username": "a", "password": "b", "admin": True}, "admin"),
        ({"username": "a" * 81, "password": "b"}, "username"),
        ({"username": "", "password": "b"}, "username"),
    ],
)
def test_invalid_fields_are_422_with_field_messages(client, body, field):
    body = assert_error(client.post(LOGIN, json=body), 422, "VALIDATION_ERROR")
    assert field in body["errors"]["json"]


@pytest.mark.parametrize("payload", ["[]", '"text"', "null", "42"])
def test_json_that_is_not_an_object_is_422(client, payload):
    response = client.post(LOGIN, data=payload, content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.json["error_code"] in ("VALIDATION_ERROR", "MALFORMED_JSON")


def test_unknown_route_and_wrong_method(client):
    assert_error(client.get("/api/v1/no-such-thing"), 404, "NOT_FOUND")
    response = assert_error(client.put("/api/v1/health"), 405, "METHOD_NOT_ALLOWED")
    assert response["message"]


def test_oversized_body_is_413(client, app):
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    assert_error(client.post(LOGIN, data=big, content_type="application/json"), 413, "PAYLOAD_TOO_LARGE")


def test_unexpected_exception_is_a_500_without_internals(client):
    response = client.get("/api/v1/_test/boom")
    body = assert_error(response, 500, "INTERNAL_ERROR")
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "Traceback" not in text and "app.py" not in text
    assert "errors" not in body


def test_database_down_is_503_with_retry_after(client, connection):
    dead = create_engine("postgresql+psycopg://127.0.0.1:1/nowhere", connect_args={"connect_timeout": 1})
    db.session.remove()
    db.session.configure(bind=dead)
    try:
        response = client.post(LOGIN, json={"username": "a", "password": "b"})
    finally:
        db.session.remove()
        db.session.configure(bind=connection)
        dead.dispose()
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert response.headers["Retry-After"]


@pytest.mark.parametrize("url", ["/api/v1/me?x=1", "/api/v1/leads/mine?limit=2", "/api/v1/todos/count?foo=1"])
def test_operations_without_query_parameters_refuse_any(client, url):
    user = UserFactory()
    response = client.get(url, headers=auth_headers(user))
    assert_error(response, 422, "VALIDATION_ERROR")
    assert set(response.json["errors"]["query"]) == {url.split("?")[1].split("=")[0]}
