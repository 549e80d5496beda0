"""Sea sweep benchmark: releasing 100,000 due leads among 1,000,000 merchants while BDs keep claiming.

    .venv/bin/python -m bench.sea_sweep [--quick] [--seconds 15] [--connections 8] [--claimers 400]
                                        [--contention-share 0.1] [--skip-alone] [--drop]

Data: bench/datagen.py's city of 1,000,000 merchants (database fieldsales_bench_sweep, ~90 s to build,
reused), then, set-based: exactly 200,000 private leads of which 100,000 are due (drops_at 1 minute to
3 days ago) and 100,000 are not (1 hour to 2 weeks ahead), owned by BDs who do not claim; partners stay;
every other merchant is in the public pool. The same reset runs before every sweep. --quick: 200,000
merchants, 40,000 private, 20,000 due (fieldsales_bench_sweep_quick).

Steps:
  1. sweep alone (reference): ``app.leads.jobs.sweep_due_leads()`` in process, nothing else running; and
     EXPLAIN ANALYZE of one batch (rolled back) to show where a batch's time goes. Then reset again.
  2. claims baseline: wrk (bench/claims.lua) claims random public merchants, each once, as --claimers
     BDs in rotation, for --seconds, no sweep.
  3. claims during the sweep (the targets): the same load on fresh targets; after 2 s the sweep starts
     in a thread of this process; when it returns, wrk is stopped cleanly (nothing in flight).
  4. contention (--contention-share, default 10%): reset, then step 3 again with that share of the
     claims aimed at due leads, which the sweep holds locked batch by batch (LEAD_TAKEN before their
     batch, claimable after). No target: it shows what BDs "fishing" for dropping leads cost.
Claims during a sweep are the requests gunicorn logged between the sweep's start and end (status and
server-side time from the access log); baseline figures come from the same log, so they compare alike.

Checked afterwards: each sweep released exactly 100,000 with 100,000 'drop' events (distinct leads) and
left no private lead due; in each phase as many 'claim' events as 200 responses, each on a distinct
lead now owned by its claimer. Report printed and saved as bench/results/sea_sweep-<time>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from bench import datagen, harness, httpload
from bench.harness import log, target
from bench.stats import CpuMeter

SCRIPT = harness.BENCH_DIR / "claims.lua"
FULL = {"database": "fieldsales_bench_sweep", "merchants": 1_000_000, "private": 200_000, "due": 100_000}
QUICK = {"database": "fieldsales_bench_sweep_quick", "merchants": 200_000, "private": 40_000, "due": 20_000}
TARGETS = {"sweep_s": 30.0, "claims_per_s": 300.0}

# --- data ----------------------------------------------------------------------------------------------

RESET_SQL = [
    "TRUNCATE lead_events",
    "DELETE FROM leads WHERE state <> 'partner'",
    # exactly :private private leads on random public merchants of the bench tenant, the first :due of
    # them due; owners are the BDs who do not claim, so the claimers start with empty private pools
    """
    WITH owners AS (
        SELECT array_agg(id ORDER BY id) AS ids FROM users WHERE role = 'bd' AND NOT username = ANY(%(claimers)s)
    ), chosen AS (
        SELECT m.id, m.tenant_id, row_number() OVER (ORDER BY md5(m.id::text)) AS n
        FROM merchants m
        WHERE m.tenant_id = %(tenant)s AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.merchant_id = m.id)
        ORDER BY md5(m.id::text)
        LIMIT %(private)s
    )
    INSERT INTO leads (merchant_id, tenant_id, state, owner_id, claimed_at, drops_at, drop_reason)
    SELECT c.id, c.tenant_id, 'private', o.ids[1 + mod(c.n, array_length(o.ids, 1))],
           d.drops_at - interval '15 days', d.drops_at, 'no_visit'
    FROM chosen c CROSS JOIN owners o
    CROSS JOIN LATERAL (
        SELECT CASE WHEN c.n <= %(due)s THEN now() - interval '1 minute' - mod(c.n, 4320) * interval '1 minute'
                    ELSE now() + interval '1 hour' + mod(c.n, 20160) * interval '1 minute' END AS drops_at
    ) d
    """,
]


def build_database(size: dict[str, Any]) -> dict[str, Any]:
    url = harness.db_url(size["database"])
    started = time.perf_counter()
    ids = datagen.build_current(url, size["merchants"])
    ids["build_or_reuse_s"] = round(time.perf_counter() - started, 1)
    return ids


def reset(dsn: str, size: dict[str, Any], tenant_id: int, claimers: int) -> dict[str, Any]:
    """Pool state for a sweep: exactly size['private'] private leads, size['due'] of them due; vacuumed."""
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        params = {"tenant": tenant_id, "claimers": harness.bd_names(claimers), **size}
        for sql in RESET_SQL:
            conn.execute(sql, params)
        conn.commit()
    # autovacuum is off here: without this the sweep would run on stale statistics and dead rows
    harness.vacuum(dsn, "leads", "lead_events", "merchants", "users", "auth_sessions")
    with psycopg.connect(dsn) as conn:
        private, due = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE drops_at <= now()) FROM leads WHERE state = 'private'"
        ).fetchone()
    if (private, due) != (size["private"], size["due"]):
        raise RuntimeError(f"reset made {private} private / {due} due leads, wanted {size['private']} / {size['due']}")
    return {"private": private, "due": due, "seconds": round(time.perf_counter() - started, 1)}


def claim_targets(dsn: str, tenant_id: int, phases: dict[str, int], due_share: float = 0.0) -> dict[str, list[int]]:
    """Disjoint target lists per phase, each used once: random public merchants and, with ``due_share``,
    that share of due leads interleaved (LEAD_TAKEN until the sweep releases them, claimable after)."""
    total = sum(phases.values())
    with psycopg.connect(dsn) as conn:
        public = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM merchants m WHERE tenant_id = %s AND NOT EXISTS "
                "(SELECT 1 FROM leads l WHERE l.merchant_id = m.id) ORDER BY md5(id::text || 'claims') LIMIT %s",
                (tenant_id, total),
            )
        ]
        due = [
            r[0]
            for r in conn.execute(
                "SELECT merchant_id FROM leads WHERE state = 'private' AND drops_at <= now() "
                "ORDER BY md5(merchant_id::text || 'claims') LIMIT %s",
                (int(total * due_share) + 1,),
            )
        ]
    every = round(1 / due_share) if due_share else 0
    mixed, p, d = [], iter(public), iter(due)
    for i in range(total):
        mixed.append(next(d) if every and i % every == every - 1 else next(p))
    lists, start = {}, 0
    for phase, count in phases.items():
        lists[phase] = mixed[start : start + count]
        start += count
    return lists


# --- the sweep -----------------------------------------------------------------------------------------


class Sweep:
    """``sweep_due_leads()`` in a thread of this process, with the time of each batch statement."""

    def __init__(self, url: str) -> None:
        from app.factory import create_app

        self.app = create_app(**harness.app_config(url))
        self.released: int | None = None
        self.error: BaseException | None = None
        self.started_at = self.seconds = 0.0
        self.wall_started: datetime | None = None
        self.batch_s: list[float] = []
        self._thread = threading.Thread(target=self._run, name="sweep", daemon=True)

    def _run(self) -> None:
        from app import db
        from app.leads.jobs import sweep_due_leads

        try:
            with self.app.app_context(), harness.sql_recorder() as statements:
                self.wall_started = datetime.now().astimezone()
                self.started_at = time.perf_counter()
                self.released = sweep_due_leads()
                self.seconds = time.perf_counter() - self.started_at
                self.batch_s = [t for sql, t in statements if "WITH due AS" in sql]
        except BaseException as exc:
            self.error = exc
        finally:
            db.session.remove()

    def close(self) -> None:
        """Close the sweep's connection. Not at the end of the sweep itself: a backend that has exited
        is gone from /proc before the CPU meter stops, and its CPU time would go uncounted."""
        from app import db

        db.engine().dispose()

    def start(self) -> Sweep:
        self._thread.start()
        return self

    def join(self) -> Sweep:
        self._thread.join()
        if self.error is not None:
            raise RuntimeError("the sweep failed") from self.error
        return self

    def summary(self) -> dict[str, Any]:
        return {
            "released": self.released,
            "seconds": round(self.seconds, 2),
            "per_s": round(self.released / self.seconds) if self.seconds else None,
            "batches": len(self.batch_s),
            "batch_median_s": round(statistics.median(self.batch_s), 3) if self.batch_s else None,
            "batch_max_s": round(max(self.batch_s), 3) if self.batch_s else None,
        }


def explain_batch(dsn: str) -> list[dict[str, Any]]:
    """EXPLAIN ANALYZE of one sweep batch, rolled back: the plan nodes with the most exclusive time."""
    from sqlalchemy.dialects import postgresql

    from app.leads.jobs import SWEEP_BATCH, SWEEP_SQL

    sql = str(SWEEP_SQL.compile(dialect=postgresql.psycopg.dialect()))
    with psycopg.connect(dsn, autocommit=True, options="-c jit=off") as conn, conn.transaction(force_rollback=True):
        plan = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, {"now": datetime.now().astimezone(), "batch": SWEEP_BATCH}
        ).fetchone()[0][0]
    nodes = harness.slowest_plan_nodes(plan["Plan"], limit=8)
    triggers = [
        {
            "node": f"trigger {t['Trigger Name']} on {t['Relation']}",
            "self_ms": round(t["Time"], 3),
            "loops": t["Calls"],
            "rows": None,
        }
        for t in plan.get("Triggers", [])
    ]
    return [
        {"node": "total execution", "self_ms": round(plan["Execution Time"], 3), "loops": 1, "rows": None},
        *nodes,
        *triggers,
    ]


# --- claims ---------------------------------------------------------------------------------------------


def event_marker(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM lead_events").fetchone()[0]


def verify_claims(dsn: str, after_id: int, up_to_id: int, responses_200: int) -> dict[str, Any]:
    """Claim events of a phase: one per 200 response, each on a distinct lead now owned by the claimer."""
    with psycopg.connect(dsn) as conn:
        events, distinct, owned = conn.execute(
            """SELECT count(*), count(DISTINCT e.merchant_id),
                      count(*) FILTER (WHERE l.state = 'private' AND l.owner_id = e.to_owner_id)
               FROM lead_events e LEFT JOIN leads l ON l.merchant_id = e.merchant_id
               WHERE e.action = 'claim' AND e.id > %s AND e.id <= %s""",
            (after_id, up_to_id),
        ).fetchone()
    return {
        "claim_events": events,
        "distinct_leads": distinct,
        "owned_by_claimer": owned,
        "responses_200": responses_200,
        "ok": events == distinct == owned == responses_200,
    }


def verify_sweep(dsn: str, after_id: int, due: int) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:
        drops, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT merchant_id) FROM lead_events WHERE action = 'drop' AND id > %s",
            (after_id,),
        ).fetchone()
        still_due = conn.execute("SELECT count(*) FROM leads WHERE state = 'private' AND drops_at <= now()").fetchone()[
            0
        ]
        reclaimed = conn.execute(
            """SELECT count(*) FROM lead_events c JOIN lead_events d
                 ON d.merchant_id = c.merchant_id AND d.action = 'drop' AND d.id > %s
               WHERE c.action = 'claim' AND c.id > d.id""",
            (after_id,),
        ).fetchone()[0]
    return {
        "drop_events": drops,
        "distinct_leads": distinct,
        "private_still_due": still_due,
        "claimed_after_dropping": reclaimed,
        "ok": drops == distinct == due and still_due == 0,
    }


def claims_phase(
    label: str,
    server: httpload.Server,
    env: dict[str, str],
    work: Path,
    dsn: str,
    *,
    connections: int,
    gate: harness.QuietGate,
    seconds: float | None = None,
    sweep: Sweep | None = None,
    lead_in_s: float = 2.0,
) -> dict[str, Any]:
    """Claims for ``seconds`` or, with ``sweep``, from ``lead_in_s`` before it starts until it ends."""
    access = harness.AccessLog(server.log_path)
    marker = event_marker(dsn)
    meter = CpuMeter(app_pgid=server.process.pid, database=server.database)
    with gate(label), harness.WrkSession(SCRIPT, server.base_url, env, work, connections=connections) as session:
        time.sleep(lead_in_s if sweep else 1.0)  # connections up, workers busy, before the window opens
        window_start = access.mark()
        meter.start()
        started = time.perf_counter()
        if sweep is None:
            time.sleep(seconds)
        else:
            sweep.start().join()
        window_s = time.perf_counter() - started
        window_end, cpu = access.mark(), meter.stop()
        result = session.stop(drain_s=3.0)
    in_window = access.between(window_start, window_end)
    summary = harness.latency_summary(in_window, window_s)
    ok_200 = result.statuses.get(200, 0)
    return {
        "label": label,
        "window_s": round(window_s, 2),
        **summary,
        "ok_per_s": round(sum(1 for status, _ms, _p in in_window if status == 200) / window_s, 1),
        "wrk_whole_run": result.as_dict(),
        "cpu_cores": cpu,
        "busiest_other": meter.top_other,
        "verification": verify_claims(dsn, marker, event_marker(dsn), ok_200),
        "event_marker_before": marker,
    }


# --- report -------------------------------------------------------------------------------------------


def targets(report: dict[str, Any]) -> dict[str, Any]:
    """Headline targets on the brief's scenario: claims on random public merchants while the sweep runs."""
    sweep, during, size = report["sweep_during_sweep"], report["claims_during_sweep"], report["size"]
    return {
        "sweep_seconds": target(
            sweep["seconds"], f"< {TARGETS['sweep_s']:.0f} s", sweep["seconds"] < TARGETS["sweep_s"]
        ),
        "released": target(sweep["released"], f"== {size['due']:,}", sweep["released"] == size["due"]),
        "drop_events": target(sweep["checks"]["drop_events"], f"== {size['due']:,}", sweep["checks"]["ok"]),
        "claims_per_s_during_sweep": target(
            during["rps"], f">= {TARGETS['claims_per_s']:.0f}", during["rps"] >= TARGETS["claims_per_s"]
        ),
        "claim_events_equal_200s": target(report["checks"]["claims_ok"], "every phase", report["checks"]["claims_ok"]),
    }


