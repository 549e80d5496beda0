"""Check-in benchmark: POST /api/v1/visits throughput with verification and idempotency, and a replay storm.

    .venv/bin/python -m bench.checkin [--quick] [--seconds 15] [--connections 8]

Data (fieldsales_bench_checkin, built once): 2,000 merchants around Hangzhou (bench/datagen.py), 2,000 BDs
of which 200 check in, and 100,000 older visits so the visit indexes have a realistic depth. Each run
first deletes the visits of earlier runs (keeping that history) and vacuums, so runs start alike.

1. Throughput. wrk (bench/checkin.lua) posts check-ins with a unique Idempotency-Key each, rotating over
   200 BDs' tokens; each BD checks in at merchants within ~120 m of each other (a street, so the
   impossible-speed check passes as for a real BD). Afterwards the visits of the run are counted in the
   database: they must equal the 201 responses, the requests sent, and each other, exactly (wrk is
   stopped so that nothing is in flight, see bench/wrk_common.lua).
2. What idempotency costs, two ways:
   - in process (the target's measure): whole check-ins through the Flask test client, and within the
     same requests the time spent in the shared idempotency mechanism (app/idempotency: the request's
     fingerprint, the key's claim and the answer's storing, each wrapped with a timer); the visit's own
     unique index as INSERT with the constraint and ON CONFLICT minus without (rolled-back
     transactions). Overhead = (mechanism + index) / (request - mechanism - index).
   - over HTTP: our app against bench/checkin_noreplay.py (the app without the mechanism), alternating
     runs, same data and gunicorn settings.
3. Replay storm: 1,000 keys x 5 sends each from 16 threads, the copies of a key sent back to back so they
   race; exactly 1,000 visits must exist and every response for a key must carry the same visit id.
4. Reference: an authenticated GET /api/v1/me (auth, Flask, schema, nothing else) on the same server,
   the ceiling of any authenticated endpoint on this machine.

Report printed and saved as bench/results/checkin-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg

from bench import datagen, harness, httpload
from bench.harness import log, target
from bench.stats import CpuMeter

DATABASE = "fieldsales_bench_checkin"
MERCHANTS = 2_000
HISTORY_VISITS = 100_000
HISTORY_PREFIX = "hist-"
SCRIPT = harness.BENCH_DIR / "checkin.lua"
NEIGHBOURHOOD_M = 120  # a BD's merchants lie within this of a centre: < 250 m apart, no impossible speed

TARGETS = {"rps": 300.0, "idempotency_overhead": 0.20}

# --- data ----------------------------------------------------------------------------------------------

HISTORY_SQL = """
    INSERT INTO visits (tenant_id, merchant_id, user_id, idempotency_key, request_hash, client_time, location,
                        accuracy_m, distance_m, verified, flags)
    SELECT m.tenant_id, m.id, (%(bds)s::bigint[])[1 + mod(g, %(nbd)s)], %(prefix)s || g, 'h',
           now() - interval '1 day' - mod(g, 180) * interval '1 day' - mod(g * 7, 600) * interval '1 minute',
           m.location, 15, 20, mod(g, 5) <> 0, CASE WHEN mod(g, 5) = 0 THEN ARRAY['too_far'] ELSE '{}' END
    FROM generate_series(1, %(n)s) g
    JOIN merchants m ON m.id = 1 + mod(g * 7919, %(merchants)s) AND m.tenant_id = %(tenant)s
"""


def build_database(url: str) -> dict[str, Any]:
    """datagen's 2,000 merchants (reused when present and current) plus the visit history."""
    dsn = datagen.plain_url(url)
    ids = datagen.build_current(url, MERCHANTS)
    with psycopg.connect(dsn) as conn:
        history = conn.execute(
            "SELECT count(*) FROM visits WHERE idempotency_key LIKE %s", (HISTORY_PREFIX + "%",)
        ).fetchone()[0]
        if history == 0:
            log(f"adding {HISTORY_VISITS:,} historical visits")
            bds = [r[0] for r in conn.execute("SELECT id FROM users WHERE role = 'bd' ORDER BY id")]
            conn.execute(
                HISTORY_SQL,
                {
                    "bds": bds,
                    "nbd": len(bds),
                    "prefix": HISTORY_PREFIX,
                    "n": HISTORY_VISITS,
                    "merchants": MERCHANTS,
                    "tenant": ids["tenant_id"],
                },
            )
            conn.commit()
    return ids


