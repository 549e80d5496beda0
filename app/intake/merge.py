"""Merging a duplicate into the merchant that survives: every row about the duplicate moves over.

The duplicate's row stays, ``merged`` and pointing at the survivor (``merged_into_id``): that is the alias
through which old ids (offline apps, bookmarks, other systems) still resolve. Its source ids move to
``merchant_source_ids`` so that re-importing its source updates the survivor.
"""

from __future__ import annotations

from sqlalchemy import text

from app import db
from app.merchants import history
from app.merchants.models import LeadEvent, touch
from app.org.models import User

# Rows with no uniqueness on the merchant simply follow it.
_MOVE = [
    "UPDATE visits SET merchant_id = :survivor WHERE merchant_id = :gone",
    "UPDATE contacts SET merchant_id = :survivor WHERE merchant_id = :gone",
    "UPDATE deals SET merchant_id = :survivor WHERE merchant_id = :gone",
    "UPDATE tasks SET merchant_id = :survivor WHERE merchant_id = :gone",
    "UPDATE lead_events SET merchant_id = :survivor WHERE merchant_id = :gone",
    "UPDATE reminders SET merchant_id = :survivor WHERE merchant_id = :gone",
    # a correction still pending is about the shop, which is the survivor now (its history stays on the alias)
    "UPDATE merchant_corrections SET merchant_id = :survivor WHERE merchant_id = :gone AND status = 'pending'",
    "UPDATE activities SET merchant_id = :survivor WHERE merchant_id = :gone",
    "UPDATE competitor_observations SET merchant_id = :survivor WHERE merchant_id = :gone",
    "UPDATE merchant_source_ids SET merchant_id = :survivor WHERE merchant_id = :gone",
    # aliases of the duplicate now point straight at the survivor: one hop resolves any old id
    "UPDATE merchants SET merged_into_id = :survivor WHERE merged_into_id = :gone",
]

_MERGE_SALES = [
    # Both records took orders through us: a month's figures add up.
    """INSERT INTO sales_monthly (tenant_id, merchant_id, month, orders, gmv)
       SELECT tenant_id, :survivor, month, orders, gmv FROM sales_monthly WHERE merchant_id = :gone
       ON CONFLICT (merchant_id, month) DO UPDATE
       SET orders = sales_monthly.orders + EXCLUDED.orders, gmv = sales_monthly.gmv + EXCLUDED.gmv""",
    "DELETE FROM sales_monthly WHERE merchant_id = :gone",
]

_MERGE_COMPETITORS = [
    # One snapshot per platform: the more recent capture wins.
    """UPDATE competitor_records s SET online = g.online, deals = g.deals, captured_at = g.captured_at
       FROM competitor_records g
       WHERE g.merchant_id = :gone AND s.merchant_id = :survivor AND s.platform = g.platform
         AND g.captured_at > s.captured_at""",
    """UPDATE competitor_records g SET merchant_id = :survivor
       WHERE g.merchant_id = :gone
         AND NOT EXISTS (SELECT 1 FROM competitor_records s
                         WHERE s.merchant_id = :survivor AND s.platform = g.platform)""",
    "DELETE FROM competitor_records WHERE merchant_id = :gone",
]

# An assignment of the same task to the same BD for both records would break uniqueness: the survivor's
# stays and the duplicate's is kept on the merged record (the history still reads through the alias).
_MOVE_ASSIGNMENTS = """
    UPDATE task_assignments a SET merchant_id = :survivor
    WHERE a.merchant_id = :gone
      AND NOT EXISTS (SELECT 1 FROM task_assignments b
                      WHERE b.task_id = a.task_id AND b.assignee_id = a.assignee_id AND b.merchant_id = :survivor)
"""

# The stronger claim on the merchant is kept: partner over private over public; on a tie, the survivor's.
_LEAD_RANK = "CASE state WHEN 'partner' THEN 3 WHEN 'private' THEN 2 ELSE 1 END"
_LEADS = f"""
    SELECT merchant_id, owner_id, state, {_LEAD_RANK} AS rank FROM leads
    WHERE merchant_id IN (:survivor, :gone) ORDER BY merchant_id FOR UPDATE
"""

