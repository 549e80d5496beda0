"""push deliveries

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 03:42:51.255053
"""

from alembic import op
import geoalchemy2
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('push_deliveries',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('task_id', sa.BigInteger(), nullable=True),
    sa.Column('assignment_id', sa.BigInteger(), nullable=True),
    sa.Column('reminder_id', sa.BigInteger(), nullable=True),
    sa.Column('device_id', sa.BigInteger(), nullable=True),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error_code', sa.String(length=40), nullable=True),
    sa.Column('message_id', sa.String(length=200), nullable=True),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['task_assignments.id'], name=op.f('fk_push_deliveries_assignment_id_task_assignments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_push_deliveries_device_id_devices'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reminder_id'], ['reminders.id'], name=op.f('fk_push_deliveries_reminder_id_reminders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_push_deliveries_task_id_tasks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_push_deliveries_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_push_deliveries_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_deliveries'))
    )
    op.create_index('ix_push_deliveries_assignment', 'push_deliveries', ['assignment_id', 'device_id', 'attempt'], unique=False)
    op.create_index('ix_push_deliveries_task', 'push_deliveries', ['task_id'], unique=False)
    op.create_index(op.f('ix_push_deliveries_tenant_id'), 'push_deliveries', ['tenant_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_push_deliveries_tenant_id'), table_name='push_deliveries')
    op.drop_index('ix_push_deliveries_task', table_name='push_deliveries')
    op.drop_index('ix_push_deliveries_assignment', table_name='push_deliveries')
    op.drop_table('push_deliveries')
