"""Build a benchmark database: a clustered synthetic city of N merchants with lead ownership.

    python -m bench.datagen --merchants 1000000 [--database fieldsales_bench] [--seed 7]

Merchants cluster like a real city (business districts, malls, streets) around Hangzhou: 60% in ~300
Gaussian clusters of 80 m to 1.5 km, 30% along random street segments, 10% uniform background, in a
40 x 40 km box. 18% of merchants are private leads of 2,000 BDs, 4% are partners. Loaded with COPY;
re-running with the same arguments reuses an existing database of the right size (``build_current``
also rebuilds one whose schema is behind the code's migrations).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

CENTER = (30.2741, 120.1551)  # Hangzhou, WGS84
HALF_SIDE_DEG = (0.18, 0.21)  # ~40 x 40 km
CATEGORIES = [
    "餐饮服务;中餐厅",
    "餐饮服务;快餐厅",
    "餐饮服务;咖啡厅",
    "购物服务;便利店",
    "购物服务;服装鞋帽皮具店",
    "生活服务;美容美发店",
    "住宿服务;宾馆酒店",
    "体育休闲服务;健身中心",
    "汽车服务;洗车场",
]
NAMES = ["小吃", "面馆", "咖啡", "便利店", "火锅", "烧烤", "茶餐厅", "酒店", "理发", "健身"]
TAGS = [[], [], [], ["head"], ["has_deal"], ["competitor_online"], ["multi_store"], ["head", "has_deal"]]
BDS = 2000
SEED = 7
METRES_PER_DEG_LAT = 111_320


def plain_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def points(n: int, rng: random.Random):
    lat0, lng0 = CENTER
    clusters = [
        (lat0 + rng.gauss(0, 0.06), lng0 + rng.gauss(0, 0.07), rng.uniform(80, 1500), rng.paretovariate(1.2))
        for _ in range(300)
    ]
    weights = [c[3] for c in clusters]
    streets = [
        (
            lat0 + rng.uniform(-0.15, 0.15),
            lng0 + rng.uniform(-0.17, 0.17),
            rng.uniform(0, math.pi),
            rng.uniform(500, 4000),
        )
        for _ in range(800)
    ]
    for i in range(n):
        kind = rng.random()
        if kind < 0.6:
            lat, lng, sigma_m, _ = rng.choices(clusters, weights)[0]
            lat += rng.gauss(0, sigma_m) / METRES_PER_DEG_LAT
            lng += rng.gauss(0, sigma_m) / (METRES_PER_DEG_LAT * math.cos(math.radians(lat)))
        elif kind < 0.9:
            lat, lng, angle, length = rng.choice(streets)
            t = rng.uniform(-0.5, 0.5) * length
            lat += (t * math.sin(angle) + rng.gauss(0, 15)) / METRES_PER_DEG_LAT
            lng += (t * math.cos(angle) + rng.gauss(0, 15)) / (METRES_PER_DEG_LAT * math.cos(math.radians(lat)))
        else:
            lat = lat0 + rng.uniform(-HALF_SIDE_DEG[0], HALF_SIDE_DEG[0])
            lng = lng0 + rng.uniform(-HALF_SIDE_DEG[1], HALF_SIDE_DEG[1])
        yield i, lat, lng


def schema_behind(url: str) -> bool:
    """The database exists but is not at the code's migrations: reusing it would measure an old schema."""
    return harness.database_exists(make_url(url).database) and not harness.schema_is_current(plain_url(url))


def build_current(url: str, merchants: int) -> dict:
    """``build``, rebuilding a reused database whose schema is behind the code's migrations."""
    return build(url, merchants, force=schema_behind(url))


