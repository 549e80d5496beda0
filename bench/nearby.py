"""Nearby benchmark: our endpoint against its own SQL, a minimal Flask app and a typical CRM's query.

    .venv/bin/python -m bench.nearby [--merchants 1000000] [--duration 20] [--connections 16]
                                     [--scaling 100000,1000000[,5000000]]

Scenarios, each warmed up and then measured for --duration seconds at --connections concurrent clients:

  (1) bare SQL     the endpoint's exact compiled SQL through psycopg (asyncio client), radius 1 km and 2 km
  (2) floor        bench/floor_app.py: Flask + psycopg_pool running that SQL, same gunicorn settings as ours
  (3) ours         GET /api/v1/merchants/nearby with auth, radius 1 km, limit 20, through gunicorn
  (4) typical CRM  float lat/lng columns, B-tree indexes, bounding box + haversine in SQL, radius 2 km

(2) and (3) are also run with a single connection (service time without queueing). Then, in process: the
cost of serialising one page (orjson vs marshmallow + json), where one request's time goes
(bench/nearby_profile.py), and bare-SQL latency by database size. Everything shares the machine's cores,
so read the RATIOS between scenarios of the same run, not the absolute numbers. The report is printed
and saved as bench/results/nearby-<time>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
import timeit
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from bench import datagen, floor_app, harness, httpload, nearby_data, nearby_profile, pgload
from bench.harness import log, target
from bench.nearby_data import LIMIT, NEAR_M, build_database, database_for, pick_points
from bench.stats import CpuMeter, Measurement, database_of
from geo.distance import bbox_around

FAR_M = 2000  # the CRM comparison: bigger boxes are where a B-tree on lat/lng hurts

TARGETS = {
    "ours_vs_floor_rps": 0.60,  # (3)/(2) throughput, at least
    "ours_p99_ms": 25.0,  # (3) p99, below
    "bare_vs_crm_speedup": 10.0,  # (1)/(4) at 2 km, at least (throughput and p50)
}


# --- setup: the flat CRM table --------------------------------------------------------------------------


FLAT_INDEXES = {
    "ix_merchants_flat_tenant_lat": "(tenant_id, lat)",
    "ix_merchants_flat_tenant_lng": "(tenant_id, lng)",
    "ix_merchants_flat_tenant_lat_lng": "(tenant_id, lat, lng)",
}
# Index sets tried for the CRM query; the fastest is kept for the measured run (be fair to it).
FLAT_VARIANTS = {
    "lat+lng": ["ix_merchants_flat_tenant_lat", "ix_merchants_flat_tenant_lng"],
    "composite": ["ix_merchants_flat_tenant_lat_lng"],
    "all three": list(FLAT_INDEXES),
}


def ensure_flat_table(dsn: str) -> None:
    """``merchants_flat``: how a typical CRM stores positions (two float columns), built from ``merchants``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        merchants = conn.execute("SELECT count(*) FROM merchants").fetchone()[0]
        exists = conn.execute("SELECT to_regclass('merchants_flat') IS NOT NULL").fetchone()[0]
        if not exists or conn.execute("SELECT count(*) FROM merchants_flat").fetchone()[0] != merchants:
            log("building merchants_flat (typical CRM table)")
            conn.execute("DROP TABLE IF EXISTS merchants_flat")
            conn.execute(
                "CREATE TABLE merchants_flat (id bigint PRIMARY KEY, tenant_id bigint NOT NULL, name text NOT NULL, "
                "lat double precision NOT NULL, lng double precision NOT NULL)"
            )
            conn.execute(
                "INSERT INTO merchants_flat SELECT id, tenant_id, name, ST_Y(location::geometry), "
                "ST_X(location::geometry) FROM merchants"
            )
        # A previous run may have dropped the indexes its chosen variant did not use.
        for name, columns in FLAT_INDEXES.items():
            conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON merchants_flat {columns}")
        # Autovacuum would get there in production; do it now so the visibility map and stats are fair.
        conn.execute("VACUUM (ANALYZE) merchants_flat")


# --- the endpoint's SQL ------------------------------------------------------------------------------


@dataclass
class CompiledQuery:
    sql: str
    params: list[dict[str, Any]]  # one dict per query point, same order as the points
    keys: dict[str, Any]  # which parameters hold the point, its box, and the radius (for the floor app)


