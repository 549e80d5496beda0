"""GET /merchants/nearby on the real Hangzhou POIs and on factory-built pools."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from pyproj import Geod
from sqlalchemy import select

from app import clock, db
from app.merchants import queries
from app.merchants.models import Lead, LeadEvent, LeadState, Merchant
from app.merchants.schemas import NearbyPageSchema
from app.org.models import Role, User
from app.tenants.models import Tenant
from geo.coords import CoordSys, wgs84_to_bd09, wgs84_to_gcj02
from tests.factories import MerchantFactory, TenantFactory, UserFactory, auth_headers

URL = "/api/v1/merchants/nearby"
GEOD = Geod(ellps="WGS84")
# dense downtown Hangzhou (West Lake east shore), and a quieter spot
DENSE = (30.2585, 120.1700)
QUIET = (30.2250, 120.1450)


def hz_headers(hangzhou, name="hz_bd"):
    return auth_headers(db.session.get(User, hangzhou[name]))


def get(client, headers, **params):
    return client.get(URL, query_string=params, headers=headers)


@pytest.fixture
def reference(hangzhou, hangzhou_rows, session):
    """(db id, lat, lng) of every Hangzhou merchant, from the CSV's own WGS84 columns."""
    ids = dict(
        session.execute(
            select(Merchant.source_id, Merchant.id).where(Merchant.tenant_id == hangzhou["tenant_id"])
        ).all()
    )
    return [(ids[row["source_id"]], float(row["lat"]), float(row["lon"])) for row in hangzhou_rows]


def geodesic_from(lat, lng, reference):
    n = len(reference)
    _, back_azimuths, distances = GEOD.inv([lng] * n, [lat] * n, [r[2] for r in reference], [r[1] for r in reference])
    forward, _, _ = GEOD.inv([lng] * n, [lat] * n, [r[2] for r in reference], [r[1] for r in reference])
    return {r[0]: (d, f % 360) for r, d, f in zip(reference, distances, forward, strict=True)}


@pytest.mark.parametrize("origin", [DENSE, QUIET])
def test_first_page_is_the_nearest_merchants_with_geodesic_distances(client, hangzhou, reference, origin):
    response = get(client, hz_headers(hangzhou), lat=origin[0], lng=origin[1], radius_m=2000, limit=100)
    assert response.status_code == 200
    body = response.json
    NearbyPageSchema().load(body)  # the documented schema, exactly
    truth = geodesic_from(*origin, reference)
    items = body["items"]
    assert len(items) == 100
    for item in items:
        expected_distance, expected_bearing = truth[item["id"]]
        assert item["distance_m"] == pytest.approx(expected_distance, abs=0.5)
        if expected_distance > 1:
            assert (
                min(abs(item["bearing_deg"] - expected_bearing), 360 - abs(item["bearing_deg"] - expected_bearing))
                < 0.1
            )
    distances = [item["distance_m"] for item in items]
    assert distances == sorted(distances)
    nearest = sorted(truth.items(), key=lambda kv: kv[1][0])
    boundary = nearest[99][1][0]
    # the page is the 100 nearest; only ties within the sphere/spheroid margin at the boundary may differ
    must_include = {mid for mid, (d, _) in nearest if d < boundary * 0.993}
    assert must_include <= {item["id"] for item in items}


def test_paging_a_dense_area_returns_each_merchant_exactly_once(client, hangzhou, reference):
    headers = hz_headers(hangzhou)
    truth = geodesic_from(*DENSE, reference)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"lat": DENSE[0], "lng": DENSE[1], "radius_m": 600, "limit": 37}
        if cursor:
            params["cursor"] = cursor
        body = get(client, headers, **params).json
        seen += [item["id"] for item in body["items"]]
        cursor, pages = body["next_cursor"], pages + 1
        if cursor is None:
            break
    within = {mid for mid, (d, _) in truth.items() if d <= 600 - 0.01}
    assert len(seen) == len(set(seen)), "a merchant appeared twice"
    assert within <= set(seen), "a merchant within the radius was skipped"
    assert all(truth[mid][0] <= 600 + 0.01 for mid in seen)
    assert pages > 5