def build(url: str, merchants: int, seed: int = SEED, *, force: bool = False) -> dict:
    """Create (or reuse) the bench database; return tenant and user ids the benchmarks need."""
    target = make_url(url)
    if harness.database_exists(target.database) and not force:
        with psycopg.connect(plain_url(url)) as conn:
            try:
                count = conn.execute("SELECT count(*) FROM merchants").fetchone()[0]
                if count == merchants:
                    return _ids(conn)
            except psycopg.Error:
                pass
    harness.recreate_database(target.database)
    migrate(url)
    rng = random.Random(seed)
    started = time.perf_counter()
    with psycopg.connect(plain_url(url)) as conn:
        tenant_id = conn.execute(
            "INSERT INTO tenants (slug, name, settings) VALUES ('bench', 'Bench City', '{}') RETURNING id"
        ).fetchone()[0]
        other_tenant = conn.execute(
            "INSERT INTO tenants (slug, name, settings) VALUES ('other', 'Other line', '{}') RETURNING id"
        ).fetchone()[0]
        password_hash = harness.password_hash()
        users = "COPY users (tenant_id, username, display_name, password_hash, role) FROM STDIN"
        with conn.cursor().copy(users) as copy:
            copy.write_row((tenant_id, "manager", "Bench Manager", password_hash, "manager"))
            for b in range(BDS):
                copy.write_row((tenant_id, f"bd{b}", f"BD {b}", password_hash, "bd"))
        user_ids = [r[0] for r in conn.execute("SELECT id FROM users WHERE role = 'bd' ORDER BY id")]
        now = datetime.now(UTC)
        with conn.cursor().copy(
            "COPY merchants (id, tenant_id, name, category, address, city, tags, location, source, source_id, "
            "last_visit_at) FROM STDIN"
        ) as copy:
            for i, lat, lng in points(merchants, rng):
                # 5% of the rows belong to another tenant in the same city: isolation must cost nothing
                tenant = other_tenant if i % 20 == 19 else tenant_id
                visited = now - timedelta(days=rng.randint(0, 90)) if rng.random() < 0.3 else None
                copy.write_row(
                    (
                        i + 1,
                        tenant,
                        f"{rng.choice(NAMES)}{i}",
                        rng.choice(CATEGORIES),
                        f"{rng.randint(1, 999)}号",
                        "杭州市",
                        rng.choice(TAGS),
                        f"SRID=4326;POINT({lng:.7f} {lat:.7f})",
                        "bench",
                        f"b{i}",
                        visited,
                    )
                )
        conn.execute("SELECT setval('merchants_id_seq', %s)", (merchants,))
        with conn.cursor().copy(
            "COPY leads (merchant_id, tenant_id, state, owner_id, claimed_at, drops_at, drop_reason, signed_at) "
            "FROM STDIN"
        ) as copy:
            for merchant_id in range(1, merchants + 1):
                if merchant_id % 20 == 0:
                    continue
                roll = rng.random()
                if roll < 0.18:
                    claimed = now - timedelta(days=rng.uniform(0, 14))
                    copy.write_row(
                        (
                            merchant_id,
                            tenant_id,
                            "private",
                            rng.choice(user_ids),
                            claimed,
                            claimed + timedelta(days=15),
                            "no_visit",
                            None,
                        )
                    )
                elif roll < 0.22:
                    copy.write_row(
                        (
                            merchant_id,
                            tenant_id,
                            "partner",
                            rng.choice(user_ids),
                            now - timedelta(days=90),
                            None,
                            None,
                            now - timedelta(days=60),
                        )
                    )
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
        ids = _ids(conn)
    ids["build_seconds"] = round(time.perf_counter() - started, 1)
    return ids


def _ids(conn: psycopg.Connection) -> dict:
    tenant_id = conn.execute("SELECT id FROM tenants WHERE slug = 'bench'").fetchone()[0]
    bd_id = conn.execute("SELECT id FROM users WHERE username = 'bd0'").fetchone()[0]
    return {"tenant_id": tenant_id, "bd_id": bd_id, "bd_username": "bd0", "password": harness.PASSWORD}


def migrate(url: str) -> None:
    from alembic import command

    from app.factory import create_app
    from app.migrate import alembic_config

    app = create_app(DATABASE_URL=url)
    with app.app_context():
        command.upgrade(alembic_config(), "head")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=1_000_000)
    parser.add_argument("--database", default="fieldsales_bench")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    url = harness.db_url(args.database)
    print(build(url, args.merchants, args.seed, force=args.force))


if __name__ == "__main__":
    main()
