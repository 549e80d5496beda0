"""Merchant corrections: the corrections table, the history of merchants' fields, closure and provenance per field.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("merchants", sa.Column("closed", sa.String(20), nullable=True))
    op.add_column(
        "merchants",
        sa.Column("corrected_fields", postgresql.JSONB(), server_default="{}", nullable=False),
    )
    op.create_table(
        "merchant_changes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(80), nullable=False),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("details", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_merchant_changes_tenant_id_tenants"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_merchant_changes_merchant_id_merchants"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_merchant_changes_actor_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_changes")),
    )
    op.create_index("ix_merchant_changes_tenant_id", "merchant_changes", ["tenant_id"])
    op.create_index("ix_merchant_changes_merchant", "merchant_changes", ["merchant_id", "id"])
    status = postgresql.ENUM("applied", "pending", "approved", "rejected", name="correction_status")
    status.create(op.get_bind())
    op.create_table(
        "merchant_corrections",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("status", postgresql.ENUM(name="correction_status", create_type=False), nullable=False),
        sa.Column("changes", postgresql.JSONB(), nullable=False),
        sa.Column("applied", postgresql.JSONB(), nullable=False),
        sa.Column("queued", postgresql.JSONB(), nullable=False),
        sa.Column("reasons", postgresql.JSONB(), nullable=False),
        sa.Column("duplicate_candidates", postgresql.JSONB(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("photo_ids", postgresql.JSONB(), nullable=False),
        sa.Column("decided_by_id", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_merchant_corrections_tenant_id_tenants"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_merchant_corrections_merchant_id_merchants"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_merchant_corrections_created_by_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_merchant_corrections_decided_by_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_corrections")),
    )
    op.create_index("ix_merchant_corrections_tenant_id", "merchant_corrections", ["tenant_id"])
    op.create_index("ix_merchant_corrections_merchant", "merchant_corrections", ["merchant_id"])
    op.create_index(
        "ix_merchant_corrections_pending",
        "merchant_corrections",
        ["tenant_id", "id"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade():
    op.drop_table("merchant_corrections")
    postgresql.ENUM(name="correction_status").drop(op.get_bind())
    op.drop_table("merchant_changes")
    op.drop_column("merchants", "corrected_fields")
    op.drop_column("merchants", "closed")
