"""Team leads benchmark: a manager's lead list over 10,000 private leads in their subtree, against bare SQL.

    .venv/bin/python -m bench.team_leads [--merchants 200000] [--database fieldsales_bench_team] [--repeat 7]

Data: bench/datagen.py's city (--merchants, 18 % private leads), plus, set-based and once: a team unit under
the bench manager with 100 BDs (bd0..bd99), and 10,000 private leads moved to them (the rest stay with the
other BDs, outside the subtree); 5 % of the team's leads carry a `chain` tag.

Each figure is the median of --repeat runs of the real read (``app.leads.queries.team_leads``: scope, filters,
keyset page of 50 with the total, serialised items) in process, after one warm-up, next to a baseline from the
same run: the bare SQL a hand-written endpoint would send for the same page (one statement for the page, one
for the count, rows as tuples, no scope resolution). The ratio is what scope checks, ORM and the view cost.
Prints a table and saves bench/results/team_leads-<time>.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime
from typing import Any

import psycopg

from bench import datagen, harness
from bench.harness import log

TEAM, TEAM_LEADS, PAGE = 100, 10_000, 50

PREPARE_SQL = [
    """
    INSERT INTO org_units (tenant_id, kind, name, path)
    SELECT %(tenant)s, 'team', 'Lead team', '/'
    WHERE NOT EXISTS (SELECT 1 FROM org_units WHERE name = 'Lead team')
    """,
    "UPDATE org_units SET path = '/' || id || '/' WHERE name = 'Lead team'",
    """
    UPDATE users SET org_unit_id = (SELECT id FROM org_units WHERE name = 'Lead team')
    WHERE username = 'manager' OR username = ANY(%(team)s)
    """,
    """
    WITH team AS (SELECT array_agg(id ORDER BY id) AS ids FROM users WHERE username = ANY(%(team)s)),
         chosen AS (SELECT merchant_id, row_number() OVER (ORDER BY merchant_id) AS n FROM leads
                    WHERE tenant_id = %(tenant)s AND state = 'private' ORDER BY merchant_id LIMIT %(leads)s)
    UPDATE leads l SET owner_id = team.ids[1 + mod(chosen.n, array_length(team.ids, 1))]
    FROM chosen, team WHERE l.merchant_id = chosen.merchant_id
    """,
    """
    UPDATE merchants m SET tags = array_append(m.tags, 'chain')
    FROM leads l WHERE l.merchant_id = m.id AND l.owner_id IN (SELECT id FROM users WHERE username = ANY(%(team)s))
      AND mod(m.id, 20) = 0 AND NOT ('chain' = ANY(m.tags))
    """,
]

BARE_PAGE = """
    SELECT l.merchant_id, m.name, m.category, m.address, m.city, m.tags, u.id, u.display_name, ou.id, ou.name,
           l.claimed_at, l.drops_at, l.drop_reason, l.last_visit_at, l.extensions_used, l.locked_until,
           l.lock_reason, l.contract_no
    FROM leads l JOIN merchants m ON m.id = l.merchant_id JOIN users u ON u.id = l.owner_id
    LEFT JOIN org_units ou ON ou.id = u.org_unit_id
    WHERE l.tenant_id = %(tenant)s AND l.state = 'private' AND l.owner_id = ANY(%(team)s) {extra}
    ORDER BY l.drops_at, l.merchant_id LIMIT %(limit)s
"""
BARE_COUNT = """
    SELECT count(*) FROM leads l JOIN merchants m ON m.id = l.merchant_id
    WHERE l.tenant_id = %(tenant)s AND l.state = 'private' AND l.owner_id = ANY(%(team)s) {extra}