def _only(names: list[str], what: str) -> str:
    if len(names) != 1:
        raise RuntimeError(f"cannot tell which compiled parameter is the {what}: {names}")
    return names[0]


def _point_keys(params: dict[str, Any], lat: float, lng: float, radius_m: int) -> dict[str, Any]:
    """Find the parameters the point fills by value, rather than trusting SQLAlchemy's param_N numbering."""
    floats = {name: value for name, value in params.items() if isinstance(value, float)}
    box = bbox_around(lat, lng, radius_m)
    return {
        "lat": _only([n for n, v in floats.items() if v == lat], "latitude"),
        "lng": _only([n for n, v in floats.items() if v == lng], "longitude"),
        "bbox": [_only([n for n, v in floats.items() if v == corner], "box corner") for corner in box],
        "radius_m": radius_m,
    }


def compile_nearby(url: str, ids: dict, points: list[tuple[float, float]], radius_m: int) -> CompiledQuery:
    """The endpoint's exact SQL and parameters for each point, compiled by the app's own service code."""
    from app import db
    from app.factory import create_app
    from app.merchants import queries
    from app.org.models import User
    from app.tenants.models import Tenant

    app = create_app(DATABASE_URL=url)
    sql, all_params = None, []
    with app.app_context():
        user, tenant = db.session.get(User, ids["bd_id"]), db.session.get(Tenant, ids["tenant_id"])
        dialect = db.engine().dialect
        for lat, lng in points:
            statement, _ = queries.nearby_statement(
                user, tenant, queries.NearbyQuery(lat=lat, lng=lng, radius_m=radius_m, limit=LIMIT)
            )
            compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
            if sql is None:
                sql = str(compiled)
            elif str(compiled) != sql:
                raise RuntimeError("the nearby SQL text changed between query points; cannot replay it")
            all_params.append(dict(compiled.params))
        db.session.remove()
    db.engine().dispose()
    keys = _point_keys(all_params[0], *points[0], radius_m)
    return CompiledQuery(sql, all_params, keys)


def check_floor_params(query: CompiledQuery, points: list[tuple[float, float]]) -> None:
    """The floor app must send exactly what the endpoint sends (apart from the clock-based cut-off)."""
    spec = {"template": query.params[0], "keys": query.keys}
    for (lat, lng), expected in list(zip(points, query.params))[:50]:
        rebuilt = floor_app.point_params(spec, lat, lng)
        diff = [k for k in expected if not isinstance(expected[k], datetime) and rebuilt[k] != expected[k]]
        if diff:
            raise RuntimeError(f"floor app parameters differ from the endpoint's at {lat},{lng}: {diff}")


# --- the typical CRM query ---------------------------------------------------------------------------

_HAVERSINE = (
    "2 * 6371008.8 * asin(sqrt(power(sin(radians(lat - %(lat)s) / 2), 2)"
    " + cos(radians(%(lat)s)) * cos(radians(lat)) * power(sin(radians(lng - %(lng)s) / 2), 2)))"
)
CRM_SQL = f"""SELECT id, name, lat, lng, {_HAVERSINE} AS distance_m
FROM merchants_flat
WHERE tenant_id = %(tenant_id)s
  AND lat BETWEEN %(min_lat)s AND %(max_lat)s
  AND lng BETWEEN %(min_lng)s AND %(max_lng)s
  AND {_HAVERSINE} <= %(radius_m)s
ORDER BY distance_m
LIMIT %(limit)s"""


def crm_params(points: list[tuple[float, float]], tenant_id: int, radius_m: int) -> list[dict[str, Any]]:
    params = []
    for lat, lng in points:
        min_lng, min_lat, max_lng, max_lat = bbox_around(lat, lng, radius_m)
        params.append(
            {
                "tenant_id": tenant_id,
                "lat": lat,
                "lng": lng,
                "min_lat": min_lat,
                "max_lat": max_lat,
                "min_lng": min_lng,
                "max_lng": max_lng,
                "radius_m": float(radius_m),
                "limit": LIMIT,
            }
        )
    return params