def reset(dsn: str) -> int:
    """Delete the visits of earlier runs and vacuum: every run starts from the same table."""
    with psycopg.connect(dsn) as conn:
        deleted = conn.execute("DELETE FROM visits WHERE idempotency_key NOT LIKE %s", (HISTORY_PREFIX + "%",)).rowcount
        conn.commit()
    harness.vacuum(dsn, "visits", "leads", "merchants", "auth_sessions", "users")
    return deleted


# --- 1. throughput ---------------------------------------------------------------------------------------


def throughput_run(
    label: str,
    server: httpload.Server,
    bds_file: Path,
    work: Path,
    dsn: str,
    *,
    seconds: float,
    connections: int,
    gate: harness.QuietGate,
) -> dict[str, Any]:
    """One wrk run of fresh check-ins, then the exact count of its visits in the database."""
    nonce = f"{label.replace(' ', '').replace('#', '')}-{secrets.token_hex(4)}"
    with gate(label):
        meter = CpuMeter(app_pgid=server.process.pid, database=DATABASE)
        result = harness.run_wrk(
            SCRIPT,
            server.base_url,
            {"CHECKIN_BDS": str(bds_file), "CHECKIN_NONCE": nonce},
            work,
            connections=connections,
            seconds=seconds,
            meter=meter,
        )
        cpu = result.cpu_cores
    return {
        "label": label,
        "nonce": nonce,
        **result.as_dict(),
        "cpu_cores": cpu,
        "database": verify_run(dsn, nonce, result),
    }


def verify_run(dsn: str, nonce: str, result: harness.WrkResult) -> dict[str, Any]:
    """The visits this run created: as many as 201 responses and requests sent, one per key."""
    with psycopg.connect(dsn) as conn:
        visits, keys, verified, first, last = conn.execute(
            "SELECT count(*), count(DISTINCT idempotency_key), count(*) FILTER (WHERE verified), "
            "min(created_at), max(created_at) FROM visits WHERE idempotency_key LIKE %s",
            (nonce + "-%",),
        ).fetchone()
        flags = dict(
            conn.execute(
                "SELECT f, count(*) FROM visits, unnest(flags) f WHERE idempotency_key LIKE %s GROUP BY f",
                (nonce + "-%",),
            ).fetchall()
        )
    created = result.statuses.get(201, 0)
    others = {k: v for k, v in result.statuses.items() if k != 201}
    span = (last - first).total_seconds() if visits > 1 else 0.0
    return {
        "visits": visits,
        "distinct_keys": keys,
        "responses_201": created,
        "other_statuses": others,
        "exact": visits == keys == created == result.sent == result.received and not others,
        "verified_share": round(verified / visits, 3) if visits else None,
        "flags": flags,
        # transaction start times of the first and last visit: a server-side throughput cross-check
        "server_side_rps": round((visits - 1) / span, 1) if span else None,
    }


# --- 2. the cost of idempotency, in process ---------------------------------------------------------------

VISIT_COLUMNS = (
    "tenant_id, merchant_id, user_id, idempotency_key, request_hash, client_time, location, coord_sys, "
    "accuracy_m, distance_m, verified, flags, offline, mock_location, purpose, photo_ids"
)
INSERT_SQL = (
    f"INSERT INTO visits ({VISIT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, now(), "
    "ST_GeogFromText(%s), 'wgs84', 12, 8.5, true, '{}', false, false, NULL, '{}')"
)
ON_CONFLICT = " ON CONFLICT (tenant_id, user_id, idempotency_key) DO NOTHING"


