"""core schema: tenants, org tree, users, sessions, merchants, contacts, visits, sales, competitors,
leads with history, tasks, reminders, devices and the outbox.

Written from autogenerate and edited by hand: extensions, the org_units <-> users foreign key cycle.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 02:44:38.215060
"""

from alembic import op
import geoalchemy2
import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('job', sa.String(length=200), nullable=False),
    sa.Column('queue', sa.String(length=40), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    op.create_index('ix_outbox_pending', 'outbox', ['id'], unique=False, postgresql_where=sa.text('processed_at IS NULL'))
    op.create_table('tenants',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants')),
    sa.UniqueConstraint('slug', name=op.f('uq_tenants_slug'))
    )
    op.create_table('org_units',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('parent_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.Enum('city', 'team', 'subteam', name='org_kind'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('manager_id', sa.BigInteger(), nullable=True),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['org_units.id'], name=op.f('fk_org_units_parent_id_org_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_org_units_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_units')),
    sa.UniqueConstraint('tenant_id', 'parent_id', 'name', name=op.f('uq_org_units_tenant_id_parent_id_name'))
    )
    op.create_index('ix_org_units_path', 'org_units', ['path'], unique=False, postgresql_ops={'path': 'text_pattern_ops'})
    op.create_index(op.f('ix_org_units_tenant_id'), 'org_units', ['tenant_id'], unique=False)
    op.create_table('users',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('bd', 'manager', 'ops', 'admin', name='user_role'), nullable=False),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=True),
    sa.Column('manager_id', sa.BigInteger(), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['manager_id'], ['users.id'], name=op.f('fk_users_manager_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_users_org_unit_id_org_units'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_users_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('tenant_id', 'username', name=op.f('uq_users_tenant_id_username'))
    )
    op.create_index(op.f('ix_users_org_unit_id'), 'users', ['org_unit_id'], unique=False)
    # org_units and users reference each other: this key can only exist once both tables do
    op.create_foreign_key(
        op.f('fk_org_units_manager_id_users'), 'org_units', 'users', ['manager_id'], ['id'], ondelete='SET NULL'
    )
    op.create_index(op.f('ix_users_tenant_id'), 'users', ['tenant_id'], unique=False)
    op.create_index('ix_users_username', 'users', ['username'], unique=False)
    op.create_table('auth_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('refresh_jti', sa.String(length=64), nullable=False),
    sa.Column('previous_refresh_jti', sa.String(length=64), nullable=True),
    sa.Column('last_refreshed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.String(length=40), nullable=True),
    sa.Column('user_agent', sa.String(length=300), nullable=True),
    sa.Column('device_token', sa.String(length=4096), nullable=True),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_auth_sessions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions'))
    )
    op.create_index(op.f('ix_auth_sessions_tenant_id'), 'auth_sessions', ['tenant_id'], unique=False)
    op.create_index(op.f('ix_auth_sessions_user_id'), 'auth_sessions', ['user_id'], unique=False)
    op.create_table('devices',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('token', sa.String(length=4096), nullable=False),
    sa.Column('platform', sa.String(length=10), nullable=False),
    sa.Column('app_version', sa.String(length=40), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled_reason', sa.String(length=60), nullable=True),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_devices_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_devices_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('token', name=op.f('uq_devices_token'))
    )
    op.create_index(op.f('ix_devices_tenant_id'), 'devices', ['tenant_id'], unique=False)
    op.create_index(op.f('ix_devices_user_id'), 'devices', ['user_id'], unique=False)
    op.create_geospatial_table('merchants',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('category', sa.String(length=300), server_default='', nullable=False),
    sa.Column('address', sa.String(length=500), server_default='', nullable=False),
    sa.Column('city', sa.String(length=100), server_default='', nullable=False),
    sa.Column('phone', sa.String(length=100), nullable=True),
    sa.Column('phone_normalized', sa.String(length=40), nullable=True),
    sa.Column('brand', sa.String(length=200), nullable=True),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=64)), server_default='{}', nullable=False),
    sa.Column('location', Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography', nullable=False), nullable=False),
    sa.Column('source', sa.String(length=40), server_default='manual', nullable=False),
    sa.Column('source_id', sa.String(length=120), nullable=True),
    sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('audit_status', sa.Enum('approved', 'pending_audit', 'rejected', 'merged', name='audit_status'), server_default='approved', nullable=False),
    sa.Column('audit_flags', postgresql.ARRAY(sa.String(length=64)), server_default='{}', nullable=False),
    sa.Column('merged_into_id', sa.BigInteger(), nullable=True),
    sa.Column('self_onboarded', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_by_id', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_merchants_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['merchants.id'], name=op.f('fk_merchants_merged_into_id_merchants'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_merchants_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merchants'))
    )
    op.create_index('ix_merchants_brand', 'merchants', ['tenant_id', 'brand'], unique=False)
    op.create_index('ix_merchants_category', 'merchants', ['tenant_id', 'category'], unique=False, postgresql_ops={'category': 'text_pattern_ops'})
    op.create_geospatial_index('ix_merchants_location', 'merchants', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_merchants_name_trgm', 'merchants', ['name'], unique=False, postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})
    op.create_index('ix_merchants_phone', 'merchants', ['tenant_id', 'phone_normalized'], unique=False)
    op.create_index('ix_merchants_tags', 'merchants', ['tags'], unique=False, postgresql_using='gin')
    op.create_index(op.f('ix_merchants_tenant_id'), 'merchants', ['tenant_id'], unique=False)
    op.create_index('uq_merchants_source', 'merchants', ['tenant_id', 'source', 'source_id'], unique=True, postgresql_where=sa.text('source_id IS NOT NULL'))
    op.create_table('competitor_records',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('platform', sa.String(length=60), nullable=False),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('deals', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('captured_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_competitor_records_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_competitor_records_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_competitor_records')),
    sa.UniqueConstraint('merchant_id', 'platform', name=op.f('uq_competitor_records_merchant_id_platform'))
    )
    op.create_index(op.f('ix_competitor_records_tenant_id'), 'competitor_records', ['tenant_id'], unique=False)
    op.create_table('contacts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=200), server_default='', nullable=False),
    sa.Column('role', sa.Enum('decision_maker', 'approver', 'evaluator', 'user', 'other', name='contact_role'), nullable=False),
    sa.Column('phones', postgresql.ARRAY(sa.String(length=40)), server_default='{}', nullable=False),
    sa.Column('is_key_person', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('notes', sa.Text(), server_default='', nullable=False),
    sa.Column('last_contacted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_contacts_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_contacts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts'))
    )
    op.create_index(op.f('ix_contacts_merchant_id'), 'contacts', ['merchant_id'], unique=False)
    op.create_index(op.f('ix_contacts_tenant_id'), 'contacts', ['tenant_id'], unique=False)
    op.create_table('deals',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('external_id', sa.String(length=120), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('started_at', sa.Date(), nullable=True),
    sa.Column('ended_at', sa.Date(), nullable=True),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_deals_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_deals_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deals')),
    sa.UniqueConstraint('tenant_id', 'external_id', name=op.f('uq_deals_tenant_id_external_id'))
    )
    op.create_index(op.f('ix_deals_merchant_id'), 'deals', ['merchant_id'], unique=False)
    op.create_index(op.f('ix_deals_tenant_id'), 'deals', ['tenant_id'], unique=False)
    op.create_table('lead_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('from_owner_id', sa.BigInteger(), nullable=True),
    sa.Column('to_owner_id', sa.BigInteger(), nullable=True),
    sa.Column('actor_id', sa.BigInteger(), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_lead_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['from_owner_id'], ['users.id'], name=op.f('fk_lead_events_from_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_lead_events_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_lead_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_owner_id'], ['users.id'], name=op.f('fk_lead_events_to_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_events'))
    )
    op.create_index('ix_lead_events_cooldown', 'lead_events', ['merchant_id', 'from_owner_id', 'action', 'created_at'], unique=False)
    op.create_index('ix_lead_events_merchant', 'lead_events', ['merchant_id', 'id'], unique=False)
    op.create_index(op.f('ix_lead_events_tenant_id'), 'lead_events', ['tenant_id'], unique=False)
    op.create_table('leads',
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.Enum('public', 'private', 'partner', name='lead_state'), nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_visit_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('extensions_used', sa.Integer(), server_default='0', nullable=False),
    sa.Column('extended_days', sa.Integer(), server_default='0', nullable=False),
    sa.Column('drops_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('drop_reason', sa.String(length=20), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('contract_no', sa.String(length=80), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_leads_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_leads_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_leads_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('merchant_id', name=op.f('pk_leads'))
    )
    op.create_index('ix_leads_drops_at', 'leads', ['drops_at'], unique=False, postgresql_where=sa.text("state = 'private'"))
    op.create_index('ix_leads_owner', 'leads', ['owner_id', 'state'], unique=False)
    op.create_index(op.f('ix_leads_tenant_id'), 'leads', ['tenant_id'], unique=False)
    op.create_table('reminders',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_reminders_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_reminders_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_reminders_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders')),
    sa.UniqueConstraint('tenant_id', 'dedupe_key', name=op.f('uq_reminders_tenant_id_dedupe_key'))
    )
    op.create_index(op.f('ix_reminders_tenant_id'), 'reminders', ['tenant_id'], unique=False)
    op.create_index('ix_reminders_user_open', 'reminders', ['user_id', 'done_at', 'due_at'], unique=False)
    op.create_table('sales_monthly',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.Column('gmv', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_sales_monthly_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sales_monthly_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_monthly')),
    sa.UniqueConstraint('merchant_id', 'month', name=op.f('uq_sales_monthly_merchant_id_month'))
    )
    op.create_index(op.f('ix_sales_monthly_tenant_id'), 'sales_monthly', ['tenant_id'], unique=False)
    op.create_table('tasks',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('creator_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('kind', sa.Enum('visit', 'price_adjust', 'collect_info', 'custom', name='task_kind'), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('target', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['users.id'], name=op.f('fk_tasks_creator_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_tasks_merchant_id_merchants'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tasks_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    op.create_index(op.f('ix_tasks_creator_id'), 'tasks', ['creator_id'], unique=False)
    op.create_index(op.f('ix_tasks_tenant_id'), 'tasks', ['tenant_id'], unique=False)
    op.create_geospatial_table('visits',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('client_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('location', Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography', nullable=False), nullable=False),
    sa.Column('coord_sys', sa.String(length=8), server_default='wgs84', nullable=False),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('distance_m', sa.Float(), nullable=True),
    sa.Column('verified', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('flags', postgresql.ARRAY(sa.String(length=32)), server_default='{}', nullable=False),
    sa.Column('offline', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('mock_location', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('purpose', sa.String(length=200), nullable=True),
    sa.Column('photo_ids', postgresql.ARRAY(sa.String(length=64)), server_default='{}', nullable=False),
    sa.Column('checkout_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checkout_location', Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography'), nullable=True),
    sa.Column('result', sa.String(length=32), nullable=True),
    sa.Column('notes', sa.Text(), server_default='', nullable=False),
    sa.Column('contact_ids', postgresql.ARRAY(sa.BigInteger()), server_default='{}', nullable=False),
    sa.Column('next_visit_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_visits_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_visits_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_visits_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits')),
    sa.UniqueConstraint('tenant_id', 'user_id', 'idempotency_key', name=op.f('uq_visits_tenant_id_user_id_idempotency_key'))
    )
    op.create_index('ix_visits_merchant_time', 'visits', ['merchant_id', 'client_time'], unique=False)
    op.create_index(op.f('ix_visits_tenant_id'), 'visits', ['tenant_id'], unique=False)
    op.create_index('ix_visits_user_time', 'visits', ['user_id', 'client_time'], unique=False)
    op.create_table('task_assignments',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('task_id', sa.BigInteger(), nullable=False),
    sa.Column('assignee_id', sa.BigInteger(), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.Enum('assigned', 'accepted', 'done', 'rejected', name='assignment_status'), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('feedback', sa.Text(), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_task_assignments_assignee_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_task_assignments_merchant_id_merchants'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_assignments_task_id_tasks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_task_assignments_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_assignments')),
    sa.UniqueConstraint('task_id', 'assignee_id', 'merchant_id', name=op.f('uq_task_assignments_task_id_assignee_id_merchant_id'))
    )
    op.create_index('ix_task_assignments_assignee', 'task_assignments', ['assignee_id', 'status'], unique=False)
    op.create_index(op.f('ix_task_assignments_task_id'), 'task_assignments', ['task_id'], unique=False)
    op.create_index(op.f('ix_task_assignments_tenant_id'), 'task_assignments', ['tenant_id'], unique=False)


def downgrade():
    op.drop_constraint(op.f('fk_org_units_manager_id_users'), 'org_units', type_='foreignkey')
    op.drop_index(op.f('ix_task_assignments_tenant_id'), table_name='task_assignments')
    op.drop_index(op.f('ix_task_assignments_task_id'), table_name='task_assignments')
    op.drop_index('ix_task_assignments_assignee', table_name='task_assignments')
    op.drop_table('task_assignments')
    op.drop_index('ix_visits_user_time', table_name='visits')
    op.drop_index(op.f('ix_visits_tenant_id'), table_name='visits')
    op.drop_index('ix_visits_merchant_time', table_name='visits')
    op.drop_geospatial_table('visits')
    op.drop_index(op.f('ix_tasks_tenant_id'), table_name='tasks')
    op.drop_index(op.f('ix_tasks_creator_id'), table_name='tasks')
    op.drop_table('tasks')
    op.drop_index(op.f('ix_sales_monthly_tenant_id'), table_name='sales_monthly')
    op.drop_table('sales_monthly')
    op.drop_index('ix_reminders_user_open', table_name='reminders')
    op.drop_index(op.f('ix_reminders_tenant_id'), table_name='reminders')
    op.drop_table('reminders')
    op.drop_index(op.f('ix_leads_tenant_id'), table_name='leads')
    op.drop_index('ix_leads_owner', table_name='leads')
    op.drop_index('ix_leads_drops_at', table_name='leads', postgresql_where=sa.text("state = 'private'"))
    op.drop_table('leads')
    op.drop_index(op.f('ix_lead_events_tenant_id'), table_name='lead_events')
    op.drop_index('ix_lead_events_merchant', table_name='lead_events')
    op.drop_index('ix_lead_events_cooldown', table_name='lead_events')
    op.drop_table('lead_events')
    op.drop_index(op.f('ix_deals_tenant_id'), table_name='deals')
    op.drop_index(op.f('ix_deals_merchant_id'), table_name='deals')
    op.drop_table('deals')
    op.drop_index(op.f('ix_contacts_tenant_id'), table_name='contacts')
    op.drop_index(op.f('ix_contacts_merchant_id'), table_name='contacts')
    op.drop_table('contacts')
    op.drop_index(op.f('ix_competitor_records_tenant_id'), table_name='competitor_records')
    op.drop_table('competitor_records')
    op.drop_index('uq_merchants_source', table_name='merchants', postgresql_where=sa.text('source_id IS NOT NULL'))
    op.drop_index(op.f('ix_merchants_tenant_id'), table_name='merchants')
    op.drop_index('ix_merchants_tags', table_name='merchants', postgresql_using='gin')
    op.drop_index('ix_merchants_phone', table_name='merchants')
    op.drop_index('ix_merchants_name_trgm', table_name='merchants', postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})
    op.drop_geospatial_index('ix_merchants_location', table_name='merchants', postgresql_using='gist', column_name='location')
    op.drop_index('ix_merchants_category', table_name='merchants', postgresql_ops={'category': 'text_pattern_ops'})
    op.drop_index('ix_merchants_brand', table_name='merchants')
    op.drop_geospatial_table('merchants')
    op.drop_index(op.f('ix_devices_user_id'), table_name='devices')
    op.drop_index(op.f('ix_devices_tenant_id'), table_name='devices')
    op.drop_table('devices')
    op.drop_index(op.f('ix_auth_sessions_user_id'), table_name='auth_sessions')
    op.drop_index(op.f('ix_auth_sessions_tenant_id'), table_name='auth_sessions')
    op.drop_table('auth_sessions')
    op.drop_index('ix_users_username', table_name='users')
    op.drop_index(op.f('ix_users_tenant_id'), table_name='users')
    op.drop_index(op.f('ix_users_org_unit_id'), table_name='users')
    op.drop_table('users')
    op.drop_index(op.f('ix_org_units_tenant_id'), table_name='org_units')
    op.drop_index('ix_org_units_path', table_name='org_units', postgresql_ops={'path': 'text_pattern_ops'})
    op.drop_table('org_units')
    op.drop_table('tenants')
    op.drop_index('ix_outbox_pending', table_name='outbox', postgresql_where=sa.text('processed_at IS NULL'))
    op.drop_table('outbox')
    for enum_name in ("assignment_status", "task_kind", "lead_state", "contact_role", "audit_status", "user_role",
                      "org_kind"):
        op.execute(f"DROP TYPE IF EXISTS {enum_name}")
