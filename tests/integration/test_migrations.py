"""The migrations build exactly the schema the models describe, and can be rolled back."""

from __future__ import annotations

import os
import subprocess
import sys

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app import models  # noqa: F401 - registers every table on the metadata compared below
from app.config import ROOT
from app.db import Base
from app.migrate import alembic_config
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, recreate_database

# Named after the test database so that suites run side by side (other checkouts) never share it.
_test_db = make_url(TEST_DATABASE_URL)
SCRATCH_URL = _test_db.set(database=f"{_test_db.database}_migrations").render_as_string(hide_password=False)


def _alembic(connection) -> AlembicConfig:
    config = alembic_config()  # what `flask db` uses
    config.attributes["connection"] = connection
    return config


def test_upgrade_downgrade_upgrade_and_models_match(app):
    recreate_database(SCRATCH_URL)
    engine = create_engine(SCRATCH_URL)
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic(connection), "head")
            command.downgrade(_alembic(connection), "base")
            tables = set(inspect(connection).get_table_names()) - {"spatial_ref_sys", "alembic_version"}
            assert tables == set()
            command.upgrade(_alembic(connection), "head")
            context = MigrationContext.configure(
                connection, opts={"include_object": alembic_helpers.include_object, "compare_type": True}
            )
            assert compare_metadata(context, Base.metadata) == []
            extensions = set(connection.execute(text("SELECT extname FROM pg_extension")).scalars())
            assert {"postgis", "pg_trgm", "btree_gist"} <= extensions
            index = connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_merchants_tenant_location'")
            ).scalar_one()
            assert "USING gist (tenant_id, location)" in index
            column_type = connection.execute(
                text("SELECT type FROM geography_columns WHERE f_table_name = 'merchants'")
            ).scalar_one()
            assert column_type.lower() == "point"
    finally:
        engine.dispose()


def test_merchant_pages_keep_room_for_hot_updates(session):
    """Without free room in the page, every detail_version bump would insert into all of merchants' indexes."""
    options = session.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'merchants'")).scalar_one()
    assert "fillfactor=85" in options


def _flask(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": SCRATCH_URL, "REDIS_URL": TEST_REDIS_URL}
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_flask_db_commands_migrate_the_database_url():
    """`FLASK_APP=wsgi flask db upgrade`, as scripts/setup, docker-compose.yml and the README run it."""
    recreate_database(SCRATCH_URL)
    upgraded = _flask("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    # scripts/setup lists the migrations it applied from these lines
    assert "Running upgrade" in upgraded.stderr and "-> 0001" in upgraded.stderr
    current = _flask("db", "current")
    (head,) = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert current.returncode == 0 and f"{head} (head)" in current.stdout, current.stderr
    unknown = _flask("db", "upgrade", "no-such-revision")
    assert unknown.returncode == 1 and "Can't locate revision" in unknown.stderr