def _sweep_line(label: str, sweep: dict[str, Any], alone: dict[str, Any] | None) -> str:
    line = (
        f"{label:<34}{sweep['released']:>8,} released in {sweep['seconds']:>6.2f} s ({sweep['per_s']:,}/s); "
        f"{sweep['batches']} batches, median {sweep['batch_median_s']:.3f} s, max {sweep['batch_max_s']:.3f} s"
    )
    if alone and alone is not sweep:
        line += f"; {sweep['seconds'] / alone['seconds']:.2f}x alone"
    return line


def render(report: dict[str, Any]) -> str:
    size, env = report["size"], report["environment"]
    lines = [
        "",
        f"Sea sweep benchmark: {size['merchants']:,} merchants, {size['private']:,} private leads of which "
        f"{size['due']:,} due; {report['claimers']} BDs claiming, wrk -c{report['connections']}; "
        f"{env['cpus']} CPUs",
        "",
    ]
    alone = report.get("sweep_alone")
    sweeps = [
        ("sweep alone", alone),
        ("sweep during claims", report["sweep_during_sweep"]),
        ("sweep during claims on due leads", report.get("sweep_contention")),
    ]
    lines += [_sweep_line(label, sweep, alone) for label, sweep in sweeps if sweep]
    phases = [report[k] for k in ("claims_baseline", "claims_during_sweep", "claims_contention") if k in report]
    lines += [
        "",
        "Claims (window figures from gunicorn's access log: server-side time; wrk's client-side p50/p99 cover "
        "the whole run)",
        f"{'phase':<28}{'window s':>9}{'req/s':>8}{'200/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>9}"
        f"{'wrk p50':>9}{'wrk p99':>9}   statuses   CPU db/app/loadgen/other/idle",
    ]
    for phase in phases:
        wrk = phase["wrk_whole_run"]
        cpu = harness.cpu_cells(phase["cpu_cores"])
        lines.append(
            f"{phase['label']:<28}{phase['window_s']:>9.1f}{phase['rps']:>8.0f}{phase['ok_per_s']:>8.0f}"
            f"{phase['server_p50_ms']:>8.2f}{phase['server_p90_ms']:>8.2f}{phase['server_p99_ms']:>9.2f}"
            f"{wrk['p50_ms']:>9.2f}{wrk['p99_ms']:>9.2f}   {phase['statuses']}   {cpu}"
        )
    base = report["claims_baseline"]["rps"]
    for phase in phases[1:]:
        lines.append(f"  {phase['label']} / baseline throughput: {phase['rps'] / base:.2f}")
    lines += ["", "Verification"]
    for label, sweep in sweeps:
        if sweep:
            c = sweep["checks"]
            lines.append(
                f"  {label}: {c['drop_events']:,} drop events on {c['distinct_leads']:,} distinct leads; "
                f"private leads still due: {c['private_still_due']}; re-claimed right after dropping: "
                f"{c['claimed_after_dropping']:,} -> {'ok' if c['ok'] else 'MISMATCH'}"
            )
    for phase in phases:
        v, w = phase["verification"], phase["wrk_whole_run"]
        lines.append(
            f"  {phase['label']}: {v['responses_200']:,} responses 200 = {v['claim_events']:,} claim events "
            f"on {v['distinct_leads']:,} distinct leads, {v['owned_by_claimer']:,} owned by their claimer; "
            f"in flight at exit {w['in_flight_at_exit']} -> {'ok' if v['ok'] else 'MISMATCH'}"
        )
    if report.get("explain_batch"):
        lines += ["", "One sweep batch (5,000 leads), EXPLAIN ANALYZE, rolled back: exclusive ms per node"]
        for node in report["explain_batch"]:
            loops = f" x{node['loops']}" if node["loops"] != 1 else ""
            lines.append(f"  {node['self_ms']:>9.1f}  {node['node']}{loops}")
    lines += ["", "Targets (claims on random public merchants while the sweep runs)"]
    names = {
        "sweep_seconds": "sweep seconds (with claims)",
        "released": "leads released",
        "drop_events": "drop events in history",
        "claims_per_s_during_sweep": "claims/s during the sweep",
        "claim_events_equal_200s": "claim events = 200 responses",
    }
    lines += harness.target_rows(report["targets"], names, widths=(32, 10, 12))
    return harness.with_overlap_note(lines, report["other_benchmark"])


