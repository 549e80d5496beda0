"""Campaign benchmark: an HQ campaign's preview and launch over a city of merchants, against bare SQL.

    .venv/bin/python -m bench.campaigns [--quick] [--merchants 1000000] [--database ...] [--repeat 5]

Data: bench/datagen.py's city (--merchants; --quick: 20,000), plus, set-based and once: a price gap on every
merchant spread over -20 .. +40 % (the ``price_disadvantage`` tag above 10 %), an ops user, and one territory
over the whole city whose team has a manager and 50 BD members (so public-pool matches fan out to them).

The campaign: ``price_disadvantage``, price gap >= 35 % (about 8 % of the merchants). Each figure is the median
of --repeat runs, in process, after one warm-up, of the real service call (``app.campaigns.service``: scope,
filter, preview query or launch with its task and assignment writes, rolled back after each run so the next
launch finds the same new matches) next to a baseline from the same run: the bare SQL a hand-written endpoint
would send (preview: one count and one sample; launch: one INSERT ... SELECT of the tasks and one of the
assignments: the lead owner, or every member of the covering territory). The ratio is what resolution,
scope and the fan-out cost.
Prints a table and saves bench/results/campaigns-<time>.json.
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

QUICK_MERCHANTS, MIN_GAP, MEMBERS = 20_000, 35, 50

PREPARE_SQL = [
    """
    UPDATE merchants SET price_gap = (mod(id * 7919, 601) - 200) / 10.0,
                         tags = CASE WHEN (mod(id * 7919, 601) - 200) / 10.0 > 10
                                     THEN array_append(tags, 'price_disadvantage') ELSE tags END
    WHERE tenant_id = %(tenant)s
    """,
    """
    INSERT INTO users (tenant_id, username, display_name, password_hash, role)
    SELECT %(tenant)s, 'bench_ops', 'Bench Ops', password_hash, 'ops' FROM users WHERE username = 'manager'
    """,
    """
    INSERT INTO org_units (tenant_id, kind, name, path, manager_id)
    SELECT %(tenant)s, 'team', 'Campaign team', '/', id FROM users WHERE username = 'manager'
    """,
    "UPDATE org_units SET path = '/' || id || '/' WHERE name = 'Campaign team'",
    """
    INSERT INTO territories (tenant_id, team_id, name, boundary, area_m2, vertices, created_by_id)
    SELECT %(tenant)s, ou.id, 'Whole city',
           ST_Multi(ST_Envelope(ST_Collect(m.location::geometry)))::geography, 1, 5, ou.manager_id
    FROM merchants m, org_units ou WHERE ou.name = 'Campaign team' AND m.tenant_id = %(tenant)s
    GROUP BY ou.id, ou.manager_id
    """,
    """
    INSERT INTO territory_members (tenant_id, territory_id, user_id)
    SELECT %(tenant)s, t.id, u.id FROM territories t, users u
    WHERE t.name = 'Whole city' AND u.role = 'bd' AND u.tenant_id = %(tenant)s
    ORDER BY u.id LIMIT %(members)s
    """,
]

BARE_WHERE = """
    m.tenant_id = %(tenant)s AND m.audit_status NOT IN ('rejected', 'merged')
    AND m.closed IS DISTINCT FROM 'permanently'
    AND m.tags @> ARRAY['price_disadvantage']::varchar(64)[] AND m.price_gap >= %(gap)s
"""
BARE_COUNT = f"SELECT count(*) FROM merchants m LEFT JOIN leads l ON l.merchant_id = m.id WHERE {BARE_WHERE}"
BARE_SAMPLE = f"""
    SELECT m.id, m.name, m.city, m.category, m.tags, m.price_gap, l.state, l.owner_id
    FROM merchants m LEFT JOIN leads l ON l.merchant_id = m.id WHERE {BARE_WHERE}
    ORDER BY m.price_gap DESC NULLS LAST, m.id LIMIT 20
