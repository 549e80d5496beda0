"""Where one /merchants/nearby request spends its time, measured in process with one client.

    .venv/bin/python -m bench.nearby_profile [--database fieldsales_bench_1000000] [--requests 500]

Runs the real endpoint through Flask's test client (no HTTP, no gunicorn, no concurrency) with a few app
functions wrapped by timers, and splits the request into exclusive phases: time inside a nested timed
call is charged to the inner phase only, so the phases add up to the total. Also counts the database
round trips per request. Nothing in app/ is changed: the wrappers live in this process only, and a
function that no longer exists is skipped (reported as such) rather than failing the benchmark.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import statistics
import time
from collections import defaultdict
from typing import Any

from bench import datagen, harness
from bench.nearby_data import LIMIT, NEAR_M, SEED, build_database, database_for, pick_points
from bench.stats import CpuMeter, database_of

SQL_PHASE = "SQL: session.execute (SQLAlchemy + driver + DB)"
# (module, attribute, phase): what to time. Order is the order of the printed table.
PHASES = [
    ("app.auth.security", "verify_token", "auth: verify the JWT"),
    ("app.auth.security", "_load_caller", "auth: load session+user+tenant (ORM, excl. SQL)"),
    ("app.merchants.queries", "nearby_statement", "nearby: build the Core statement"),
    ("app.merchants.queries", "_nearby_item", "nearby: build 20 item dicts"),
    ("app.json", "dumps_bytes", "orjson dumps"),
    ("app.db", "execute_precompiled", SQL_PHASE),
]


class PhaseTimer:
    """Exclusive time per phase: a stack of running phases, each charged only for its own time."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._stack: list[list[Any]] = []  # [phase, started, time spent in nested phases]

    def wrap(self, func: Any, phase: str) -> Any:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            frame = [phase, time.perf_counter(), 0.0]
            self._stack.append(frame)
            try:
                return func(*args, **kwargs)
            finally:
                self._stack.pop()
                elapsed = time.perf_counter() - frame[1]
                self.totals[phase] += elapsed - frame[2]
                if self._stack:
                    self._stack[-1][2] += elapsed

        return timed


def _install(timer: PhaseTimer) -> tuple[list[Any], list[str]]:
    """Wrap the phase functions; return undo callables and the phases that could not be found."""
    from app import db

    undo, missing = [], []
    for module_name, attribute, phase in PHASES:
        module = importlib.import_module(module_name)
        original = getattr(module, attribute, None)
        if original is None:
            missing.append(f"{module_name}.{attribute}")
            continue
        setattr(module, attribute, timer.wrap(original, phase))
        undo.append(functools.partial(setattr, module, attribute, original))
    # Every query of the request goes through the scoped session's execute (auth and nearby alike);
    # an instance attribute shadows the class's method until it is deleted again.
    db.session.execute = timer.wrap(db.session.execute, SQL_PHASE)
    undo.append(lambda: vars(db.session).pop("execute", None))
    return undo, missing


def _count_round_trips(engine: Any, counts: dict[str, int]) -> list[Any]:
    """Count what goes to PostgreSQL: statements, pool checkouts, and the BEGIN and ROLLBACK/COMMIT that
    psycopg actually sends (none on a connection in autocommit, as reads are: see db.begin_request)."""
    from sqlalchemy import event

    def sent(conn: Any) -> bool:
        return not getattr(conn.connection.dbapi_connection, "autocommit", False)

    undo = []
    for target, name, label, counted in (
        (engine, "before_cursor_execute", "statements", None),
        (engine.pool, "checkout", "pool checkouts (a SELECT 1 ping only after 5 s idle)", None),
        (engine, "begin", "BEGIN", sent),
        (engine, "rollback", "ROLLBACK", sent),
        (engine, "commit", "COMMIT", sent),
    ):

        def bump(*args: Any, _label: str = label, _counted: Any = counted, **_kwargs: Any) -> None:
            if _counted is None or _counted(args[0]):
                counts[_label] += 1

        event.listen(target, name, bump)
        undo.append(functools.partial(event.remove, target, name, bump))
    return undo


def cache_key_ms(app: Any, ids: dict, points: list[tuple[float, float]], radius_m: int, limit: int) -> float | None:
    """SQLAlchemy's cache-key walk over a freshly built nearby statement (paid once per execution).

    Part of the SQL phase above: a statement built anew per request must be walked to find its
    compiled form in the cache; a statement built once (bind parameters) would memoise the key.
    """
    from app import db
    from app.merchants import queries
    from app.org.models import User
    from app.tenants.models import Tenant

    with app.app_context():
        user, tenant = db.session.get(User, ids["bd_id"]), db.session.get(Tenant, ids["tenant_id"])
        statements = [
            queries.nearby_statement(
                user, tenant, queries.NearbyQuery(lat=lat, lng=lng, radius_m=radius_m, limit=limit)
            )[0]
            for lat, lng in points[:200]
        ]
        db.session.remove()
    if not hasattr(statements[0], "_generate_cache_key"):  # a private SQLAlchemy API; skip if it moves
        return None
    started = time.perf_counter()
    for statement in statements:
        statement._generate_cache_key()
    return (time.perf_counter() - started) / len(statements) * 1000