def test_ties_on_distance_are_never_split_across_pages(client, session):
    tenant = TenantFactory()
    bd = UserFactory(tenant=tenant)
    # eight merchants on the very same spot, one more a little further
    same = [MerchantFactory(tenant=tenant, lat=60.17, lng=24.94) for _ in range(8)]
    far = MerchantFactory(tenant=tenant, lat=60.171, lng=24.94)
    headers = auth_headers(bd)
    collected, cursor = [], None
    for _ in range(10):
        params = {"lat": 60.1699, "lng": 24.94, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = get(client, headers, **params).json
        collected += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert collected == sorted(m.id for m in same) + [far.id]


@pytest.mark.parametrize("coord_sys", [CoordSys.GCJ02, CoordSys.BD09])
def test_chinese_coordinate_systems_round_trip(client, hangzhou, hangzhou_rows, coord_sys):
    headers = hz_headers(hangzhou)
    wgs = get(client, headers, lat=DENSE[0], lng=DENSE[1], limit=30).json["items"]
    convert = wgs84_to_gcj02 if coord_sys == CoordSys.GCJ02 else wgs84_to_bd09
    lat, lng = convert(*DENSE)
    response = get(client, headers, lat=lat, lng=lng, coord_sys=coord_sys.value, limit=30)
    body = response.json
    assert body["query"]["coord_sys"] == coord_sys.value
    items = body["items"]
    assert [i["id"] for i in items] == [i["id"] for i in wgs]
    for mine, theirs in zip(items, wgs, strict=True):
        assert mine["distance_m"] == pytest.approx(theirs["distance_m"], abs=0.05)
        expected = convert(theirs["lat"], theirs["lng"])
        assert (mine["lat"], mine["lng"]) == pytest.approx(expected, abs=1e-6)
    # and they are the positions the source itself published in that system (within its own 2 m)
    by_name = {row["name"]: row for row in hangzhou_rows}
    suffix = "gcj02" if coord_sys == CoordSys.GCJ02 else "bd09"
    for item in items[:10]:
        row = by_name[item["name"]]
        _, _, error = GEOD.inv(item["lng"], item["lat"], float(row[f"lon_{suffix}"]), float(row[f"lat_{suffix}"]))
        assert error < 2.0


@pytest.fixture
def pool(session):
    """A small tenant with every pool state around one point."""
    tenant = TenantFactory()
    me, colleague = UserFactory(tenant=tenant, role=Role.BD), UserFactory(tenant=tenant, role=Role.BD)
    manager = UserFactory(tenant=tenant, role=Role.MANAGER)
    spot = {"lat": 60.17, "lng": 24.94}
    merchants = {
        "public": MerchantFactory(tenant=tenant, name="Kahvila Public", category="amenity=cafe", tags=["head"], **spot),
        "mine": MerchantFactory(tenant=tenant, name="Ravintola Mine", category="amenity=restaurant", **spot),
        "others": MerchantFactory(
            tenant=tenant, name="Kirjakauppa Others", category="shop=books", tags=["head", "has_deal"], **spot
        ),
        "partner": MerchantFactory(tenant=tenant, name="杭州西湖小吃店", category="amenity=restaurant;chinese", **spot),
        "cooldown": MerchantFactory(tenant=tenant, name="Dropped Bakery", category="shop=bakery", **spot),
    }
    now = clock.now()
    session.add_all(
        [
            Lead(
                merchant_id=merchants["mine"].id,
                tenant_id=tenant.id,
                state=LeadState.PRIVATE,
                owner_id=me.id,
                claimed_at=now,
                drops_at=now + timedelta(days=15),
                drop_reason="no_visit",
            ),
            Lead(
                merchant_id=merchants["others"].id,
                tenant_id=tenant.id,
                state=LeadState.PRIVATE,
                owner_id=colleague.id,
                claimed_at=now,
                drops_at=now + timedelta(days=9),
                drop_reason="no_visit",
            ),
            Lead(
                merchant_id=merchants["partner"].id,
                tenant_id=tenant.id,
                state=LeadState.PARTNER,
                owner_id=colleague.id,
                signed_at=now,
            ),
            LeadEvent(
                merchant_id=merchants["cooldown"].id,
                tenant_id=tenant.id,
                action="drop",
                from_owner_id=me.id,
                created_at=now - timedelta(days=2),
            ),
        ]
    )
    merchants["public"].last_visit_at = now - timedelta(days=40)
    merchants["mine"].last_visit_at = now - timedelta(days=2)
    session.commit()
    return {"tenant": tenant, "me": me, "colleague": colleague, "manager": manager, **merchants}


def names(response):
    assert response.status_code == 200, response.json
    return {item["name"] for item in response.json["items"]}


@pytest.mark.parametrize(
    ("sea", "expected"),
    [
        ("public", {"Kahvila Public", "Dropped Bakery"}),
        ("mine", {"Ravintola Mine"}),
        ("others", {"Kirjakauppa Others"}),
        ("partner", {"杭州西湖小吃店"}),
        ("all", {"Kahvila Public", "Dropped Bakery", "Ravintola Mine", "Kirjakauppa Others", "杭州西湖小吃店"}),
    ],
)
def test_sea_filter(client, pool, sea, expected):
    assert names(get(client, auth_headers(pool["me"]), lat=60.17, lng=24.94, sea=sea)) == expected


def test_sea_status_owner_and_claimable(client, pool):
    body = get(client, auth_headers(pool["me"]), lat=60.17, lng=24.94).json
    by_name = {item["name"]: item for item in body["items"]}
    mine, others = by_name["Ravintola Mine"], by_name["Kirjakauppa Others"]
    assert mine["sea"]["state"] == "private" and mine["sea"]["mine"] is True
    assert mine["sea"]["owner"]["id"] == pool["me"].id and mine["sea"]["drops_at"]
    assert mine["sea"]["expires_at"] == mine["sea"]["drops_at"]  # the deprecated name, same value
    assert others["sea"]["mine"] is False and others["sea"]["owner"]["name"] == pool["colleague"].display_name
    partner = by_name["杭州西湖小吃店"]["sea"]
    assert partner["state"] == "partner" and partner["expires_at"] is None
    assert by_name["Kahvila Public"]["sea"] == {
        "state": "public",
        "owner": None,
        "mine": False,
        "drops_at": None,
        "expires_at": None,
        "locked_until": None,
    }
    claimable = {name for name, item in by_name.items() if item["claimable"]}
    assert claimable == {"Kahvila Public"}  # the bakery dropped from me 2 days ago: cooldown
    # the colleague may claim the bakery; a manager claims nothing (managers assign)
    colleague = {
        i["name"]
        for i in get(client, auth_headers(pool["colleague"]), lat=60.17, lng=24.94).json["items"]
        if i["claimable"]
    }
    assert colleague == {"Kahvila Public", "Dropped Bakery"}
    manager = get(client, auth_headers(pool["manager"]), lat=60.17, lng=24.94).json["items"]
    assert not any(item["claimable"] for item in manager)


def test_claimable_is_false_at_the_claim_cap(client, pool, session):
    tenant = session.get(Tenant, pool["tenant"].id)
    tenant.settings = {"pool": {"claim_cap": 1}}
    session.commit()
    items = get(client, auth_headers(pool["me"]), lat=60.17, lng=24.94).json["items"]
    assert not any(item["claimable"] for item in items)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"category": "amenity=restaurant"}, {"Ravintola Mine", "杭州西湖小吃店"}),
        ({"category": "amenity=restaurant;chin"}, {"杭州西湖小吃店"}),
        ({"category": "amenity=%"}, set()),  # LIKE wildcards are literal
        ({"tag": "head"}, {"Kahvila Public", "Kirjakauppa Others"}),
        ({"tag": ["head", "has_deal"]}, {"Kirjakauppa Others"}),
        ({"q": "西湖"}, {"杭州西湖小吃店"}),
        ({"q": "kahvila"}, {"Kahvila Public"}),
        ({"q": "Ravintla"}, {"Ravintola Mine"}),  # typo: trigram similarity
        ({"q": "' OR 1=1 --"}, set()),
        ({"unvisited_days": 30}, {"Kahvila Public", "Kirjakauppa Others", "杭州西湖小吃店", "Dropped Bakery"}),
        ({"unvisited_days": 60}, {"Kirjakauppa Others", "杭州西湖小吃店", "Dropped Bakery"}),
        ({"sea": "public", "tag": "head"}, {"Kahvila Public"}),
    ],
)
def test_filters(client, pool, params, expected):
    assert names(get(client, auth_headers(pool["me"]), lat=60.17, lng=24.94, **params)) == expected


