"""Classification tags, computed for a whole tenant (or all) in one statement.

- ``head``: top 10 % by GMV over the last 12 months among merchants of its category (the first two levels,
  e.g. 餐饮服务;中餐厅) and city; at least one per group that has sales.
- ``top300``: its brand (or, without a brand, its normalised name) is on the tenant's ``top300_brands`` list.
- ``competitor_online``: some competitor record says online.
- ``has_deal``: an active deal with us.
- ``multi_store``: 3 or more live merchants of the tenant share its brand (its normalised name when it
  has no brand: 沙县小吃 is a chain whether or not an import says so).

Only these tags are managed here; tags that came with imports are kept. A merchant whose tags change gets
its detail version bumped, so the detail cache never serves the old ones.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from app import clock, db

AUTO_TAGS = ("head", "top300", "competitor_online", "has_deal", "multi_store")
HEAD_SHARE = 0.1
MULTI_STORE_MIN = 3

TAGS_SQL = text(
    """
    WITH live AS (
        SELECT m.id, m.tenant_id, m.city, m.tags, m.brand,
               coalesce(nullif(lower(m.brand), ''), m.name_key) AS chain,
               array_to_string((string_to_array(m.category, ';'))[1:2], ';') AS cat
        FROM merchants m
        WHERE (CAST(:tenant_id AS bigint) IS NULL OR m.tenant_id = :tenant_id)
          AND m.audit_status NOT IN ('rejected', 'merged')
    ),
    gmv AS (
        SELECT s.merchant_id, sum(s.gmv) AS gmv FROM sales_monthly s JOIN live ON live.id = s.merchant_id
        WHERE s.month >= :since GROUP BY s.merchant_id
    ),
    ranked AS (
        SELECT live.id, g.gmv,
               row_number() OVER w AS position,
               count(*) OVER (PARTITION BY live.tenant_id, live.city, live.cat) AS peers
        FROM live LEFT JOIN gmv g ON g.merchant_id = live.id
        WINDOW w AS (PARTITION BY live.tenant_id, live.city, live.cat ORDER BY coalesce(g.gmv, 0) DESC, live.id)
    ),
    chains AS (
        SELECT tenant_id, chain FROM live WHERE chain <> '' GROUP BY tenant_id, chain HAVING count(*) >= :multi_min
    ),
    top AS (
        SELECT t.id AS tenant_id, b.value AS chain
        FROM tenants t, jsonb_array_elements_text(coalesce(t.settings -> 'top300_keys', '[]'::jsonb)) b
        WHERE CAST(:tenant_id AS bigint) IS NULL OR t.id = :tenant_id
    ),
    computed AS (
        SELECT live.id, ARRAY(
            SELECT DISTINCT tag FROM unnest(
                ARRAY(SELECT unnest(live.tags) EXCEPT SELECT unnest(CAST(:auto_tags AS varchar(64)[])))
                || ARRAY[
                    CASE WHEN r.gmv > 0 AND r.position <= ceil(r.peers * :head_share) THEN 'head' END,
                    CASE WHEN tp.chain IS NOT NULL THEN 'top300' END,
                    CASE WHEN EXISTS (SELECT 1 FROM competitor_records c
                                      WHERE c.merchant_id = live.id AND c.online) THEN 'competitor_online' END,
                    CASE WHEN EXISTS (SELECT 1 FROM deals d
                                      WHERE d.merchant_id = live.id AND d.status = 'active') THEN 'has_deal' END,
                    CASE WHEN ch.chain IS NOT NULL THEN 'multi_store' END
                ]::varchar(64)[]) tag
            WHERE tag IS NOT NULL ORDER BY tag
        )::varchar(64)[] AS tags
        -- joined, not EXISTS per merchant: an EXISTS over a CTE scans it once for every merchant
        FROM live JOIN ranked r ON r.id = live.id
        LEFT JOIN chains ch ON ch.tenant_id = live.tenant_id AND ch.chain = live.chain
        LEFT JOIN (SELECT DISTINCT tenant_id, chain FROM top) tp
               ON tp.tenant_id = live.tenant_id AND tp.chain = live.chain
    ),
    changed AS (
        UPDATE merchants m SET tags = c.tags, detail_version = m.detail_version + 1
        FROM computed c
        WHERE m.id = c.id AND m.tags IS DISTINCT FROM c.tags
        RETURNING m.id
    )
    SELECT count(*) FROM changed
    """
)


def _months_back(today: date, months: int) -> date:
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return date(year, month + 1, 1)


def compute(tenant_id: int | None = None) -> int:
    """Recompute the managed tags in the caller's transaction; returns how many merchants changed."""
    # Right after an import the new rows have no statistics yet (autovacuum has not seen them, or they are
    # not even committed): the planner then takes a tenant's merchants for a handful and nests loops over
    # CTEs, 12k x 12k rows (140 s instead of 1 s, measured). Whole-tenant passes always want hash joins.
    # (Reset after success only: a failed statement aborts the transaction, and the setting goes with it.)
    db.session.execute(text("SELECT set_config('enable_nestloop', 'off', true)"))
    changed = db.session.execute(
        TAGS_SQL,
        {
            "tenant_id": tenant_id,
            "since": _months_back(clock.now().date(), 11),
            "auto_tags": list(AUTO_TAGS),
            "head_share": HEAD_SHARE,
            "multi_min": MULTI_STORE_MIN,
        },
    ).scalar_one()
    db.session.execute(text("SELECT set_config('enable_nestloop', 'on', true)"))
    return changed