"""


def prepare(dsn: str, tenant_id: int) -> None:
    team = [f"bd{i}" for i in range(TEAM)]
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT 1 FROM org_units WHERE name = 'Lead team'").fetchone():
            return
        log(f"moving {TEAM_LEADS:,} private leads to a team of {TEAM} BDs")
        for sql in PREPARE_SQL:
            conn.execute(sql, {"tenant": tenant_id, "team": team, "leads": TEAM_LEADS})
        conn.commit()
    harness.vacuum(dsn, "users", "org_units", "leads", "merchants")


def timed(func: Any, repeat: int) -> dict[str, float]:
    func()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(samples), 2), "max_ms": round(max(samples), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=200_000)
    parser.add_argument("--database", default=None)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    database = args.database or f"fieldsales_bench_team_{args.merchants}"
    started = datetime.now()
    url, dsn = harness.db_url(database), harness.plain_dsn(database)
    log(f"database {database} ({args.merchants:,} merchants)")
    ids = datagen.build(url, args.merchants)
    prepare(dsn, ids["tenant_id"])

    from sqlalchemy import select

    from app import db
    from app.factory import create_app
    from app.leads import queries
    from app.org.models import User
    from app.tenants.models import Tenant

    app = create_app(DATABASE_URL=url)
    rows: list[dict[str, Any]] = []
    with app.app_context(), app.test_request_context(), psycopg.connect(dsn) as bare:
        session = db.session()
        tenant = session.get(Tenant, ids["tenant_id"])
        db.scope_to_tenant(tenant.id)
        manager = session.scalar(select(User).where(User.username == "manager"))
        team_ids = [
            r[0]
            for r in bare.execute("SELECT id FROM users WHERE username = ANY(%s)", ([f"bd{i}" for i in range(TEAM)],))
        ]
        in_subtree = bare.execute(
            "SELECT count(*) FROM leads WHERE state = 'private' AND owner_id = ANY(%s)", (team_ids,)
        ).fetchone()[0]
        log(f"{in_subtree:,} private leads in the manager's subtree")

        def bare_page(extra: str = "", **params: Any):
            values = {"tenant": tenant.id, "team": team_ids, "limit": PAGE + 1, **params}

            def run():
                page = bare.execute(BARE_PAGE.format(extra=extra), values).fetchall()
                total = bare.execute(BARE_COUNT.format(extra=extra), values).fetchone()[0]
                return page, total

            return run

        def case(name: str, run: Any, baseline: Any) -> None:
            measured, base = timed(run, args.repeat), timed(baseline, args.repeat)
            ratio = round(measured["median_ms"] / max(base["median_ms"], 0.01), 2)
            rows.append({"case": name, **measured, "bare_sql_ms": base["median_ms"], "ratio": ratio})
            log(f"{name:<46} {measured['median_ms']:>8.2f} ms   bare SQL {base['median_ms']:>8.2f} ms   x{ratio}")

        filters = queries.TeamLeadFilters
        case(
            "first page, soonest drop first",
            lambda: queries.team_leads(manager, tenant, filters(), limit=PAGE),
            bare_page(),
        )
        case(
            "tag filter (chain)",
            lambda: queries.team_leads(manager, tenant, filters(tag="chain"), limit=PAGE),
            bare_page("AND m.tags @> ARRAY['chain']::varchar[]"),
        )
        case(
            "drops within 7 days",
            lambda: queries.team_leads(manager, tenant, filters(drops_within_days=7), limit=PAGE),
            bare_page("AND l.drops_at <= now() + interval '7 days'"),
        )
        cursor = None
        for _ in range(20):  # page 21
            cursor = queries.team_leads(manager, tenant, filters(), limit=PAGE, cursor=cursor)["next_cursor"]
        after = session.execute(
            select(queries.Lead.drops_at, queries.Lead.merchant_id)
            .where(queries.Lead.owner_id.in_(team_ids), queries.Lead.state == queries.LeadState.PRIVATE)
            .order_by(queries.Lead.drops_at, queries.Lead.merchant_id)
            .offset(20 * PAGE - 1)
            .limit(1)
        ).one()
        case(
            "page 21 by cursor",
            lambda: queries.team_leads(manager, tenant, filters(), limit=PAGE, cursor=cursor),
            bare_page(
                "AND (l.drops_at, l.merchant_id) > (%(after_at)s, %(after_id)s)", after_at=after[0], after_id=after[1]
            ),
        )
        db.session.rollback()
    report = {
        "database": database,
        "merchants": args.merchants,
        "team_leads": in_subtree,
        "rows": rows,
        "environment": harness.environment(dsn),
    }
    log(f"saved {harness.save_report('team_leads', started, report)}")


if __name__ == "__main__":
    main()
