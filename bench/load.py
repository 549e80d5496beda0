"""Mixed mobile workload: 50 BDs' phones against one server, with wrk + Lua (bench/load.lua).

    python -m bench.load                      1M merchants, 50 connections, 120 s (the issue's target run)
    python -m bench.load --quick              100k merchants, 50 connections, 20 s (shared machine)
    python -m bench.load --merchants 200000 --seconds 60 --connections 50

Mix: nearby 55%, detail 20%, check-in 10%, to-dos 10%, claims 5%. Data: bench/datagen.py's synthetic
Hangzhou (reused when present). Each connection is one BD standing in a street of merchants. Prints the
request rate, the error rate (5xx, socket errors and any unexpected 4xx; a 409 on a claim is a valid
answer) and per-endpoint p50/p99 from gunicorn's access log (server time), plus wrk's client-side
distribution over all requests; saves the report under bench/results/.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg

from bench import datagen, harness, httpload
from bench.harness import log
from bench.stats import percentile

SCRIPT = harness.BENCH_DIR / "load.lua"
STREET_RADIUS_M = 150  # each BD's merchants lie within this of a centre merchant
ENDPOINTS = (
    ("nearby", re.compile(r"^/api/v1/merchants/nearby$")),
    ("detail", re.compile(r"^/api/v1/merchants/\d+$")),
    ("check-in", re.compile(r"^/api/v1/visits$")),
    ("to-dos", re.compile(r"^/api/v1/todos$")),
    ("claim", re.compile(r"^/api/v1/leads/\d+/claim$")),
)
VALID = {"nearby": {200}, "detail": {200}, "check-in": {201}, "to-dos": {200}, "claim": {200, 409}}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k merchants, 20 s")
    parser.add_argument("--merchants", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py)")
    args = harness.parse_args(parser, argv)
    args.merchants = args.merchants or (100_000 if args.quick else 1_000_000)
    args.seconds = args.seconds or (20 if args.quick else 120)
    return args


def inputs(dsn: str, tenant_id: int, work: Path, tokens: list[str]) -> tuple[Path, Path]:
    """Each BD's street (harness.streets) and the public merchants the claims aim at."""
    areas = harness.streets(dsn, tenant_id, len(tokens), STREET_RADIUS_M)
    with psycopg.connect(dsn) as conn:
        public = [
            r[0]
            for r in conn.execute(
                "SELECT m.id FROM merchants m LEFT JOIN leads l ON l.merchant_id = m.id "
                "WHERE m.tenant_id = %s AND l.merchant_id IS NULL ORDER BY md5(m.id::text) LIMIT 20000",
                (tenant_id,),
            )
        ]
    # a tenant with fewer merchants than BDs gives fewer streets: those BDs stay out of the run
    return (
        harness.write_bds_file(work / "bds.txt", tokens[: len(areas)], areas),
        harness.write_lines(work / "merchants.txt", public),
    )


def reset(dsn: str, nonce_prefix: str) -> None:
    """Undo earlier runs' writes (their check-ins and claims) so every run starts from the same data."""
    with psycopg.connect(dsn) as conn:
        conn.execute("DELETE FROM visits WHERE idempotency_key LIKE %s", (nonce_prefix + "%",))
        # datagen's leads have no history: a lead with a claim event was claimed by an earlier run
        conn.execute(
            "DELETE FROM leads WHERE merchant_id IN (SELECT merchant_id FROM lead_events WHERE action = 'claim')"
        )
        conn.execute("DELETE FROM lead_events WHERE action = 'claim'")
        conn.commit()
    harness.vacuum(dsn, "visits", "leads", "lead_events")


def per_endpoint(entries: list[tuple[int, float, str]], seconds: float) -> dict[str, Any]:
    grouped: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for status, ms, path in entries:
        name = next((n for n, pattern in ENDPOINTS if pattern.match(path)), "other")
        grouped[name].append((status, ms))
    result = {}
    for name, _ in (*ENDPOINTS, ("other", None)):
        rows = grouped.get(name)
        if not rows:
            continue
        latencies = sorted(ms for _, ms in rows)
        statuses: dict[int, int] = defaultdict(int)
        for status, _ in rows:
            statuses[status] += 1
        errors = sum(n for status, n in statuses.items() if status not in VALID.get(name, set()))
        result[name] = {
            "requests": len(rows),
            "share": None,
            "rps": round(len(rows) / seconds, 1),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "statuses": dict(sorted(statuses.items())),
            "errors": errors,
        }
    total = sum(r["requests"] for r in result.values())
    for row in result.values():
        row["share"] = round(100 * row["requests"] / total, 1) if total else 0
    return result


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    database = f"fieldsales_bench_load_{args.merchants}"
    url = harness.db_url(database)
    dsn = datagen.plain_url(url)
    force = datagen.schema_behind(url)
    log(
        f"data: {args.merchants:,} merchants in {database}"
        + (" (building)" if force or not harness.database_exists(database) else "")
    )
    ids = datagen.build(url, args.merchants, force=force)
    nonce = f"load-{int(time.time())}"
    reset(dsn, "load-")
    extra = {"WEB_CONCURRENCY": str(args.workers)} if args.workers else {}
    with httpload.gunicorn("load", "wsgi:app", harness.server_env(url, **extra), work) as server:
        tokens = harness.login_many(server.base_url, harness.bd_names(args.connections * 2))
        bds_file, merchants_file = inputs(dsn, ids["tenant_id"], work, tokens)
        access = harness.AccessLog(server.log_path)
        mark = access.mark()
        env = {"LOAD_BDS": str(bds_file), "LOAD_MERCHANTS": str(merchants_file), "LOAD_NONCE": nonce}
        log(f"wrk: {args.connections} connections for {args.seconds:.0f} s")
        result = harness.run_wrk(SCRIPT, server.base_url, env, work, connections=args.connections, seconds=args.seconds)
        entries = access.between(mark)
    endpoints = per_endpoint(entries, result.window_s)
    errors = sum(row["errors"] for row in endpoints.values())
    socket_errors = sum(
        int(result.summary.get(k, 0) or 0) for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return {
        "merchants": args.merchants,
        "connections": args.connections,
        "seconds": round(result.window_s, 1),
        "requests": result.received,
        "rps": round(result.received / result.window_s, 1),
        "errors": errors + socket_errors,
        "error_rate": round((errors + socket_errors) / max(1, result.received), 6),
        "in_flight_at_exit": result.sent - result.received,
        "client_latency_ms": {k: result.summary.get(k) for k in ("p50_ms", "p75_ms", "p90_ms", "p99_ms")},
        "endpoints": endpoints,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "environment": harness.environment(dsn),
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Mixed mobile load: {report['merchants']:,} merchants, {report['connections']} connections, "
        f"{report['seconds']} s",
        f"  {report['requests']:,} requests, {report['rps']} req/s, errors {report['errors']} "
        f"({100 * report['error_rate']:.3f}%), client p50 {report['client_latency_ms']['p50_ms']} ms "
        f"p99 {report['client_latency_ms']['p99_ms']} ms",
        f"  {'endpoint':<10} {'share':>6} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  statuses",
    ]
    for name, row in report["endpoints"].items():
        lines.append(
            f"  {name:<10} {row['share']:>5}% {row['rps']:>7} {row['p50_ms']:>8} {row['p99_ms']:>8}  {row['statuses']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not harness.wrk_available():
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    report = harness.run_main("load", args, run, render)
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
