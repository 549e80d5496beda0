"""KPIs per BD or team over days, weeks or months, monthly targets with progress, and the leaderboard.

Every figure comes from one SQL statement over the activity tables (visits, lead events, merchants, task
assignments, monthly sales), bucketed by the tenant's local calendar. Scope as for the dashboards: managers
their BDs, ops and admins every BD (optionally one team's subtree).

Calls: there is no call log on this branch. ``calls`` is answered as null until one exists; to count them,
add a ``calls`` branch to ``KPI_SQL`` (its rows: ``grp, bucket`` and a ``calls`` column, zeros elsewhere) and
list "calls" in ``METRICS``; ``CALLS_AVAILABLE`` then turns true.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert

from app import clock, db
from app.dashboard.models import KpiTarget
from app.dashboard.service import team_bds
from app.errors import Forbidden, InvalidPeriod, NotInScope, TeamNotFound, UnknownUsers
from app.org.models import OrgUnit, Role, User
from app.org.scope import manages, manages_unit
from app.tenants.models import Tenant

# the metrics a target may be set for (the counted ones; shares are derived)
METRICS = (
    "visits",
    "verified_visits",
    "merchants_visited",
    "merchants_added",
    "claims",
    "signings",
    "tasks_done",
    "gmv",
)
CALLS_AVAILABLE = False
MAX_DAYS = 366

# :grp is parallel to :ids: the group each BD counts in (the BD itself, or their org unit)
KPI_SQL = text(
    """
    WITH people AS (SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:grp AS bigint[])) AS p(user_id, grp)),
    v AS (
        SELECT p.grp, CASE WHEN :whole THEN :from_day
                      ELSE date_trunc(:period, vi.client_time AT TIME ZONE :tz)::date END AS bucket,
               count(*) AS visits, count(*) FILTER (WHERE vi.verified) AS verified_visits,
               count(DISTINCT vi.merchant_id) AS merchants_visited
        FROM visits vi JOIN people p ON p.user_id = vi.user_id
        WHERE vi.client_time >= :start AND vi.client_time < :end
        GROUP BY 1, 2
    ),
    e AS (
        SELECT p.grp, CASE WHEN :whole THEN :from_day
                      ELSE date_trunc(:period, le.created_at AT TIME ZONE :tz)::date END AS bucket,
               count(*) FILTER (WHERE le.action = 'claim') AS claims,
               count(*) FILTER (WHERE le.action = 'sign') AS signings
        FROM lead_events le JOIN people p ON p.user_id = le.to_owner_id
        WHERE le.tenant_id = :tenant_id AND le.created_at >= :start AND le.created_at < :end
          AND le.action IN ('claim', 'sign')
        GROUP BY 1, 2
    ),
    c AS (
        SELECT p.grp, CASE WHEN :whole THEN :from_day
                      ELSE date_trunc(:period, m.created_at AT TIME ZONE :tz)::date END AS bucket,
               count(*) AS merchants_added
        FROM merchants m JOIN people p ON p.user_id = m.created_by_id
        WHERE m.created_at >= :start AND m.created_at < :end
        GROUP BY 1, 2
    ),
    k AS (
        -- assignments due in the bucket (or given in it, without a due date), and of those the ones done
        SELECT p.grp, CASE WHEN :whole THEN :from_day
                      ELSE date_trunc(:period, coalesce(t.due_at, a.created_at) AT TIME ZONE :tz)::date END AS bucket,
               count(*) AS tasks_assigned, count(*) FILTER (WHERE a.status = 'done') AS tasks_done
        FROM task_assignments a JOIN tasks t ON t.id = a.task_id JOIN people p ON p.user_id = a.assignee_id
        WHERE coalesce(t.due_at, a.created_at) >= :start AND coalesce(t.due_at, a.created_at) < :end
        GROUP BY 1, 2
    ),
    signers AS (
        -- who signed each merchant (the latest signing): their GMV counts for them
        SELECT DISTINCT ON (le.merchant_id) le.merchant_id, p.grp
        FROM lead_events le JOIN people p ON p.user_id = le.to_owner_id
        WHERE le.tenant_id = :tenant_id AND le.action = 'sign' AND le.created_at < :end
        ORDER BY le.merchant_id, le.created_at DESC
    ),
    g AS (
        SELECT s.grp, CASE WHEN :whole THEN :from_day ELSE date_trunc(:period, sm.month)::date END AS bucket,
               sum(sm.gmv) AS gmv
        FROM sales_monthly sm JOIN signers s ON s.merchant_id = sm.merchant_id
        WHERE sm.month >= :from_month AND sm.month <= :to_day
        GROUP BY 1, 2
    ),
    rows_ AS (
        SELECT grp, bucket, visits, verified_visits, merchants_visited, 0 AS claims, 0 AS signings,
               0 AS merchants_added, 0 AS tasks_assigned, 0 AS tasks_done, 0::numeric AS gmv FROM v
        UNION ALL SELECT grp, bucket, 0, 0, 0, claims, signings, 0, 0, 0, 0 FROM e
        UNION ALL SELECT grp, bucket, 0, 0, 0, 0, 0, merchants_added, 0, 0, 0 FROM c
        UNION ALL SELECT grp, bucket, 0, 0, 0, 0, 0, 0, tasks_assigned, tasks_done, 0 FROM k
        UNION ALL SELECT grp, bucket, 0, 0, 0, 0, 0, 0, 0, 0, gmv FROM g
    )
    SELECT grp, bucket, sum(visits) AS visits, sum(verified_visits) AS verified_visits,
           sum(merchants_visited) AS merchants_visited, sum(claims) AS claims, sum(signings) AS signings,
           sum(merchants_added) AS merchants_added, sum(tasks_assigned) AS tasks_assigned,
           sum(tasks_done) AS tasks_done, sum(gmv) AS gmv
    FROM rows_ GROUP BY grp, bucket ORDER BY bucket, grp
    """
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)), bindparam("grp", type_=ARRAY(BigInteger)))


def _ratio(part: float, whole: float) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


def _figures(row: Any | None) -> dict[str, Any]:
    def value(name: str) -> int:
        return int(getattr(row, name) or 0) if row is not None else 0

    gmv = float(row.gmv or 0) if row is not None else 0.0
    return {
        "visits": value("visits"),
        "verified_visits": value("verified_visits"),
        "verified_share": _ratio(value("verified_visits"), value("visits")),
        "merchants_visited": value("merchants_visited"),
        "merchants_added": value("merchants_added"),
        "claims": value("claims"),
        "signings": value("signings"),
        "tasks_assigned": value("tasks_assigned"),
        "tasks_done": value("tasks_done"),
        "task_completion": _ratio(value("tasks_done"), value("tasks_assigned")),
        "calls": None,  # no call log yet: see the module docstring
        "gmv": round(gmv, 2),
    }


def _groups(viewer: User, group_by: str, team_id: int | None, since: Any) -> tuple[list[int], list[int], dict]:
    """The BDs in scope, the group each counts in, and each group's {id, name}."""
    bds = team_bds(viewer, team_id, active_since=since)
    ids = [bd_id for bd_id, _ in bds]
    if group_by == "bd":
        return ids, ids, {bd_id: {"id": bd_id, "name": name} for bd_id, name in bds}
    units = dict(db.session.execute(select(User.id, User.org_unit_id).where(User.id.in_(ids))).all()) if ids else {}
    groups = [units.get(bd_id) or 0 for bd_id in ids]
    names = dict(db.session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(set(groups)))).all())
    subjects = {grp: {"id": grp or None, "name": names.get(grp, "No team")} for grp in set(groups)}
    return ids, groups, subjects


