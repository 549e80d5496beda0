"""Test fixtures: a real PostGIS database migrated with Alembic once per run, and real Redis.

Every test runs in a connection-level transaction that is rolled back at the end; code under test may
commit freely (commits release a SAVEPOINT inside that transaction).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session

from app import db
from app.config import Config
from app.factory import create_app
from app.migrate import alembic_config

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://127.0.0.1:5432/fieldsales_test")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def recreate_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def test_config(**overrides: object) -> Config:
    settings = {
        "ENV": "test",
        "TESTING": True,
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "JWT_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        # argon2's floor: tests hash many passwords
        "PASSWORD_TIME_COST": 1,
        "PASSWORD_MEMORY_COST_KIB": 64,
        "UPLOAD_DIR": "/tmp/fieldsales-test-uploads",
    }
    settings.update(overrides)
    return Config(**settings)


def _boom():
    raise RuntimeError("secret internals: password=hunter2 at /srv/app.py line 42")


@pytest.fixture(scope="session")
def app() -> Iterator[Flask]:
    recreate_database(TEST_DATABASE_URL)
    application = create_app(test_config())
    application.add_url_rule("/api/v1/_test/boom", "boom", _boom)
    with application.app_context():
        command.upgrade(alembic_config(), "head")
    yield application
    db.engine().dispose()


@pytest.fixture(scope="session")
def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    return client


@pytest.fixture
def connection(app: Flask, redis_client: redis.Redis) -> Iterator[Connection]:
    conn = db.engine().connect()
    outer = conn.begin()
    db.session.remove()
    factory_settings = dict(db.session.session_factory.kw)
    db.session.configure(bind=conn, join_transaction_mode="create_savepoint")
    ctx = app.app_context()
    ctx.push()
    try:
        yield conn
    finally:
        ctx.pop()
        db.session.remove()
        db.session.session_factory.kw.clear()
        db.session.session_factory.kw.update(factory_settings)
        outer.rollback()
        conn.close()
        redis_client.flushdb()


@pytest.fixture
def session(connection: Connection) -> Session:
    return db.session()


@pytest.fixture
def client(app: Flask, connection: Connection) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def shared_data():
    """``../shared/data`` beside the repo (real POIs; never copied into the repo)."""
    from pathlib import Path

    path = Path(os.environ.get("SHARED_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    if not (path / "hangzhou_amap_poi86_2017_merchants.csv").exists():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def hangzhou(app, shared_data):
    """The real Hangzhou POIs, loaded once and committed in their own tenant (tests only read them).

    Returns ids of the tenant and of two BDs and a manager in it.
    """

    from app.intake.importer import import_csv
    from app.org.models import Role
    from app.org.service import provision_user
    from app.tenants.models import Tenant

    with app.app_context():
        session = db.session()
        tenant = Tenant(slug="hz-ref", name="Hangzhou reference", settings={})
        session.add(tenant)
        session.flush()
        db.scope_to_tenant(tenant.id)
        with (shared_data / "hangzhou_amap_poi86_2017_merchants.csv").open(encoding="utf-8", newline="") as stream:
            report = import_csv(stream, tenant.id, source="amap")
        session.commit()
        users = {
            name: provision_user(tenant, name, "hz-password-1", role).id
            for name, role in (("hz_bd", Role.BD), ("hz_bd2", Role.BD), ("hz_manager", Role.MANAGER))
        }
        session.execute(text("ANALYZE merchants"))
        session.commit()
        tenant_id = tenant.id
        assert report.loaded == 12186
        db.scope_to_tenant(None)
        db.session.remove()
    return {"tenant_id": tenant_id, **users}


@pytest.fixture(scope="session")
def hangzhou_rows(shared_data):
    import csv

    with (shared_data / "hangzhou_amap_poi86_2017_merchants.csv").open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture
def live(app, redis_client):
    """Real commits, for tests of concurrent requests: each thread's session sees the others' writes.

    Everything is created inside tenants registered with ``live.tenant(...)``; they are deleted afterwards.
    """
    from tests.factories import TenantFactory

    class Live:
        def __init__(self) -> None:
            self.tenant_ids: list[int] = []

        def tenant(self, **kwargs):
            tenant = TenantFactory(**kwargs)
            self.tenant_ids.append(tenant.id)
            return tenant

    db.session.remove()
    ctx = app.app_context()
    ctx.push()
    with db.engine().connect() as conn:
        # outbox rows carry no tenant: the ones this test's commits wrote go by id
        last_outbox_id = conn.execute(text("SELECT coalesce(max(id), 0) FROM outbox")).scalar_one()
    state = Live()
    try:
        yield state
    finally:
        db.session.remove()
        with db.engine().begin() as conn:
            conn.execute(text("DELETE FROM outbox WHERE id > :last"), {"last": last_outbox_id})
            for tenant_id in state.tenant_ids:
                # history tables keep users alive (ON DELETE RESTRICT); clear them first
                for table in ("visits", "task_assignments", "tasks", "lead_events", "leads"):
                    conn.execute(text(f"DELETE FROM {table} WHERE tenant_id = :t"), {"t": tenant_id})
                conn.execute(text("DELETE FROM tenants WHERE id = :t"), {"t": tenant_id})
        ctx.pop()
        redis_client.flushdb()
