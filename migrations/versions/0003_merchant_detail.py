"""Merchant detail: a version bumped by every write that changes the detail payload.

The cached detail is keyed by this version, so a write is visible on the next read even when the
cache could not be told (Redis down): the old key is simply never asked for again.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("merchants", sa.Column("detail_version", sa.Integer(), server_default="0", nullable=False))
    # the same-brand section looks up every store of a brand
    op.create_index("ix_deals_merchant_status", "deals", ["merchant_id", "status"])
    op.create_index("ix_task_assignments_merchant", "task_assignments", ["merchant_id"])
    op.create_index("ix_tasks_merchant", "tasks", ["merchant_id"])


def downgrade():
    op.drop_index("ix_tasks_merchant", table_name="tasks")
    op.drop_index("ix_task_assignments_merchant", table_name="task_assignments")
    op.drop_index("ix_deals_merchant_status", table_name="deals")
    op.drop_column("merchants", "detail_version")
