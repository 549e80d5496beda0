"""Merchant detail benchmark: GET /api/v1/merchants/{id} cold, cached, and against a Flask+psycopg floor.

    .venv/bin/python -m bench.detail [--quick] [--requests 1500] [--rounds 2] [--wrk-seconds 10]

The merchant under test is the heaviest a BD opens: 20 contacts, 500 visits, 36 months of sales, 5
competitor platforms, 3 active deals (and 4 ended ones), 10 other stores of its brand spread over the
city, 2 open tasks, owned by the caller (so phones are shown). Around it: ~20,000 merchants of the same
tenant with their own history (visits, sales, contacts, deals, competitors, tasks, ~1,500 chains), so
every sub-select has to find its rows through an index. Database: fieldsales_bench_detail (built once,
~30 s, then reused).

Scenarios, all through gunicorn with the same settings (gunicorn.conf.py):

  transport        bench/detail_floor.py's GET /ping: no database, no work (connection, gunicorn, Flask)
  floor            bench/detail_floor.py: Flask + psycopg (defaults: prepared from the 5th run, as the
                   app's connections are since read-only requests end with COMMIT), the two statements
  floor unprepared the same, parsed and planned every time (reference: what preparing is worth)
  ours cold      the real endpoint with DETAIL_CACHE_ENABLED=0: auth + CALLER_SQL + AGGREGATE_SQL
  ours cached    the real endpoint, aggregate served from Redis (warmed first): auth + CALLER_SQL + GET
  auth only      GET /api/v1/me on our app: the cheapest authenticated request (JWT, session lookup,
                 Flask, schema); no cached read can cost less

Latency: one sequential client (a new connection per request, as gunicorn's sync workers close them),
warm-up then --requests per scenario and round; rounds interleave the scenarios so drift hits all
alike. Throughput: wrk -c4 per scenario. In process: SQL statements and Redis calls per request
(SQLAlchemy before_cursor_execute), where a request's time goes (SQL vs Python, cProfile), and EXPLAIN
ANALYZE of both statements. Report printed and saved as bench/results/detail-<time>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg

from bench import datagen, harness, httpload
from bench.harness import log, target
from bench.stats import CPU_ROLES, CpuMeter

DATABASE = "fieldsales_bench_detail"
MERCHANTS = 21_000  # datagen puts 5% in another tenant: ~20,000 in the bench tenant
TARGET_SOURCE_ID = "detail-target"

TARGETS = {
    "cold_vs_floor_p50": 2.0,  # at most
    "cold_p50_ms": 10.0,  # below
    "cached_p50_ms": 3.0,  # below
    "payload_bytes": 20 * 1024,  # below
}

# --- data ----------------------------------------------------------------------------------------------

# Background history for the other merchants (bench tenant only). mod() rather than %: these run with
# psycopg parameters, where a literal % would have to be doubled.
BACKGROUND_SQL = [
    # a third of the merchants belong to ~1,500 chains
    "UPDATE merchants SET brand = 'chain-' || mod(id, 1500) WHERE mod(id, 3) = 0 AND tenant_id = %(tenant)s",
    """INSERT INTO contacts (tenant_id, merchant_id, name, title, role, phones, is_key_person, notes)
       SELECT m.tenant_id, m.id, '联系人' || m.id || '-' || k, '店员', 'other',
              ARRAY['138' || lpad((m.id * 10 + k)::text, 8, '0')], k = 1, ''
       FROM merchants m CROSS JOIN generate_series(1, 2) k WHERE mod(m.id, 2) = 0 AND m.tenant_id = %(tenant)s""",
    """INSERT INTO visits (tenant_id, merchant_id, user_id, idempotency_key, request_hash, client_time, location,
                           accuracy_m, distance_m, verified, flags, result, notes)
       SELECT m.tenant_id, m.id, (%(bds)s::bigint[])[1 + mod(g, %(nbd)s)], 'bg-' || g, 'h',
              now() - mod(g, 365) * interval '1 day' - mod(g, 600) * interval '1 minute', m.location, 15, 20,
              mod(g, 5) <> 0, CASE WHEN mod(g, 5) = 0 THEN ARRAY['too_far'] ELSE '{}' END, 'follow_up', ''
       FROM generate_series(1, 100000) g
       JOIN merchants m ON m.id = 1 + mod(g * 7919, %(merchants)s) AND m.tenant_id = %(tenant)s""",
    """INSERT INTO sales_monthly (tenant_id, merchant_id, month, orders, gmv)
       SELECT m.tenant_id, m.id, (date_trunc('month', now()) - k * interval '1 month')::date,
              10 + mod(m.id * (k + 1), 90), (10 + mod(m.id * (k + 1), 90)) * 35.5
       FROM merchants m CROSS JOIN generate_series(0, 23) k WHERE mod(m.id, 4) = 0 AND m.tenant_id = %(tenant)s""",
    """INSERT INTO deals (tenant_id, merchant_id, title, price, status)
       SELECT tenant_id, id, '套餐 ' || id, 50 + mod(id, 200), 'active'
       FROM merchants WHERE mod(id, 5) = 0 AND tenant_id = %(tenant)s""",
    """INSERT INTO competitor_records (tenant_id, merchant_id, platform, online, deals)
       SELECT m.tenant_id, m.id, p, true, jsonb_build_array(jsonb_build_object('title', '套餐', 'price', 60))
       FROM merchants m CROSS JOIN unnest(ARRAY['Meituan', 'Eleme']) p
       WHERE mod(m.id, 5) = 0 AND m.tenant_id = %(tenant)s""",
    """WITH t AS (
         INSERT INTO tasks (tenant_id, creator_id, title, body, kind, merchant_id, due_at, priority, target)
         SELECT %(tenant)s, %(manager)s, 'Visit ' || g, '', 'visit', 1 + mod(g * 104729, %(merchants)s),
                now() + mod(g, 20) * interval '1 day', 0, '{}'
         FROM generate_series(1, 2000) g
         RETURNING id, merchant_id)
       INSERT INTO task_assignments (tenant_id, task_id, assignee_id, merchant_id, status, payload)
       SELECT %(tenant)s, t.id, (%(bds)s::bigint[])[1 + mod(t.id, %(nbd)s)], t.merchant_id, 'assigned', '{}'
       FROM t""",
]

TARGET_MERCHANT_SQL = """
    INSERT INTO merchants (tenant_id, name, category, address, city, phone, phone_normalized, brand, tags, location,
                           source, source_id, attributes, created_by_id, last_visit_at)
    SELECT %(tenant)s, '外婆家(湖滨银泰店)', '餐饮服务;中餐厅', '延安路258号湖滨银泰in77 C区3楼', '杭州市',
           '0571-87654321', '+8657187654321', '外婆家', ARRAY['head', 'has_deal', 'multi_store'],
           ST_Project(location::geography, 35, radians(45))::geography, 'bench-detail', %(source_id)s,
           '{"seats": "120", "opening_hours": "10:30-21:30", "avg_spend": "75"}', %(owner)s, now() - interval '1 day'
    FROM merchants WHERE id = %(anchor)s
    RETURNING id"""

# The merchant's history. %(m)s is its id; all rows in the bench tenant.
TARGET_HISTORY_SQL = [
    # ten stores of the same chain, anywhere in the city
    """UPDATE merchants SET brand = '外婆家' WHERE id IN (
         SELECT id FROM merchants WHERE tenant_id = %(tenant)s AND id <> %(m)s ORDER BY md5(id::text) LIMIT 10)""",
    """INSERT INTO sales_monthly (tenant_id, merchant_id, month, orders, gmv)
       SELECT %(tenant)s, b.id, (date_trunc('month', now()) - k * interval '1 month')::date, 50 + k, (50 + k) * 80.0
       FROM merchants b CROSS JOIN generate_series(0, 11) k WHERE b.brand = '外婆家' AND b.id <> %(m)s
       ON CONFLICT (merchant_id, month) DO NOTHING""",
    """INSERT INTO leads (merchant_id, tenant_id, state, owner_id, claimed_at, last_visit_at, drops_at, drop_reason,
                          extensions_used, extended_days)
       VALUES (%(m)s, %(tenant)s, 'private', %(owner)s, now() - interval '3 days', now() - interval '1 day',
               now() + interval '12 days', 'no_visit', 1, 15)""",
    """INSERT INTO contacts (tenant_id, merchant_id, name, title, role, phones, is_key_person, notes,
                             last_contacted_at)
       SELECT %(tenant)s, %(m)s, '联系人' || k, (ARRAY['店长', '老板', '厨师长', '前台', '财务'])[1 + mod(k, 5)],
              (ARRAY['decision_maker', 'approver', 'evaluator', 'user', 'other'])[1 + mod(k, 5)]::contact_role,
              CASE WHEN mod(k, 2) = 0
                   THEN ARRAY['+86 138 0000 ' || lpad(k::text, 4, '0'), '0571-8765' || lpad(k::text, 4, '0')]
                   ELSE ARRAY['+86 139 0000 ' || lpad(k::text, 4, '0')] END,
              k <= 3, 'Prefers calls after 14:00; decides on weekend set menus.', now() - k * interval '2 days'
       FROM generate_series(1, 20) k""",
    """INSERT INTO visits (tenant_id, merchant_id, user_id, idempotency_key, request_hash, client_time, location,
                           accuracy_m, distance_m, verified, flags, result, notes, purpose, checkout_at, duration_s)
       SELECT %(tenant)s, %(m)s,
              CASE WHEN mod(k, 3) = 0 THEN %(owner)s ELSE (%(bds)s::bigint[])[1 + mod(k * 37, %(nbd)s)] END,
              'detail-' || k, 'h', now() - k * interval '34 hours', m.location, 10 + mod(k, 20), 5 + mod(k * 7, 150),
              mod(k, 4) <> 0, CASE WHEN mod(k, 4) = 0 THEN ARRAY['too_far'] ELSE '{}' END,
              (ARRAY['interested', 'follow_up', 'owner_absent', 'not_interested'])[1 + mod(k, 4)],
              'Visit ' || k || ': talked to the manager about the lunch deal and the weekend set menu.',
              'follow-up', now() - k * interval '34 hours' + interval '25 minutes', 1500
       FROM generate_series(1, 500) k, merchants m WHERE m.id = %(m)s""",
    """INSERT INTO sales_monthly (tenant_id, merchant_id, month, orders, gmv)
       SELECT %(tenant)s, %(m)s, (date_trunc('month', now()) - k * interval '1 month')::date, 300 + 5 * k,
              (300 + 5 * k) * 92.5
       FROM generate_series(0, 35) k""",
    """INSERT INTO competitor_records (tenant_id, merchant_id, platform, online, deals)
       SELECT %(tenant)s, %(m)s, p, p <> 'Kuaishou', jsonb_build_array(
                jsonb_build_object('title', '双人套餐', 'price', 88, 'monthly_sales', 320),
                jsonb_build_object('title', '四人套餐 豪华', 'price', 199, 'monthly_sales', 45),
                jsonb_build_object('title', '工作日午市套餐', 'price', 39.9, 'monthly_sales', 1200))
       FROM unnest(ARRAY['Meituan', 'Eleme', 'Douyin', 'Kuaishou', 'Xiaohongshu']) p""",
    """INSERT INTO deals (tenant_id, merchant_id, title, price, status, started_at, ended_at)
       SELECT %(tenant)s, %(m)s, t, p, s, current_date - 200, CASE WHEN s = 'ended' THEN current_date - 30 END
       FROM (VALUES ('双人套餐', 98.00, 'active'), ('四人套餐', 188.00, 'active'), ('午市特惠', 45.00, 'active'),
                    ('春节套餐', 288.00, 'ended'), ('旧双人餐', 90.00, 'ended'), ('试吃券', 9.90, 'ended'),
                    ('国庆套餐', 199.00, 'ended')) AS d(t, p, s)""",
    """WITH t AS (
         INSERT INTO tasks (tenant_id, creator_id, title, body, kind, merchant_id, due_at, priority, target)
         VALUES (%(tenant)s, %(manager)s, 'Match Meituan''s price on 双人套餐', '', 'price_adjust', %(m)s,
                 now() - interval '1 day', 2, '{}'),
                (%(tenant)s, %(manager)s, 'Collect the new menu', '', 'collect_info', %(m)s,
                 now() + interval '3 days', 1, '{}'),
                (%(tenant)s, %(manager)s, 'Photo of the storefront', '', 'collect_info', %(m)s,
                 now() - interval '10 days', 0, '{}')
         RETURNING id, title)
       INSERT INTO task_assignments (tenant_id, task_id, assignee_id, merchant_id, status, payload)
       SELECT %(tenant)s, id, %(owner)s, %(m)s,
              (CASE WHEN title LIKE 'Photo%%' THEN 'done' ELSE 'assigned' END)::assignment_status, '{}'
       FROM t""",
]


def _ids(conn: psycopg.Connection) -> dict[str, Any]:
    tenant_id = conn.execute("SELECT id FROM tenants WHERE slug = 'bench'").fetchone()[0]
    owner = conn.execute("SELECT id FROM users WHERE username = 'bd0'").fetchone()[0]
    row = conn.execute(
        "SELECT id FROM merchants WHERE source = 'bench-detail' AND source_id = %s", (TARGET_SOURCE_ID,)
    ).fetchone()
    return {"tenant_id": tenant_id, "bd_id": owner, "bd_username": "bd0", "merchant_id": row[0] if row else None}


def build_database(url: str) -> dict[str, Any]:
    """Reuse fieldsales_bench_detail if it holds the target merchant and the current schema; else build it."""
    dsn = datagen.plain_url(url)
    if harness.database_exists(DATABASE) and harness.schema_is_current(dsn):
        with psycopg.connect(dsn) as conn:
            with contextlib.suppress(psycopg.Error):
                ids = _ids(conn)
                if ids["merchant_id"]:
                    return ids
    log(f"building {DATABASE}: {MERCHANTS:,} merchants, then history")
    started = time.perf_counter()
    datagen.build(url, MERCHANTS, force=True)
    with psycopg.connect(dsn) as conn:
        ids = _ids(conn)
        params = {
            "tenant": ids["tenant_id"],
            "owner": ids["bd_id"],
            "merchants": MERCHANTS,
            "manager": conn.execute("SELECT id FROM users WHERE username = 'manager'").fetchone()[0],
            "bds": [r[0] for r in conn.execute("SELECT id FROM users WHERE role = 'bd' ORDER BY id")],
            "source_id": TARGET_SOURCE_ID,
        }
        params["nbd"] = len(params["bds"])
        for sql in BACKGROUND_SQL:
            conn.execute(sql, params)
        anchor = conn.execute(  # a merchant in a busy district: the chain's flagship is downtown
            "SELECT id FROM merchants WHERE tenant_id = %s ORDER BY location <-> ST_MakePoint(%s, %s)::geography "
            "LIMIT 1",
            (ids["tenant_id"], datagen.CENTER[1], datagen.CENTER[0]),
        ).fetchone()[0]
        params["m"] = conn.execute(TARGET_MERCHANT_SQL, {**params, "anchor": anchor}).fetchone()[0]
        for sql in TARGET_HISTORY_SQL:
            conn.execute(sql, params)
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    log(f"built in {time.perf_counter() - started:.0f} s")
    with psycopg.connect(dsn) as conn:
        return _ids(conn)


def data_shape(dsn: str, merchant_id: int) -> dict[str, Any]:
    """What the merchant under test and its neighbourhood hold (printed, so the report says what it measured)."""
    with psycopg.connect(dsn) as conn:

        def one(sql: str) -> int:
            return conn.execute(sql, {"m": merchant_id}).fetchone()[0]

        return {
            "contacts": one("SELECT count(*) FROM contacts WHERE merchant_id = %(m)s"),
            "visits": one("SELECT count(*) FROM visits WHERE merchant_id = %(m)s"),
            "sales_months": one("SELECT count(*) FROM sales_monthly WHERE merchant_id = %(m)s"),
            "competitors": one("SELECT count(*) FROM competitor_records WHERE merchant_id = %(m)s"),
            "active_deals": one("SELECT count(*) FROM deals WHERE merchant_id = %(m)s AND status = 'active'"),
            "same_brand_stores": one("SELECT count(*) FROM merchants WHERE brand = '外婆家' AND id <> %(m)s"),
            "open_tasks": one(
                "SELECT count(*) FROM task_assignments WHERE merchant_id = %(m)s AND status IN ('assigned', 'accepted')"
            ),
            "tenant_merchants": one(
                "SELECT count(*) FROM merchants WHERE tenant_id = (SELECT tenant_id FROM merchants WHERE id = %(m)s)"
            ),
            "all_visits": one("SELECT count(*) FROM visits"),
            "all_sales_rows": one("SELECT count(*) FROM sales_monthly"),
        }


# --- in process: statements, time split, profile, EXPLAIN --------------------------------------------


def _in_process_app(url: str, cache: bool):
    from app.factory import create_app

    app = create_app(**harness.app_config(url, DETAIL_CACHE_ENABLED=cache))
    client = app.test_client()
    login = client.post("/api/v1/auth/login", json={"username": "bd0", "password": harness.PASSWORD})
    if login.status_code != 200:
        raise RuntimeError(f"in-process login failed: {login.status_code} {login.get_data(as_text=True)[:300]}")
    return app, client, {"Authorization": f"Bearer {login.json['access_token']}"}


@contextlib.contextmanager
def _redis_recorder():
    import redis

    calls: list[str] = []
    original = redis.Redis.execute_command

    def counting(self, *args, **kwargs):
        calls.append(str(args[0]))
        return original(self, *args, **kwargs)

    with mock.patch.object(redis.Redis, "execute_command", counting):
        yield calls


def _first_words(statement: str) -> str:
    words = " ".join(statement.split())
    if "detail_version" in words[:40] and "l.state" in words[:120]:
        return "CALLER_SQL"
    if words.startswith("SELECT json_build_object( 'id', m.id"):
        return "AGGREGATE_SQL"
    return words[:70]


def in_process(url: str, path: str, requests: int) -> dict[str, Any]:
    """Per request, cold and cached: SQL statements and Redis calls; median time split SQL / Python;
    and the top of a cProfile of the cold path."""
    from app import db

    result: dict[str, Any] = {}
    for label, cache in (("cold", False), ("cached", True)):
        app, client, headers = _in_process_app(url, cache)
        for _ in range(20):  # warm: connections, caches, the Redis entry
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"in-process GET {path}: {response.status_code} {response.get_data()[:300]!r}")
        with harness.sql_recorder() as statements, _redis_recorder() as redis_calls:
            client.get(path, headers=headers)
            one_request = {"sql": [_first_words(s) for s, _ in statements], "redis": list(redis_calls)}
        totals, sql_times = [], []
        with harness.sql_recorder() as statements:
            for _ in range(requests):
                before = len(statements)
                started = time.perf_counter()
                client.get(path, headers=headers)
                totals.append(time.perf_counter() - started)
                sql_times.append(sum(t for _, t in statements[before:]))
        entry = {
            "sql_statements": len(one_request["sql"]),
            "statements": one_request["sql"],
            "redis_calls": one_request["redis"],
            "median_total_ms": round(statistics.median(totals) * 1000, 3),
            "median_sql_ms": round(statistics.median(sql_times) * 1000, 3),
        }
        entry["median_python_ms"] = round(entry["median_total_ms"] - entry["median_sql_ms"], 3)
        if label == "cold":
            entry["profile_top"] = _profile(client, path, headers, requests=min(requests, 300))
        result[label] = entry
        db.session.remove()
        db.engine().dispose()
        del app
    return result


def _profile(client: Any, path: str, headers: dict[str, str], *, requests: int) -> dict[str, list[dict[str, Any]]]:
    """Per request over ``requests`` cold requests: our functions by cumulative time, all by own time.
    (cProfile roughly doubles Python's time; read the shares, not the absolute numbers.)"""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(path, headers=headers)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    entries = stats.stats.items()  # type: ignore[attr-defined]
    for (filename, line, func), (_cc, _nc, tottime, cumtime, _callers) in entries:
        short = filename.replace(str(harness.ROOT) + "/", "")
        if "site-packages/" in short:
            short = short.split("site-packages/")[1]
        rows.append(
            {
                "function": f"{short}:{line}({func})",
                "cum_ms": cumtime * 1000 / requests,
                "own_ms": tottime * 1000 / requests,
            }
        )
    rounded = [{**r, "cum_ms": round(r["cum_ms"], 3), "own_ms": round(r["own_ms"], 3)} for r in rows]
    ours = sorted((r for r in rounded if r["function"].startswith(("app/", "geo/"))), key=lambda r: -r["cum_ms"])
    return {"our_code_by_cumulative": ours[:25], "by_own_time": sorted(rounded, key=lambda r: -r["own_ms"])[:25]}


def explain(dsn: str, ids: dict[str, Any], runs: int) -> dict[str, Any]:
    """Median planning and execution time and buffers of both statements, planned afresh each time
    (a prepared statement on a generic plan skips the planning, and always skips the parsing)."""
    from bench import detail_floor

    now = datetime.now().astimezone()
    caller = detail_floor.caller_params(ids["merchant_id"], ids["tenant_id"], ids["bd_id"], now)
    aggregate = detail_floor.aggregate_params(ids["merchant_id"], ids["tenant_id"], now.date())
    statements = {
        "CALLER_SQL": (detail_floor.CALLER_SQL, caller),
        "AGGREGATE_SQL": (detail_floor.AGGREGATE_SQL, aggregate),
    }
    result = {}
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None, options="-c jit=off") as conn:
        for name, (sql, params) in statements.items():
            planning, execution, buffers = [], [], []
            plan = None
            for _ in range(runs):
                plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params).fetchone()[0][0]
                planning.append(plan["Planning Time"])
                execution.append(plan["Execution Time"])
                buffers.append(plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get("Shared Read Blocks", 0))
            result[name] = {
                "planning_ms": round(statistics.median(planning), 3),
                "execution_ms": round(statistics.median(execution), 3),
                "buffers": statistics.median(buffers),
                "slowest_nodes": harness.slowest_plan_nodes(plan["Plan"]),
            }
    return result


