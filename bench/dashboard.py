"""Dashboard benchmark: the manager dashboards' SQL on a city of merchants, against plain counts over the same rows.

    .venv/bin/python -m bench.dashboard [--quick] [--repeat 5]

Data: bench/datagen.py's city (1,000,000 merchants, database fieldsales_bench_dash; --quick: 200,000,
fieldsales_bench_dash_quick), plus, set-based and once: a team of 30 BDs (bd0..bd29) under a manager in
one org unit; a 'claim' lead event for every private lead and a 'sign' event for every partner; verified
and unverified visits of the last 14 days on 3% of the merchants, by random BDs (the team's BDs do ~10%).

Each figure is the median of --repeat runs of the real service function (``app.dashboard.service``) in
process, after one warm-up run, next to a baseline from the same run: a plain ``count(*)`` over the rows
the dashboard reads (so the ratio says what the grouping, joins and scope cost on top of reading them).
Prints a table and saves bench/results/dashboard-<time>.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime, timedelta
from typing import Any

import psycopg

from bench import datagen, harness
from bench.harness import log

FULL = {"database": "fieldsales_bench_dash", "merchants": 1_000_000}
QUICK = {"database": "fieldsales_bench_dash_quick", "merchants": 200_000}
TEAM = 30

ACTIVITY_SQL = [
    """
    INSERT INTO org_units (tenant_id, kind, name, path)
    SELECT %(tenant)s, 'team', 'Bench team', '/' WHERE NOT EXISTS (SELECT 1 FROM org_units WHERE name = 'Bench team')
    """,
    "UPDATE org_units SET path = '/' || id || '/' WHERE name = 'Bench team'",
    """
    UPDATE users SET org_unit_id = (SELECT id FROM org_units WHERE name = 'Bench team')
    WHERE username = 'manager' OR username = ANY(%(team)s)
    """,
    "UPDATE users SET manager_id = (SELECT id FROM users WHERE username = 'manager') WHERE username = ANY(%(team)s)",
    """
    INSERT INTO lead_events (tenant_id, merchant_id, action, to_owner_id, actor_id, created_at, details)
    SELECT tenant_id, merchant_id, 'claim', owner_id, owner_id, claimed_at, '{}'::jsonb
    FROM leads WHERE state = 'private'
    UNION ALL
    SELECT tenant_id, merchant_id, 'sign', owner_id, owner_id, now() - (merchant_id %% 30) * interval '1 day',
           '{}'::jsonb
    FROM leads WHERE state = 'partner'
    """,
    """
    WITH bds AS (SELECT array_agg(id ORDER BY id) AS ids FROM users WHERE role = 'bd')
    INSERT INTO visits (tenant_id, merchant_id, user_id, idempotency_key, request_hash, client_time, location,
                        verified, created_at)
    SELECT m.tenant_id, m.id, b.ids[1 + mod(m.id * 7919, array_length(b.ids, 1))], 'bench-' || m.id, 'x',
           now() - (mod(m.id, 14 * 24 * 60)) * interval '1 minute', m.location, mod(m.id, 10) <> 0, now()
    FROM merchants m, bds b
    WHERE m.tenant_id = %(tenant)s AND mod(m.id * 31, 100) < 3
    """,
]


def prepare(dsn: str, tenant_id: int) -> None:
    team = [f"bd{i}" for i in range(TEAM)]
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT count(*) FROM visits").fetchone()[0]:
            return
        log("adding org, lead events and visits")
        for sql in ACTIVITY_SQL:
            conn.execute(sql, {"tenant": tenant_id, "team": team})
        conn.commit()
    harness.vacuum(dsn, "visits", "lead_events", "users", "org_units", "leads", "merchants")


def timed(func: Any, repeat: int) -> dict[str, float]:
    func()  # warm-up: plans cached, pages in memory
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 merchants instead of 1,000,000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = QUICK if args.quick else FULL
    started = datetime.now()
    url, dsn = harness.db_url(config["database"]), harness.plain_dsn(config["database"])
    log(f"database {config['database']} ({config['merchants']:,} merchants)")
    ids = datagen.build(url, config["merchants"])
    prepare(dsn, ids["tenant_id"])

    from sqlalchemy import select, text

    from app import db
    from app.dashboard import service
    from app.factory import create_app
    from app.org.models import Role, User
    from app.tenants.models import Tenant

    app = create_app(DATABASE_URL=url)
    rows: list[dict[str, Any]] = []
    with app.app_context():
        session = db.session()
        tenant = session.get(Tenant, ids["tenant_id"])
        db.scope_to_tenant(tenant.id)
        manager = session.scalar(select(User).where(User.username == "manager"))
        ops = User(id=0, tenant_id=tenant.id, role=Role.OPS, username="bench-ops", password_hash="")
        today = datetime.now(tenant.zone).date()
        day_start, day_end = tenant.day_bounds(today)
        team_ids = list(session.scalars(select(User.id).where(User.manager_id == manager.id)))
        all_bds = list(session.scalars(select(User.id).where(User.role == Role.BD)))
        west, south, east, north = 119.94, 30.09, 120.37, 30.46  # the whole generated city (~40 x 40 km)

        def count(sql: str, **params: Any):
            return lambda: session.execute(text(sql), params).scalar()

        def case(name: str, run: Any, baseline_name: str, baseline: Any) -> None:
            measured, base = timed(run, args.repeat), timed(baseline, args.repeat)
            ratio = round(measured["median_ms"] / max(base["median_ms"], 0.01), 1)
            rows.append(
                {"case": name, **measured, "baseline": baseline_name, "baseline_ms": base["median_ms"], "ratio": ratio}
            )
            log(
                f"{name:<44} {measured['median_ms']:>8.1f} ms   {baseline_name:<40} {base['median_ms']:>8.1f} ms"
                f"   x{ratio}"
            )

        visits_of = "SELECT count(*) FROM visits WHERE user_id = ANY(:ids) AND client_time >= :s AND client_time < :e"
        case(
            f"team day, {len(team_ids)} BDs (manager)",
            lambda: service.team_day(manager, tenant, today),
            "count(visits of the team, that day)",
            count(visits_of, ids=team_ids, s=day_start, e=day_end),
        )
        case(
            f"team day, {len(all_bds)} BDs (ops)",
            lambda: service.team_day(ops, tenant, today),
            "count(visits of all BDs, that day)",
            count(visits_of, ids=all_bds, s=day_start, e=day_end),
        )
        month_ago = today - timedelta(days=30)
        case(
            "funnel, 30 days (manager)",
            lambda: service.funnel(manager, tenant, month_ago, today),
            "count(merchants of the tenant)",
            count("SELECT count(*) FROM merchants WHERE tenant_id = :t", t=tenant.id),
        )
        case(
            "funnel, 30 days (ops, all BDs)",
            lambda: service.funnel(ops, tenant, month_ago, today),
            "count(merchants of the tenant)",
            count("SELECT count(*) FROM merchants WHERE tenant_id = :t", t=tenant.id),
        )
        box_count = (
            "SELECT count(*) FROM merchants WHERE tenant_id = :t AND location && "
            "ST_MakeEnvelope(:w, :s, :e, :n, 4326)::geography"
        )
        case(
            "heatmap, whole city, 500 m cells (ops)",
            lambda: service.heatmap(ops, tenant, (west, south, east, north), 500, 7),
            "count(merchants in the box)",
            count(box_count, t=tenant.id, w=west, s=south, e=east, n=north),
        )
        centre = (120.13, 30.25, 120.18, 30.29)
        case(
            "heatmap, 5 km box, 250 m cells (manager)",
            lambda: service.heatmap(manager, tenant, centre, 250, 7),
            "count(merchants in the box)",
            count(box_count, t=tenant.id, w=centre[0], s=centre[1], e=centre[2], n=centre[3]),
        )
        db.session.rollback()
    report = {
        "database": config["database"],
        "merchants": config["merchants"],
        "repeat": args.repeat,
        "rows": rows,
        "environment": harness.environment(dsn),
    }
    log(f"saved {harness.save_report('dashboard', started, report)}")


if __name__ == "__main__":
    main()
