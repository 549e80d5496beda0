"""Offline delta sync: the first bundle, and an incremental sync in a big tenant against GET /me.

    .venv/bin/python -m bench.sync            # 1,000,000-merchant tenant (database fs_sync_bench_1000000)
    .venv/bin/python -m bench.sync --quick    # 100,000 merchants

1. First bundle: a BD without territories whose area holds 5,000 merchants, with 100 private leads and 200
   to-dos (in a tenant of its own in the same database): time and bytes of every page of the full bundle, with
   and without gzip.
2. Incremental: a BD of datagen's big tenant syncs its area once, then 10 merchants there change (renamed in
   their own committed transactions); the next sync is timed against GET /me in the same process, interleaved
   (target: <= 2x), and the delta's change-log read is shown with EXPLAIN (ANALYZE, BUFFERS): it reads the
   rows from the cursor on through ``ix_sync_changes_tenant_txid``, not the tenant's merchants.

In process (Flask test client): the ratio compares the two endpoints' own work, not a web server's. The change
log rows the datagen import wrote are removed after a build (a steady-state log holds only recent changes; a
fresh import's rows would be older than any cursor anyway). The cursor's floor is the oldest transaction in
progress in the whole PostgreSQL cluster: while other work on a shared server holds a long transaction open,
a delta also re-reads changes since it began (printed as "change-log rows read").
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time

import orjson
import psycopg

from bench import datagen, harness
from bench.harness import log

SYNC_TENANT = "syncbench"
BUNDLE_MERCHANTS, BUNDLE_LEADS, BUNDLE_TODOS = 5000, 100, 200
CENTRE = (30.40, 120.40)  # outside datagen's city, so the area holds exactly our merchants
RADIUS_M = 3000
DELTA_CHANGES = 10
REPEATS = 40

DELTA_SQL = """
    SELECT txid::text::bigint AS txid_number, id, entity, entity_id FROM sync_changes
    WHERE tenant_id = %(tenant)s AND txid >= CAST(CAST(%(floor)s AS text) AS xid8)
      AND (txid, id) > (CAST(CAST(%(floor)s AS text) AS xid8), 0)
      AND (user_id = %(user)s OR user_id IS NULL)
    ORDER BY sync_changes.txid, sync_changes.id LIMIT 1001"""


def _bundle_world(dsn: str) -> None:
    """A tenant with one BD whose area holds BUNDLE_MERCHANTS merchants, leads and to-dos (rebuilt every run)."""
    with psycopg.connect(dsn) as conn:
        conn.execute("DELETE FROM tenants WHERE slug = %s", (SYNC_TENANT,))
        tenant = conn.execute(
            "INSERT INTO tenants (slug, name, settings) VALUES (%s, 'Sync bench', '{}') RETURNING id", (SYNC_TENANT,)
        ).fetchone()[0]
        user = conn.execute(
            "INSERT INTO users (tenant_id, username, display_name, password_hash, role)"
            " VALUES (%s, 'syncbd', 'Sync BD', %s, 'bd') RETURNING id",
            (tenant, harness.password_hash()),
        ).fetchone()[0]
        # a grid inside the radius: ~2.4 km square around the centre
        side = int(BUNDLE_MERCHANTS**0.5) + 1
        rows = [
            (
                tenant,
                f"同步店{i}",
                "餐饮服务;中餐厅",
                f"{i}号",
                "杭州市",
                f"SRID=4326;POINT({CENTRE[1] - 0.012 + (i % side) * 0.024 / side:.7f} "
                f"{CENTRE[0] - 0.011 + (i // side) * 0.022 / side:.7f})",
            )
            for i in range(BUNDLE_MERCHANTS)
        ]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO merchants (tenant_id, name, category, address, city, location)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )
        conn.execute(
            "INSERT INTO leads (merchant_id, tenant_id, state, owner_id, claimed_at, drops_at, drop_reason)"
            " SELECT id, tenant_id, 'private', %s, now(), now() + interval '15 days', 'no_visit'"
            " FROM merchants WHERE tenant_id = %s ORDER BY id LIMIT %s",
            (user, tenant, BUNDLE_LEADS),
        )
        conn.execute(
            "INSERT INTO reminders (tenant_id, user_id, kind, title, due_at, dedupe_key, payload)"
            " SELECT %s, %s, 'planned_visit', 'Visit ' || g, now() + g * interval '1 hour', 'bench' || g, '{}'"
            " FROM generate_series(1, %s) AS g",
            (tenant, user, BUNDLE_TODOS),
        )
        conn.execute("ANALYZE merchants")


def _drain(client, headers, query, accept_gzip):
    """Every page of one sync: (seconds, bytes on the wire, changes, cursor)."""
    started = time.perf_counter()
    wire, changes, cursor = 0, 0, None
    extra = {"Accept-Encoding": "gzip"} if accept_gzip else {}
    while True:
        response = client.get(
            "/api/v1/sync",
            headers={**headers, **extra},
            query_string={**query, **({"cursor": cursor} if cursor else {})},
        )
        assert response.status_code == 200, response.data[:300]
        wire += len(response.data)
        body = gzip.decompress(response.data) if response.headers.get("Content-Encoding") == "gzip" else response.data
        page = orjson.loads(body)
        changes += len(page["changes"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return time.perf_counter() - started, wire, changes, cursor


def _login(client, username, tenant=None):
    body = {"username": username, "password": harness.PASSWORD, **({"tenant": tenant} if tenant else {})}
    response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.data[:300]
    return {"Authorization": f"Bearer {response.json['access_token']}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 merchants instead of 1,000,000")
    parser.add_argument("--merchants", type=int)
    args = parser.parse_args()
    merchants = args.merchants or (100_000 if args.quick else 1_000_000)
    database = f"fs_sync_bench_{merchants}"
    url, dsn = harness.db_url(database), harness.plain_dsn(database)
    log(f"database {database} ({merchants:,} merchants): building or reusing")
    ids = datagen.build_current(url, merchants)
    if "build_seconds" in ids:
        with psycopg.connect(dsn) as conn:
            conn.execute("TRUNCATE sync_changes")
        harness.vacuum(dsn, "merchants", "leads", "sync_changes")
        log(f"built in {ids['build_seconds']} s")

    from app.factory import create_app

    app = create_app(**harness.app_config(url))
    client = app.test_client()

    # 1. the first bundle
    _bundle_world(dsn)
    headers = _login(client, "syncbd", SYNC_TENANT)
    query = {"lat": CENTRE[0], "lng": CENTRE[1], "radius_m": RADIUS_M, "limit": 5000}
    _drain(client, headers, query, False)  # warm-up
    print(f"\nFirst bundle: {BUNDLE_MERCHANTS:,} merchants + {BUNDLE_LEADS} leads + {BUNDLE_TODOS} to-dos")
    for accept_gzip in (False, True):
        runs = [_drain(client, headers, query, accept_gzip) for _ in range(3)]
        seconds = statistics.median(run[0] for run in runs)
        _, wire, changes, _ = runs[0]
        label = "gzip" if accept_gzip else "plain"
        print(f"  {label:>5}: {seconds * 1000:8.1f} ms (median of 3), {wire / 1024:8.1f} KiB, {changes} changes")

    # 2. the incremental sync in the big tenant
    headers = _login(client, ids["bd_username"], "bench")
    with psycopg.connect(dsn) as conn:
        centre = conn.execute(
            "SELECT ST_Y(location::geometry), ST_X(location::geometry) FROM merchants"
            " WHERE tenant_id = %s ORDER BY id LIMIT 1 OFFSET 1000",
            (ids["tenant_id"],),
        ).fetchone()
    area = {"lat": centre[0], "lng": centre[1], "radius_m": 300}
    _, _, in_area, cursor = _drain(client, headers, area, False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        floor = conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").fetchone()[0]
        changed = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM merchants WHERE tenant_id = %s"
                " AND ST_DWithin(location, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, 300)"
                " ORDER BY id LIMIT %s",
                (ids["tenant_id"], centre[1], centre[0], DELTA_CHANGES),
            )
        ]
        for merchant_id in changed:  # one transaction each, as BDs' edits would be
            conn.execute("UPDATE merchants SET name = name || '*' WHERE id = %s", (merchant_id,))
        explain = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS) " + DELTA_SQL,
            {"tenant": ids["tenant_id"], "floor": floor, "user": ids["bd_id"]},
        ).fetchall()
        read = conn.execute(
            "SELECT count(*) FROM (" + DELTA_SQL + ") AS d",
            {"tenant": ids["tenant_id"], "floor": floor, "user": ids["bd_id"]},
        ).fetchone()[0]
    print(
        f"\nIncremental sync: {merchants:,}-merchant tenant, {in_area} merchants in the BD's area,"
        f" {len(changed)} changed"
    )
    print(f"  change-log rows read: {read}")
    print("  EXPLAIN (ANALYZE, BUFFERS) of the change-log read:")
    for (line,) in explain:
        print(f"    {line}")
    delta_s, me_s = [], []
    for _ in range(5):  # warm-up
        client.get("/api/v1/me", headers=headers)
        client.get("/api/v1/sync", headers=headers, query_string={**area, "cursor": cursor})
    delta_changes = 0
    for _ in range(REPEATS):  # interleaved, so both see the same machine load
        started = time.perf_counter()
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        me_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        response = client.get("/api/v1/sync", headers=headers, query_string={**area, "cursor": cursor})
        delta_s.append(time.perf_counter() - started)
        assert response.status_code == 200
        delta_changes = len(response.json["changes"])
    delta, me = statistics.median(delta_s), statistics.median(me_s)
    ratio = delta / me
    print(f"  delta sync: {delta * 1000:.2f} ms median ({delta_changes} changes), GET /me: {me * 1000:.2f} ms median")
    print(f"  ratio delta / me: {ratio:.2f}x  target <= 2x: {harness.verdict(ratio <= 2)}")


if __name__ == "__main__":
    main()