# --- HTTP -------------------------------------------------------------------------------------------


def smoke_test(ours: dict[str, str], floor_url: str, token: str) -> None:
    """Both servers answer, cold and cached bodies agree, and the payload has what we built."""
    status_c, cold = httpload.get_json(ours["ours_cold"], token)
    status_w, cached = httpload.get_json(ours["ours_cached"], token)
    status_f, floor = httpload.get_json(floor_url)
    if (status_c, status_w, status_f) != (200, 200, 200):
        raise RuntimeError(
            f"smoke test: cold {status_c} {str(cold)[:300]}, cached {status_w} {str(cached)[:300]}, "
            f"floor {status_f} {str(floor)[:300]}"
        )
    if cold != cached:
        raise RuntimeError("the cached payload differs from the cold one")
    shape = (
        len(cold["contacts"]),
        cold["visits"]["total"],
        len(cold["competitors"]),
        len(cold["sales"]["active_deals"]),
        cold["sales"]["related_stores"]["count"],
        cold["phones_masked"],
    )
    if shape != (20, 500, 5, 3, 10, False):
        raise RuntimeError(
            f"unexpected payload shape (contacts, visits, competitors, deals, brand stores, masked): {shape}"
        )


def http_scenarios(
    args: argparse.Namespace, url: str, ids: dict[str, Any], work: Path, gate: harness.QuietGate
) -> dict[str, Any]:
    merchant = ids["merchant_id"]
    common = harness.server_env(url)
    floor_env = {
        **common,
        "DETAIL_FLOOR_DSN": datagen.plain_url(url),
        "DETAIL_FLOOR_TENANT": str(ids["tenant_id"]),
        "DETAIL_FLOOR_CALLER": str(ids["bd_id"]),
    }
    servers = {
        "transport": ("bench.detail_floor:app", floor_env),
        "floor": ("bench.detail_floor:app", floor_env),
        "floor_unprepared": ("bench.detail_floor:app", {**floor_env, "DETAIL_FLOOR_UNPREPARED": "1"}),
        "ours_cold": ("wsgi:app", {**common, "DETAIL_CACHE_ENABLED": "0"}),
        "ours_cached": ("wsgi:app", {**common, "DETAIL_CACHE_ENABLED": "1"}),
        # the least any authenticated request of this stack costs: what a cached read cannot go below
        "auth_only": ("wsgi:app", common),
    }
    with contextlib.ExitStack() as stack:
        running = {
            name: stack.enter_context(httpload.gunicorn(name, app, env, work)) for name, (app, env) in servers.items()
        }
        token = httpload.login(running["ours_cold"].base_url, "bd0", harness.PASSWORD)
        auth = {"Authorization": f"Bearer {token}"}
        paths = {
            "transport": "/ping",
            "floor": f"/detail/{merchant}",
            "floor_unprepared": f"/detail/{merchant}",
            "ours_cold": f"/api/v1/merchants/{merchant}",
            "ours_cached": f"/api/v1/merchants/{merchant}",
            "auth_only": "/api/v1/me",
        }
        headers = {
            "transport": {},
            "floor": {},
            "floor_unprepared": {},
            "ours_cold": auth,
            "ours_cached": auth,
            "auth_only": auth,
        }
        smoke_test(
            {k: running[k].base_url + paths[k] for k in ("ours_cold", "ours_cached")},
            running["floor"].base_url + paths["floor"],
            token,
        )

        latencies: dict[str, list[float]] = {name: [] for name in servers}
        sizes: dict[str, int] = {}
        cpu: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
        for round_no in range(args.rounds):
            for name, server in running.items():
                log(f"round {round_no + 1}/{args.rounds}: {name}, sequential, {args.requests} requests")
                with gate(f"{name} sequential, round {round_no + 1}"):
                    meter = CpuMeter(app_pgid=server.process.pid, database=DATABASE)
                    meter.start()
                    run = harness.sequential(
                        server.base_url, paths[name], headers[name], requests=args.requests, warmup=args.warmup
                    )
                    cpu[name].append({**meter.stop(), "busiest_other": meter.top_other})
                latencies[name] += run.latencies_s
                sizes[name] = run.body_bytes
        throughput = {}
        if args.wrk_seconds > 0:
            for name, server in running.items():
                log(f"{name}: wrk -c{args.wrk_connections}, {args.wrk_seconds:.0f} s")
                with gate(f"{name} wrk"):
                    throughput[name] = harness.plain_wrk(
                        server.base_url + paths[name],
                        headers=headers[name],
                        connections=args.wrk_connections,
                        duration=args.wrk_seconds,
                        warmup=2,
                    )
    scenarios = {}
    for name in servers:
        scenarios[name] = {
            **harness.summarize(latencies[name]),
            "body_bytes": sizes[name],
            "cpu_cores": _mean_cpu(cpu[name]),
            "wrk": {k: throughput[name][k] for k in ("rps", "p50_ms", "p99_ms")} if name in throughput else None,
        }
    return {"scenarios": scenarios}


