from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from app import db, redis_conn
from app.org.models import Role
from tests.factories import UserFactory, auth_headers


@pytest.fixture
def admin(session):
    return auth_headers(UserFactory(role=Role.ADMIN))


def test_anyone_sees_up_or_down_only(client, session):
    bd = auth_headers(UserFactory(role=Role.BD))
    for headers in ({}, bd, {"Authorization": "Bearer forged"}):
        body = client.get("/api/v1/health", headers=headers).json
        assert body == {"status": "ok", "database": {"ok": True}, "redis": {"ok": True}, "queue": {"ok": True}}


def test_health_reports_every_dependency(client, admin):
    response = client.get("/api/v1/health", headers=admin)
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["database"]["postgis_version"].startswith("3.")
    assert body["redis"]["ok"]
    assert body["queue"]["ok"] and set(body["queue"]["depth"]) == {"default", "push", "sweeps"}


def test_queue_depth_counts_waiting_jobs(client, app, admin):
    redis_conn.queue("push").enqueue("builtins.print", "never run")
    assert client.get("/api/v1/health", headers=admin).json["queue"]["depth"]["push"] == 1


def test_redis_down_is_503_degraded(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    response = client.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json
    assert body["status"] == "degraded"
    assert body["database"]["ok"] and not body["redis"]["ok"] and not body["queue"]["ok"]


def test_database_down_is_503_down(client, connection):
    dead = create_engine("postgresql+psycopg://127.0.0.1:1/nowhere", connect_args={"connect_timeout": 1})
    db.session.remove()
    db.session.configure(bind=dead)
    try:
        response = client.get("/api/v1/health")
    finally:
        db.session.remove()
        db.session.configure(bind=connection)
        dead.dispose()
    assert response.status_code == 503
    assert response.json["status"] == "down"
    assert response.json["database"]["ok"] is False


def test_livez_answers_without_asking_any_dependency(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    response = client.get("/api/v1/livez")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_is_ok_when_everything_answers(client):
    response = client.get("/api/v1/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": {"ok": True}, "redis": {"ok": True}}


def test_readyz_stays_200_degraded_without_redis(client, app, monkeypatch):
    # reads and writes still serve from the database: a load balancer must keep this instance
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    response = client.get("/api/v1/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "degraded", "database": {"ok": True}, "redis": {"ok": False}}


def test_readyz_is_503_without_the_database(client, connection):
    dead = create_engine("postgresql+psycopg://127.0.0.1:1/nowhere", connect_args={"connect_timeout": 1})
    db.session.remove()
    db.session.configure(bind=dead)
    try:
        response = client.get("/api/v1/readyz")
        live = client.get("/api/v1/livez")
    finally:
        db.session.remove()
        db.session.configure(bind=connection)
        dead.dispose()
    assert response.status_code == 503
    assert response.json == {"status": "down", "database": {"ok": False}, "redis": {"ok": True}}
    assert live.status_code == 200