# --- main ---------------------------------------------------------------------------------------------


def http_part(
    args: argparse.Namespace,
    url: str,
    dsn: str,
    ids: dict[str, Any],
    size: dict[str, Any],
    work: Path,
    gate: harness.QuietGate,
) -> dict[str, Any]:
    """Claims without a sweep, during a sweep, and (--contention-share) during a second sweep with that
    share of the claims aimed at the leads being swept."""
    budget = round(args.expected_rps * (args.seconds + 90))  # never wrap a list, even with a slow sweep
    lists = claim_targets(dsn, ids["tenant_id"], {"warm": 3000, "baseline": budget, "sweep": budget})
    result: dict[str, Any] = {}
    with httpload.gunicorn("ours", "wsgi:app", harness.server_env(url), work) as server:
        log(f"logging in {args.claimers} BDs")
        tokens_file = harness.write_lines(
            work / "tokens.txt", harness.login_many(server.base_url, harness.bd_names(args.claimers))
        )

        def env(phase: str, targets: list[int]) -> dict[str, str]:
            return {
                "CLAIM_TARGETS": str(harness.write_lines(work / f"targets-{phase}.txt", targets)),
                "CLAIM_TOKENS": str(tokens_file),
            }

        load = {"connections": args.connections, "gate": gate}
        log("warm-up claims")
        harness.run_wrk(
            SCRIPT, server.base_url, env("warm", lists["warm"]), work, connections=args.connections, seconds=3
        )
        log(f"claims baseline (no sweep), {args.seconds:.0f} s")
        result["claims_baseline"] = claims_phase(
            "baseline (no sweep)", server, env("baseline", lists["baseline"]), work, dsn, seconds=args.seconds, **load
        )
        log("claims during the sweep")
        result.update(
            sweep_phase(
                "during the sweep", server, env("sweep", lists["sweep"]), work, url, dsn, size, load, key="during_sweep"
            )
        )
        if args.contention_share > 0:
            log(f"reset; claims during a second sweep, {args.contention_share:.0%} of them on due leads")
            result["reset_before_contention"] = reset(dsn, size, ids["tenant_id"], args.claimers)
            mixed = claim_targets(dsn, ids["tenant_id"], {"contention": budget}, args.contention_share)["contention"]
            result.update(
                sweep_phase(
                    f"sweep, {args.contention_share:.0%} on due leads",
                    server,
                    env("contention", mixed),
                    work,
                    url,
                    dsn,
                    size,
                    load,
                    key="contention",
                )
            )
    return result