def _mean_cpu(samples: list[dict[str, Any]]) -> dict[str, Any]:
    mean = {role: round(statistics.mean(s.get(role, 0.0) for s in samples), 2) for role in CPU_ROLES}
    return {**mean, "busiest_other": [s["busiest_other"] for s in samples]}


# --- report -------------------------------------------------------------------------------------------


def targets(report: dict[str, Any]) -> dict[str, Any]:
    s = report["scenarios"]
    cold, cached, floor = s["ours_cold"]["p50_ms"], s["ours_cached"]["p50_ms"], s["floor"]["p50_ms"]
    size = s["ours_cold"]["body_bytes"]
    return {
        "cold_vs_floor_p50": target(
            round(cold / floor, 2), f"<= {TARGETS['cold_vs_floor_p50']}", cold / floor <= TARGETS["cold_vs_floor_p50"]
        ),
        "cold_p50_ms": target(cold, f"< {TARGETS['cold_p50_ms']}", cold < TARGETS["cold_p50_ms"]),
        "cached_p50_ms": target(cached, f"< {TARGETS['cached_p50_ms']}", cached < TARGETS["cached_p50_ms"]),
        "payload_bytes": target(size, f"< {TARGETS['payload_bytes']}", size < TARGETS["payload_bytes"]),
    }