def _check_period(start_day: date, end_day: date) -> None:
    if end_day < start_day or (end_day - start_day).days > MAX_DAYS:
        raise InvalidPeriod(errors={"query": {"to": [f"On or after `from`, at most {MAX_DAYS} days later."]}})


def _run(tenant: Tenant, ids: list[int], groups: list[int], start_day: date, end_day: date, period: str, whole: bool):
    start, _ = tenant.day_bounds(start_day)
    _, end = tenant.day_bounds(end_day)
    return db.session.execute(
        KPI_SQL,
        {
            "ids": ids,
            "grp": groups,
            "tenant_id": tenant.id,
            "start": start,
            "end": end,
            "tz": tenant.setting("timezone"),
            "period": period,
            "whole": whole,
            "from_day": start_day,
            "from_month": start_day.replace(day=1),
            "to_day": end_day,
        },
    ).all()


def kpis(
    viewer: User,
    tenant: Tenant,
    period: str,
    start_day: date | None,
    end_day: date | None,
    group_by: str = "bd",
    team_id: int | None = None,
) -> dict[str, Any]:
    today = clock.now().astimezone(tenant.zone).date()
    start_day = start_day or today.replace(day=1)
    end_day = end_day or today
    _check_period(start_day, end_day)
    ids, groups, subjects = _groups(viewer, group_by, team_id, tenant.day_bounds(start_day)[0])
    buckets = _run(tenant, ids, groups, start_day, end_day, period, whole=False)
    totals = {row.grp: row for row in _run(tenant, ids, groups, start_day, end_day, period, whole=True)}
    targets = _targets_by_month(group_by, list(subjects)) if period == "month" else {}
    items = []
    for row in buckets:
        figures = _figures(row)
        month_targets = targets.get((row.bucket, row.grp), {})
        items.append(
            {
                "period_start": row.bucket,
                "subject": subjects[row.grp],
                **figures,
                "targets": _progress(figures, month_targets),
            }
        )
    return {
        "period": period,
        "from": start_day,
        "to": end_day,
        "group_by": group_by,
        "calls_available": CALLS_AVAILABLE,
        "items": items,
        "totals": [
            {"subject": subject, **_figures(totals.get(grp))}
            for grp, subject in sorted(subjects.items(), key=lambda item: item[1]["name"])
        ],
    }


