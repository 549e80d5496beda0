"""Lead intake: duplicate-detection keys on merchants, bulk imports with progress, source ids that point at
other merchants (import matches, merge aliases).

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BACKFILL_BATCH = 5000


def upgrade():
    op.add_column("merchants", sa.Column("name_key", sa.String(length=300), server_default="", nullable=False))
    op.add_column("merchants", sa.Column("branch_key", sa.String(length=100), server_default="", nullable=False))
    op.add_column(
        "merchants",
        sa.Column("phone_keys", postgresql.ARRAY(sa.String(length=20)), server_default="{}", nullable=False),
    )
    op.create_index("ix_merchants_phone_keys", "merchants", ["phone_keys"], unique=False, postgresql_using="gin")
    op.create_table(
        "merchant_imports",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Enum("queued", "running", "done", "failed", name="import_status"), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("file_format", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("coord_sys", sa.String(length=8), nullable=False),
        sa.Column("mapping", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rejects", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("matches", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_merchant_imports_created_by_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_merchant_imports_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_imports")),
    )
    op.create_index(op.f("ix_merchant_imports_tenant_id"), "merchant_imports", ["tenant_id"], unique=False)
    op.create_table(
        "merchant_source_ids",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=120), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"],
                                name=op.f("fk_merchant_source_ids_merchant_id_merchants"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_merchant_source_ids_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_source_ids")),
        sa.UniqueConstraint("tenant_id", "source", "source_id",
                            name=op.f("uq_merchant_source_ids_tenant_id_source_source_id")),
    )
    op.create_index(op.f("ix_merchant_source_ids_merchant_id"), "merchant_source_ids", ["merchant_id"], unique=False)
    op.create_index(op.f("ix_merchant_source_ids_tenant_id"), "merchant_source_ids", ["tenant_id"], unique=False)
    _backfill_keys()


def _backfill_keys():
    """Compute the keys of existing merchants with the same code the application writes them with."""
    from app.intake.normalize import branch_key, name_key, phone_keys

    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(sa.text(
            "SELECT m.id, m.name, m.phone, coalesce(t.settings->>'phone_region', 'CN') AS region "
            "FROM merchants m JOIN tenants t ON t.id = m.tenant_id WHERE m.id > :last ORDER BY m.id LIMIT :n"
        ), {"last": last_id, "n": BACKFILL_BATCH}).all()
        if not rows:
            return
        values = []
        for row in rows:
            keys = phone_keys(row.phone, row.region)
            values.append({"id": row.id, "name_key": name_key(row.name), "branch_key": branch_key(row.name),
                           "phone_keys": keys,
                           "first": keys[0] if keys else None})
        connection.execute(sa.text(
            "UPDATE merchants SET name_key = :name_key, branch_key = :branch_key, "
            "phone_keys = CAST(:phone_keys AS varchar(20)[]), phone_normalized = :first WHERE id = :id"
        ), values)
        last_id = rows[-1].id


def downgrade():
    op.drop_index(op.f("ix_merchant_source_ids_tenant_id"), table_name="merchant_source_ids")
    op.drop_index(op.f("ix_merchant_source_ids_merchant_id"), table_name="merchant_source_ids")
    op.drop_table("merchant_source_ids")
    op.drop_index(op.f("ix_merchant_imports_tenant_id"), table_name="merchant_imports")
    op.drop_table("merchant_imports")
    sa.Enum(name="import_status").drop(op.get_bind(), checkfirst=True)
    op.drop_index("ix_merchants_phone_keys", table_name="merchants", postgresql_using="gin")
    op.drop_column("merchants", "phone_keys")
    op.drop_column("merchants", "branch_key")
    op.drop_column("merchants", "name_key")