def sweep_phase(
    label: str,
    server: httpload.Server,
    env: dict[str, str],
    work: Path,
    url: str,
    dsn: str,
    size: dict[str, Any],
    load: dict[str, Any],
    *,
    key: str,
) -> dict[str, Any]:
    """Claims while a sweep runs; the sweep's own figures and checks."""
    sweep = Sweep(url)
    marker = event_marker(dsn)
    phase = claims_phase(label, server, env, work, dsn, sweep=sweep, **load)
    sweep.close()
    return {
        f"claims_{key}": phase,
        f"sweep_{key}": {**sweep.summary(), "checks": verify_sweep(dsn, marker, size["due"])},
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    size = QUICK if args.quick else FULL
    url, dsn, gate = harness.open_run(size["database"], args)
    log(f"database {size['database']}: {size['merchants']:,} merchants (built if missing)")
    ids = build_database(size)
    report: dict[str, Any] = {
        "started_at": args.started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "size": size,
        "claimers": args.claimers,
        "connections": args.connections,
        "seconds": args.seconds,
        "build": ids,
    }
    if not args.skip_alone:
        log("reset, then the sweep alone")
        report["reset_before_alone"] = reset(dsn, size, ids["tenant_id"], args.claimers)
        with gate("explain of one batch"):
            report["explain_batch"] = explain_batch(dsn)
        harness.vacuum(dsn, "leads", "lead_events", "merchants")  # the rolled-back batch left dead rows
        marker = event_marker(dsn)
        with gate("sweep alone"):
            alone = Sweep(url).start().join()
        alone.close()
        report["sweep_alone"] = {**alone.summary(), "checks": verify_sweep(dsn, marker, size["due"])}
    log("reset for the claims")
    report["reset"] = reset(dsn, size, ids["tenant_id"], args.claimers)
    report.update(http_part(args, url, dsn, ids, size, work, gate))
    phases = [v for k, v in report.items() if k.startswith("claims_")]
    report["checks"] = {
        "claims_ok": all(p["verification"]["ok"] for p in phases),
        "sweeps_ok": all(
            v["checks"]["ok"]
            for k, v in report.items()
            if k.startswith("sweep_") and isinstance(v, dict) and "checks" in v
        ),
    }
    report["targets"] = targets(report)
    report["environment"] = harness.environment(dsn)
    report["other_benchmark"] = gate.as_dict()
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200k merchants, 40k private, 20k due")
    parser.add_argument("--seconds", type=float, help="baseline claims run (default 15, quick 8)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--claimers",
        type=int,
        default=400,
        help="BDs claiming in rotation (cap 100 private leads each: 400 BDs allow 40,000 claims)",
    )
    parser.add_argument("--expected-rps", type=float, default=600, help="sizes the target lists (no wrapping)")
    parser.add_argument("--skip-alone", action="store_true", help="skip the sweep-alone reference")
    parser.add_argument(
        "--contention-share",
        type=float,
        default=0.1,
        help="a second sweep with this share of claims on the leads being swept; 0 skips it",
    )
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = harness.parse_args(parser, argv, no_wait=True)
    args.seconds = args.seconds or (8 if args.quick else 15)
    return args


def run_and_drop(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """``run``; with --drop, the database goes afterwards whether the run succeeded or not."""
    try:
        return run(args, work)
    finally:
        if args.drop:
            harness.drop_database((QUICK if args.quick else FULL)["database"])


def main(argv: list[str] | None = None) -> int:
    harness.run_main("sea_sweep", parse_args(argv), run_and_drop, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
