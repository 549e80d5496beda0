"""The inputs both nearby benchmarks measure with: bench.nearby and bench.nearby_profile import this module,
and neither imports the other.

- the question every scenario asks (radius, page size) and the default database and seeds;
- ``build_database``: datagen's city of N merchants, migrated up to the code's schema and vacuumed;
- ``pick_points``: query points where BDs actually stand.
"""

from __future__ import annotations

import math
import random

import psycopg

from bench import datagen, harness

POINT_COUNT = 2000
POINT_JITTER_M = 70  # per axis, so query points fall ~100 m from a real merchant
LIMIT = 20
NEAR_M = 1000  # the app's default radius
SEED = datagen.SEED  # the city datagen builds by default; the query points use SEED + 1


def database_for(merchants: int) -> str:
    """The bench database of a city of ``merchants`` (reused by every nearby run of that size)."""
    return f"fieldsales_bench_{merchants}"


def build_database(url: str, merchants: int, seed: int) -> dict:
    """datagen.build, then migrate a reused database up to the code's migrations, and vacuum it.

    datagen reuses a database of the right size whatever its schema; a bench database built before the
    latest migration would otherwise make the app fail, or measure yesterday's indexes.
    """
    ids = datagen.build(url, merchants, seed=seed)
    dsn = datagen.plain_url(url)
    heads, current = harness.schema_heads(), harness.schema_revisions(dsn)
    if current != heads:
        harness.log(f"migrating {url.rsplit('/', 1)[1]} from {sorted(current or ())} to {sorted(heads)}")
        datagen.migrate(url)
    vacuum_loaded_tables(dsn)
    return ids


def vacuum_loaded_tables(dsn: str) -> None:
    """VACUUM (ANALYZE) tables with rows inserted or changed since their last vacuum.

    datagen only ANALYZEs after its bulk load. Until autovacuum gets round to the new rows (at some
    unpredictable moment, possibly in the middle of a run) the visibility map is empty, so no
    index-only scan is possible and the numbers depend on when the database was built. A deployed
    database has long been vacuumed; measure that state.
    """
    with psycopg.connect(dsn) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE n_ins_since_vacuum > 0 OR n_dead_tup > 0"
            )
        ]
    if tables:
        harness.log(f"VACUUM (ANALYZE) {', '.join(sorted(tables))}")
        harness.vacuum(dsn, *tables)


def pick_points(dsn: str, tenant_id: int, merchants: int, seed: int) -> list[tuple[float, float]]:
    """POINT_COUNT query points where BDs actually stand: at random merchants of the bench tenant, jittered.

    Sampling merchants (not the map) weights points by merchant density, so most fall in clusters and
    along streets, like a BD's real positions. Rounded to 7 decimals, as sent over HTTP.
    """
    rng = random.Random(seed)
    ids = rng.sample(range(1, merchants + 1), min(merchants, POINT_COUNT * 2))
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, ST_Y(location::geometry), ST_X(location::geometry) FROM merchants "
            "WHERE id = ANY(%s) AND tenant_id = %s",
            (ids, tenant_id),
        ).fetchall()
    by_id = {row[0]: row[1:] for row in rows}
    points = []
    for merchant_id in ids:
        if merchant_id not in by_id:
            continue  # another tenant's merchant
        lat, lng = by_id[merchant_id]
        lat += rng.gauss(0, POINT_JITTER_M) / datagen.METRES_PER_DEG_LAT
        lng += rng.gauss(0, POINT_JITTER_M) / (datagen.METRES_PER_DEG_LAT * math.cos(math.radians(lat)))
        points.append((round(lat, 7), round(lng, 7)))
        if len(points) == POINT_COUNT:
            break
    return points