def test_radius_limits_the_results(client, pool, session):
    MerchantFactory(tenant=pool["tenant"], name="Across Town", lat=60.20, lng=24.94)
    assert "Across Town" not in names(get(client, auth_headers(pool["me"]), lat=60.17, lng=24.94, radius_m=3000))
    assert "Across Town" in names(get(client, auth_headers(pool["me"]), lat=60.17, lng=24.94, radius_m=5000))


def test_another_tenants_merchants_never_appear(client, pool):
    other = TenantFactory()
    MerchantFactory(tenant=other, name="Kahvila Public", lat=60.17, lng=24.94)
    items = get(client, auth_headers(pool["me"]), lat=60.17, lng=24.94).json["items"]
    assert {item["id"] for item in items} <= {pool[k].id for k in ("public", "mine", "others", "partner", "cooldown")}
    assert len(items) == 5


def test_hidden_audit_states_are_not_listed(client, pool, session):
    from app.merchants.models import AuditStatus

    MerchantFactory(tenant=pool["tenant"], name="Rejected", lat=60.17, lng=24.94, audit_status=AuditStatus.REJECTED)
    MerchantFactory(tenant=pool["tenant"], name="Pending", lat=60.17, lng=24.94, audit_status=AuditStatus.PENDING)
    found = names(get(client, auth_headers(pool["me"]), lat=60.17, lng=24.94))
    assert "Pending" in found and "Rejected" not in found