_FINISH = [
    """INSERT INTO merchant_source_ids (tenant_id, source, source_id, merchant_id)
       SELECT tenant_id, source, source_id, :survivor FROM merchants WHERE id = :gone AND source_id IS NOT NULL
       ON CONFLICT (tenant_id, source, source_id) DO UPDATE SET merchant_id = EXCLUDED.merchant_id""",
    """UPDATE merchants s SET
           last_visit_at = greatest(s.last_visit_at, g.last_visit_at),
           phone = coalesce(nullif(s.phone, ''), g.phone),
           address = coalesce(nullif(s.address, ''), g.address),
           category = coalesce(nullif(s.category, ''), g.category),
           brand = coalesce(s.brand, g.brand),
           phone_keys = ARRAY(SELECT DISTINCT k FROM unnest(s.phone_keys || g.phone_keys) k ORDER BY k),
           tags = ARRAY(SELECT DISTINCT t FROM unnest(s.tags || g.tags) t ORDER BY t)
       FROM merchants g WHERE s.id = :survivor AND g.id = :gone""",
    """UPDATE merchants SET audit_status = 'merged', merged_into_id = :survivor, source_id = NULL
       WHERE id = :gone""",
]


def merge_into(gone_id: int, survivor_id: int, tenant_id: int, actor: User) -> dict[str, int]:
    """Move everything of ``gone_id`` to ``survivor_id`` inside the caller's transaction; returns moved counts."""
    params = {"gone": gone_id, "survivor": survivor_id}
    session = db.session()
    # both merchant rows locked in id order: two merges crossing each other cannot deadlock
    session.execute(text("SELECT id FROM merchants WHERE id IN (:gone, :survivor) ORDER BY id FOR UPDATE"), params)
    moved: dict[str, int] = {}
    for statement in _MOVE:
        table = statement.split()[1]
        moved[table] = moved.get(table, 0) + session.execute(text(statement), params).rowcount
    moved["task_assignments"] = session.execute(text(_MOVE_ASSIGNMENTS), params).rowcount
    moved["sales_monthly"] = session.execute(text(_MERGE_SALES[0]), params).rowcount
    session.execute(text(_MERGE_SALES[1]), params)
    moved["competitor_records"] = sum(
        session.execute(text(statement), params).rowcount for statement in _MERGE_COMPETITORS[:2]
    )
    session.execute(text(_MERGE_COMPETITORS[2]), params)
    lead_outcome = _merge_leads(params)
    before = history.snapshot(survivor_id)
    for statement in _FINISH:
        session.execute(text(statement), params)
    # the duplicate filled the survivor's gaps: kept in the survivor's history
    history.record_changes(
        tenant_id, survivor_id, before, history.snapshot(survivor_id), "merge", actor.id, {"merged_id": gone_id}
    )
    session.add(
        LeadEvent(
            merchant_id=survivor_id,
            tenant_id=tenant_id,
            action="merge",
            actor_id=actor.id,
            reason=f"merchant {gone_id} merged into this one",
            details={"merged_id": gone_id, "lead": lead_outcome, **{k: v for k, v in moved.items() if v}},
        )
    )
    touch(survivor_id, gone_id)
    return moved


def _merge_leads(params: dict[str, int]) -> str:
    session = db.session()
    leads = {row.merchant_id: row for row in session.execute(text(_LEADS), params)}
    gone, survivor = leads.get(params["gone"]), leads.get(params["survivor"])
    if gone is None:
        return "kept"
    if survivor is not None and survivor.rank >= gone.rank:
        session.execute(text("DELETE FROM leads WHERE merchant_id = :gone"), params)
        return "kept"
    if survivor is not None:
        session.execute(text("DELETE FROM leads WHERE merchant_id = :survivor"), params)
    session.execute(text("UPDATE leads SET merchant_id = :survivor WHERE merchant_id = :gone"), params)
    return "moved"