def probe_crm_indexes(dsn: str, params: list[dict[str, Any]], queries: int = 150) -> dict[str, float]:
    """Median single-client latency (ms) of the CRM query under each index set.

    Each variant runs in a transaction that drops the other indexes and is rolled back, so the table is
    untouched. Same connection settings as the load generator (prepared after 5 runs).
    """
    timings = {}
    with psycopg.connect(dsn, options="-c jit=off") as conn:
        for variant, keep in FLAT_VARIANTS.items():
            with conn.transaction(force_rollback=True):
                for name in FLAT_INDEXES:
                    if name not in keep:
                        conn.execute(f"DROP INDEX {name}")
                samples = []
                for i in range(queries + 20):
                    started = time.perf_counter()
                    conn.execute(CRM_SQL, params[i % len(params)]).fetchall()
                    if i >= 20:
                        samples.append(time.perf_counter() - started)
                timings[variant] = round(sorted(samples)[len(samples) // 2] * 1000, 3)
    return timings


def keep_only(dsn: str, variant: str) -> None:
    """Drop the flat table's indexes the chosen variant does not use (ensure_flat_table recreates them)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in FLAT_INDEXES:
            if name not in FLAT_VARIANTS[variant]:
                conn.execute(f"DROP INDEX IF EXISTS {name}")


def check_crm_agrees(dsn: str, nearby: CompiledQuery, crm: list[dict[str, Any]], samples: int = 30) -> float:
    """Share of our top-20 ids that the CRM query also returns: both must answer the same question."""
    shared = total = 0
    with psycopg.connect(dsn, options="-c jit=off") as conn:
        for ours_params, crm_p in list(zip(nearby.params, crm))[:samples]:
            ours = [row[0] for row in conn.execute(nearby.sql, ours_params).fetchall()][:LIMIT]
            theirs = {row[0] for row in conn.execute(CRM_SQL, crm_p).fetchall()}
            shared += len(set(ours) & theirs)
            total += len(ours)
    agreement = shared / total if total else 1.0
    if agreement < 0.9:  # haversine vs geodesic may swap the last item or two, never most of the page
        raise RuntimeError(f"the CRM query and ours disagree on {1 - agreement:.0%} of the results")
    return round(agreement, 3)


# --- HTTP scenarios ------------------------------------------------------------------------------------


def check_servers_agree(
    floor: httpload.Server, ours: httpload.Server, token: str, points: list[tuple[float, float]]
) -> None:
    """Smoke test before loading: both answer 200, and with the same merchants."""
    for lat, lng in points[:5]:
        status_f, floor_rows = httpload.get_json(f"{floor.base_url}/nearby?lat={lat}&lng={lng}")
        status_o, page = httpload.get_json(
            f"{ours.base_url}/api/v1/merchants/nearby?radius_m={NEAR_M}&limit={LIMIT}&lat={lat}&lng={lng}", token
        )
        if status_f != 200 or status_o != 200:
            raise RuntimeError(
                f"smoke test failed: floor {status_f} {str(floor_rows)[:300]}, ours {status_o} {str(page)[:300]}"
            )
        if not {item["id"] for item in page["items"]} <= {row["id"] for row in floor_rows}:
            raise RuntimeError(f"floor app and endpoint return different merchants at {lat},{lng}")


def http_scenarios(
    args: argparse.Namespace,
    url: str,
    ids: dict,
    nearby: CompiledQuery,
    points: list[tuple[float, float]],
    points_file: Path,
    work: Path,
) -> dict[str, Measurement]:
    """(2) and (3), interleaved, at --connections and then with a single connection."""
    spec_path = work / "floor-spec.json"
    floor_app.write_spec(
        spec_path, dsn=datagen.plain_url(url), sql=nearby.sql, template=nearby.params[0], keys=nearby.keys
    )
    env = {"DATABASE_URL": url, "FLOOR_SPEC": str(spec_path), "APP_ENV": "development"}
    if args.workers:
        env["WEB_CONCURRENCY"] = str(args.workers)  # else gunicorn.conf.py's default, the same for both
    with (
        httpload.gunicorn("floor", "bench.floor_app:app", env, work) as floor,
        httpload.gunicorn("ours", "wsgi:app", env, work) as ours,
    ):
        token = httpload.login(ours.base_url, ids["bd_username"], ids["password"])
        check_servers_agree(floor, ours, token, points)
        ours_path = f"/api/v1/merchants/nearby?radius_m={NEAR_M}&limit={LIMIT}&"
        log(
            f"(2) floor and (3) ours, {floor.workers()} and {ours.workers()} gunicorn workers, "
            f"{args.rounds} interleaved rounds"
        )
        loaded = httpload.interleaved(
            [
                httpload.Target("(2) floor Flask+psycopg", floor, "/nearby?"),
                httpload.Target("(3) ours /merchants/nearby", ours, ours_path, token),
            ],
            points_file,
            work,
            connections=args.connections,
            duration=args.duration,
            warmup=args.warmup,
            rounds=args.rounds,
        )
        # One client: service time without queueing, the latency a lone BD would see.
        log("(2) and (3) again with a single connection")
        alone = httpload.interleaved(
            [
                httpload.Target("(2) floor, 1 connection", floor, "/nearby?"),
                httpload.Target("(3) ours, 1 connection", ours, ours_path, token),
            ],
            points_file,
            work,
            connections=1,
            duration=max(5.0, args.duration / 2),
            warmup=1.0,
            rounds=args.rounds,
        )
    floor_result, ours_result = loaded.values()
    floor_alone, ours_alone = alone.values()
    return {"floor": floor_result, "ours": ours_result, "floor_1conn": floor_alone, "ours_1conn": ours_alone}


# --- serialisation -----------------------------------------------------------------------------------


def _per_call_us(func: Any) -> float:
    """Best of 5 timeit repeats, in microseconds per call (the minimum is the least disturbed run)."""
    timer = timeit.Timer(func)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def serialisation_cost(url: str, ids: dict, points: list[tuple[float, float]]) -> dict[str, Any]:
    """µs to serialise one real 20-item page: the app's orjson path vs a marshmallow schema dump + json."""
    from app import db
    from app.factory import create_app
    from app.json import dumps_bytes
    from app.merchants import queries
    from app.merchants.schemas import NearbyPageSchema
    from app.org.models import User
    from app.tenants.models import Tenant

    app = create_app(DATABASE_URL=url)
    with app.app_context():
        user, tenant = db.session.get(User, ids["bd_id"]), db.session.get(Tenant, ids["tenant_id"])
        payload = None
        for lat, lng in points:  # a full page with some owned leads, like a real street
            page = queries.nearby(user, tenant, queries.NearbyQuery(lat=lat, lng=lng, radius_m=NEAR_M, limit=LIMIT))
            if len(page["items"]) == LIMIT and any(item["sea"]["owner"] for item in page["items"]):
                payload = page
                break
        db.session.remove()
        if payload is None:
            raise RuntimeError("no query point gave a full page with owned leads")
        schema = NearbyPageSchema()
        orjson_us = _per_call_us(lambda: dumps_bytes(payload))
        dump_us = _per_call_us(lambda: schema.dump(payload))
        dumped = schema.dump(payload)
        json_us = _per_call_us(lambda: json.dumps(dumped).encode())
        marshmallow_us = _per_call_us(lambda: json.dumps(schema.dump(payload)).encode())
    db.engine().dispose()
    return {
        "items": len(payload["items"]),
        "bytes": len(dumps_bytes(payload)),
        "orjson_us": round(orjson_us, 1),
        "marshmallow_json_us": round(marshmallow_us, 1),
        "of_which_schema_dump_us": round(dump_us, 1),
        "of_which_json_dumps_us": round(json_us, 1),
        "ratio": round(marshmallow_us / orjson_us, 1),
    }


# --- scaling ---------------------------------------------------------------------------------------


def db_work(dsn: str, query: CompiledQuery, samples: int = 400) -> dict[str, float]:
    """One query's own cost, without concurrency: median client latency, server execution time and
    buffers touched (from EXPLAIN ANALYZE), over the first query points. Grows with the data only if
    the index scan stops being bounded by the page size."""
    latencies, executions, buffers = [], [], []
    meter = CpuMeter(database=database_of(dsn))  # one client: the busy backend of this database is ours
    with psycopg.connect(dsn, autocommit=True, options="-c jit=off") as conn:
        for params in query.params[:20]:  # warm up and let psycopg prepare, as under load
            conn.execute(query.sql, params).fetchall()
        meter.start()
        for params in query.params[:samples]:
            started = time.perf_counter()
            conn.execute(query.sql, params).fetchall()
            latencies.append(time.perf_counter() - started)
        db_cpu = meter.stop()["db"] * meter.elapsed / len(latencies)
        for params in query.params[: samples // 4]:
            plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query.sql, params).fetchone()[0][0]
            executions.append(plan["Execution Time"] + plan["Planning Time"])
            buffers.append(plan["Plan"]["Shared Hit Blocks"] + plan["Plan"]["Shared Read Blocks"])
    return {
        "client_median_ms": round(statistics.median(latencies) * 1000, 3),
        "db_cpu_ms_per_query": round(db_cpu * 1000, 3),
        "explain_plan_plus_exec_median_ms": round(statistics.median(executions), 3),
        "buffers_median": statistics.median(buffers),
    }


def table_sizes_mb(dsn: str) -> dict[str, float]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT pg_relation_size('merchants'), pg_relation_size('ix_merchants_tenant_location'), "
            "pg_database_size(current_database())"
        ).fetchone()
    return {name: round(size / 2**20, 1) for name, size in zip(("merchants", "gist_index", "database"), row)}


def scaling(args: argparse.Namespace, sizes: list[int], points_seed: int) -> list[dict[str, Any]]:
    """Bare-SQL latency (radius 1 km) by database size, each database built or reused by datagen."""
    duration, warmup = max(5.0, args.duration / 2), max(2.0, args.warmup / 2)
    rows = []
    for size in sizes:
        url = harness.db_url(database_for(size))
        log(f"scaling: {size:,} merchants ({url.rsplit('/', 1)[1]})")
        ids = build_database(url, size, args.seed)
        dsn = datagen.plain_url(url)
        points = pick_points(dsn, ids["tenant_id"], size, points_seed)
        query = compile_nearby(url, ids, points, NEAR_M)
        result = pgload.run(
            f"bare SQL {size:,}",
            dsn,
            query.sql,
            query.params,
            connections=args.connections,
            warmup=warmup,
            duration=duration,
        )
        rows.append(
            {"merchants": size, **result.as_dict(), "sizes_mb": table_sizes_mb(dsn), "one_query": db_work(dsn, query)}
        )
    return rows


# --- report ------------------------------------------------------------------------------------------


def _figure(value: Any) -> dict[str, Any]:
    """A ratio reported without a target (same shape as a target row)."""
    return {"value": value, "target": None, "verdict": None}


def ratios(m: dict[str, Measurement], serial: dict[str, Any]) -> dict[str, Any]:
    ours, floor, bare2k, crm = m["ours"], m["floor"], m["bare_2km"], m["crm_2km"]
    ours_vs_floor = ours.rps / floor.rps
    speedup_rps, speedup_p50 = bare2k.rps / crm.rps, crm.p50_ms / bare2k.p50_ms
    return {
        "ours_vs_floor_rps": target(
            round(ours_vs_floor, 3), f">= {TARGETS['ours_vs_floor_rps']}", ours_vs_floor >= TARGETS["ours_vs_floor_rps"]
        ),
        "ours_p99_ms": target(
            round(ours.p99_ms, 2), f"< {TARGETS['ours_p99_ms']}", ours.p99_ms < TARGETS["ours_p99_ms"]
        ),
        "bare_vs_crm_2km_rps": target(
            round(speedup_rps, 2), f">= {TARGETS['bare_vs_crm_speedup']}", speedup_rps >= TARGETS["bare_vs_crm_speedup"]
        ),
        "bare_vs_crm_2km_p50": target(
            round(speedup_p50, 2), f">= {TARGETS['bare_vs_crm_speedup']}", speedup_p50 >= TARGETS["bare_vs_crm_speedup"]
        ),
        "ours_vs_bare_1km_rps": _figure(round(ours.rps / m["bare_1km"].rps, 3)),
        "floor_vs_bare_1km_rps": _figure(round(floor.rps / m["bare_1km"].rps, 3)),
        "unprepared_vs_prepared_1km_rps": _figure(round(m["bare_1km_unprepared"].rps / m["bare_1km"].rps, 3)),
        "ours_1conn_p99_ms": _figure(round(m["ours_1conn"].p99_ms, 2)),
        "ours_vs_floor_1conn_p50": _figure(round(m["ours_1conn"].p50_ms / m["floor_1conn"].p50_ms, 2)),
        "serialisation_marshmallow_vs_orjson": _figure(serial["ratio"]),
    }


def render(report: dict[str, Any]) -> str:
    env, m = report["environment"], report["scenarios"]
    lines = [
        "",
        f"Nearby benchmark: {report['merchants']:,} merchants, {report['connections']} connections, "
        f"{report['duration_s']:.0f} s per scenario, {env['cpus']} CPUs, {env['gunicorn_workers']} gunicorn workers",
        "",
        f"{'scenario':<34}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}   {harness.CPU_COLUMN}",
    ]
    for item in m.values():
        cpu = harness.cpu_cells(item["cpu_cores"])
        busy = ", ".join(f"{comm} {cores}" for comm, cores in item["extra"].get("busiest_other", []))
        lines.append(
            f"{item['label']:<34}{item['rps']:>9.0f}{item['p50_ms']:>9.2f}{item['p90_ms']:>9.2f}"
            f"{item['p99_ms']:>9.2f}   {cpu}" + (f"  (busy meanwhile: {busy})" if busy else "")
        )
    lines += ["", "Ratios (same run)"]
    names = {
        "ours_vs_floor_rps": "(3)/(2) throughput",
        "ours_p99_ms": "(3) p99 ms",
        "bare_vs_crm_2km_rps": "(1)/(4) at 2 km, throughput",
        "bare_vs_crm_2km_p50": "(4)/(1) at 2 km, p50 latency",
        "ours_vs_bare_1km_rps": "(3)/(1) throughput at 1 km",
        "floor_vs_bare_1km_rps": "(2)/(1) throughput at 1 km",
        "unprepared_vs_prepared_1km_rps": "(1) unprepared/prepared throughput",
        "ours_1conn_p99_ms": "(3) p99 ms with 1 connection",
        "ours_vs_floor_1conn_p50": "(3)/(2) p50 with 1 connection",
        "serialisation_marshmallow_vs_orjson": "marshmallow+json / orjson time",
    }
    for key, label in names.items():
        r = report["ratios"][key]
        goal = f"target {r['target']:<7} {r['verdict']}" if r["target"] else ""
        lines.append(f"  {label:<34}{r['value']:>9}   {goal}")
    crm = report["crm"]
    lines += [
        "",
        f"CRM index sets, single-client median ms: {crm['index_probe_ms']} -> kept '{crm['kept']}'; "
        f"top-20 agreement with ours {crm['agreement']:.1%}",
    ]
    s = report["serialisation"]
    lines += [
        "",
        f"Serialisation of one {s['items']}-item page ({s['bytes']} bytes): orjson {s['orjson_us']} µs, "
        f"marshmallow dump + json.dumps {s['marshmallow_json_us']} µs "
        f"(dump {s['of_which_schema_dump_us']} + json {s['of_which_json_dumps_us']}), ratio {s['ratio']}x",
    ]
    lines += ["", nearby_profile.render(report["profile"], report["profile"]["bare_sql_1_client"])]
    if report["scaling"]:
        lines += [
            "",
            f"Scaling: bare SQL, radius 1 km, {report['connections']} connections; "
            "then 1 client: median ms, EXPLAIN plan+exec ms, postgres CPU ms, buffers per query",
            f"{'merchants':>12}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p99/first':>11}"
            f"{'1-client':>10}{'explain':>9}{'db cpu':>8}{'buffers':>9}{'DB MB':>8}{'other CPU':>11}",
        ]
        first = report["scaling"][0]["p99_ms"]
        for row in report["scaling"]:
            one = row["one_query"]
            lines.append(
                f"{row['merchants']:>12,}{row['rps']:>9.0f}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}"
                f"{row['p99_ms'] / first:>11.2f}{one['client_median_ms']:>10.2f}"
                f"{one['explain_plan_plus_exec_median_ms']:>9.2f}{one['db_cpu_ms_per_query']:>8.2f}"
                f"{one['buffers_median']:>9.0f}"
                f"{row['sizes_mb']['database']:>8.0f}{row['cpu_cores'].get('other', 0):>11.2f}"
            )
    return "\n".join(lines)


def environment(dsn: str, workers: int) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:
        pg = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("server_version", "shared_buffers", "work_mem", "effective_cache_size")
        }
        pg["postgis"] = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
    return {
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgres": pg,
        "gunicorn_workers": workers,
        "git_head": harness.git_head(),
        "wrk": shutil.which("wrk"),
    }


