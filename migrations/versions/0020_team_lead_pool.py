"""The team's lead pool: a manager's lock on a private lead (it pauses the drop clocks), and a BD's rank (claim
caps per rank).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("leads", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("leads", sa.Column("lock_reason", sa.String(300), nullable=True))
    op.add_column(
        "leads",
        sa.Column(
            "locked_by_id",
            sa.BigInteger(),
            sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_leads_locked_by_id_users"),
            nullable=True,
        ),
    )
    # seconds the drop clocks stood still under locks; the clocks add them like extension days
    op.add_column("leads", sa.Column("paused_seconds", sa.Integer(), server_default="0", nullable=False))
    op.add_column("users", sa.Column("rank", sa.String(40), nullable=True))


def downgrade():
    op.drop_column("users", "rank")
    op.drop_column("leads", "paused_seconds")
    op.drop_column("leads", "locked_by_id")
    op.drop_column("leads", "lock_reason")
    op.drop_column("leads", "locked_until")
