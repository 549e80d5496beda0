"""Push devices: a token is unique within a tenant, no longer across tenants. Registering a token in one tenant
never takes over (moves tenant and user of) another tenant's row.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    # the new constraint's index also serves the lookups by tenant and token that the old one served by token
    op.create_unique_constraint(op.f("uq_devices_tenant_id_token"), "devices", ["tenant_id", "token"])
    op.drop_constraint(op.f("uq_devices_token"), "devices", type_="unique")


def downgrade():
    # A token registered in several tenants keeps its most recently seen row only (as the old upsert would have
    # left it): the other rows are deleted (their delivery log keeps device_key, device_id becomes NULL).
    op.execute(
        """
        DELETE FROM devices AS older
        USING devices AS newer
        WHERE newer.token = older.token
          AND (newer.last_seen_at, newer.id) > (older.last_seen_at, older.id)
        """
    )
    op.create_unique_constraint(op.f("uq_devices_token"), "devices", ["token"])
    op.drop_constraint(op.f("uq_devices_tenant_id_token"), "devices", type_="unique")