# --- main -------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    url = harness.db_url(args.database or database_for(args.merchants))
    dsn = datagen.plain_url(url)
    log(f"database {url.rsplit('/', 1)[1]}: {args.merchants:,} merchants (built if missing)")
    ids = build_database(url, args.merchants, args.seed)
    ensure_flat_table(dsn)

    points = pick_points(dsn, ids["tenant_id"], args.merchants, args.seed + 1)
    points_file = harness.write_lines(work / "points.txt", [f"{lat:.7f} {lng:.7f}" for lat, lng in points])
    near, far = compile_nearby(url, ids, points, NEAR_M), compile_nearby(url, ids, points, FAR_M)
    check_floor_params(near, points)
    crm = crm_params(points, ids["tenant_id"], FAR_M)
    probe = probe_crm_indexes(dsn, crm)
    kept = min(probe, key=probe.get)
    keep_only(dsn, kept)
    agreement = check_crm_agrees(dsn, far, crm)

    load = {"connections": args.connections, "duration": args.duration, "warmup": args.warmup}
    scenarios: dict[str, Measurement] = {}
    log("(1) bare SQL, radius 1 km")
    scenarios["bare_1km"] = pgload.run("(1) bare SQL, 1 km", dsn, near.sql, near.params, **load)
    log("(1) bare SQL, radius 1 km, never prepared (as the app's connections run it)")
    scenarios["bare_1km_unprepared"] = pgload.run(
        "(1) bare SQL, 1 km, unprepared", dsn, near.sql, near.params, prepare=False, **load
    )
    log("(1) bare SQL, radius 2 km")
    scenarios["bare_2km"] = pgload.run("(1) bare SQL, 2 km", dsn, far.sql, far.params, **load)
    log(f"(4) typical CRM, radius 2 km, indexes: {kept}")
    scenarios["crm_2km"] = pgload.run("(4) typical CRM, 2 km", dsn, CRM_SQL, crm, **load)
    scenarios.update(http_scenarios(args, url, ids, near, points, points_file, work))
    ordered = {
        k: scenarios[k]
        for k in (
            "bare_1km",
            "bare_1km_unprepared",
            "floor",
            "ours",
            "floor_1conn",
            "ours_1conn",
            "bare_2km",
            "crm_2km",
        )
    }

    log("serialisation, in process")
    serial = serialisation_cost(url, ids, points)
    log("request profile, in process")
    profile = nearby_profile.profile(url, ids, points, radius_m=NEAR_M, limit=LIMIT)
    profile["bare_sql_1_client"] = db_work(dsn, near)
    sizes = [int(s) for s in args.scaling.split(",") if s.strip()] if args.scaling else []
    scale = scaling(args, sizes, args.seed + 1)
    return {
        "started_at": args.started.isoformat(timespec="seconds"),
        "merchants": args.merchants,
        "connections": args.connections,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "rounds": args.rounds,
        "seed": args.seed,
        "database": url.rsplit("/", 1)[1],
        "environment": environment(dsn, scenarios["ours"].extra["workers"]),
        "scenarios": {k: v.as_dict() for k, v in ordered.items()},
        "ratios": ratios(scenarios, serial),
        "crm": {"index_probe_ms": probe, "kept": kept, "agreement": agreement, "sql": CRM_SQL},
        "serialisation": serial,
        "profile": profile,
        "scaling": scale,
        "nearby_sql": near.sql,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=1_000_000)
    parser.add_argument("--database", help="default: fieldsales_bench_<merchants>")
    parser.add_argument("--duration", type=float, default=20, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds before each scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="the HTTP scenarios alternate floor/ours in this many slices of duration/rounds",
    )
    parser.add_argument("--workers", type=int, help="gunicorn workers for both servers (default: gunicorn.conf.py)")
    parser.add_argument(
        "--scaling",
        default="100000,1000000",
        help="comma-separated sizes for the scaling table; '' to skip (5000000: ~5 min to build, ~2.5 GB)",
    )
    parser.add_argument("--seed", type=int, default=nearby_data.SEED)
    return harness.parse_args(parser, argv)


def main(argv: list[str] | None = None) -> int:
    harness.run_main("nearby", parse_args(argv), run, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
