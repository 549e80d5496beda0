"""Delivery log: a stable key per device, so counts stay right after a dead token's device is deleted.

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("push_deliveries", sa.Column("device_key", sa.String(length=16), server_default="", nullable=False))


def downgrade():
    op.drop_column("push_deliveries", "device_key")
