"""Territories: drawing with validation, overlaps, BD assignment, coverage, stats, nearby and task targeting."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from geoalchemy2.shape import from_shape
from psycopg.types.json import Jsonb
from shapely.geometry import MultiPolygon, Point, Polygon
from sqlalchemy import func, select, text

from app import clock
from app.dashboard import service as dashboard
from app.merchants import queries as merchants
from app.merchants.models import Lead, LeadState
from app.territories.models import Territory, TerritoryMember
from app.territories.schemas import TerritorySchema, TerritoryStatsSchema
from app.visits.models import Visit
from tests.factories import MerchantFactory, OrgUnitFactory, TenantFactory, auth_headers, make_org, point

URL = "/api/v1/territories"
# a 4 km x 3.3 km box east of West Lake, and one overlapping its eastern half
BOX = [[120.15, 30.25], [120.19, 30.25], [120.19, 30.28], [120.15, 30.28], [120.15, 30.25]]
EAST = [[120.17, 30.25], [120.23, 30.25], [120.23, 30.28], [120.17, 30.28], [120.17, 30.25]]
FAR = [[120.30, 30.30], [120.32, 30.30], [120.32, 30.32], [120.30, 30.32], [120.30, 30.30]]


def polygon(ring):
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
def org(session):
    return make_org()


def draw(client, user, team, ring=BOX, name="West Lake East"):
    return client.post(
        URL, json={"name": name, "team_id": team.id, "geometry": polygon(ring)}, headers=auth_headers(user)
    )


def test_a_manager_draws_a_territory_for_a_team_of_the_subtree(client, org):
    response = draw(client, org["manager"], org["sub"])
    assert response.status_code == 201, response.json
    body = TerritorySchema().load(response.json)
    assert body["geometry"]["type"] == "MultiPolygon"
    assert body["geometry"]["coordinates"][0][0][0] == [120.15, 30.25]
    assert 12.5e6 < body["area_m2"] < 13.3e6 and body["vertices"] == 4
    assert body["overlaps"] == [] and body["member_ids"] == []


def test_overlaps_with_the_same_teams_territories_are_reported(client, org):
    first = draw(client, org["manager"], org["team"]).json
    draw(client, org["other_manager"], org["other_team"], ring=EAST, name="Other team's")
    second = draw(client, org["manager"], org["team"], ring=EAST, name="East")
    assert second.status_code == 201
    [overlap] = second.json["overlaps"]  # the other team's territory is not reported
    assert overlap["id"] == first["id"] and overlap["name"] == "West Lake East"
    # the shared strip is 0.02° x 0.03°: about a third of a 0.06° x 0.03° box
    assert 5e6 < overlap["overlap_m2"] < 7e6
    assert draw(client, org["manager"], org["team"], ring=FAR, name="Far").json["overlaps"] == []


def test_invalid_geometry_is_a_422_with_shapelys_reason_and_location(client, org):
    bow_tie = [[120.15, 30.25], [120.19, 30.28], [120.19, 30.25], [120.15, 30.28], [120.15, 30.25]]
    response = draw(client, org["manager"], org["team"], ring=bow_tie)
    assert response.status_code == 422
    assert response.json["error_code"] == "INVALID_GEOMETRY"
    error = response.json["geometry_error"]
    assert error["code"] == "SELF_INTERSECTION" and error["reason"] == "Self-intersection"
    assert error["location"] == pytest.approx([120.17, 30.265])
    assert response.json["errors"]["json"]["geometry"] == ["Self-intersection"]


@pytest.mark.parametrize(
    "geometry, code",
    [
        (polygon(BOX[:-1]), "UNCLOSED_RING"),
        (polygon([[70, 20], [130, 20], [130, 50], [70, 50], [70, 20]]), "AREA_TOO_LARGE"),
        (polygon([[179, -17], [-179, -17], [-179, -16], [179, -16], [179, -17]]), "SPANS_ANTIMERIDIAN"),
        ({"type": "Point", "coordinates": [120.1, 30.2]}, "UNSUPPORTED_GEOMETRY"),
        (polygon([[30.25, 120.15], [30.25, 120.19], [30.28, 120.19], [30.25, 120.15]]), "OUT_OF_RANGE"),
    ],
)
def test_bad_boundaries(client, org, geometry, code):
    response = client.post(
        URL, json={"name": "x", "team_id": org["team"].id, "geometry": geometry}, headers=auth_headers(org["manager"])
    )
    assert response.status_code == 422, response.json
    assert response.json["geometry_error"]["code"] == code


def test_limits_come_from_tenant_settings(client, org):
    def limit(**rules):
        response = client.patch(
            "/api/v1/tenant/settings", json={"territory": rules}, headers=auth_headers(org["admin"])
        )
        assert response.status_code == 200, response.json.get("errors")

    limit(max_area_km2=5)
    assert draw(client, org["manager"], org["team"]).json["geometry_error"]["code"] == "AREA_TOO_LARGE"
    limit(max_area_km2=2000, max_vertices=4)
    assert draw(client, org["manager"], org["team"]).status_code == 201
    pentagon = [*BOX[:2], [120.2, 30.265], *BOX[2:]]
    response = draw(client, org["manager"], org["team"], ring=pentagon, name="Pentagon")
    assert response.json["geometry_error"]["code"] == "TOO_MANY_VERTICES"


def test_who_may_draw_where(client, org):
    assert draw(client, org["manager"], org["other_team"]).json["error_code"] == "TEAM_NOT_FOUND"
    assert draw(client, org["bd1"], org["team"]).json["error_code"] == "FORBIDDEN"
    assert draw(client, org["ops"], org["team"]).json["error_code"] == "FORBIDDEN"
    assert draw(client, org["admin"], org["other_team"]).status_code == 201
    assert draw(client, org["stranger"], org["team"]).json["error_code"] == "TEAM_NOT_FOUND"
    duplicate = draw(client, org["admin"], org["other_team"])
    assert duplicate.status_code == 409 and duplicate.json["error_code"] == "TERRITORY_EXISTS"


def test_members_and_visibility(client, org):
    territory = draw(client, org["manager"], org["team"]).json
    members_url = f"{URL}/{territory['id']}/members"
    refused = client.put(
        members_url, json={"user_ids": [org["bd1"].id, org["outsider"].id]}, headers=auth_headers(org["manager"])
    )
    assert refused.status_code == 422 and refused.json["error_code"] == "UNKNOWN_USERS"
    assert str(org["outsider"].id) in refused.json["errors"]["json"]["user_ids"][0]
    ok = client.put(
        members_url, json={"user_ids": [org["bd1"].id, org["bd2"].id]}, headers=auth_headers(org["manager"])
    )
    assert ok.status_code == 200 and ok.json["member_ids"] == sorted([org["bd1"].id, org["bd2"].id])

    def visible(user):
        return {t["id"] for t in client.get(URL, headers=auth_headers(user)).json["items"]}

    assert visible(org["bd1"]) == {territory["id"]}
    assert visible(org["outsider"]) == set()
    assert visible(org["other_manager"]) == set()
    assert visible(org["ops"]) == {territory["id"]}
    assert visible(org["stranger"]) == set()
    for user in ("outsider", "other_manager", "stranger"):
        for path in ("", "/stats"):
            response = client.get(f"{URL}/{territory['id']}{path}", headers=auth_headers(org[user]))
            assert response.status_code == 404 and response.json["error_code"] == "TERRITORY_NOT_FOUND", user
    for user in ("other_manager", "stranger"):
        response = client.patch(f"{URL}/{territory['id']}", json={"name": "Mine now"}, headers=auth_headers(org[user]))
        assert response.status_code == 404, user
        assert client.delete(f"{URL}/{territory['id']}", headers=auth_headers(org[user])).status_code == 404
    assert client.get(f"{URL}/{territory['id']}", headers=auth_headers(org["bd2"])).status_code == 200
    cleared = client.put(members_url, json={"user_ids": []}, headers=auth_headers(org["manager"]))
    assert cleared.json["member_ids"] == []


def test_update_and_delete(client, org):
    territory = draw(client, org["manager"], org["team"]).json
    draw(client, org["manager"], org["team"], ring=FAR, name="Far")
    moved = client.patch(
        f"{URL}/{territory['id']}",
        json={"geometry": polygon(FAR), "name": "Moved"},
        headers=auth_headers(org["manager"]),
    )
    assert moved.status_code == 200 and moved.json["name"] == "Moved"
    assert moved.json["overlaps"][0]["name"] == "Far"
    bad = client.patch(
        f"{URL}/{territory['id']}", json={"geometry": polygon(BOX[:-1])}, headers=auth_headers(org["manager"])
    )
    assert bad.status_code == 422
    assert client.get(f"{URL}/{territory['id']}", headers=auth_headers(org["manager"])).json["name"] == "Moved"
    assert client.delete(f"{URL}/{territory['id']}", headers=auth_headers(org["manager"])).status_code == 204
    assert client.get(f"{URL}/{territory['id']}", headers=auth_headers(org["manager"])).status_code == 404


@pytest.fixture
def covered(client, org, session):
    """A territory with bd1 assigned, merchants inside, on the edge, outside, and in another tenant."""
    territory = draw(client, org["manager"], org["team"]).json
    client.put(
        f"{URL}/{territory['id']}/members", json={"user_ids": [org["bd1"].id]}, headers=auth_headers(org["manager"])
    )
    inside = [
        MerchantFactory(tenant=org["tenant"], name=f"Inside {i}", lat=30.26 + i * 0.001, lng=120.16) for i in range(4)
    ]
    # on the western edge, a meridian: geography edges are great circles, so a point on a parallel edge
    # between two vertices lies a fraction of a metre outside
    edge = MerchantFactory(tenant=org["tenant"], name="On the edge", lat=30.265, lng=120.15)
    outside = MerchantFactory(tenant=org["tenant"], name="Outside", lat=30.26, lng=120.195)
    MerchantFactory(tenant=org["stranger"].tenant_id and TenantFactory(), name="Other tenant", lat=30.26, lng=120.16)
    now = clock.now()
    session.add_all(
        [
            Lead(
                merchant_id=inside[0].id,
                tenant_id=org["tenant"].id,
                state=LeadState.PRIVATE,
                owner_id=org["bd1"].id,
                claimed_at=now,
                drops_at=now + timedelta(days=10),
            ),
            Lead(
                merchant_id=inside[1].id,
                tenant_id=org["tenant"].id,
                state=LeadState.PARTNER,
                owner_id=org["bd1"].id,
                signed_at=now - timedelta(minutes=5),
            ),
            Lead(
                merchant_id=outside.id,
                tenant_id=org["tenant"].id,
                state=LeadState.PARTNER,
                owner_id=org["bd1"].id,
                signed_at=now - timedelta(minutes=5),
            ),
        ]
    )
    for merchant, verified, when in (
        (inside[0], True, now - timedelta(minutes=10)),
        (inside[2], False, now - timedelta(minutes=20)),
        (inside[2], True, now - timedelta(days=8)),
        (outside, True, now - timedelta(minutes=10)),
    ):
        session.add(
            Visit(
                merchant_id=merchant.id,
                tenant_id=org["tenant"].id,
                user_id=org["bd1"].id,
                idempotency_key=f"k{merchant.id}{when.timestamp()}",
                request_hash="x",
                client_time=when,
                location=point(30.26, 120.16),
                verified=verified,
            )
        )
    session.commit()
    return {"territory": territory, "inside": inside, "edge": edge, "outside": outside}


def test_stats(client, org, covered):
    response = client.get(f"{URL}/{covered['territory']['id']}/stats", headers=auth_headers(org["bd1"]))
    assert response.status_code == 200, response.json
    body = TerritoryStatsSchema().load(response.json)
    # 4 inside + the one on the boundary (ST_Covers counts the edge)
    assert body["merchants"] == {"total": 5, "public": 3, "private": 1, "partner": 1}
    assert body["visits_this_week"] == {"total": 2, "verified": 1}
    assert body["signings_this_week"] == 1


def test_which_territories_cover_a_merchant(org, covered, session):
    manager = org["manager"]
    assert merchants.territories_covering(manager, covered["edge"].id) == [covered["territory"]["id"]]
    assert merchants.territories_covering(manager, covered["outside"].id) == []
    assert merchants.territories_covering(org["outsider"], covered["inside"][0].id) == []


def test_nearby_in_my_territory(client, org, covered):
    def names(user, **params):
        response = client.get(
            "/api/v1/merchants/nearby",
            headers=auth_headers(user),
            query_string={"lat": 30.26, "lng": 120.17, "radius_m": 5000, **params},
        )
        assert response.status_code == 200, response.json.get("errors")
        return {item["name"] for item in response.json["items"]}

    expected = {m.name for m in covered["inside"]} | {"On the edge"}
    assert names(org["bd1"], in_my_territory="true") == expected
    assert names(org["bd1"]) == expected | {"Outside"}
    assert names(org["bd2"], in_my_territory="true") == set()  # not assigned
    mine_only = names(org["bd1"], in_my_territory="true", sea="public")
    assert mine_only == expected - {"Inside 0", "Inside 1"}


def test_coverage_uses_the_merchants_gist_index(hangzhou, session):
    team = OrgUnitFactory(tenant_id=hangzhou["tenant_id"], tenant=None)
    territory = session.execute(
        text(
            "INSERT INTO territories (tenant_id, team_id, name, boundary, area_m2, vertices) "
            "VALUES (:t, :team, 'Plan', ST_GeogFromText(:wkt), 1, 4) RETURNING id"
        ),
        {
            "t": hangzhou["tenant_id"],
            "team": team.id,
            "wkt": "MULTIPOLYGON(((120.15 30.25,120.19 30.25,120.19 30.28,120.15 30.28,120.15 30.25)))",
        },
    ).scalar()
    session.execute(text("ANALYZE territories"))
    plan = "\n".join(
        row[0]
        for row in session.execute(
            text("EXPLAIN " + dashboard.STATS_SQL.text),
            {"territory_id": territory, "week_start": clock.now(), "now": clock.now()},
        )
    )
    assert "ix_merchants_tenant_location" in plan, plan
    assert "Seq Scan on merchants" not in plan, plan


def test_a_task_for_a_territorys_bds(client, org, covered):
    response = client.post(
        "/api/v1/tasks",
        json={"title": "Sweep", "kind": "visit", "territory_id": covered["territory"]["id"]},
        headers=auth_headers(org["manager"]),
    )
    assert response.status_code == 201, response.json
    detail = client.get(f"/api/v1/tasks/{response.json['id']}", headers=auth_headers(org["manager"])).json
    assert {a["assignee"]["id"] for a in detail["assignments"]} == {org["bd1"].id}
    for user in ("other_manager", "stranger"):
        refused = client.post(
            "/api/v1/tasks",
            json={"title": "Sweep", "kind": "visit", "territory_id": covered["territory"]["id"]},
            headers=auth_headers(org[user]),
        )
        assert refused.status_code == 422 and refused.json["error_code"] == "UNKNOWN_TERRITORY", user


# A concave territory with a hole over downtown Hangzhou, for the real POIs
HZ_SHELL = [
    [120.150, 30.240],
    [120.200, 30.240],
    [120.200, 30.290],
    [120.175, 30.290],
    [120.175, 30.265],
    [120.150, 30.265],
    [120.150, 30.240],
]
HZ_HOLE = [[120.180, 30.250], [120.190, 30.250], [120.190, 30.260], [120.180, 30.260], [120.180, 30.250]]


@pytest.fixture
def hz_territory(hangzhou, session):
    from app.org.models import User

    team = OrgUnitFactory(tenant_id=hangzhou["tenant_id"], tenant=None, name="HZ downtown")
    territory = Territory(
        tenant_id=hangzhou["tenant_id"],
        team_id=team.id,
        name="Downtown L",
        area_m2=1,
        vertices=10,
        boundary=from_shape(MultiPolygon([Polygon(HZ_SHELL, [HZ_HOLE])]), srid=4326),
    )
    session.add(territory)
    session.flush()
    session.add(TerritoryMember(tenant_id=hangzhou["tenant_id"], territory_id=territory.id, user_id=hangzhou["hz_bd"]))
    session.commit()
    return {"territory": territory, "bd": session.get(User, hangzhou["hz_bd"])}


def test_coverage_matches_shapely_on_the_real_pois(hangzhou, hangzhou_rows, hz_territory, session):
    """ST_Covers on geography against shapely on the CSV's own WGS84 positions (points within 2 m of an edge,
    where great-circle and planar edges may disagree, are left out of the comparison)."""
    from app.merchants.models import Merchant

    shape = Polygon(HZ_SHELL, [HZ_HOLE])
    near_edge = shape.boundary.buffer(2e-5)
    by_source = dict(
        session.execute(
            select(Merchant.source_id, Merchant.id).where(Merchant.tenant_id == hangzhou["tenant_id"])
        ).all()
    )
    expected, ambiguous = set(), set()
    for row in hangzhou_rows:
        position = Point(float(row["lon"]), float(row["lat"]))
        if near_edge.contains(position):
            ambiguous.add(by_source[row["source_id"]])
        elif shape.contains(position):
            expected.add(by_source[row["source_id"]])
    covered = set(
        session.scalars(
            select(Merchant.id)
            .join(Territory, func.ST_Covers(Territory.boundary, Merchant.location))
            .where(Territory.id == hz_territory["territory"].id, Merchant.tenant_id == hangzhou["tenant_id"])
        )
    )
    assert len(expected) > 500  # downtown: a real sample
    assert covered - ambiguous == expected


def test_nearby_in_my_territory_keeps_the_index_scan(hangzhou, hz_territory, session):
    from app.merchants import queries as merchants
    from app.tenants.models import Tenant

    tenant = session.get(Tenant, hangzhou["tenant_id"])
    for filters in (
        merchants.MerchantFilters(in_my_territory=True),
        merchants.MerchantFilters(in_my_territory=True, sea="public"),
    ):
        statement, _ = merchants.nearby_statement(
            hz_territory["bd"], tenant, merchants.NearbyQuery(lat=30.2585, lng=120.17, radius_m=2000, filters=filters)
        )
        compiled = statement.compile(dialect=session.bind.dialect)
        plan = "\n".join(r[0] for r in session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params))
        scan = plan[plan.index("Index Scan using ix_merchants_tenant_location") :]
        assert re.search(r"Order By: \(location <-> ", scan), plan
        assert "Seq Scan on merchants" not in plan, plan
    page = merchants.nearby(
        hz_territory["bd"],
        tenant,
        merchants.NearbyQuery(
            lat=30.2585, lng=120.17, radius_m=2000, limit=100, filters=merchants.MerchantFilters(in_my_territory=True)
        ),
    )
    shape = Polygon(HZ_SHELL, [HZ_HOLE])
    assert page["items"] and all(shape.buffer(2e-5).contains(Point(i["lng"], i["lat"])) for i in page["items"])


def test_nearby_attribute_filter_on_the_real_pois(hangzhou, session):
    """`attr.<key>` on imported columns declared as custom fields: right rows, and the KNN scan stays."""
    from app.merchants import queries as merchants
    from app.org.models import User
    from app.tenants.models import Tenant

    tenant = session.get(Tenant, hangzhou["tenant_id"])
    tenant.settings = {"custom_fields": [{"key": "category_l1", "label": "Sector", "type": "string"}]}
    user = session.get(User, hangzhou["hz_bd"])
    query = merchants.NearbyQuery(
        lat=30.2585,
        lng=120.17,
        radius_m=1500,
        limit=50,
        filters=merchants.MerchantFilters(attrs=(("category_l1", "餐饮服务"),)),
    )
    page = merchants.nearby(user, tenant, query)
    assert len(page["items"]) == 50
    assert all(item["category"].startswith("餐饮服务") for item in page["items"])
    statement, _ = merchants.nearby_statement(user, tenant, query)
    compiled = statement.compile(dialect=session.bind.dialect)
    params = {k: Jsonb(v) if isinstance(v, dict) else v for k, v in compiled.params.items()}
    plan = "\n".join(r[0] for r in session.connection().exec_driver_sql(f"EXPLAIN {compiled}", params))
    assert re.search(r"Order By: \(location <-> ", plan), plan
    assert "Seq Scan on merchants" not in plan, plan
    session.rollback()
