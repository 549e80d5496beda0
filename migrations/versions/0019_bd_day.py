"""The BD's day closes itself: call logs, visit forms (versioned) and their answers, competitor observations,
and the indexes that let to-dos clear themselves cheaply.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _tenant_fk(table):
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
    )


def upgrade():
    op.create_table(
        "activities",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(16), server_default="outgoing", nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("idempotency_key", sa.String(120), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        _tenant_fk("activities"),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_activities_merchant_id_merchants"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_activities_user_id_users"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_activities_contact_id_contacts"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint("tenant_id", "user_id", "idempotency_key",
                            name=op.f("uq_activities_tenant_id_user_id_idempotency_key")),
    )
    op.create_index(op.f("ix_activities_tenant_id"), "activities", ["tenant_id"])
    op.create_index("ix_activities_merchant_time", "activities", ["merchant_id", "occurred_at"])
    op.create_index("ix_activities_user_time", "activities", ["user_id", "occurred_at"])

    op.create_table(
        "visit_form_versions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("form_key", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        _tenant_fk("visit_form_versions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_form_versions")),
        sa.UniqueConstraint("tenant_id", "form_key", "version",
                            name=op.f("uq_visit_form_versions_tenant_id_form_key_version")),
    )
    op.create_index(op.f("ix_visit_form_versions_tenant_id"), "visit_form_versions", ["tenant_id"])
    op.add_column(
        "visits",
        sa.Column("form_answers", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
    )

    op.create_table(
        "competitor_observations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("visit_id", sa.BigInteger(), nullable=True),
        sa.Column("platform", sa.String(60), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("offer", sa.Text(), nullable=True),
        sa.Column("their_price", sa.Numeric(12, 2), nullable=True),
        sa.Column("our_price", sa.Numeric(12, 2), nullable=True),
        sa.Column("price_gap", sa.Numeric(12, 2), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        _tenant_fk("competitor_observations"),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"],
                                name=op.f("fk_competitor_observations_merchant_id_merchants"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_competitor_observations_user_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name=op.f("fk_competitor_observations_visit_id_visits"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competitor_observations")),
    )
    op.create_index(op.f("ix_competitor_observations_tenant_id"), "competitor_observations", ["tenant_id"])
    op.create_index("ix_competitor_observations_merchant_time", "competitor_observations",
                    ["merchant_id", "observed_at"])
    # HQ's set-based price gaps: a tenant's observations of a period
    op.create_index("ix_competitor_observations_tenant_time", "competitor_observations",
                    ["tenant_id", "observed_at"])

    # a visit, a lead changing hands or the sweeper closes a merchant's open reminders
    op.create_index("ix_reminders_merchant_open", "reminders", ["merchant_id"],
                    postgresql_where=sa.text("done_at IS NULL"))
    # the overdue-task job reads the tasks that fell due since its last run
    op.create_index("ix_tasks_due_at", "tasks", ["due_at"], postgresql_where=sa.text("due_at IS NOT NULL"))


def downgrade():
    op.drop_index("ix_tasks_due_at", table_name="tasks")
    op.drop_index("ix_reminders_merchant_open", table_name="reminders")
    op.drop_table("competitor_observations")
    op.drop_column("visits", "form_answers")
    op.drop_table("visit_form_versions")
    op.drop_table("activities")
