"""The migrations build exactly the schema the models describe, and can be rolled back."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app import models  # noqa: F401
from app.config import ROOT
from app.db import Base
from tests.conftest import TEST_DATABASE_URL, recreate_database

# Named after the test database so that suites run side by side (other checkouts) never share it.
_test_db = make_url(TEST_DATABASE_URL)
SCRATCH_URL = str(_test_db.set(database=f"{_test_db.database}_migrations"))


def _alembic(connection) -> AlembicConfig:
    config = AlembicConfig(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
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
