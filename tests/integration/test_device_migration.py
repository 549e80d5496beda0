"""Migration 0012 (a device token is unique per tenant): rolling it back keeps one row per token."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.migrate import alembic_config
from tests.conftest import TEST_DATABASE_URL, recreate_database

_test_db = make_url(TEST_DATABASE_URL)
SCRATCH_URL = _test_db.set(database=f"{_test_db.database}_devices").render_as_string(hide_password=False)


def test_downgrade_keeps_the_most_recently_seen_row_of_a_token_shared_by_tenants(app):
    recreate_database(SCRATCH_URL)
    engine = create_engine(SCRATCH_URL)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "0012")
            users = []
            for slug in ("food", "hotels"):
                tenant = connection.execute(
                    text("INSERT INTO tenants (slug, name) VALUES (:s, :s) RETURNING id"), {"s": slug}
                ).scalar_one()
                users.append(
                    connection.execute(
                        text(
                            "INSERT INTO users (tenant_id, username, display_name, password_hash, role)"
                            " VALUES (:t, 'sam', 'Sam', 'x', 'bd') RETURNING id"
                        ),
                        {"t": tenant},
                    ).scalar_one()
                )
            for user, seen in zip(users, ("2026-12-01", "2026-12-02")):
                connection.execute(
                    text(
                        "INSERT INTO devices (tenant_id, user_id, token, platform, last_seen_at)"
                        " SELECT tenant_id, id, 'shared-token', 'android', :seen FROM users WHERE id = :u"
                    ),
                    {"u": user, "seen": seen},
                )
            command.downgrade(config, "0011")
            left = connection.execute(text("SELECT user_id FROM devices WHERE token = 'shared-token'")).scalars().all()
            assert left == [users[1]]
            command.upgrade(config, "head")
    finally:
        engine.dispose()