def _progress(figures: dict[str, Any], targets: dict[str, Decimal]) -> dict[str, Any]:
    return {
        metric: {"target": float(value), "actual": figures[metric], "progress": _ratio(figures[metric], value)}
        for metric, value in sorted(targets.items())
    }


def _targets_by_month(group_by: str, subject_ids: list[int]) -> dict[tuple[date, int], dict[str, Decimal]]:
    rows = db.session.scalars(
        select(KpiTarget).where(KpiTarget.subject_type == group_by, KpiTarget.subject_id.in_(subject_ids))
    )
    found: dict[tuple[date, int], dict[str, Decimal]] = defaultdict(dict)
    for target in rows:
        found[(target.month, target.subject_id)][target.metric] = target.value
    return found


# --- targets ------------------------------------------------------------------------------------


def _month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def _check_subject(editor: User, subject_type: str, subject_id: int) -> None:
    if subject_type == "bd":
        user = db.get(User, subject_id)
        if user is None or user.role != Role.BD:
            raise UnknownUsers(errors={"json": {"targets": [f"No such BD: {subject_id}"]}})
        if editor.role == Role.MANAGER and not manages(editor, subject_id):
            raise NotInScope("That BD is outside your team.")
        return
    unit = db.get(OrgUnit, subject_id)
    if unit is None:
        raise TeamNotFound()
    if editor.role == Role.MANAGER and not manages_unit(editor, unit):
        raise NotInScope("That team is outside your subtree.")


def set_targets(editor: User, tenant: Tenant, month: date, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Set (or, with a null value, remove) monthly targets of BDs and teams the editor manages."""
    if editor.role not in (Role.MANAGER, Role.ADMIN):
        raise Forbidden("Managers and admins set targets.")
    first, _ = _month_bounds(month)
    for entry in entries:
        subject_type, subject_id = ("bd", entry["user_id"]) if entry.get("user_id") else ("team", entry["team_id"])
        _check_subject(editor, subject_type, subject_id)
        key = {
            "tenant_id": tenant.id,
            "month": first,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "metric": entry["metric"],
        }
        if entry["value"] is None:
            db.session.execute(
                KpiTarget.__table__.delete().where(*(getattr(KpiTarget, k) == v for k, v in key.items()))
            )
            continue
        statement = insert(KpiTarget).values(**key, value=entry["value"], set_by_id=editor.id)
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "month", "subject_type", "subject_id", "metric"],
                set_={"value": statement.excluded.value, "set_by_id": editor.id},
            )
        )
    db.session.flush()
    return list_targets(editor, tenant, first)


def list_targets(viewer: User, tenant: Tenant, month: date) -> dict[str, Any]:
    """The month's targets of the BDs and teams the viewer sees."""
    if viewer.role not in (Role.MANAGER, Role.OPS, Role.ADMIN):
        raise Forbidden("Targets are for managers, ops and admins.")
    first, _ = _month_bounds(month)
    rows = db.session.scalars(
        select(KpiTarget).where(KpiTarget.month == first).order_by(KpiTarget.subject_type, KpiTarget.subject_id)
    ).all()
    if viewer.role == Role.MANAGER:
        bds = {bd_id for bd_id, _ in team_bds(viewer)}
        unit_ids = set(db.session.scalars(select(OrgUnit.id).where(OrgUnit.id.in_([r.subject_id for r in rows]))))
        visible_units = {u for u in unit_ids if manages_unit(viewer, db.get(OrgUnit, u))}
        rows = [r for r in rows if (r.subject_id in bds if r.subject_type == "bd" else r.subject_id in visible_units)]
    return {
        "month": first,
        "items": [
            {
                "user_id": r.subject_id if r.subject_type == "bd" else None,
                "team_id": r.subject_id if r.subject_type == "team" else None,
                "metric": r.metric,
                "value": float(r.value),
            }
            for r in rows
        ],
    }


def leaderboard(
    viewer: User, tenant: Tenant, month: date, metric: str, group_by: str = "bd", team_id: int | None = None
) -> dict[str, Any]:
    """BDs (or teams) ranked by one metric over a month, with their target and progress."""
    first, last = _month_bounds(month)
    report = kpis(viewer, tenant, "month", first, last, group_by, team_id)
    by_subject = {(item["subject"]["id"]): item for item in report["items"]}
    ranked = sorted(
        report["totals"], key=lambda row: (-(row[metric] or 0), row["subject"]["name"], row["subject"]["id"] or 0)
    )
    items, previous, rank = [], None, 0
    for position, row in enumerate(ranked, start=1):
        value = row[metric]
        if value != previous:
            rank, previous = position, value
        target = by_subject.get(row["subject"]["id"], {}).get("targets", {}).get(metric)
        items.append(
            {
                "rank": rank,
                "subject": row["subject"],
                "value": value,
                "target": target["target"] if target else None,
                "progress": target["progress"] if target else None,
            }
        )
    return {"month": first, "metric": metric, "group_by": group_by, "items": items}
