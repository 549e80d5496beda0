"""scripts/backup and scripts/restore: a dump restored into a scratch database holds the same data."""

from __future__ import annotations

import os
import subprocess

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import ROOT
from tests.conftest import TEST_DATABASE_URL
from tests.factories import MerchantFactory, UserFactory

_test_db = make_url(TEST_DATABASE_URL)
RESTORE_URL = _test_db.set(database=f"{_test_db.database}_restore")


def _run(script: str, *args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _drop_scratch() -> None:
    admin = create_engine(RESTORE_URL.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{RESTORE_URL.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def scratch():
    _drop_scratch()
    yield RESTORE_URL.render_as_string(hide_password=False)
    _drop_scratch()


def _snapshot(url, tenant_id: int) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "tenant": conn.execute(text("SELECT slug, name FROM tenants WHERE id = :t"), {"t": tenant_id}).one(),
                "merchants": conn.execute(
                    text("SELECT id, name, ST_AsText(location) FROM merchants WHERE tenant_id = :t ORDER BY id"),
                    {"t": tenant_id},
                ).all(),
                "users": conn.execute(
                    text("SELECT username, password_hash FROM users WHERE tenant_id = :t"), {"t": tenant_id}
                ).all(),
                "revision": conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one(),
            }
    finally:
        engine.dispose()


def test_backup_restore_round_trip(live, scratch, tmp_path):
    tenant = live.tenant(slug="backup-check")
    UserFactory(tenant=tenant, username="backup-bd")
    for i in range(3):
        MerchantFactory(tenant=tenant, name=f"Backed-up shop {i}", lat=60.17 + i / 1000, lng=24.94)
    dump = tmp_path / "fieldsales.dump"

    made = _run("backup", "-o", str(dump), url=TEST_DATABASE_URL)
    assert made.returncode == 0, made.stderr
    assert dump.stat().st_size > 0 and not (tmp_path / "fieldsales.dump.partial").exists()

    restored = _run("restore", str(dump), url=scratch)
    assert restored.returncode == 0, restored.stderr
    original = _snapshot(TEST_DATABASE_URL, tenant.id)
    assert len(original["merchants"]) == 3
    assert _snapshot(scratch, tenant.id) == original

    # a non-empty target is refused unless --replace is given
    again = _run("restore", str(dump), url=scratch)
    assert again.returncode != 0 and "not empty" in again.stderr
    replaced = _run("restore", "--replace", str(dump), url=scratch)
    assert replaced.returncode == 0, replaced.stderr
    assert _snapshot(scratch, tenant.id) == original