def render(report: dict[str, Any]) -> str:
    s, shape = report["scenarios"], report["data"]
    lines = [
        "",
        f"Merchant detail benchmark: merchant {report['merchant_id']} in {report['database']} "
        f"({shape['tenant_merchants']:,} merchants in its tenant, {shape['all_visits']:,} visits, "
        f"{shape['all_sales_rows']:,} sales rows)",
        f"  merchant: {shape['contacts']} contacts, {shape['visits']} visits, {shape['sales_months']} months of sales, "
        f"{shape['competitors']} competitors, {shape['active_deals']} active deals, {shape['same_brand_stores']} "
        f"same-brand stores, {shape['open_tasks']} open tasks",
        f"  {report['requests_per_round']} sequential requests x {report['rounds']} rounds per scenario (1 client, "
        f"new connection each); wrk -c{report['wrk_connections']} for {report['wrk_seconds']:.0f} s; "
        f"{report['environment']['cpus']} CPUs",
        "",
        f"{'scenario':<18}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'bytes':>9}{'vs floor':>10}"
        f"{'wrk rps':>10}{'wrk p50':>9}{'wrk p99':>9}   {harness.CPU_COLUMN}",
    ]
    floor = s["floor"]["p50_ms"]
    for name, row in s.items():
        cpu = harness.cpu_cells(row["cpu_cores"])
        wrk = row["wrk"] or {}
        lines.append(
            f"{name:<18}{row['p50_ms']:>9.2f}{row['p90_ms']:>9.2f}{row['p99_ms']:>9.2f}"
            f"{row['body_bytes']:>9}{row['p50_ms'] / floor:>9.2f}x"
            f"{wrk.get('rps', float('nan')):>10.0f}{wrk.get('p50_ms', float('nan')):>9.2f}"
            f"{wrk.get('p99_ms', float('nan')):>9.2f}   {cpu}"
        )
    if "auth_only" in s:
        lines += [
            "",
            f"  cached p50 - auth_only p50 (GET /me: JWT, session lookup, Flask, schema): "
            f"{s['ours_cached']['p50_ms'] - s['auth_only']['p50_ms']:.2f} ms of the detail's own work",
        ]
    lines += ["", "Targets"]
    names = {
        "cold_vs_floor_p50": "cold p50 / floor p50",
        "cold_p50_ms": "cold p50 ms",
        "cached_p50_ms": "cached p50 ms",
        "payload_bytes": "payload bytes (ours)",
    }
    lines += harness.target_rows(report["targets"], names, widths=(28, 10, 10))
    ip = report["in_process"]
    lines += ["", "Per request, in process (Flask test client, no HTTP server)"]
    for label in ("cold", "cached"):
        e = ip[label]
        lines.append(f"  {label:<7} {e['sql_statements']} SQL statements {e['statements']}, Redis {e['redis_calls']}")
        lines.append(
            f"          median {e['median_total_ms']:.2f} ms = SQL {e['median_sql_ms']:.2f} ms "
            f"(client side, incl. round trips) + Python {e['median_python_ms']:.2f} ms"
        )
    lines += ["", "EXPLAIN ANALYZE, planned afresh each time (prepared + generic plan skips planning), medians:"]
    for name, e in report["explain"].items():
        slow = "; ".join(f"{n['node']} {n['self_ms']:.2f} ms x{n['loops']}" for n in e["slowest_nodes"][:3])
        lines.append(
            f"  {name:<23} planning {e['planning_ms']:.2f} ms, execution {e['execution_ms']:.2f} ms, "
            f"{e['buffers']:.0f} buffers; slowest: {slow}"
        )
    profile = report["in_process"]["cold"]["profile_top"]
    lines += [
        "",
        "Cold path under cProfile (inflates Python ~2x; read shares), ms per request:",
        "  our code, cumulative:",
    ]
    lines += [f"    {row['cum_ms']:>7.3f}  {row['function']}" for row in profile["our_code_by_cumulative"][:12]]
    lines += ["  most own time (any code):"]
    lines += [f"    {row['own_ms']:>7.3f}  {row['function']}" for row in profile["by_own_time"][:10]]
    return harness.with_overlap_note(lines, report["other_benchmark"])


