"""Monthly KPI targets per BD and per team; life after signing: contracts and the account owner of a partner.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "kpi_targets",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("tenant_id", sa.BigInteger(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("subject_type", sa.String(8), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("value", sa.Numeric(16, 2), nullable=False),
        sa.Column("set_by_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint(
            "tenant_id", "month", "subject_type", "subject_id", "metric",
            name="uq_kpi_targets_tenant_id_month_subject_type_subject_id_metric",
        ),
    )
    op.create_index("ix_kpi_targets_tenant_id", "kpi_targets", ["tenant_id"])
    op.create_table(
        "contracts",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("tenant_id", sa.BigInteger(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), sa.ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.String(80), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(12), server_default="active", nullable=False),
        sa.Column("signed_by_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("tenant_id", "number", name="uq_contracts_tenant_id_number"),
    )
    op.create_index("ix_contracts_tenant_id", "contracts", ["tenant_id"])
    op.create_index("ix_contracts_merchant_id", "contracts", ["merchant_id"])
    # the renewal reminders scan active contracts by end date
    op.create_index(
        "ix_contracts_renewal", "contracts", ["ends_on"], postgresql_where=sa.text("status = 'active'")
    )
    op.add_column(
        "leads",
        sa.Column(
            "account_owner_id",
            sa.BigInteger(),
            sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_leads_account_owner_id_users"),
            nullable=True,
        ),
    )


def downgrade():
    op.drop_column("leads", "account_owner_id")
    op.drop_table("contracts")
    op.drop_table("kpi_targets")
