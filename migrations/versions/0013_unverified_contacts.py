"""Contacts sent through self-onboarding are unverified until the lead's owner, a manager or ops accepts them.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("contacts", sa.Column("verified", sa.Boolean(), server_default=sa.text("true"), nullable=False))


def downgrade():
    op.drop_column("contacts", "verified")