def profile(
    url: str,
    ids: dict,
    points: list[tuple[float, float]],
    *,
    requests: int = 500,
    radius_m: int = NEAR_M,
    limit: int = LIMIT,
) -> dict[str, Any]:
    """Per-request milliseconds by phase (exclusive) and database round trips per request."""
    from app import db
    from app.factory import create_app

    app = create_app(DATABASE_URL=url)
    client = app.test_client()
    response = client.post("/api/v1/auth/login", json={"username": ids["bd_username"], "password": ids["password"]})
    headers = {"Authorization": f"Bearer {response.get_json()['access_token']}"}

    def one(i: int) -> None:
        lat, lng = points[i % len(points)]
        reply = client.get(
            f"/api/v1/merchants/nearby?lat={lat}&lng={lng}&radius_m={radius_m}&limit={limit}", headers=headers
        )
        if reply.status_code != 200:
            raise RuntimeError(f"nearby answered {reply.status_code}: {reply.get_data(as_text=True)[:300]}")

    for i in range(50):  # warm caches, pools, prepared statements
        one(i)
    timer = PhaseTimer()
    counts: dict[str, int] = defaultdict(int)
    undo, missing = _install(timer)
    undo += _count_round_trips(db.engine(), counts)
    meter = CpuMeter(database=database_of(url))  # one client: the busy backend of this database is ours
    try:
        durations = []
        meter.start()
        for i in range(requests):
            started = time.perf_counter()
            one(i)
            durations.append(time.perf_counter() - started)
        cpu = meter.stop()
    finally:
        for step in undo:
            step()
    key_ms = cache_key_ms(app, ids, points, radius_m, limit)
    db.engine().dispose()
    total_ms = sum(durations) / requests * 1000
    phases = {phase: round(seconds / requests * 1000, 3) for phase, seconds in timer.totals.items()}
    phases["rest: Flask, flask-smorest, webargs, session, test client"] = round(total_ms - sum(phases.values()), 3)
    return {
        "requests": requests,
        "mean_ms": round(total_ms, 3),
        "median_ms": round(statistics.median(durations) * 1000, 3),
        "phases_ms": phases,
        "round_trips_per_request": {name: round(n / requests, 2) for name, n in counts.items()},
        "db_cpu_ms_per_request": round(cpu["db"] * meter.elapsed / requests * 1000, 3),
        "sqlalchemy_cache_key_ms": round(key_ms, 3) if key_ms is not None else None,
        "not_found": missing,
    }


def render(result: dict[str, Any], bare_sql: dict[str, float] | None = None) -> str:
    lines = [
        f"Where a nearby request's time goes (in process, 1 client, {result['requests']} requests): "
        f"mean {result['mean_ms']:.2f} ms, median {result['median_ms']:.2f} ms"
    ]
    for phase, ms in sorted(result["phases_ms"].items(), key=lambda item: -item[1]):
        lines.append(f"  {phase:<58}{ms:>8.2f} ms  {ms / result['mean_ms']:>4.0%}")
    if result.get("sqlalchemy_cache_key_ms") is not None:
        lines.append(
            f"  not paid: SQLAlchemy's cache key of a freshly built nearby statement "
            f"{result['sqlalchemy_cache_key_ms']:.2f} ms (the app sends SQL compiled once per query shape)"
        )
    if bare_sql is not None:
        lines.append(
            f"  of the SQL phase: the nearby SQL alone through psycopg, 1 client, median "
            f"{bare_sql['client_median_ms']:.2f} ms"
        )
    trips = ", ".join(f"{name} {n:g}" for name, n in result["round_trips_per_request"].items())
    lines.append(f"  database round trips per request: {trips}")
    bare_db = f" (the nearby SQL alone: {bare_sql['db_cpu_ms_per_query']:.2f} ms)" if bare_sql else ""
    lines.append(f"  PostgreSQL CPU per request: {result['db_cpu_ms_per_request']:.2f} ms{bare_db}")
    if result["not_found"]:
        lines.append(f"  not timed (renamed?): {', '.join(result['not_found'])}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=1_000_000)
    parser.add_argument("--database", help="default: fieldsales_bench_<merchants>")
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    url = harness.db_url(args.database or database_for(args.merchants))
    ids = build_database(url, args.merchants, seed=SEED)
    # the same points as bench.nearby's at its default --seed
    points = pick_points(datagen.plain_url(url), ids["tenant_id"], args.merchants, seed=SEED + 1)
    print(render(profile(url, ids, points, requests=args.requests)))


if __name__ == "__main__":
    main()
