"""Alembic environment: run through ``flask db ...`` (app/migrate.py: the app's engine, DATABASE_URL) or directly with
a connection passed in ``config.attributes["connection"]`` (tests/integration/test_migrations.py does)."""

from __future__ import annotations

import logging
from logging.config import fileConfig

from alembic import context
from geoalchemy2 import alembic_helpers

config = context.config
if config.config_file_name is not None and not config.attributes.get("connection"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
log = logging.getLogger("alembic.env")


def _target_metadata():
    from app import models  # noqa: F401
    from app.db import Base

    return Base.metadata


def _engine():
    from app import db

    return db.engine()


def run_migrations_offline() -> None:
    context.configure(
        url=str(_engine().url),
        target_metadata=_target_metadata(),
        literal_binds=True,
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=_target_metadata(),
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with _engine().connect() as connection:
        _run(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