def idempotency_cost(
    url: str, dsn: str, ids: dict[str, Any], area: list[tuple[int, float, float]], *, samples: int
) -> dict[str, Any]:
    """Median ms of a whole check-in request, of the idempotency mechanism within it, and of the unique index."""
    timings = _request_and_replay_ms(url, area, samples)
    index = _unique_index_ms(dsn, ids, area[0], samples * 3)
    added = timings["replay_ms"] + index["cost_ms"]
    return {
        "request_ms": round(timings["request_ms"], 4),
        "replay_lookup_ms": round(timings["replay_ms"], 4),
        "unique_index_ms": round(index["cost_ms"], 4),
        "unique_index_detail": index,
        "overhead": round(added / (timings["request_ms"] - added), 4),
        "method": "whole POST /visits through the Flask test client with fresh keys, and within the same "
        "requests the time spent in app/idempotency (fingerprint, claim and store, wrapped with timers): "
        "medians. The unique "
        "index: median INSERT time with the constraint and ON CONFLICT minus without it (constraint "
        "dropped inside a rolled-back transaction), both orders averaged. Overhead = "
        "(lookup + index) / (request - lookup - index).",
    }


def _request_and_replay_ms(url: str, area: list[tuple[int, float, float]], samples: int) -> dict[str, float]:
    """Whole check-ins in process, and the share of each spent in the idempotency mechanism (same requests)."""
    from app import db
    from app.factory import create_app
    from app.idempotency import service

    app = create_app(**harness.app_config(url))
    client = app.test_client()
    token = client.post("/api/v1/auth/login", json={"username": "bd1", "password": harness.PASSWORD}).json
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    # each fresh check-in runs each of these once: its share of the request is their sum
    steps = ("fingerprint", "_claim", "_store")
    spent: dict[str, list[float]] = {step: [] for step in steps}

    def timed(step: str) -> Any:
        original = getattr(service, step)

        def wrapper(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args)
            finally:
                spent[step].append(time.perf_counter() - started)

        return wrapper

    mid, lat, lng = area[0]
    request_s = []
    with mock.patch.multiple(service, **{step: timed(step) for step in steps}):
        for i in range(samples + 30):
            body = {
                "merchant_id": mid,
                "lat": lat,
                "lng": lng,
                "accuracy_m": 10,
                "client_time": datetime.now(UTC).isoformat(),
            }
            started = time.perf_counter()
            response = client.post(
                "/api/v1/visits", json=body, headers={**headers, "Idempotency-Key": f"inproc-{secrets.token_hex(8)}"}
            )
            elapsed = time.perf_counter() - started
            if response.status_code != 201:
                raise RuntimeError(f"in-process check-in failed: {response.status_code} {response.get_data()[:300]!r}")
            if i >= 30:
                request_s.append(elapsed)
    db.session.remove()
    db.engine().dispose()
    if any(len(spent[step]) != samples + 30 for step in steps):
        raise RuntimeError(f"{ {s: len(v) for s, v in spent.items()} } idempotency steps for {samples + 30} check-ins")
    per_request = [sum(spent[step][i] for step in steps) for i in range(30, samples + 30)]
    return {"request_ms": statistics.median(request_s) * 1000, "replay_ms": statistics.median(per_request) * 1000}


def _unique_index_ms(dsn: str, ids: dict[str, Any], spot: tuple[int, float, float], samples: int) -> dict[str, Any]:
    """INSERT with the unique constraint and ON CONFLICT vs plain INSERT without the constraint.

    Both in transactions that are rolled back; the order alternates (with first, then without first) so
    warm-up and the growing transaction weigh on both alike. Unprepared in both: the difference is the
    index's upkeep and the conflict check, not parsing or planning.
    """
    mid, lat, lng = spot
    point = f"SRID=4326;POINT({lng} {lat})"
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
        constraint = conn.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'visits'::regclass AND contype = 'u'"
        ).fetchone()[0]
        definition = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", (constraint,)
        ).fetchone()[0]

        def timed(with_index: bool, tag: str) -> float:
            sql = INSERT_SQL + (ON_CONFLICT if with_index else "")
            values = []
            for i in range(samples + 20):
                params = (ids["tenant_id"], mid, ids["bd_id"], f"idx-{tag}-{i}", "h", point)
                started = time.perf_counter()
                conn.execute(sql, params)
                if i >= 20:
                    values.append(time.perf_counter() - started)
            return statistics.median(values) * 1000

        orders = {}
        with conn.transaction(force_rollback=True):
            with_first = timed(True, "a")
            conn.execute(f'ALTER TABLE visits DROP CONSTRAINT "{constraint}"')
            orders["with_first"] = {"with_ms": with_first, "without_ms": timed(False, "b")}
        with conn.transaction(force_rollback=True):
            conn.execute(f'ALTER TABLE visits DROP CONSTRAINT "{constraint}"')
            without_first = timed(False, "c")
            conn.execute(f'ALTER TABLE visits ADD CONSTRAINT "{constraint}" {definition}')
            orders["without_first"] = {"with_ms": timed(True, "d"), "without_ms": without_first}
    costs = [o["with_ms"] - o["without_ms"] for o in orders.values()]
    return {
        "cost_ms": max(statistics.mean(costs), 0.0),
        "orders": {k: {m: round(v, 4) for m, v in o.items()} for k, o in orders.items()},
    }


