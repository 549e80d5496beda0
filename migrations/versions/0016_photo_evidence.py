"""Photos as evidence: the stored image's size, and the capture time and position read from its EXIF.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("uploads", sa.Column("width", sa.Integer(), nullable=True))
    op.add_column("uploads", sa.Column("height", sa.Integer(), nullable=True))
    op.add_column("uploads", sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("uploads", sa.Column("taken_lat", sa.Float(), nullable=True))
    op.add_column("uploads", sa.Column("taken_lng", sa.Float(), nullable=True))


def downgrade():
    for column in ("taken_lng", "taken_lat", "taken_at", "height", "width"):
        op.drop_column("uploads", column)
