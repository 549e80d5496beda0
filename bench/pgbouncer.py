"""PgBouncer in front of the API workers: session mode vs transaction mode, against direct connections.

    python -m bench.pgbouncer --no-wait                100k merchants, 16 connections, 10 s per scenario
    python -m bench.pgbouncer --seconds 30 --rounds 2

Needs Debian's PgBouncer (`apt-get install pgbouncer`, 1.18: no prepared statements in transaction mode) and
wrk. The same reads as bench.replicas (bench/reads.lua: nearby 70 %, detail 30 %) against one gunicorn per
scenario, each started for its slice and stopped after it (so the server connections counted are that
scenario's alone):

| scenario | app connects to | pool mode | psycopg prepared statements |
|---|---|---|---|
| direct | PostgreSQL | - | after 5 runs (the default) |
| direct, unprepared | PostgreSQL | - | never (``DB_PREPARE_THRESHOLD=none``): transaction mode's price alone |
| session | PgBouncer | session, a server connection per client | after 5 runs |
| transaction | PgBouncer | transaction, ``--tx-pool`` server connections for everyone | never |

PgBouncer runs as the postgres OS user when this runs as root (it refuses root), with ``auth_type = trust`` on
127.0.0.1 and the app's startup ``options`` ignored: the bench database gets ``jit = off`` and ``timezone =
UTC`` with ``ALTER DATABASE`` instead, which is what a deployment behind PgBouncer does (docs/scaling.md).
Reported per scenario: requests/s, server time, database CPU per request, PgBouncer's CPU per request, and the
most server connections the bench database had (``pg_stat_activity``, sampled during the slice).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench import datagen, harness, httpload
from bench.dbcpu import ServerCpu
from bench.harness import log

SCRIPT = harness.BENCH_DIR / "reads.lua"
STREET_RADIUS_M = 150
SCENARIOS = {
    "direct": {"pool_mode": None, "prepare": "5"},
    "direct, unprepared": {"pool_mode": None, "prepare": "none"},
    "pgbouncer session": {"pool_mode": "session", "prepare": "5"},
    "pgbouncer transaction": {"pool_mode": "transaction", "prepare": "none"},
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per scenario and round")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py)")
    parser.add_argument("--tx-pool", type=int, default=3, help="server connections in transaction mode")
    return harness.parse_args(parser, argv, no_wait=True)


@contextlib.contextmanager
def pgbouncer(mode: str, work: Path, pool_size: int) -> Iterator[int]:
    """A PgBouncer on a free port in ``mode``, in front of the local primary; yields its port."""
    port = httpload.free_port()
    run_dir = work / f"pgbouncer-{mode}-{port}"
    run_dir.mkdir()
    user = pwd.getpwuid(os.geteuid()).pw_name  # the database role, as libpq picks it for our URLs
    (run_dir / "userlist.txt").write_text(f'"{user}" ""\n')
    (run_dir / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                "* = host=127.0.0.1 port=5432",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {run_dir / 'userlist.txt'}",
                f"pool_mode = {mode}",
                f"default_pool_size = {pool_size}",
                "max_client_conn = 1000",
                # the app sends `options=-c jit=off -c timezone=UTC`, which PgBouncer 1.18 cannot pass on
                "ignore_startup_parameters = extra_float_digits,options",
                f"logfile = {run_dir / 'pgbouncer.log'}",
                f"pidfile = {run_dir / 'pgbouncer.pid'}",
                "",
            ]
        )
    )
    command = [shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", str(run_dir / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        os.chmod(work, 0o755)
        shutil.chown(run_dir, "postgres", "postgres")
        for path in run_dir.iterdir():
            shutil.chown(path, "postgres", "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with psycopg.connect(f"postgresql://127.0.0.1:{port}/postgres", connect_timeout=2):
                    break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PgBouncer did not start: {process.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


class ConnectionPeak:
    """The most backends serving ``database`` while it runs (sampled every 0.2 s; our own excluded)."""

    def __init__(self, dsn: str, database: str) -> None:
        self.dsn, self.database, self.peak = dsn, database, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._done.is_set():
                count = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'",
                    (self.database,),
                ).fetchone()[0]
                self.peak = max(self.peak, count)
                self._done.wait(0.2)

    def __enter__(self) -> ConnectionPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    database = f"fieldsales_bench_load_{args.merchants}"
    url, dsn, gate = harness.open_run(database, args)
    ids = datagen.build_current(url, args.merchants)
    with psycopg.connect(harness.plain_dsn("postgres"), autocommit=True) as admin:
        # what the app's startup options do, for connections through PgBouncer (which drops them)
        admin.execute(f'ALTER DATABASE "{database}" SET jit = off')
        admin.execute(f"ALTER DATABASE \"{database}\" SET timezone = 'UTC'")
    extra = {"WEB_CONCURRENCY": str(args.workers)} if args.workers else {}
    totals: dict[str, dict[str, float]] = {name: {} for name in SCENARIOS}
    entries_of: dict[str, list[tuple[int, float, str]]] = {name: [] for name in SCENARIOS}
    bds_file: Path | None = None
    for round_no in range(args.rounds):
        for name, scenario in SCENARIOS.items():
            with contextlib.ExitStack() as stack:
                app_url = url
                if scenario["pool_mode"]:
                    pool = args.tx_pool if scenario["pool_mode"] == "transaction" else 4 * args.connections
                    port = stack.enter_context(pgbouncer(scenario["pool_mode"], work, pool))
                    app_url = make_url(url).set(port=port).render_as_string(hide_password=False)
                env = harness.server_env(app_url, DB_PREPARE_THRESHOLD=scenario["prepare"], **extra)
                server = stack.enter_context(
                    httpload.gunicorn(f"{name.replace(' ', '-').replace(',', '')}-{round_no}", "wsgi:app", env, work)
                )
                if bds_file is None:
                    tokens = harness.login_many(server.base_url, harness.bd_names(args.connections * 2))
                    areas = harness.streets(dsn, ids["tenant_id"], len(tokens), STREET_RADIUS_M)
                    bds_file = harness.write_bds_file(work / "bds.txt", tokens[: len(areas)], areas)
                wrk_env = {"LOAD_BDS": str(bds_file)}
                # warm-up: every worker's first requests build its caches (seconds each on a busy machine)
                harness.run_wrk(SCRIPT, server.base_url, wrk_env, work, connections=args.connections, seconds=8)
                log(f"round {round_no + 1}/{args.rounds}: {name}, {args.seconds:.0f} s")
                access = harness.AccessLog(server.log_path)
                mark = access.mark()
                meter = ServerCpu(database, {os.getpgid(server.process.pid)})
                with gate(f"{name} round {round_no + 1}"), ConnectionPeak(dsn, database) as peak:
                    result = harness.run_wrk(
                        SCRIPT,
                        server.base_url,
                        wrk_env,
                        work,
                        connections=args.connections,
                        seconds=args.seconds,
                        meter=meter,
                    )
                entries = access.between(mark)
                bad = [e for e in entries if e[0] != 200]
                if bad or any((result.summary.get("socket_errors") or {}).values()):
                    raise RuntimeError(f"{name}: {len(bad)} non-200 answers, e.g. {bad[:3]}; wrk: {result.summary}")
                entries_of[name] += entries
                t = totals[name]
                t["seconds"] = t.get("seconds", 0) + result.window_s
                t["peak_connections"] = max(t.get("peak_connections", 0), peak.peak)
                for role, cores in (result.cpu_cores or {}).items():
                    if isinstance(cores, float):
                        t[role] = t.get(role, 0) + cores * result.window_s
    scenarios = {}
    for name in SCENARIOS:
        t = totals[name]
        requests = max(1, len(entries_of[name]))
        scenarios[name] = {
            **harness.latency_summary(entries_of[name], t["seconds"]),
            "db_cpu_ms_per_request": round(1000 * t.get("db_primary", 0) / requests, 3),
            "pgbouncer_cpu_ms_per_request": round(1000 * t.get("pgbouncer", 0) / requests, 3),
            "app_cpu_ms_per_request": round(1000 * t.get("app", 0) / requests, 3),
            "server_connections_peak": int(t["peak_connections"]),
            "other_cpu_cores": round(t.get("other", 0) / t["seconds"], 2),
        }
    return {
        "merchants": args.merchants,
        "connections": args.connections,
        "rounds": args.rounds,
        "tx_pool": args.tx_pool,
        "pgbouncer_version": subprocess.run(
            [shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", "--version"], capture_output=True, text=True
        ).stdout.splitlines()[0],
        "scenarios": scenarios,
        "gate": gate.as_dict(),
        "environment": harness.environment(dsn),
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Reads (nearby 70 %, detail 30 %) through {report['pgbouncer_version']}: {report['merchants']:,} merchants, "
        f"{report['connections']} connections, {report['rounds']} round(s)",
        f"  {'scenario':<22} {'req/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'db ms/req':>9} {'pgb ms/req':>10} "
        f"{'app ms/req':>10} {'server conns':>12} {'other cores':>11}",
    ]
    for name, row in report["scenarios"].items():
        lines.append(
            f"  {name:<22} {row['rps']:>6} {row['server_p50_ms']:>7} {row['server_p99_ms']:>7} "
            f"{row['db_cpu_ms_per_request']:>9} {row['pgbouncer_cpu_ms_per_request']:>10} "
            f"{row['app_cpu_ms_per_request']:>10} {row['server_connections_peak']:>12} {row['other_cpu_cores']:>11}"
        )
    return harness.with_overlap_note(lines, report["gate"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not harness.wrk_available() or not shutil.which("pgbouncer") and not Path("/usr/sbin/pgbouncer").exists():
        print("needs wrk and pgbouncer (apt-get install wrk pgbouncer)", file=sys.stderr)
        return 2
    harness.run_main("pgbouncer", args, run, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
