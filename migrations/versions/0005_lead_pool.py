"""Lead pool: reminders sent before a lead drops, and managers' extensions kept apart from the BD's own.

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("leads", sa.Column("manager_extended_days", sa.Integer(), server_default="0", nullable=False))
    op.create_index("ix_leads_tenant_state_drops", "leads", ["tenant_id", "owner_id", "drops_at"],
                    postgresql_where=sa.text("state = 'private'"))


def downgrade():
    op.drop_index("ix_leads_tenant_state_drops", table_name="leads")
    op.drop_column("leads", "manager_extended_days")