def test_the_query_uses_the_gist_index_for_ordering(hangzhou, session):
    user = session.get(User, hangzhou["hz_bd"])
    tenant = session.get(Tenant, hangzhou["tenant_id"])
    for radius in (500, 5000):
        statement, _ = queries.nearby_statement(
            user, tenant, queries.NearbyQuery(lat=DENSE[0], lng=DENSE[1], radius_m=radius)
        )
        compiled = statement.compile(dialect=session.bind.dialect)
        rows = session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
        plan = "\n".join(row[0] for row in rows)
        scan = plan[plan.index("Index Scan using ix_merchants_tenant_location") :]
        # one index scan: the tenant and the radius box bound it, <-> orders it, the LIMIT stops it
        assert re.search(r"Index Cond: \(\(tenant_id = .*location && ", scan), plan
        assert re.search(r"Order By: \(location <-> ", scan), plan
        assert "Seq Scan on merchants" not in plan and "Bitmap" not in plan, plan


BAD = [
    ({"lng": 120.1}, "lat"),
    ({"lat": "north", "lng": 120.1}, "lat"),
    ({"lat": "NaN", "lng": 120.1}, "lat"),
    ({"lat": "inf", "lng": 120.1}, "lat"),
    ({"lat": 91, "lng": 120.1}, "lat"),
    ({"lat": 30, "lng": -180.5}, "lng"),
    ({"lat": 30, "lng": 120, "radius_m": 0}, "radius_m"),
    ({"lat": 30, "lng": 120, "radius_m": 5001}, "radius_m"),
    ({"lat": 30, "lng": 120, "radius_m": "1e3"}, "radius_m"),
    ({"lat": 30, "lng": 120, "limit": 0}, "limit"),
    ({"lat": 30, "lng": 120, "limit": 101}, "limit"),
    ({"lat": 30, "lng": 120, "sea": "ocean"}, "sea"),
    ({"lat": 30, "lng": 120, "coord_sys": "mercator"}, "coord_sys"),
    ({"lat": 30, "lng": 120, "unvisited_days": -1}, "unvisited_days"),
    ({"lat": 30, "lng": 120, "q": "x" * 101}, "q"),
    ({"lat": 30, "lng": 120, "radius": 500}, "radius"),
]


@pytest.mark.parametrize(("params", "field"), BAD)
def test_bad_input_is_a_422_naming_the_field(client, pool, params, field):
    response = get(client, auth_headers(pool["me"]), **params)
    assert response.status_code == 422, response.json
    assert response.json["error_code"] == "VALIDATION_ERROR"
    assert field in response.json["errors"]["query"]


@pytest.mark.parametrize("cursor", ["garbage", "eyJrIjpbMSwyXX0", "eyJrIjpbIngiLDJdLCJmIjoiMSJ9", "a" * 300])
def test_bad_cursor_is_a_400(client, pool, cursor):
    response = get(client, auth_headers(pool["me"]), lat=60.17, lng=24.94, cursor=cursor)
    assert response.status_code == 400
    assert response.json["error_code"] == "INVALID_CURSOR"


def test_cursor_from_another_query_is_refused(client, pool):
    headers = auth_headers(pool["me"])
    cursor = get(client, headers, lat=60.17, lng=24.94, limit=2).json["next_cursor"]
    assert cursor
    assert get(client, headers, lat=60.17, lng=24.94, limit=3, cursor=cursor).status_code == 200  # page size may change
    response = get(client, headers, lat=60.17, lng=24.94, limit=2, sea="public", cursor=cursor)
    assert response.status_code == 400 and response.json["error_code"] == "INVALID_CURSOR"


def test_requires_authentication(client):
    response = client.get(URL, query_string={"lat": 30, "lng": 120})
    assert response.status_code == 401 and response.json["error_code"] == "TOKEN_MISSING"
