"""Users' language (null: the business line's `locale` setting) and system to-dos stored as a text key with
arguments, so that each reader sees them in their own language.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("locale", sa.String(10), nullable=True))
    op.add_column("reminders", sa.Column("message", JSONB(), nullable=True))


def downgrade():
    op.drop_column("reminders", "message")
    op.drop_column("users", "locale")
