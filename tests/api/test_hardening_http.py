"""HTTP hardening: security headers, CORS closed by default, request ids, JSON logs, hostile text filters."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask
from sqlalchemy import text

from app.org.models import Role
from app.web import headers as security_headers
from app.web.logs import configure_logging
from app.web.request_id import HEADER
from tests.factories import MerchantFactory, TenantFactory, UserFactory, auth_headers

SQLISH = [
    "' OR '1'='1",
    "'; DROP TABLE merchants; --",
    '" OR ""="',
    "1); DELETE FROM leads WHERE (1=1",
    "%' UNION SELECT password_hash, username FROM users --",
    "\\'; SELECT pg_sleep(5); --",
    "_%_%\\",
    "$$; TRUNCATE tenants CASCADE; $$",
]


def test_security_headers_on_every_kind_of_response(client):
    for response in (
        client.get("/api/v1/health"),
        client.get("/api/v1/no-such-thing"),
        client.post("/api/v1/auth/login", json={}),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "private, no-cache"
        assert "Strict-Transport-Security" not in response.headers  # development: no TLS assumed
    docs = client.get("/api/v1/docs")
    assert "script-src 'self'" in docs.headers["Content-Security-Policy"]


def test_cors_is_closed_by_default(client):
    response = client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = client.options(
        "/api/v1/merchants/nearby", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def _bare_app(**config):
    """The headers module on a bare Flask app: create_app would re-initialise the shared engine."""
    app = Flask(__name__)
    app.config.update({"CORS_ORIGINS": "", "HSTS_ENABLED": False, **config})
    app.add_url_rule("/api/v1/merchants/nearby", "nearby", lambda: {"items": []})
    app.add_url_rule("/api/v1/health", "health", lambda: {"status": "ok"})
    security_headers.init_app(app)
    return app


def test_cors_allows_only_configured_origins():
    client = _bare_app(CORS_ORIGINS="https://admin.example.com, https://ops.example.com").test_client()
    allowed = client.options(
        "/api/v1/merchants/nearby",
        headers={
            "Origin": "https://ops.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ops.example.com"
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    other = client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert client.get("/api/v1/health", headers={"Origin": "https://admin.example.com"}).headers[
        "Access-Control-Expose-Headers"
    ]


def test_hsts_when_enabled():
    assert (
        _bare_app(HSTS_ENABLED=True)
        .test_client()
        .get("/api/v1/health")
        .headers["Strict-Transport-Security"]
        .startswith("max-age=")
    )


def test_every_response_has_a_request_id(client):
    first = client.get("/api/v1/health").headers[HEADER]
    second = client.get("/api/v1/no-such-thing").headers[HEADER]
    assert len(first) == 32 and first != second


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("lb-7f3a9c2e-44b1-4c1e-9a0d-0123456789ab", True),
        ("short", False),
        ("bad id with spaces and\ttabs", False),
        ("x" * 200, False),
        ("<script>alert(1)</script>", False),
    ],
)
def test_incoming_request_id_kept_only_when_well_formed(client, incoming, kept):
    returned = client.get("/api/v1/health", headers={HEADER: incoming}).headers[HEADER]
    assert (returned == incoming) is kept
    if not kept:
        assert len(returned) == 32


def test_log_lines_are_json_with_the_request_id(client, capsys):
    configure_logging("json")
    try:
        client.get("/api/v1/_test/boom", headers={HEADER: "trace-0123456789"})
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        configure_logging("json")
    error = next(line for line in lines if line["message"] == "unhandled error")
    assert error["request_id"] == "trace-0123456789"
    assert error["level"] == "ERROR" and error["logger"] == "app.errors" and error["time"]
    logging.getLogger("outside").warning("no request here")
    assert json.loads(capsys.readouterr().err.splitlines()[-1])["request_id"] is None


def test_errors_never_show_sql_or_tracebacks(client, connection, monkeypatch):
    from sqlalchemy.exc import ProgrammingError

    def broken(*_args, **_kwargs):
        raise ProgrammingError("SELECT secret FROM users WHERE password_hash = 'x'", {}, Exception("boom"))

    monkeypatch.setattr("app.auth.service.login", broken)
    response = client.post("/api/v1/auth/login", json={"username": "a", "password": "b"})
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "SELECT" not in body and "password_hash" not in body and "Traceback" not in body
    assert response.json["error_code"] == "INTERNAL_ERROR"


def test_nul_bytes_are_422_not_500(client, session):
    tenant = TenantFactory()
    headers = auth_headers(UserFactory(tenant=tenant))
    response = client.get("/api/v1/merchants/nearby?lat=60.17&lng=24.94&q=a%00b", headers=headers)
    assert response.status_code == 422 and response.json["error_code"] == "VALIDATION_ERROR"
    response = client.post("/api/v1/auth/login", json={"username": "a\u0000b", "password": "x"})
    assert response.status_code == 422 and "json" in response.json["errors"]
    response = client.delete("/api/v1/devices/tok%00en", headers=headers)
    assert response.status_code == 422


TEXT_FILTERS = [
    ("/api/v1/merchants/nearby", {"lat": 60.17, "lng": 24.94}, ("q", "category", "tag")),
    ("/api/v1/merchants/map", {"bbox": "24.93,60.16,24.95,60.18", "zoom": 16}, ("q", "category", "tag")),
    ("/api/v1/leads/public", {"lat": 60.17, "lng": 24.94}, ("q", "category", "tag")),
]


CURSOR_PATHS = {
    "/api/v1/merchants/nearby": {"lat": 60.17, "lng": 24.94},
    "/api/v1/leads/public": {"lat": 60.17, "lng": 24.94},
    "/api/v1/todos": {},
    "/api/v1/visits": {},
    "/api/v1/tasks": {},
}


@pytest.mark.parametrize("value", SQLISH)
def test_sql_looking_text_in_every_filter_is_harmless(client, session, value):
    tenant = TenantFactory()
    bd = UserFactory(tenant=tenant, role=Role.BD)
    MerchantFactory(tenant=tenant, name=value, category=value, tags=[value[:60]])
    plain = MerchantFactory(tenant=tenant, name="Plain cafe")
    headers = auth_headers(bd)
    admin = auth_headers(UserFactory(tenant=tenant, role=Role.ADMIN))
    before = {t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in ("merchants", "users", "leads")}
    for path, base, fields in TEXT_FILTERS:
        for field in fields:
            response = client.get(path, query_string={**base, field: value}, headers=headers)
            assert response.status_code in (200, 422), (path, field, response.json)
            if response.status_code == 200 and field == "q" and "items" in response.json:
                assert plain.id not in {item["id"] for item in response.json["items"]}, (path, value)
    for field in ("action", "subject_type"):
        response = client.get("/api/v1/audit", query_string={field: value[:40]}, headers=admin)
        assert response.status_code == 200 and response.json["items"] == []
    for path in CURSOR_PATHS:
        who = admin if path == "/api/v1/tasks" else headers  # the task list is for managers and up
        response = client.get(path, query_string={**CURSOR_PATHS[path], "cursor": value}, headers=who)
        assert response.status_code == 400 and response.json["error_code"] == "INVALID_CURSOR", (path, response.json)
    after = {t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in ("merchants", "users", "leads")}
    assert after == before


def test_fuzz_findings_stay_fixed(client, session):
    """Regressions found by schemathesis: each was a 500."""
    from app.json import dumps_bytes

    tenant = TenantFactory()
    ops = UserFactory(tenant=tenant, role=Role.OPS)
    shop = MerchantFactory(tenant=tenant)
    response = client.post(
        f"/api/v1/merchants/{shop.id}/sales",
        json={"month": "0000-01", "orders": 1, "gmv": 1},
        headers=auth_headers(ops),
    )
    assert response.status_code == 422 and "month" in response.json["errors"]["json"]
    # JSONB hands back integers beyond 64 bits that a client stored in a free-form payload
    assert json.loads(dumps_bytes({"n": 10**23, "nested": [2**70]})) == {"n": 10**23, "nested": [2**70]}


@pytest.mark.parametrize(("hops", "seen"), [(0, "10.0.0.9"), (1, "203.0.113.7")])
def test_forwarded_for_believed_only_behind_configured_proxies(hops, seen):
    from flask import request

    from app.web import proxy

    app = Flask(__name__)
    app.config["TRUSTED_PROXIES"] = hops
    app.add_url_rule("/ip", "ip", lambda: request.remote_addr)
    proxy.init_app(app)
    response = app.test_client().get(
        "/ip", headers={"X-Forwarded-For": "203.0.113.7"}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert response.get_data(as_text=True) == seen
