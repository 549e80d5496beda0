"""The operator commands, run through Flask's CLI runner against the real database."""

from __future__ import annotations

import pytest
from geoalchemy2.shape import to_shape
from sqlalchemy import select

from app import db
from app.merchants.models import Merchant
from app.org import passwords
from app.org.models import OrgUnit, Role, User
from app.tenants.models import Tenant
from geo.coords import wgs84_to_gcj02
from geo.distance import distance_m


@pytest.fixture
def cli(app, connection):
    return app.test_cli_runner()


def run(cli, *args, password="secret-pass"):
    """Invoke a command; ``create-user`` gets its password from $FIELDSALES_PASSWORD, as scripts give it."""
    return cli.invoke(args=list(args), env={"FIELDSALES_PASSWORD": password})


def test_create_tenant_and_users(cli, session):
    assert run(cli, "create-tenant", "food", "--name", "Food Delivery").exit_code == 0
    assert "already exists" in run(cli, "create-tenant", "food", "--name", "Again").output
    result = run(
        cli,
        "create-user",
        "--tenant",
        "food",
        "--username",
        "boss",
        "--role",
        "manager",
        "--team",
        "Kallio",
    )
    assert result.exit_code == 0, result.output
    result = run(
        cli,
        "create-user",
        "--tenant",
        "food",
        "--username",
        "bd7",
        "--role",
        "bd",
        "--team",
        "Kallio",
        "--manager",
        "boss",
    )
    assert result.exit_code == 0, result.output
    tenant = session.scalar(select(Tenant).where(Tenant.slug == "food"))
    boss, bd = (session.scalar(select(User).where(User.username == name)) for name in ("boss", "bd7"))
    team = session.get(OrgUnit, bd.org_unit_id)
    assert bd.tenant_id == tenant.id and bd.role == Role.BD and bd.manager_id == boss.id
    assert team.name == "Kallio" and team.manager_id == boss.id and team.path == f"/{team.id}/"
    assert bd.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "nope", "--role", "bd"], "No tenant"),
        (["--tenant", "food", "--role", "bd", "--manager", "ghost"], "No user 'ghost'"),
        (["--tenant", "food", "--role", "bd", "--username", "dup"], "already exists"),
    ],
)
def test_create_user_errors(cli, args, message):
    run(cli, "create-tenant", "food", "--name", "Food")
    run(cli, "create-user", "--tenant", "food", "--username", "dup", "--role", "bd")
    base = {"--username": "new"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    result = run(cli, "create-user", *[x for pair in base.items() for x in pair])
    assert result.exit_code == 1
    assert message in result.output


def test_create_user_asks_for_the_password_and_never_takes_it_from_argv(cli, session):
    run(cli, "create-tenant", "food", "--name", "Food")
    args = ["create-user", "--tenant", "food", "--username", "asked", "--role", "bd"]
    result = cli.invoke(args=args, input="typed-pass-9\ntyped-pass-9\n", env={"FIELDSALES_PASSWORD": None})
    assert result.exit_code == 0, result.output
    assert "typed-pass-9" not in result.output  # hidden input
    user = session.scalar(select(User).where(User.username == "asked"))
    assert passwords.verify_password(user.password_hash, "typed-pass-9")
    # a mistyped confirmation asks again; a --password option does not exist any more
    result = cli.invoke(
        args=[*args[:4], "asked2", *args[5:]],
        input="typed-pass-9\ntypo-pass-9\nother-pass-8\nother-pass-8\n",
        env={"FIELDSALES_PASSWORD": None},
    )
    assert result.exit_code == 0 and "do not match" in result.output, result.output
    result = run(cli, *args[:4], "argv", *args[5:], "--password", "secret-pass")
    assert result.exit_code == 2 and "No such option" in result.output
    # the environment variable, for scripts
    result = run(cli, *args[:4], "from-env", *args[5:], password="env-pass-77")
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "from-env"))
    assert passwords.verify_password(user.password_hash, "env-pass-77")


CSV = """source_id,name,lat,lon,category,phone,address,opening_hours
a1,Kahvila Kulma,60.1699,24.9384,amenity=cafe,+358 9 123,Mannerheimintie 1,Mo-Fr 08-16
a2,,60.17,24.94,amenity=cafe,,,
a3,No Position,,24.94,shop=books,,,
a4,Far North,91,24.94,shop=books,,,
a5,Not A Number,sixty,24.94,shop=books,,,
a6,Null Island,0,0,shop=books,,,
a9,Infinite,inf,24.94,shop=books,,,
a1,Same Id Again,60.17,24.94,amenity=cafe,,,
,Derived Id,60.171,24.941,shop=kiosk,,,
"""


