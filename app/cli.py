"""Operator commands: ``flask create-tenant``, ``create-user``, ``import-merchants``, ``import-sales``,
``import-competitors``, ``seed-demo``, ``worker``, ``cron`` and ``db`` (migrations)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from marshmallow import ValidationError
from rq.cron import CronScheduler

from app import db, redis_conn
from app.admin.settings_schemas import TenantSettingsUpdateSchema
from app.errors import AppError
from app.intake.importer import import_merchants as load
from app.intake.jobs import compute_tags
from app.migrate import db_commands
from app.org import service
from app.org.models import Role
from app.sales import service as sales
from app.schedule import register_periodic_jobs
from app.seed import seed
from app.tabular import UnreadableFile
from app.worker import MeasuredSimpleWorker, MeasuredWorker
from geo.coords import CoordSys


def _fail(error: AppError) -> None:
    click.echo(f"error: {error.message} ({error.error_code})", err=True)
    sys.exit(1)


@click.command("create-tenant")
@click.argument("slug")
@click.option("--name", required=True, help="Display name of the business line")
@click.option("--timezone", "timezone", default=None, help="IANA time zone of its days (default Asia/Shanghai)")
@click.option("--phone-region", default=None, help="ISO country of its phone numbers (default CN)")
@click.option("--locale", default=None, help="Language of pushes and to-dos: zh-CN or en (default en)")
def create_tenant(slug: str, name: str, timezone: str | None, phone_region: str | None, locale: str | None) -> None:
    """Create a tenant (business line)."""
    options = (("timezone", timezone), ("phone_region", phone_region), ("locale", locale))
    given = {key: value for key, value in options if value}
    try:
        settings = TenantSettingsUpdateSchema().load(given)
    except ValidationError as error:
        click.echo(f"error: {error.messages}", err=True)
        sys.exit(1)
    try:
        with db.atomic():
            tenant = service.create_tenant(slug, name, settings)
    except AppError as error:
        _fail(error)
    click.echo(
        f"created tenant {tenant.slug} (id {tenant.id}): time zone {tenant.setting('timezone')}, "
        f"phone region {tenant.setting('phone_region')}"
    )


PASSWORD_ENV = "FIELDSALES_PASSWORD"


def _new_password() -> str:
    """The new user's password: from ``$FIELDSALES_PASSWORD`` (scripts), else a hidden prompt with confirmation."""
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("create-user")
@click.option("--tenant", "tenant_slug", required=True)
@click.option("--username", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--team", default=None, help="Org unit name; created as a top-level team if missing")
@click.option("--manager", "manager_username", default=None, help="Username of the direct manager")
@click.option("--name", "display_name", default="", help="Display name")
def create_user(
    tenant_slug: str,
    username: str,
    role: str,
    team: str | None,
    manager_username: str | None,
    display_name: str,
) -> None:
    """Create a user in a tenant. The password is read from $FIELDSALES_PASSWORD or else asked for (hidden,
    twice), never taken from the command line, where shell history and the process list would show it."""

    password = _new_password()
    try:
        with db.atomic():
            tenant = service.get_tenant(tenant_slug)
            db.scope_to_tenant(tenant.id)
            user = service.provision_user(
                tenant,
                username,
                password,
                Role(role),
                display_name=display_name,
                team=team,
                manager_username=manager_username,
            )
    except AppError as error:
        _fail(error)
    click.echo(f"created {user.role.value} {user.username} (id {user.id}) in {tenant.slug}")


@click.command("import-merchants")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", "tenant_slug", required=True)
@click.option("--source", default="import", show_default=True, help="Source name; re-imports match on it")
@click.option("--coord-sys", type=click.Choice([c.value for c in CoordSys]), default="wgs84", show_default=True)
@click.option("--mapping", default=None, help='JSON: our column -> the file\'s, e.g. {"name": "店名"}')
def import_merchants(path: Path, tenant_slug: str, source: str, coord_sys: str, mapping: str | None) -> None:
    """Load merchants from a CSV (name, lat, lon/lng...) or a GeoJSON (.geojson); the same code as POST /imports."""

    try:
        tenant = service.get_tenant(tenant_slug)
    except AppError as error:
        _fail(error)
    file_format = "geojson" if path.suffix.lower() in (".geojson", ".json") else "csv"
    columns = json.loads(mapping) if mapping else None
    _run_import(
        tenant.id,
        path,
        lambda stream: load(
            stream.buffer.read() if file_format == "geojson" else stream,
            tenant.id,
            source=source,
            coord_sys=CoordSys(coord_sys),
            mapping=columns,
            file_format=file_format,
        ),
    )
    click.echo(f"tags: {compute_tags(tenant.id)} merchants retagged")


def _run_import(tenant_id: int, path: Path, load) -> None:
    """Run one CSV import in one transaction and print its report (rejected lines with their reasons)."""

    db.scope_to_tenant(tenant_id)
    try:
        with db.atomic(), path.open(encoding="utf-8-sig", newline="") as stream:
            report = load(stream)
    except (UnreadableFile, UnicodeDecodeError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    click.echo(
        f"rows: {report.rows}, loaded: {report.loaded} (inserted {report.inserted}, updated {report.updated}, "
        f"unchanged {report.unchanged}), rejected: {report.rejected_count}"
        + (f"; matched {report.matched} to merchants already there" if report.matched else "")
        + (f"; kept {report.kept} values people corrected" if report.kept else "")
    )
    for line, reason in report.rejected[:50]:
        click.echo(f"  line {line}: {reason}")
    if report.rejected_count > 50:
        click.echo(f"  ... and {report.rejected_count - 50} more")


def _import_command(name: str, kind: str):
    @click.command(name)
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--tenant", "tenant_slug", required=True)
    def command(path: Path, tenant_slug: str) -> None:

        try:
            tenant = service.get_tenant(tenant_slug)
        except AppError as error:
            _fail(error)
        importer = sales.import_sales if kind == "sales" else sales.import_competitors
        _run_import(tenant.id, path, lambda stream: importer(stream, tenant.id))

    command.__doc__ = {
        "sales": "Load our monthly sales (month,orders,gmv) or deals (deal_id,title,price,...) from a CSV.",
        "competitors": "Load competitor platforms' deals (platform,online,deal_title,deal_price,...) from a CSV.",
    }[kind]
    return command


import_sales = _import_command("import-sales", "sales")
import_competitors = _import_command("import-competitors", "competitors")


@click.command("seed-demo")
@click.option("--reset", is_flag=True, help="Delete the demo tenants first")
def seed_demo(reset: bool) -> None:
    """Create the demo tenants, users and Helsinki merchants with history (idempotent)."""

    for line in seed(reset=reset):
        click.echo(line)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queues are empty")
@click.option("--queues", default=None, help="Comma-separated queue names (default: all)")
@click.option("--simple", is_flag=True, help="Run jobs in this process instead of a forked work horse each")
def worker(burst: bool, queues: str | None, simple: bool) -> None:
    """Run an RQ worker with this app's configuration (the app is created once); it records job metrics."""

    names = queues.split(",") if queues else list(current_app.config["RQ_QUEUES"])
    connection = redis_conn.client()
    worker_class = MeasuredSimpleWorker if simple else MeasuredWorker
    worker_class(names, connection=connection).work(burst=burst, with_scheduler=True)


@click.command("cron")
def cron() -> None:
    """Run the periodic-job scheduler (sweeps, reminders, pruning)."""

    scheduler = CronScheduler(connection=redis_conn.client())
    register_periodic_jobs(scheduler)
    scheduler.start()


def register_commands(app: Flask) -> None:
    for command in (
        create_tenant,
        create_user,
        import_merchants,
        import_sales,
        import_competitors,
        seed_demo,
        worker,
        cron,
    ):
        app.cli.add_command(command)
    app.cli.add_command(db_commands)
