"""Territories and their BDs; merchants' custom attributes indexed for `attr.<key>=` filters; dashboard indexes.

Revision ID: 0009
Revises: 0008
"""

from alembic import op
import geoalchemy2
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "territories",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("team_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("boundary", geoalchemy2.types.Geography(
            geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False, from_text="ST_GeogFromText",
            name="geography"), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("vertices", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name="fk_territories_created_by_id_users",
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["team_id"], ["org_units.id"], name="fk_territories_team_id_org_units",
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_territories_tenant_id_tenants",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_territories"),
        sa.UniqueConstraint("tenant_id", "team_id", "name", name="uq_territories_tenant_id_team_id_name"),
    )
    op.create_index("ix_territories_boundary", "territories", ["boundary"], postgresql_using="gist")
    op.create_index("ix_territories_team_id", "territories", ["team_id"])
    op.create_index("ix_territories_tenant_id", "territories", ["tenant_id"])
    op.create_table(
        "territory_members",
        sa.Column("territory_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["territory_id"], ["territories.id"],
                                name="fk_territory_members_territory_id_territories", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_territory_members_user_id_users",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_territory_members_tenant_id_tenants",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("territory_id", "user_id", name="pk_territory_members"),
    )
    op.create_index("ix_territory_members_user", "territory_members", ["user_id", "territory_id"])
    op.create_index("ix_territory_members_tenant_id", "territory_members", ["tenant_id"])
    # `attr.<key>=value` filters are JSONB containment (attributes @> {"key": value})
    op.create_index("ix_merchants_attributes", "merchants", ["attributes"], postgresql_using="gin",
                    postgresql_ops={"attributes": "jsonb_path_ops"})
    # dashboards: a day's or period's rows of a tenant or BD
    op.create_index("ix_merchants_created_by", "merchants", ["created_by_id", "created_at"])
    op.create_index("ix_merchants_hidden", "merchants", ["tenant_id"],
                    postgresql_where=sa.text("audit_status IN ('rejected', 'merged')"))
    op.create_index("ix_visits_tenant_time", "visits", ["tenant_id", "client_time"])
    op.create_index("ix_lead_events_tenant_time", "lead_events", ["tenant_id", "created_at"])


def downgrade():
    op.drop_index("ix_lead_events_tenant_time", table_name="lead_events")
    op.drop_index("ix_visits_tenant_time", table_name="visits")
    op.drop_index("ix_merchants_hidden", table_name="merchants")
    op.drop_index("ix_merchants_created_by", table_name="merchants")
    op.drop_index("ix_merchants_attributes", table_name="merchants")
    op.drop_table("territory_members")
    op.drop_table("territories")