def test_import_merchants_loads_good_rows_and_reports_bad_ones(cli, session, tmp_path):
    run(cli, "create-tenant", "food", "--name", "Food")
    path = tmp_path / "merchants.csv"
    path.write_text(CSV, encoding="utf-8")
    result = run(cli, "import-merchants", str(path), "--tenant", "food")
    assert result.exit_code == 0, result.output
    assert "rows: 9, loaded: 2 (inserted 2, updated 0, unchanged 0), rejected: 7" in result.output
    for line, reason in [
        (3, "name is empty"),
        (4, "lat/lon is missing"),
        (5, "out of range"),
        (6, "not a number"),
        (7, "0,0"),
        (8, "not a finite number"),
        (9, "duplicate source_id 'a1'"),
    ]:
        assert any(f"line {line}:" in out and reason in out for out in result.output.splitlines()), (line, reason)
    cafe = session.scalar(select(Merchant).where(Merchant.source_id == "a1"))
    assert cafe.name == "Kahvila Kulma" and cafe.category == "amenity=cafe" and cafe.phone == "+358 9 123"
    assert cafe.attributes == {"opening_hours": "Mo-Fr 08-16"}
    position = to_shape(cafe.location)
    assert (round(position.y, 4), round(position.x, 4)) == (60.1699, 24.9384)

    again = run(cli, "import-merchants", str(path), "--tenant", "food")
    assert "loaded: 2 (inserted 0, updated 0, unchanged 2)" in again.output
    path.write_text(CSV.replace("Kahvila Kulma", "Kahvila Kulma Oy"), encoding="utf-8")
    changed = run(cli, "import-merchants", str(path), "--tenant", "food")
    assert "inserted 0, updated 1, unchanged 1" in changed.output


def test_import_converts_gcj02_input_to_wgs84(cli, session, tmp_path):
    run(cli, "create-tenant", "food", "--name", "Food")
    lat, lng = 30.2480, 120.1864  # Hangzhou, WGS84
    g_lat, g_lng = wgs84_to_gcj02(lat, lng)
    path = tmp_path / "hz.csv"
    path.write_text(f"name,lat,lng\n西湖小店,{g_lat},{g_lng}\n", encoding="utf-8")
    assert "inserted 1" in run(cli, "import-merchants", str(path), "--tenant", "food", "--coord-sys", "gcj02").output
    stored = to_shape(session.scalar(select(Merchant.location).where(Merchant.name == "西湖小店")))
    assert distance_m(stored.y, stored.x, lat, lng) < 0.05


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "empty"), ("title,lat,lon\nx,1,2\n", "missing required column(s): name"), ("name,lat\nx,1\n", "lon")],
)
def test_import_rejects_unusable_files(cli, tmp_path, content, message):
    run(cli, "create-tenant", "food", "--name", "Food")
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    result = run(cli, "import-merchants", str(path), "--tenant", "food")
    assert result.exit_code == 1 and message in result.output


def test_import_is_fast_enough_for_a_city(cli, session, tmp_path, shared_data):
    """The 12k-row Hangzhou file loads in one transaction (timings live in bench/, not here)."""
    run(cli, "create-tenant", "hz", "--name", "Hangzhou")
    result = run(
        cli,
        "import-merchants",
        str(shared_data / "hangzhou_amap_poi86_2017_merchants.csv"),
        "--tenant",
        "hz",
        "--source",
        "amap",
    )
    assert result.exit_code == 0, result.output
    assert "rows: 12186, loaded: 12186" in result.output
    tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == "hz"))
    db.scope_to_tenant(tenant_id)
    sample = session.scalar(select(Merchant).where(Merchant.source_id == "hz000002"))
    assert sample.name == "阿依莲" and sample.attributes["category_l1"] == "购物服务"


def test_seed_demo_is_idempotent(cli, session):
    first = run(cli, "seed-demo")
    assert first.exit_code == 0, first.output
    assert "993 Helsinki merchants" in first.output and "bd1 / demo-pass-1" in first.output
    second = run(cli, "seed-demo")
    assert "already present" in second.output and "bd1 / demo-pass-1" in second.output
    assert session.scalar(select(Tenant.id).where(Tenant.slug == "hotels")) is not None


def test_create_tenant_takes_its_time_zone_and_phone_region(cli, session):
    result = run(cli, "create-tenant", "delhi", "--name", "Delhi", "--timezone", "Asia/Kolkata", "--phone-region", "IN")
    assert result.exit_code == 0, result.output
    assert "Asia/Kolkata" in result.output and "IN" in result.output
    tenant = session.scalar(select(Tenant).where(Tenant.slug == "delhi"))
    assert tenant.setting("timezone") == "Asia/Kolkata" and tenant.setting("phone_region") == "IN"
    bad = run(cli, "create-tenant", "mars", "--name", "Mars", "--timezone", "Mars/Olympus")
    assert bad.exit_code == 1 and "timezone" in bad.output
    assert session.scalar(select(Tenant).where(Tenant.slug == "mars")) is None
