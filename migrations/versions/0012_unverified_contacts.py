"""Contacts sent through self-onboarding are unverified until the lead's owner, a manager or ops accepts them.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("contacts", sa.Column("verified", sa.Boolean(), server_default=sa.text("true"), nullable=False))


def downgrade():
    op.drop_column("contacts", "verified")
