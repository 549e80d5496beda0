"""Database migrations: Alembic's settings for migrations/ and the ``flask db`` commands that run them.

``FLASK_APP=wsgi flask db upgrade`` migrates DATABASE_URL (migrations/env.py uses the app's engine); also
``downgrade``, ``current``, ``history`` and ``revision``. Code that migrates in process (the tests, the
benchmarks, scripts/chaos.py) calls ``alembic.command.upgrade(alembic_config(), "head")`` in an app context.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import click
from flask.cli import AppGroup

from app.config import ROOT

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# Alembic is imported only when a migration runs: the API, worker and cron processes never need it.


def alembic_config() -> AlembicConfig:
    """migrations/alembic.ini; the tests may pass a connection in ``config.attributes["connection"]``."""
    from alembic.config import Config as AlembicConfig

    # stdout as it is now, not as it was at import: Flask's CLI test runner swaps it.
    return AlembicConfig(str(ROOT / "migrations" / "alembic.ini"), stdout=sys.stdout)


db_commands = AppGroup("db", help="Database migrations (Alembic, in migrations/), for the app's DATABASE_URL.")


def _run(name: str, *args: object, **kwargs: object) -> None:
    # Importing alembic logs one INFO line per built-in plugin, which the app's logging would print.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from alembic import command
    from alembic.util import CommandError

    try:
        getattr(command, name)(alembic_config(), *args, **kwargs)
    except CommandError as error:  # an unknown revision, say: a message, not a traceback
        raise click.ClickException(str(error)) from error


@db_commands.command("upgrade")
@click.argument("revision", default="head")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it")
def upgrade(revision: str, sql: bool) -> None:
    """Migrate up to REVISION (default: head)."""
    _run("upgrade", revision, sql=sql)


@db_commands.command("downgrade")
@click.argument("revision", default="-1")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it")
def downgrade(revision: str, sql: bool) -> None:
    """Migrate down to REVISION (default: one step back; "base" undoes every migration)."""
    _run("downgrade", revision, sql=sql)


@db_commands.command("current")
@click.option("-v", "--verbose", is_flag=True)
def current(verbose: bool) -> None:
    """Show the database's revision."""
    _run("current", verbose=verbose)


@db_commands.command("history")
@click.option("-v", "--verbose", is_flag=True)
def history(verbose: bool) -> None:
    """List the migrations."""
    _run("history", verbose=verbose)


@db_commands.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does")
@click.option("--rev-id", default=None, help="The revision id: the next number, e.g. 0012")
@click.option("--autogenerate", is_flag=True, help="Fill it in from the difference between the models and the database")
def revision(message: str, rev_id: str | None, autogenerate: bool) -> None:
    """Create a new migration file in migrations/versions/."""
    _run("revision", message=message, rev_id=rev_id, autogenerate=autogenerate)
