"""Nearby: a tenant-leading GiST index for KNN, and the merchant's last verified visit time.

The KNN scan must stop at the caller's tenant: with (tenant_id, location) in one GiST index (btree_gist),
another business line's dense data in the same city costs nothing.

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.drop_index("ix_merchants_location", table_name="merchants")
    op.create_index("ix_merchants_tenant_location", "merchants", ["tenant_id", "location"], postgresql_using="gist")
    op.add_column("merchants", sa.Column("last_visit_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        """
        UPDATE merchants m SET last_visit_at = v.last
        FROM (SELECT merchant_id, max(client_time) AS last FROM visits WHERE verified GROUP BY merchant_id) v
        WHERE v.merchant_id = m.id
        """
    )


def downgrade():
    op.drop_column("merchants", "last_visit_at")
    op.drop_index("ix_merchants_tenant_location", table_name="merchants")
    op.create_index("ix_merchants_location", "merchants", ["location"], postgresql_using="gist")
