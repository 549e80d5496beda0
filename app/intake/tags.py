"""Classification tags, computed for a whole tenant (or all) in one statement.

- ``head``: top 10 % by GMV over the last 12 months among merchants of its category (the first two levels,
  e.g. 餐饮服务;中餐厅) and city; at least one per group that has sales.
- ``top300``: its brand (or, without a brand, its normalised name) is on the tenant's ``top300_brands`` list.
- ``competitor_online``: some competitor record says online.
- ``has_deal``: an active deal with us.
- ``multi_store``: 3 or more live merchants of the tenant share its brand (its normalised name when it
  has no brand: 沙县小吃 is a chain whether or not an import says so).
- ``price_disadvantage``: the merchant's price gap is above the tenant's ``pricing.disadvantage_gap_pct``.

The price gap (``merchants.price_gap``) is computed first, in one statement over every merchant of the tenant:
the percent of our price by which the cheapest competitor undercuts us, from the freshest source -- the latest
competitor-observation answer with both prices (a BD saw it), or else the competitor records (imports and
observations keep them) against our cheapest active deal. Positive: they are cheaper.

Only these tags are managed here; tags that came with imports are kept. A merchant whose tags change gets
its detail version bumped, so the detail cache never serves the old ones.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from app import clock, db
from app.tenants.models import DEFAULT_SETTINGS

AUTO_TAGS = ("head", "top300", "competitor_online", "has_deal", "multi_store", "price_disadvantage")
DEFAULT_GAP_PCT = DEFAULT_SETTINGS["pricing"]["disadvantage_gap_pct"]
HEAD_SHARE = 0.1
MULTI_STORE_MIN = 3

TAGS_SQL = text(
    """
    WITH live AS (
        SELECT m.id, m.tenant_id, m.city, m.tags, m.brand, m.price_gap,
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
                    CASE WHEN ch.chain IS NOT NULL THEN 'multi_store' END,
                    CASE WHEN live.price_gap > coalesce(
                        (tn.settings -> 'pricing' ->> 'disadvantage_gap_pct')::numeric, :default_gap)
                         THEN 'price_disadvantage' END
                ]::varchar(64)[]) tag
            WHERE tag IS NOT NULL ORDER BY tag
        )::varchar(64)[] AS tags
        -- joined, not EXISTS per merchant: an EXISTS over a CTE scans it once for every merchant
        FROM live JOIN ranked r ON r.id = live.id JOIN tenants tn ON tn.id = live.tenant_id
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


PRICE_GAP_SQL = text(
    """
    WITH ours AS (
        SELECT d.merchant_id, min(d.price) AS price FROM deals d
        WHERE d.status = 'active' AND d.price > 0 AND (CAST(:tenant_id AS bigint) IS NULL OR d.tenant_id = :tenant_id)
        GROUP BY d.merchant_id
    ),
    theirs AS (
        SELECT c.merchant_id, min((deal ->> 'price')::numeric) AS price, max(c.captured_at) AS at
        FROM competitor_records c, jsonb_array_elements(c.deals) deal
        WHERE (CAST(:tenant_id AS bigint) IS NULL OR c.tenant_id = :tenant_id)
          AND jsonb_typeof(deal -> 'price') = 'number'
        GROUP BY c.merchant_id
    ),
    observed AS (
        SELECT DISTINCT ON (o.merchant_id) o.merchant_id, o.our_price, o.their_price, o.observed_at AS at
        FROM competitor_observations o
        WHERE (CAST(:tenant_id AS bigint) IS NULL OR o.tenant_id = :tenant_id)
          AND o.our_price > 0 AND o.their_price IS NOT NULL
        ORDER BY o.merchant_id, o.observed_at DESC, o.id DESC
    ),
    gaps AS (
        SELECT coalesce(ob.merchant_id, th.merchant_id) AS merchant_id,
               round(CASE WHEN ob.merchant_id IS NOT NULL AND (th.at IS NULL OR ours.price IS NULL OR ob.at >= th.at)
                          THEN (ob.our_price - ob.their_price) * 100 / ob.our_price
                          ELSE (ours.price - th.price) * 100 / ours.price END, 2) AS gap
        FROM observed ob
        FULL JOIN (theirs th JOIN ours ON ours.merchant_id = th.merchant_id) ON th.merchant_id = ob.merchant_id
    ),
    changed AS (
        UPDATE merchants m SET price_gap = g.gap, detail_version = m.detail_version + 1
        FROM merchants m2 LEFT JOIN gaps g ON g.merchant_id = m2.id
        WHERE m.id = m2.id AND (CAST(:tenant_id AS bigint) IS NULL OR m2.tenant_id = :tenant_id)
          AND m.price_gap IS DISTINCT FROM g.gap
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
    compute_price_gaps(tenant_id)
    changed = db.session.execute(
        TAGS_SQL,
        {
            "tenant_id": tenant_id,
            "since": _months_back(clock.now().date(), 11),
            "auto_tags": list(AUTO_TAGS),
            "head_share": HEAD_SHARE,
            "multi_min": MULTI_STORE_MIN,
            "default_gap": DEFAULT_GAP_PCT,
        },
    ).scalar_one()
    db.session.execute(text("SELECT set_config('enable_nestloop', 'on', true)"))
    return changed


def compute_price_gaps(tenant_id: int | None = None) -> int:
    """Recompute ``merchants.price_gap`` (one statement); returns how many merchants changed."""
    return db.session.execute(PRICE_GAP_SQL, {"tenant_id": tenant_id}).scalar_one()
