"""Sharding, checked: what in the live schema would stop Citus from distributing the tables by ``tenant_id``.

docs/scaling.md gives the path. Citus distributes a table by one column and enforces primary keys, unique
constraints and foreign keys only within a shard, so on every distributed table they must include the
distribution column; reference tables (copied to every node) may be referenced by anyone but may not refer
to a distributed table. This test reads the migrated schema from the catalogue and lists every blocker. The
list of today's blockers (``KNOWN_BLOCKERS``) may only shrink: a new table or constraint that would block
distribution fails the test, and so does a blocker that was fixed but is still listed (remove it).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import text

from app import db

DISTRIBUTION_COLUMN = "tenant_id"
# copied to every node: small, read by every tenant's queries, written rarely
REFERENCE_TABLES = {"tenants"}
# stay on the coordinator (Citus local tables): infrastructure that is not any one tenant's data
# (alembic_version, PostGIS's spatial_ref_sys) and the outbox, which the coordinator's sweep drains in
# the transaction of the write that filled it
LOCAL_TABLES = {"alembic_version", "spatial_ref_sys", "outbox"}

# Today's blockers. Every tenant table has a single-column primary key (a bigserial ``id``, or the id of the
# row it extends) that does not include tenant_id, so its unique indexes and the foreign keys that point at
# it cannot either; widening them is the migration docs/scaling.md describes (one per table, online, in
# the order given there). Entries may only be removed.
# The tables added on 2026-12-03 (corrections, change history, idempotency keys, sync log, activities, forms,
# observations, KPI targets, contracts, lead locks, campaigns, exports) follow the same single-column id pattern
# and are listed too: widening them belongs to the same migration series (docs/scaling.md), not to each feature.
KNOWN_BLOCKERS: dict[str, set[str]] = {
    "activities": {
        "fk_activities_contact_id_contacts",
        "fk_activities_merchant_id_merchants",
        "fk_activities_user_id_users",
        "pk_activities",
    },
    "audit_log": {"fk_audit_log_actor_id_users", "pk_audit_log"},
    "auth_sessions": {"fk_auth_sessions_user_id_users", "pk_auth_sessions"},
    "campaign_merchants": {
        "fk_campaign_merchants_campaign_id_campaigns",
        "fk_campaign_merchants_merchant_id_merchants",
        "fk_campaign_merchants_task_id_tasks",
        "pk_campaign_merchants",
    },
    "campaigns": {"fk_campaigns_creator_id_users", "pk_campaigns"},
    "competitor_observations": {
        "fk_competitor_observations_merchant_id_merchants",
        "fk_competitor_observations_user_id_users",
        "fk_competitor_observations_visit_id_visits",
        "pk_competitor_observations",
    },
    "competitor_records": {
        "fk_competitor_records_merchant_id_merchants",
        "pk_competitor_records",
        "uq_competitor_records_merchant_id_platform",
    },
    "contacts": {"fk_contacts_merchant_id_merchants", "pk_contacts"},
    "contracts": {"fk_contracts_merchant_id_merchants", "fk_contracts_signed_by_id_users", "pk_contracts"},
    "deals": {"fk_deals_merchant_id_merchants", "pk_deals"},
    "devices": {"fk_devices_user_id_users", "pk_devices"},
    "exports": {"fk_exports_user_id_users", "pk_exports"},
    "idempotency_keys": {"fk_idempotency_keys_user_id_users", "pk_idempotency_keys"},
    "kpi_targets": {"fk_kpi_targets_set_by_id_users", "pk_kpi_targets"},
    "lead_events": {
        "fk_lead_events_actor_id_users",
        "fk_lead_events_from_owner_id_users",
        "fk_lead_events_merchant_id_merchants",
        "fk_lead_events_to_owner_id_users",
        "pk_lead_events",
    },
    "leads": {
        "fk_leads_account_owner_id_users",
        "fk_leads_locked_by_id_users",
        "fk_leads_merchant_id_merchants",
        "fk_leads_owner_id_users",
        "pk_leads",
    },
    "merchant_changes": {
        "fk_merchant_changes_actor_id_users",
        "fk_merchant_changes_merchant_id_merchants",
        "pk_merchant_changes",
    },
    "merchant_corrections": {
        "fk_merchant_corrections_created_by_id_users",
        "fk_merchant_corrections_decided_by_id_users",
        "fk_merchant_corrections_merchant_id_merchants",
        "pk_merchant_corrections",
    },
    "merchant_imports": {"fk_merchant_imports_created_by_id_users", "pk_merchant_imports"},
    "merchant_source_ids": {"fk_merchant_source_ids_merchant_id_merchants", "pk_merchant_source_ids"},
    "merchants": {"fk_merchants_created_by_id_users", "fk_merchants_merged_into_id_merchants", "pk_merchants"},
    "org_units": {"fk_org_units_manager_id_users", "fk_org_units_parent_id_org_units", "pk_org_units"},
    "push_deliveries": {
        "fk_push_deliveries_assignment_id_task_assignments",
        "fk_push_deliveries_device_id_devices",
        "fk_push_deliveries_reminder_id_reminders",
        "fk_push_deliveries_task_id_tasks",
        "fk_push_deliveries_user_id_users",
        "pk_push_deliveries",
    },
    "reminders": {"fk_reminders_merchant_id_merchants", "fk_reminders_user_id_users", "pk_reminders"},
    "sales_monthly": {
        "fk_sales_monthly_merchant_id_merchants",
        "pk_sales_monthly",
        "uq_sales_monthly_merchant_id_month",
    },
    "sync_changes": {"sync_changes_pkey"},
    "task_assignments": {
        "fk_task_assignments_assignee_id_users",
        "fk_task_assignments_merchant_id_merchants",
        "fk_task_assignments_task_id_tasks",
        "pk_task_assignments",
        "uq_task_assignments_task_id_assignee_id_merchant_id",
    },
    "task_fanouts": {"fk_task_fanouts_task_id_tasks", "pk_task_fanouts"},
    "tasks": {"fk_tasks_creator_id_users", "fk_tasks_merchant_id_merchants", "pk_tasks"},
    "territories": {"fk_territories_created_by_id_users", "fk_territories_team_id_org_units", "pk_territories"},
    "territory_members": {
        "fk_territory_members_territory_id_territories",
        "fk_territory_members_user_id_users",
        "pk_territory_members",
    },
    "uploads": {"fk_uploads_user_id_users", "pk_uploads"},
    "users": {"fk_users_manager_id_users", "fk_users_org_unit_id_org_units", "pk_users"},
    "visit_form_versions": {"pk_visit_form_versions"},
    "visit_plans": {"fk_visit_plans_user_id_users", "pk_visit_plans", "uq_visit_plans_user_id_plan_date"},
    "visits": {"fk_visits_merchant_id_merchants", "fk_visits_user_id_users", "pk_visits"},
}

_COLUMNS = text(
    """
    SELECT c.relname, a.attname, a.attnotnull
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    """
)
# primary keys, unique constraints, exclusion constraints and unique indexes (those behind a constraint are
# listed once, as the constraint), with their columns; foreign keys with both sides' columns
_KEYS = text(
    """
    SELECT c.relname AS table_name, k.conname AS name, k.contype AS kind,
           ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = k.conrelid AND attnum = ANY (k.conkey)) AS columns,
           f.relname AS referenced_table,
           ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = k.confrelid AND attnum = ANY (k.confkey))
               AS referenced_columns
    FROM pg_constraint k
    JOIN pg_class c ON c.oid = k.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_class f ON f.oid = k.confrelid
    WHERE n.nspname = 'public' AND k.contype IN ('p', 'u', 'x', 'f')
    UNION ALL
    SELECT c.relname, i.relname, 'i',
           ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = x.indrelid AND attnum = ANY (x.indkey)),
           NULL, NULL
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class c ON c.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND x.indisunique
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
    """
)


def distribution_blockers() -> dict[str, dict[str, str]]:
    """Table -> {constraint, index or column: why it stops the table from being distributed by tenant_id}."""
    columns: dict[str, dict[str, bool]] = defaultdict(dict)
    for table, column, not_null in db.session.execute(_COLUMNS):
        columns[table][column] = not_null
    distributed = {t for t in columns if t not in REFERENCE_TABLES | LOCAL_TABLES}
    blockers: dict[str, dict[str, str]] = defaultdict(dict)
    for table in sorted(distributed):
        if DISTRIBUTION_COLUMN not in columns[table]:
            blockers[table][DISTRIBUTION_COLUMN] = "no tenant_id column (nor a reference or coordinator-local table)"
        elif not columns[table][DISTRIBUTION_COLUMN]:
            blockers[table][DISTRIBUTION_COLUMN] = "tenant_id is nullable"
    for row in db.session.execute(_KEYS):
        if row.table_name not in distributed:
            if row.kind == "f" and row.table_name in REFERENCE_TABLES and row.referenced_table in distributed:
                blockers[row.table_name][row.name] = f"reference table refers to distributed {row.referenced_table}"
            continue
        if row.kind in ("p", "u", "x", "i") and DISTRIBUTION_COLUMN not in row.columns:
            what = {"p": "primary key", "u": "unique constraint", "x": "exclusion constraint", "i": "unique index"}
            blockers[row.table_name][row.name] = f"{what[row.kind]} ({', '.join(row.columns)}) lacks tenant_id"
        if row.kind == "f" and row.referenced_table in distributed:
            pairs = dict(zip(row.columns, row.referenced_columns, strict=True))
            if pairs.get(DISTRIBUTION_COLUMN) != DISTRIBUTION_COLUMN:
                blockers[row.table_name][row.name] = (
                    f"foreign key ({', '.join(row.columns)}) -> {row.referenced_table} lacks tenant_id"
                )
    return dict(blockers)


def test_nothing_new_blocks_distribution_by_tenant(session):
    found = distribution_blockers()
    new = {
        f"{table}.{name}": why
        for table, reasons in found.items()
        for name, why in reasons.items()
        if name not in KNOWN_BLOCKERS.get(table, set())
    }
    fixed = sorted(
        f"{table}.{name}" for table, names in KNOWN_BLOCKERS.items() for name in names - found.get(table, {}).keys()
    )
    assert not new, (
        "these would stop Citus from distributing by tenant_id (docs/scaling.md: include tenant_id in primary "
        f"keys, unique constraints and foreign keys between tenant tables): {new}"
    )
    assert not fixed, f"fixed, so remove them from KNOWN_BLOCKERS (it may only shrink): {fixed}"


def test_the_check_sees_a_blocker(session):
    """The check itself: a new tenant table keyed by id alone is reported, one keyed with tenant_id is not."""
    session.execute(
        text(
            "CREATE TABLE shard_probe_bad (id bigserial PRIMARY KEY, tenant_id bigint NOT NULL REFERENCES tenants(id),"
            " merchant_id bigint REFERENCES merchants(id), code text UNIQUE)"
        )
    )
    session.execute(
        text(
            "CREATE TABLE shard_probe_good (tenant_id bigint NOT NULL REFERENCES tenants(id), id bigserial,"
            " code text, PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, code))"
        )
    )
    found = distribution_blockers()
    assert found["shard_probe_bad"] == {
        "shard_probe_bad_pkey": "primary key (id) lacks tenant_id",
        "shard_probe_bad_code_key": "unique constraint (code) lacks tenant_id",
        "shard_probe_bad_merchant_id_fkey": "foreign key (merchant_id) -> merchants lacks tenant_id",
    }
    assert "shard_probe_good" not in found