# --- 3. replay storm -------------------------------------------------------------------------------------


def replay_storm(
    server: httpload.Server,
    tokens: list[str],
    areas: list[list[tuple[int, float, float]]],
    dsn: str,
    *,
    keys: int,
    copies: int,
    threads: int,
) -> dict[str, Any]:
    """``keys`` check-ins each sent ``copies`` times, the copies back to back so they race each other."""
    nonce = f"storm-{secrets.token_hex(4)}"
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    requests = []
    for k in range(keys):
        bd = k % len(tokens)
        mid, lat, lng = areas[bd][k % len(areas[bd])]
        body = json.dumps({"merchant_id": mid, "lat": lat, "lng": lng, "accuracy_m": 10, "client_time": now})
        requests.append((f"{nonce}-{k}", tokens[bd], body.encode()))
    order = [k for k in range(keys) for _ in range(copies)]

    def send(k: int) -> tuple[int, int, str | None, int | None]:
        key, token, body = requests[k]
        conn = harness.connection(server.base_url)
        try:
            conn.request(
                "POST",
                "/api/v1/visits",
                body=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Idempotency-Key": key,
                    "Content-Type": "application/json",
                },
            )
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        visit_id = json.loads(payload).get("id") if response.status == 201 else None
        return k, response.status, response.getheader("Idempotent-Replayed"), visit_id

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(send, order))
    seconds = time.perf_counter() - started
    ids_per_key: dict[int, set[int]] = defaultdict(set)
    for k, _status, _replayed, visit_id in answers:
        ids_per_key[k].add(visit_id)
    with psycopg.connect(dsn) as conn:
        in_db, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT idempotency_key) FROM visits WHERE idempotency_key LIKE %s",
            (nonce + "-%",),
        ).fetchone()
        db_ids = {
            row[0] for row in conn.execute("SELECT id FROM visits WHERE idempotency_key LIKE %s", (nonce + "-%",))
        }
    statuses = Counter(status for _k, status, _r, _v in answers)
    replayed = Counter(r for _k, _s, r, _v in answers)
    inconsistent = sum(1 for v in ids_per_key.values() if len(v) != 1 or None in v)
    answered_ids = {next(iter(v)) for v in ids_per_key.values() if len(v) == 1}
    return {
        "keys": keys,
        "copies": copies,
        "threads": threads,
        "requests": len(answers),
        "seconds": round(seconds, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "replayed_header": {str(k): v for k, v in replayed.items()},
        "visits_in_db": in_db,
        "distinct_keys_in_db": distinct,
        "keys_with_differing_ids": inconsistent,
        "answered_ids_match_db": answered_ids == db_ids,
        "ok": (
            in_db == distinct == keys
            and statuses == Counter({201: keys * copies})
            and inconsistent == 0
            and replayed.get("false") == keys
            and answered_ids == db_ids
        ),
    }


# --- report -------------------------------------------------------------------------------------------


def targets(report: dict[str, Any]) -> dict[str, Any]:
    ours = [r for r in report["runs"] if r["label"].startswith("ours")]
    rps = statistics.mean(r["rps"] for r in ours)
    # The larger of the two methods: in process (lookup + index over the rest of a check-in) and over
    # HTTP (throughput without the lookup over with it, minus one, plus the index's in-process share).
    ab, i = report["http_ab"], report["idempotency"]
    over_http = ab["noreplay_rps"] / ab["ours_rps"] - 1 + i["unique_index_ms"] / i["request_ms"]
    cost = max(i["overhead"], over_http)
    exact = all(r["database"]["exact"] for r in report["runs"])
    storm = report["storm"]
    return {
        "checkins_per_s": target(round(rps, 1), f">= {TARGETS['rps']:.0f}", rps >= TARGETS["rps"]),
        "idempotency_overhead": target(
            round(cost, 3),
            f"< {TARGETS['idempotency_overhead']}",
            cost < TARGETS["idempotency_overhead"],
            in_process=i["overhead"],
            over_http=round(over_http, 3),
        ),
        "visits_equal_201s": target(exact, "exact, every run", exact),
        "replay_storm": target(
            f"{storm['visits_in_db']} visits for {storm['keys']} keys", "exactly one per key", storm["ok"]
        ),
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        "",
        f"Check-in benchmark: {report['merchants']:,} merchants, {report['bds']} BDs checking in, "
        f"{report['history_visits']:,} historical visits, wrk -c{report['connections']}, "
        f"{report['seconds']:.0f} s per run, {report['environment']['cpus']} CPUs",
        "",
        f"{'run':<20}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'sent':>7}{'201s':>7}{'in DB':>7}"
        f"{'exact':>7}{'verified':>9}   {harness.CPU_COLUMN}",
    ]
    for r in report["runs"]:
        d = r["database"]
        cpu = harness.cpu_cells(r["cpu_cores"])
        lines.append(
            f"{r['label']:<20}{r['rps']:>8.0f}{r['p50_ms']:>8.2f}{r['p90_ms']:>8.2f}{r['p99_ms']:>8.2f}"
            f"{r['sent']:>7}{d['responses_201']:>7}{d['visits']:>7}{'yes' if d['exact'] else 'NO':>7}"
            f"{d['verified_share']:>9.1%}   {cpu}"
        )
        if d["other_statuses"]:
            lines.append(f"{'':<20}other statuses: {d['other_statuses']}")
    ab, me = report["http_ab"], report["me_reference"]
    i = report["idempotency"]
    lines += [
        "",
        "What idempotency costs",
        f"  in process: whole check-in {i['request_ms']:.3f} ms; idempotency mechanism {i['replay_lookup_ms']:.3f} ms; "
        f"unique index + ON CONFLICT {i['unique_index_ms']:.3f} ms -> adds {i['overhead']:.1%} to a check-in "
        "without them",
        f"  over HTTP: ours {ab['ours_rps']:.0f} req/s vs without the lookup {ab['noreplay_rps']:.0f} req/s "
        f"-> the lookup costs {ab['lookup_cost']:.1%} of throughput, i.e. adds "
        f"{ab['noreplay_rps'] / ab['ours_rps'] - 1:.1%} (same run, alternating); the target uses the larger "
        "of the two methods",
        "",
        f"Reference: authenticated GET /api/v1/me (auth + Flask + schema, no work), same server and wrk -c"
        f"{report['connections']}: {me['rps']:.0f} req/s, p50 {me['p50_ms']:.2f} ms - the ceiling of any "
        "authenticated endpoint here",
    ]
    s = report["storm"]
    lines += [
        "",
        f"Replay storm: {s['keys']:,} keys x {s['copies']} copies from {s['threads']} threads in {s['seconds']:.1f} s: "
        f"statuses {s['statuses']}, Idempotent-Replayed {s['replayed_header']}, visits in DB {s['visits_in_db']} "
        f"({s['distinct_keys_in_db']} keys), keys answered with differing ids {s['keys_with_differing_ids']}, "
        f"answered ids = DB ids: {s['answered_ids_match_db']}",
        "",
        "Targets",
    ]
    names = {
        "checkins_per_s": "check-ins/s (ours, mean)",
        "idempotency_overhead": "idempotency adds (max)",
        "visits_equal_201s": "visits in DB = 201s = sent",
        "replay_storm": "replay storm",
    }
    lines += harness.target_rows(report["targets"], names, widths=(30, 28, 20))
    return harness.with_overlap_note(lines, report["other_benchmark"])


# --- main ---------------------------------------------------------------------------------------------


def http_part(
    args: argparse.Namespace, url: str, dsn: str, ids: dict[str, Any], work: Path, gate: harness.QuietGate
) -> dict[str, Any]:
    env = harness.server_env(url)
    areas = harness.streets(dsn, ids["tenant_id"], args.bds, NEIGHBOURHOOD_M)
    with (
        httpload.gunicorn("ours", "wsgi:app", env, work) as ours,
        httpload.gunicorn("noreplay", "bench.checkin_noreplay:app", env, work) as noreplay,
    ):
        log(f"logging in {args.bds} BDs")
        tokens = harness.login_many(ours.base_url, harness.bd_names(args.bds))
        bds_file = harness.write_bds_file(work / "bds.txt", tokens, areas)
        load = {"seconds": args.seconds, "connections": args.connections, "gate": gate}
        log("warm-up")
        for server in (ours, noreplay):
            throughput_run("warm-up", server, bds_file, work, dsn, **{**load, "seconds": 3})
        runs = []
        for round_no in range(1, args.rounds + 1):
            for label, server in ((f"ours #{round_no}", ours), (f"no-replay #{round_no}", noreplay)):
                log(f"{label}: wrk -c{args.connections}, {args.seconds:.0f} s")
                runs.append(throughput_run(label, server, bds_file, work, dsn, **load))
        log(f"reference: authenticated GET /api/v1/me, wrk -c{args.connections}")
        with gate("GET /me reference"):
            me = harness.plain_wrk(
                ours.base_url + "/api/v1/me",
                headers={"Authorization": f"Bearer {tokens[0]}"},
                connections=args.connections,
                duration=args.seconds,
                warmup=2,
            )
        log(f"replay storm: {args.storm_keys} keys x {args.storm_copies}, {args.storm_threads} threads")
        with gate("replay storm"):
            storm = replay_storm(
                ours, tokens, areas, dsn, keys=args.storm_keys, copies=args.storm_copies, threads=args.storm_threads
            )
    ours_rps = statistics.mean(r["rps"] for r in runs if r["label"].startswith("ours"))
    noreplay_rps = statistics.mean(r["rps"] for r in runs if r["label"].startswith("no-replay"))
    return {
        "runs": runs,
        "storm": storm,
        "areas": [len(a) for a in areas],
        "me_reference": {k: me[k] for k in ("rps", "p50_ms", "p99_ms", "requests")},
        "http_ab": {"ours_rps": ours_rps, "noreplay_rps": noreplay_rps, "lookup_cost": 1 - ours_rps / noreplay_rps},
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    url, dsn, gate = harness.open_run(DATABASE, args)
    ids = build_database(url)
    log(f"reset: deleted {reset(dsn):,} visits of earlier runs")
    areas = harness.streets(dsn, ids["tenant_id"], 2, NEIGHBOURHOOD_M)
    log("in process: what idempotency costs")
    with gate("in-process idempotency cost"):
        cost = idempotency_cost(url, dsn, ids, areas[1], samples=args.samples)
    http = http_part(args, url, dsn, ids, work, gate)
    report = {
        "started_at": args.started.isoformat(timespec="seconds"),
        "database": DATABASE,
        "quick": args.quick,
        "merchants": MERCHANTS,
        "bds": args.bds,
        "history_visits": HISTORY_VISITS,
        "seconds": args.seconds,
        "connections": args.connections,
        "rounds": args.rounds,
        **http,
        "idempotency": cost,
        "other_benchmark": gate.as_dict(),
    }
    report["targets"] = targets(report)
    report["environment"] = harness.environment(dsn)
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, one round, fewer samples")
    parser.add_argument("--seconds", type=float, help="measured seconds per wrk run (default 15)")
    parser.add_argument("--rounds", type=int, help="rounds of (ours, no-replay) runs (default 2)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--bds", type=int, default=200)
    parser.add_argument("--samples", type=int, help="in-process samples (default 500)")
    parser.add_argument("--storm-keys", type=int, default=1000)
    parser.add_argument("--storm-copies", type=int, default=5)
    parser.add_argument("--storm-threads", type=int, default=16)
    args = harness.parse_args(parser, argv, no_wait=True)
    args.seconds = args.seconds or (6 if args.quick else 15)
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.samples = args.samples or (150 if args.quick else 500)
    return args


def main(argv: list[str] | None = None) -> int:
    harness.run_main("checkin", parse_args(argv), run, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
