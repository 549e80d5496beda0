"""A campaign's merchant filter as one SQL statement, its preview, and its results.

Plain SQL with bound parameters rather than the ORM: the launch adds the public-pool fan-out (the BDs of the
covering territories) as a LATERAL join to the same statement, and the benchmark compares these statements with
the API call that runs them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import text

from app import clock, db
from app.campaigns.models import Campaign
from app.merchants.models import CLOSED_FOR_GOOD
from app.merchants.queries import HIDDEN_STATUSES, like_pattern
from app.org.models import Role, User

SAMPLE_SIZE = 20
REASONS_SHOWN = 10


def match_where(campaign: Campaign, viewer: User, *, subtree_only: bool = True) -> tuple[str, dict[str, Any]]:
    """The WHERE clause over ``merchants m LEFT JOIN leads l`` selecting the campaign's merchants.

    ``subtree_only``: a manager's campaign reaches only their subtree's leads; a merchant list (an export) shows
    the business line's merchants, as the API's lists do."""
    spec = campaign.filter or {}
    conditions = [
        "m.tenant_id = :tenant_id",
        "m.audit_status NOT IN (:hidden_a, :hidden_b)",
        "m.closed IS DISTINCT FROM :closed",
    ]
    params: dict[str, Any] = {
        "tenant_id": campaign.tenant_id,
        "hidden_a": HIDDEN_STATUSES[0],
        "hidden_b": HIDDEN_STATUSES[1],
        "closed": CLOSED_FOR_GOOD,
    }
    if spec.get("tags"):
        conditions.append("m.tags @> CAST(:tags AS varchar(64)[])")
        params["tags"] = list(spec["tags"])
    if spec.get("min_price_gap") is not None:
        conditions.append("m.price_gap >= :min_price_gap")
        params["min_price_gap"] = spec["min_price_gap"]
    if spec.get("category"):
        conditions.append("m.category LIKE :category ESCAPE '\\'")
        params["category"] = like_pattern(spec["category"], anywhere=False)
    if spec.get("city"):
        conditions.append("m.city = :city")
        params["city"] = spec["city"]
    if spec.get("territory_id") is not None:
        conditions.append(
            "ST_Covers((SELECT t.boundary FROM territories t WHERE t.id = :territory_id "
            "AND t.tenant_id = :tenant_id), m.location)"
        )
        params["territory_id"] = spec["territory_id"]
    if spec.get("pool_state"):
        conditions.append("coalesce(CAST(l.state AS text), 'public') = :pool_state")
        params["pool_state"] = spec["pool_state"]
    if spec.get("unvisited_days"):
        conditions.append("(m.last_visit_at IS NULL OR m.last_visit_at < :unvisited_since)")
        params["unvisited_since"] = clock.now() - timedelta(days=spec["unvisited_days"])
    if spec.get("attributes"):
        conditions.append("m.attributes @> CAST(:attributes AS jsonb)")
        params["attributes"] = Jsonb(spec["attributes"])
    if viewer.role == Role.MANAGER and subtree_only:
        # a manager's campaign reaches only the leads of their subtree (public ones are HQ's to dispatch)
        conditions.append(
            "l.state <> 'public' AND l.owner_id IN ("
            " SELECT u.id FROM users u JOIN org_units ou ON ou.id = u.org_unit_id"
            " WHERE ou.path LIKE (SELECT path FROM org_units WHERE id = :viewer_unit) || '%' AND u.id <> :viewer_id"
            " UNION SELECT id FROM users WHERE manager_id = :viewer_id)"
        )
        params["viewer_unit"], params["viewer_id"] = viewer.org_unit_id, viewer.id
    return " AND ".join(conditions), params


def preview(campaign: Campaign, viewer: User) -> dict[str, Any]:
    where, params = match_where(campaign, viewer)
    row = db.session.execute(
        text(
            f"""
            SELECT count(*) AS matches,
                   count(*) FILTER (WHERE NOT EXISTS (
                       SELECT 1 FROM campaign_merchants cm WHERE cm.campaign_id = :campaign_id AND cm.merchant_id = m.id
                   )) AS new_matches
            FROM merchants m LEFT JOIN leads l ON l.merchant_id = m.id
            WHERE {where}
            """
        ),
        {**params, "campaign_id": campaign.id},
    ).one()
    sample = db.session.execute(
        text(
            f"""
            SELECT m.id, m.name, m.city, m.category, m.tags, m.price_gap,
                   coalesce(CAST(l.state AS text), 'public') AS pool_state, l.owner_id
            FROM merchants m LEFT JOIN leads l ON l.merchant_id = m.id
            WHERE {where}
            ORDER BY m.price_gap DESC NULLS LAST, m.id
            LIMIT :sample_size
            """
        ),
        {**params, "sample_size": SAMPLE_SIZE},
    ).mappings()
    return {
        "matches": row.matches,
        "new_matches": row.new_matches,
        "sample": [{**r, "price_gap": None if r["price_gap"] is None else float(r["price_gap"])} for r in sample],
    }


def launch_targets(campaign: Campaign, viewer: User) -> list[tuple[int, int | None, list[int], list[int]]]:
    """The new matches with who gets each: (merchant, lead owner, BDs of covering territories, their managers).

    One statement: the lead owner of a private lead or partner; for a public-pool merchant, the active BDs of
    every territory of the tenant that covers it, and those territories' team managers as a fallback.
    """
    where, params = match_where(campaign, viewer)
    rows = db.session.execute(
        text(
            f"""
            SELECT m.id, CASE WHEN l.state <> 'public' THEN l.owner_id END AS owner_id,
                   coalesce(cover.bds, '{{}}') AS bds, coalesce(cover.managers, '{{}}') AS managers
            FROM merchants m
            LEFT JOIN leads l ON l.merchant_id = m.id
            LEFT JOIN LATERAL (
                SELECT array_agg(DISTINCT u.id) FILTER (WHERE u.id IS NOT NULL) AS bds,
                       array_agg(DISTINCT ou.manager_id) FILTER (WHERE ou.manager_id IS NOT NULL) AS managers
                FROM territories t
                JOIN org_units ou ON ou.id = t.team_id
                LEFT JOIN territory_members tm ON tm.territory_id = t.id
                LEFT JOIN users u ON u.id = tm.user_id AND u.role = 'bd' AND u.is_active
                WHERE t.tenant_id = m.tenant_id AND ST_Covers(t.boundary, m.location)
            ) cover ON l.state IS NULL OR l.state = 'public' OR l.owner_id IS NULL
            WHERE {where}
              AND NOT EXISTS (SELECT 1 FROM campaign_merchants cm
                              WHERE cm.campaign_id = :campaign_id AND cm.merchant_id = m.id)
            ORDER BY m.id
            """
        ),
        {**params, "campaign_id": campaign.id},
    ).all()
    return [(r.id, r.owner_id, list(r.bds), list(r.managers)) for r in rows]


GROUPS = {
    "city": ("m.city", "m.city"),
    "team": ("ou.id", "coalesce(ou.name, '')"),
    "bd": ("u.id", "coalesce(nullif(u.display_name, ''), u.username)"),
}


def results(campaign: Campaign, group_by: str) -> dict[str, Any]:
    """Per city, team or BD: assigned, accepted, done, rejected (with reasons), overdue, and the outcomes."""
    key, label = GROUPS[group_by]
    base = """
        FROM campaign_merchants cm
        JOIN tasks t ON t.id = cm.task_id
        JOIN task_assignments a ON a.task_id = t.id
        JOIN users u ON u.id = a.assignee_id
        LEFT JOIN org_units ou ON ou.id = u.org_unit_id
        JOIN merchants m ON m.id = cm.merchant_id
        WHERE cm.campaign_id = :campaign_id AND cm.tenant_id = :tenant_id
    """
    params = {"campaign_id": campaign.id, "tenant_id": campaign.tenant_id, "now": clock.now()}
    counts = db.session.execute(
        text(
            f"""
            SELECT CAST({key} AS text) AS key, {label} AS label,
                   count(*) AS assigned,
                   count(*) FILTER (WHERE a.status = 'accepted') AS accepted,
                   count(*) FILTER (WHERE a.status = 'done') AS done,
                   count(*) FILTER (WHERE a.status = 'rejected') AS rejected,
                   count(*) FILTER (WHERE a.status IN ('assigned', 'accepted') AND t.due_at < :now) AS overdue
            {base}
            GROUP BY 1, 2 ORDER BY 2, 1
            """
        ),
        params,
    ).mappings()
    items = {row["key"]: {**row, "rejection_reasons": [], "outcomes": {}} for row in counts}
    reasons = db.session.execute(
        text(
            f"""
            SELECT CAST({key} AS text) AS key, a.feedback AS reason, count(*) AS n
            {base} AND a.status = 'rejected'
            GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2
            """
        ),
        params,
    ).all()
    shown: dict[str, int] = defaultdict(int)
    for row in reasons:
        if shown[row.key] < REASONS_SHOWN:
            items[row.key]["rejection_reasons"].append({"reason": row.reason or "", "count": row.n})
            shown[row.key] += 1
    outcomes = db.session.execute(
        text(
            f"""
            SELECT CAST({key} AS text) AS key, a.payload ->> 'outcome' AS outcome, count(*) AS n
            {base} AND a.status = 'done' AND a.payload ? 'outcome'
            GROUP BY 1, 2
            """
        ),
        params,
    ).all()
    for row in outcomes:
        items[row.key]["outcomes"][row.outcome] = row.n
    totals = {
        name: sum(item[name] for item in items.values())
        for name in ("assigned", "accepted", "done", "rejected", "overdue")
    }
    totals["outcomes"] = defaultdict(int)
    for item in items.values():
        for outcome, n in item["outcomes"].items():
            totals["outcomes"][outcome] += n
    totals["outcomes"] = dict(totals["outcomes"])
    form = (campaign.template or {}).get("feedback_form") or {}
    return {
        "campaign_id": campaign.id,
        "group_by": group_by,
        "outcome_question": form.get("question"),
        "items": list(items.values()),
        "totals": totals,
    }
