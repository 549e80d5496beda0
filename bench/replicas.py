"""Reads on the primary only vs primary + a streaming replica: where the database work of nearby and detail goes.

    python -m bench.replicas --no-wait                 100k merchants, 16 connections, 2 rounds of 2 x 10 s
    python -m bench.replicas --merchants 1000000 --seconds 60

The replica is ``scripts/replica``'s (started here if it is not running: the same machine, port 5433). Both
clusters share this machine's two cores, so adding the replica cannot make the service faster here, and the
report does not claim a speed-up: it shows what moved. Two gunicorns run the same code on the same data, one
with ``DATABASE_REPLICA_URLS`` unset and one with the replica; wrk (bench/reads.lua: nearby 70 %, detail
30 %, signed-in BDs in their streets) drives them in alternating slices. Per scenario: requests/s, server
time, database CPU per request on each server (only the backends serving the bench database; replication's
own processes apart), and transactions and buffer accesses per request on each server from
``pg_stat_database`` (statistics reach it within a second of a transaction, so each slice is read after wrk
drained and a pause).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench import datagen, harness, httpload
from bench.dbcpu import ServerCpu
from bench.harness import log

SCRIPT = harness.BENCH_DIR / "reads.lua"
SCENARIOS = ("primary only", "primary + replica")
STREET_RADIUS_M = 150
_STATS = (
    "SELECT xact_commit + xact_rollback, blks_hit + blks_read, tup_returned + tup_fetched "
    "FROM pg_stat_database WHERE datname = current_database()"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per scenario, over all rounds")
    parser.add_argument("--rounds", type=int, default=2, help="alternating slices per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers per server")
    parser.add_argument("--replica-port", type=int, default=int(os.environ.get("REPLICA_PORT", "5433")))
    return harness.parse_args(parser, argv, no_wait=True)


def ensure_replica(url: str, port: int) -> None:
    env = {**os.environ, "DATABASE_URL": url, "REPLICA_PORT": str(port)}
    subprocess.run(["bash", str(harness.ROOT / "scripts" / "replica"), "start"], env=env, check=True)


def wait_for_replay(primary_dsn: str, replica_dsn: str, timeout_s: float = 120) -> None:
    """Until the replica has replayed everything the primary has now (the data build, the logins)."""
    with psycopg.connect(primary_dsn, autocommit=True) as primary:
        target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(replica_dsn, autocommit=True) as replica:
        while not replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]:
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not catch up with the primary")
            time.sleep(0.2)


def db_stats(dsn: str) -> tuple[int, int, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute(_STATS).fetchone()


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    database = f"fieldsales_bench_load_{args.merchants}"
    url, dsn, gate = harness.open_run(database, args)
    replica_url = make_url(url).set(port=args.replica_port).render_as_string(hide_password=False)
    replica_dsn = datagen.plain_url(replica_url)
    ids = datagen.build_current(url, args.merchants)
    ensure_replica(url, args.replica_port)
    extra = {"WEB_CONCURRENCY": str(args.workers)} if args.workers else {}
    envs = {
        SCENARIOS[0]: harness.server_env(url, **extra),
        SCENARIOS[1]: harness.server_env(url, DATABASE_REPLICA_URLS=replica_url, **extra),
    }
    totals: dict[str, dict[str, Any]] = {name: defaultdict(float) for name in SCENARIOS}
    latencies: dict[str, list[tuple[int, float, str]]] = {name: [] for name in SCENARIOS}
    cpu_seconds: dict[str, dict[str, float]] = {name: defaultdict(float) for name in SCENARIOS}
    with (
        httpload.gunicorn("primary-only", "wsgi:app", envs[SCENARIOS[0]], work) as plain,
        httpload.gunicorn("with-replica", "wsgi:app", envs[SCENARIOS[1]], work) as routed,
    ):
        servers = {SCENARIOS[0]: plain, SCENARIOS[1]: routed}
        tokens = harness.login_many(plain.base_url, harness.bd_names(args.connections * 2))
        areas = harness.streets(datagen.plain_url(url), ids["tenant_id"], len(tokens), STREET_RADIUS_M)
        bds_file = harness.write_bds_file(work / "bds.txt", tokens[: len(areas)], areas)
        wait_for_replay(dsn, replica_dsn)
        env = {"LOAD_BDS": str(bds_file)}
        pgids = {os.getpgid(s.process.pid) for s in servers.values()}
        slice_s = args.seconds / args.rounds
        for server in servers.values():  # warm-up: caches, prepared statements, pools
            harness.run_wrk(SCRIPT, server.base_url, env, work, connections=args.connections, seconds=3)
        for round_no in range(args.rounds):
            for name, server in servers.items():
                log(f"round {round_no + 1}/{args.rounds}: {name}, {slice_s:.0f} s")
                access = harness.AccessLog(server.log_path)
                mark = access.mark()
                time.sleep(1.5)  # let the previous slice's statistics reach pg_stat_database
                before = {"primary": db_stats(dsn), "replica": db_stats(replica_dsn)}
                meter = ServerCpu(database, pgids)
                with gate(f"{name} round {round_no + 1}"):
                    result = harness.run_wrk(
                        SCRIPT, server.base_url, env, work, connections=args.connections, seconds=slice_s, meter=meter
                    )
                time.sleep(1.5)
                after = {"primary": db_stats(dsn), "replica": db_stats(replica_dsn)}
                entries = access.between(mark)
                bad = [e for e in entries if e[0] != 200]
                if bad or any((result.summary.get("socket_errors") or {}).values()):
                    raise RuntimeError(f"{name}: {len(bad)} non-200 answers, e.g. {bad[:3]}; wrk: {result.summary}")
                latencies[name] += entries
                totals[name]["requests"] += len(entries)
                totals[name]["seconds"] += result.window_s
                for server_name in ("primary", "replica"):
                    for key, b, a in zip(("xacts", "buffers", "tuples"), before[server_name], after[server_name]):
                        totals[name][f"{server_name}_{key}"] += a - b
                for role, cores in (result.cpu_cores or {}).items():
                    if isinstance(cores, float):
                        cpu_seconds[name][role] += cores * result.window_s
    scenarios = {}
    for name in SCENARIOS:
        t, cpu = totals[name], cpu_seconds[name]
        requests = max(1, int(t["requests"]))
        scenarios[name] = {
            **harness.latency_summary(latencies[name], t["seconds"]),
            "db_cpu_ms_per_request": {
                "primary": round(1000 * cpu["db_primary"] / requests, 3),
                "replica": round(1000 * cpu["db_replica"] / requests, 3),
            },
            "replication_cpu_cores": round(cpu["replication"] / t["seconds"], 3),
            "cpu_cores": {role: round(seconds / t["seconds"], 3) for role, seconds in cpu.items()},
            "per_request": {
                f"{server}_{key}": round(t[f"{server}_{key}"] / requests, 2)
                for server in ("primary", "replica")
                for key in ("xacts", "buffers", "tuples")
            },
        }
    plain_cpu = scenarios[SCENARIOS[0]]["db_cpu_ms_per_request"]["primary"]
    routed = scenarios[SCENARIOS[1]]
    moved = 1 - routed["db_cpu_ms_per_request"]["primary"] / plain_cpu if plain_cpu else None
    return {
        "merchants": args.merchants,
        "connections": args.connections,
        "rounds": args.rounds,
        "scenarios": scenarios,
        "primary_db_cpu_moved_off": round(moved, 3) if moved is not None else None,
        "gate": gate.as_dict(),
        "environment": harness.environment(dsn),
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Reads (nearby 70 %, detail 30 %): {report['merchants']:,} merchants, {report['connections']} connections, "
        f"{report['rounds']} alternating rounds; both clusters on this machine's cores",
        f"  {'scenario':<18} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}   db CPU ms/request     "
        "per request: xacts, buffers on primary | replica",
    ]
    for name, row in report["scenarios"].items():
        cpu, per = row["db_cpu_ms_per_request"], row["per_request"]
        lines.append(
            f"  {name:<18} {row['rps']:>7} {row['server_p50_ms']:>7} {row['server_p99_ms']:>7}   "
            f"primary {cpu['primary']:>6.3f} replica {cpu['replica']:>6.3f}   "
            f"{per['primary_xacts']:>5} {per['primary_buffers']:>7} | "
            f"{per['replica_xacts']:>5} {per['replica_buffers']:>7}"
        )
    moved = report["primary_db_cpu_moved_off"]
    if moved is not None:
        lines.append(f"  primary database CPU per request moved off by the replica: {100 * moved:.0f} %")
    replication = report["scenarios"][SCENARIOS[1]]["replication_cpu_cores"]
    lines.append(f"  replication (walsender + replay of every write of the shared primary): {replication} cores")
    return harness.with_overlap_note(lines, report["gate"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not harness.wrk_available():
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    harness.run_main("replicas", args, run, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
