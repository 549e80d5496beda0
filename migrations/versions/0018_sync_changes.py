"""Offline delta sync: a change log fed by triggers, in the writing transaction's xid order.

Every write to a table the app caches (merchants, leads, to-dos, plans, visits, territory membership) adds a row
``(txid, tenant, entity, id, user)`` in the same transaction, by statement-level triggers with transition tables
(one INSERT per statement, so a 100,000-row import or a sweep costs one extra statement, not 100,000). Triggers
rather than service code: imports (COPY), the sweeper and merges write in bulk, and a writer that forgets the log
would make phones miss a change forever. ``app/sync/queries.py`` explains how ``txid`` keeps the cursor behind
transactions still in progress.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# (table, entity, id column, user column or NULL for tenant-wide rows)
LOGGED = (
    ("merchants", "merchant", "id", "NULL"),
    ("leads", "lead", "merchant_id", "owner_id"),
    ("task_assignments", "task", "id", "assignee_id"),
    ("reminders", "reminder", "id", "user_id"),
    ("visit_plans", "plan", "id", "user_id"),
    ("visits", "visit", "id", "user_id"),
    ("territory_members", "scope", "territory_id", "user_id"),
)

UPGRADE = r"""
CREATE TABLE sync_changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    tenant_id bigint NOT NULL,
    entity varchar(16) NOT NULL,
    entity_id bigint NOT NULL,
    user_id bigint,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- the delta read: one tenant's changes from a transaction id on, in (txid, id) order
CREATE INDEX ix_sync_changes_tenant_txid ON sync_changes (tenant_id, txid, id);
-- pruning
CREATE INDEX ix_sync_changes_created ON sync_changes (created_at);

-- TG_ARGV: entity, id column, user column ('NULL': the change concerns everyone in the tenant who may see it).
-- An UPDATE logs the old row's user too: a lead transferred away must reach its previous owner as a tombstone.
CREATE FUNCTION sync_log_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    user_expr text := CASE WHEN TG_ARGV[2] = 'NULL' THEN 'NULL::bigint' ELSE quote_ident(TG_ARGV[2]) END;
    select_new text := format('SELECT tenant_id, %I AS entity_id, %s AS user_id FROM new_rows', TG_ARGV[1], user_expr);
    select_old text := format('SELECT tenant_id, %I AS entity_id, %s AS user_id FROM old_rows', TG_ARGV[1], user_expr);
    rows_sql text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        rows_sql := select_new;
    ELSIF TG_OP = 'DELETE' THEN
        rows_sql := select_old;
    ELSIF TG_ARGV[2] = 'NULL' THEN
        rows_sql := select_new;
    ELSE
        rows_sql := select_new || ' UNION ' || select_old;
    END IF;
    EXECUTE format(
        'INSERT INTO sync_changes (tenant_id, entity, entity_id, user_id) '
        'SELECT tenant_id, %L, entity_id, user_id FROM (%s) AS changed WHERE %s',
        TG_ARGV[0], rows_sql, CASE WHEN TG_ARGV[2] = 'NULL' THEN 'true' ELSE 'user_id IS NOT NULL' END
    );
    RETURN NULL;
END $$;

-- A private lead shows its merchant's name and position: a merchant's update is also its owner's lead change.
CREATE FUNCTION sync_log_merchant_leads() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sync_changes (tenant_id, entity, entity_id, user_id)
    SELECT l.tenant_id, 'lead', l.merchant_id, l.owner_id
    FROM new_rows n JOIN leads l ON l.merchant_id = n.id
    WHERE l.owner_id IS NOT NULL;
    RETURN NULL;
END $$;

-- A task's title, body or due date is part of each assignee's to-do.
CREATE FUNCTION sync_log_task_assignments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sync_changes (tenant_id, entity, entity_id, user_id)
    SELECT a.tenant_id, 'task', a.id, a.assignee_id
    FROM new_rows n JOIN task_assignments a ON a.task_id = n.id;
    RETURN NULL;
END $$;

-- A territory redrawn changes which merchants its members cache.
CREATE FUNCTION sync_log_territory_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sync_changes (tenant_id, entity, entity_id, user_id)
    SELECT m.tenant_id, 'scope', m.territory_id, m.user_id
    FROM new_rows n JOIN territory_members m ON m.territory_id = n.id;
    RETURN NULL;
END $$;

CREATE TRIGGER sync_log_merchant_leads AFTER UPDATE ON merchants
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_log_merchant_leads();
CREATE TRIGGER sync_log_task_assignments AFTER UPDATE ON tasks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_log_task_assignments();
CREATE TRIGGER sync_log_territory_members AFTER UPDATE ON territories
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_log_territory_members();
"""


def _row_triggers(table: str, entity: str, id_column: str, user_column: str) -> str:
    args = f"'{entity}', '{id_column}', '{user_column}'"
    return f"""
CREATE TRIGGER sync_log_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_log_rows({args});
CREATE TRIGGER sync_log_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_log_rows({args});
CREATE TRIGGER sync_log_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_log_rows({args});
"""


def upgrade():
    op.execute(UPGRADE)
    for logged in LOGGED:
        op.execute(_row_triggers(*logged))


def downgrade():
    for table, *_ in LOGGED:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER sync_log_{event} ON {table}")
    op.execute("DROP TRIGGER sync_log_merchant_leads ON merchants")
    op.execute("DROP TRIGGER sync_log_task_assignments ON tasks")
    op.execute("DROP TRIGGER sync_log_territory_members ON territories")
    for function in ("sync_log_rows", "sync_log_merchant_leads", "sync_log_task_assignments", "sync_log_territory_members"):
        op.execute(f"DROP FUNCTION {function}()")
    op.execute("DROP TABLE sync_changes")