# --- main ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, one round, short wrk runs")
    parser.add_argument("--requests", type=int, help="sequential requests per scenario and round (default 1500)")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests before each sequential run")
    parser.add_argument("--rounds", type=int, help="rounds over all scenarios (default 2)")
    parser.add_argument("--wrk-seconds", type=float, help="wrk duration per scenario; 0 skips wrk (default 10)")
    parser.add_argument("--wrk-connections", type=int, default=4)
    args = harness.parse_args(parser, argv, no_wait=True)
    args.requests = args.requests or (500 if args.quick else 1500)
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.wrk_seconds = args.wrk_seconds if args.wrk_seconds is not None else (5 if args.quick else 10)
    return args


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    url, dsn, gate = harness.open_run(DATABASE, args)
    ids = build_database(url)
    shape = data_shape(dsn, ids["merchant_id"])
    _forget_cached_payloads()
    path = f"/api/v1/merchants/{ids['merchant_id']}"
    log("in process: statements per request, time split, profile")
    with gate("in process"):
        inproc = in_process(url, path, requests=200 if args.quick else 500)
    log("EXPLAIN ANALYZE")
    with gate("explain"):
        plans = explain(dsn, ids, runs=20 if args.quick else 50)
    http = http_scenarios(args, url, ids, work, gate)
    report = {
        "started_at": args.started.isoformat(timespec="seconds"),
        "database": DATABASE,
        "quick": args.quick,
        "merchant_id": ids["merchant_id"],
        "data": shape,
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "wrk_connections": args.wrk_connections,
        "wrk_seconds": args.wrk_seconds,
        **http,
        "in_process": inproc,
        "explain": plans,
        "other_benchmark": gate.as_dict(),
    }
    report["targets"] = targets(report)
    report["environment"] = harness.environment(dsn)
    return report


def _forget_cached_payloads() -> None:
    """Drop our Redis db's detail entries: a rebuilt database reuses merchant ids and versions."""
    import redis

    client = redis.Redis.from_url(harness.BENCH_REDIS_URL)
    for key in client.scan_iter("merchant-detail:*", count=1000):
        client.delete(key)


def main(argv: list[str] | None = None) -> int:
    harness.run_main("detail", parse_args(argv), run, render, kept="server logs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