"""
BARE_LAUNCH = [
    f"""
    CREATE TEMP TABLE bare_targets ON COMMIT DROP AS
    SELECT m.id AS merchant_id, nextval(pg_get_serial_sequence('tasks', 'id')) AS task_id,
           CASE WHEN l.state <> 'public' THEN ARRAY[l.owner_id] ELSE
               (SELECT array_agg(tm.user_id) FROM territories t JOIN territory_members tm ON tm.territory_id = t.id
                WHERE t.tenant_id = m.tenant_id AND ST_Covers(t.boundary, m.location)) END AS assignees
    FROM merchants m LEFT JOIN leads l ON l.merchant_id = m.id WHERE {BARE_WHERE}
    """,
    """
    INSERT INTO tasks (id, tenant_id, creator_id, title, body, kind, merchant_id, priority, target, created_at)
    SELECT task_id, %(tenant)s, %(creator)s, 'Match their price', '', 'price_adjust', merchant_id, 0, '{}', now()
    FROM bare_targets WHERE assignees IS NOT NULL
    """,
    """
    INSERT INTO task_assignments (task_id, tenant_id, assignee_id, merchant_id, payload, status, created_at)
    SELECT task_id, %(tenant)s, unnest(assignees), merchant_id, '{}', 'assigned', now() FROM bare_targets
    WHERE assignees IS NOT NULL
    """,
]


def prepare(dsn: str, tenant_id: int) -> None:
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT 1 FROM territories WHERE name = 'Whole city'").fetchone():
            return
        log("price gaps, an ops user, a city-wide territory with its BDs")
        for sql in PREPARE_SQL:
            conn.execute(sql, {"tenant": tenant_id, "members": MEMBERS})
        conn.commit()
    harness.vacuum(dsn, "merchants", "users", "org_units", "territories", "territory_members")


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
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_MERCHANTS:,} merchants")
    parser.add_argument("--merchants", type=int, default=None)
    parser.add_argument("--database", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    merchants = args.merchants or (QUICK_MERCHANTS if args.quick else 1_000_000)
    database = args.database or f"fieldsales_bench_campaigns_{merchants}"
    started = datetime.now()
    url, dsn = harness.db_url(database), harness.plain_dsn(database)
    log(f"database {database} ({merchants:,} merchants)")
    ids = datagen.build(url, merchants)
    prepare(dsn, ids["tenant_id"])

    from sqlalchemy import select

    from app import db
    from app.campaigns import service
    from app.factory import create_app
    from app.org.models import User

    app = create_app(DATABASE_URL=url)
    rows: list[dict[str, Any]] = []
    with app.app_context(), app.test_request_context(), psycopg.connect(dsn) as bare:
        session = db.session()
        db.scope_to_tenant(ids["tenant_id"])
        ops = session.scalar(select(User).where(User.username == "bench_ops"))
        campaign = service.create(
            ops,
            {
                "name": "bench",
                "filter": {"tags": ["price_disadvantage"], "min_price_gap": MIN_GAP},
                "template": {"kind": "price_adjust", "title": "Match their price"},
            },
        )
        session.commit()
        params = {"tenant": ids["tenant_id"], "gap": MIN_GAP, "creator": ops.id}
        matches = service.preview(ops, campaign.id)["matches"]
        log(f"{matches:,} matching merchants")

        def case(name: str, run: Any, baseline: Any) -> None:
            measured, base = timed(run, args.repeat), timed(baseline, args.repeat)
            ratio = round(measured["median_ms"] / max(base["median_ms"], 0.01), 2)
            rows.append({"case": name, **measured, "bare_sql_ms": base["median_ms"], "ratio": ratio})
            log(f"{name:<30} {measured['median_ms']:>9.2f} ms   bare SQL {base['median_ms']:>9.2f} ms   x{ratio}")

        def bare_preview():
            bare.execute(BARE_COUNT, params).fetchone()
            bare.execute(BARE_SAMPLE, params).fetchall()

        def launch():
            service.launch(ops, campaign.id)
            session.rollback()

        def bare_launch():
            with bare.transaction(force_rollback=True):
                for sql in BARE_LAUNCH:
                    bare.execute(sql, params)

        case("preview (count + sample)", lambda: service.preview(ops, campaign.id), bare_preview)
        case("launch (tasks + assignments)", launch, bare_launch)
        session.rollback()
    report = {
        "database": database,
        "merchants": merchants,
        "matches": matches,
        "rows": rows,
        "environment": harness.environment(dsn),
    }
    log(f"saved {harness.save_report('campaigns', started, report)}")


if __name__ == "__main__":
    main()
