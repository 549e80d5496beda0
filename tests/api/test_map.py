"""GET /merchants/map: pins when few, grid clusters when many, counts that add up."""

from __future__ import annotations

import pytest

from app import db
from app.merchants.models import Lead, LeadState, Merchant
from app.merchants.schemas import MapSchema
from app.org.models import User
from geo.coords import wgs84_to_gcj02
from tests.factories import MerchantFactory, TenantFactory, UserFactory, auth_headers

URL = "/api/v1/merchants/map"
# downtown Hangzhou, about 3 x 3 km: thousands of merchants
DOWNTOWN = (120.150, 30.245, 120.180, 30.270)


def get(client, headers, bbox, zoom=15, **params):
    return client.get(URL, query_string={"bbox": ",".join(map(str, bbox)), "zoom": zoom, **params}, headers=headers)


def count_in_box(rows, bbox):
    """Independent of the SQL: the source file's own WGS84 coordinates."""
    west, south, east, north = bbox
    return sum(1 for r in rows if south <= float(r["lat"]) <= north and west <= float(r["lon"]) <= east)


def test_dense_box_is_clustered_and_counts_add_up(client, hangzhou, hangzhou_rows):
    headers = auth_headers(db.session.get(User, hangzhou["hz_bd"]))
    response = get(client, headers, DOWNTOWN, zoom=15)
    assert response.status_code == 200
    body = response.json
    MapSchema().load(body)
    assert body["mode"] == "clusters" and body["pins"] == []
    expected = count_in_box(hangzhou_rows, DOWNTOWN)
    assert expected > 500
    assert body["total"] == expected == sum(c["count"] for c in body["clusters"])
    for cluster in body["clusters"]:
        by_state = cluster["by_state"]
        assert by_state["public"] + by_state["private"] + by_state["partner"] == cluster["count"]
        assert DOWNTOWN[1] <= cluster["lat"] <= DOWNTOWN[3] and DOWNTOWN[0] <= cluster["lng"] <= DOWNTOWN[2]


def test_zooming_in_makes_more_and_smaller_clusters(client, hangzhou):
    headers = auth_headers(db.session.get(User, hangzhou["hz_bd"]))
    coarse = get(client, headers, DOWNTOWN, zoom=13).json
    fine = get(client, headers, DOWNTOWN, zoom=16).json
    assert len(fine["clusters"]) > len(coarse["clusters"])
    assert fine["cell_deg"] < coarse["cell_deg"]
    assert fine["total"] == coarse["total"]


def test_small_box_returns_pins(client, hangzhou, hangzhou_rows):
    headers = auth_headers(db.session.get(User, hangzhou["hz_bd"]))
    small = (120.1690, 30.2580, 120.1710, 30.2595)
    body = get(client, headers, small, zoom=18).json
    assert body["mode"] == "pins" and body["clusters"] == []
    assert 0 < body["total"] == len(body["pins"]) == count_in_box(hangzhou_rows, small) <= 500
    for pin in body["pins"]:
        assert small[1] <= pin["lat"] <= small[3] and small[0] <= pin["lng"] <= small[2]


@pytest.fixture
def street(session):
    tenant = TenantFactory()
    me = UserFactory(tenant=tenant)
    merchants = [MerchantFactory(tenant=tenant, lat=60.17 + i * 0.00001, lng=24.94) for i in range(501)]
    return tenant, me, merchants


def test_switches_from_pins_to_clusters_above_500(client, session, street):
    tenant, me, merchants = street
    box = (24.93, 60.16, 24.95, 60.18)
    assert get(client, auth_headers(me), box).json["mode"] == "clusters"
    session.delete(session.get(Merchant, merchants[-1].id))
    session.commit()
    body = get(client, auth_headers(me), box).json
    assert body["mode"] == "pins" and body["total"] == 500


def test_states_and_filters_apply_to_pins_and_clusters(client, session, street):
    tenant, me, merchants = street
    for merchant in merchants[:10]:
        session.add(Lead(merchant_id=merchant.id, tenant_id=tenant.id, state=LeadState.PRIVATE, owner_id=me.id))
    for merchant in merchants[10:13]:
        session.add(Lead(merchant_id=merchant.id, tenant_id=tenant.id, state=LeadState.PARTNER, owner_id=me.id))
    session.commit()
    box = (24.93, 60.16, 24.95, 60.18)
    clusters = get(client, auth_headers(me), box).json["clusters"]
    totals = {k: sum(c["by_state"][k] for c in clusters) for k in ("public", "private", "partner", "mine")}
    assert totals == {"public": 488, "private": 10, "partner": 3, "mine": 13}
    mine = get(client, auth_headers(me), box, sea="mine").json
    assert mine["mode"] == "pins" and mine["total"] == 10 and all(p["mine"] for p in mine["pins"])
    assert {p["sea_state"] for p in mine["pins"]} == {"private"}


def test_gcj02_box_and_pins(client, session):
    tenant = TenantFactory()
    me = UserFactory(tenant=tenant)
    MerchantFactory(tenant=tenant, name="西湖店", lat=30.2585, lng=120.1700)
    south_west, north_east = wgs84_to_gcj02(30.2575, 120.1690), wgs84_to_gcj02(30.2595, 120.1710)
    box = (south_west[1], south_west[0], north_east[1], north_east[0])
    pins = get(client, auth_headers(me), box, zoom=18, coord_sys="gcj02").json["pins"]
    assert [p["name"] for p in pins] == ["西湖店"]
    assert (pins[0]["lat"], pins[0]["lng"]) == pytest.approx(wgs84_to_gcj02(30.2585, 120.1700), abs=1e-6)
    # the same WGS84 box read as GCJ-02 is ~500 m off and misses it
    assert (
        get(client, auth_headers(me), (120.1690, 30.2575, 120.1710, 30.2595), zoom=18, coord_sys="gcj02").json["total"]
        == 0
    )


def test_other_tenants_are_invisible_on_the_map(client, session, street):
    tenant, me, _ = street
    other = TenantFactory()
    MerchantFactory(tenant=other, lat=60.17, lng=24.94)
    box = (24.93, 60.16, 24.95, 60.18)
    assert get(client, auth_headers(me), box).json["total"] == 501


@pytest.mark.parametrize(
    ("bbox", "zoom", "field", "code"),
    [
        ("120,30,121,31", 12, "bbox", "BBOX_TOO_LARGE"),
        ("1,2,3", 12, "bbox", "VALIDATION_ERROR"),
        ("a,b,c,d", 12, "bbox", "VALIDATION_ERROR"),
        ("120.2,30,120.1,30.1", 12, "bbox", "VALIDATION_ERROR"),
        ("120,30,120.1,nan", 12, "bbox", "VALIDATION_ERROR"),
        ("120,30,120.1,95", 12, "bbox", "VALIDATION_ERROR"),
        ("120,30,120.01,30.01", 2, "zoom", "VALIDATION_ERROR"),
        ("120,30,120.01,30.01", 22, "zoom", "VALIDATION_ERROR"),
    ],
)
def test_bad_boxes_and_zooms_are_422(client, session, bbox, zoom, field, code):
    me = UserFactory()
    response = client.get(URL, query_string={"bbox": bbox, "zoom": zoom}, headers=auth_headers(me))
    assert response.status_code == 422, response.json
    assert response.json["error_code"] == code
    assert field in response.json["errors"]["query"]


def test_missing_bbox_is_422(client, session):
    response = client.get(URL, query_string={"zoom": 12}, headers=auth_headers(UserFactory()))
    assert response.status_code == 422 and "bbox" in response.json["errors"]["query"]


def test_documented_examples_match_the_schemas():
    from app.merchants.examples import DETAIL_EXAMPLE, MAP_CLUSTERS_EXAMPLE, MAP_PINS_EXAMPLE, NEARBY_EXAMPLE
    from app.merchants.schemas import MerchantDetailSchema, NearbyPageSchema

    MerchantDetailSchema().load(DETAIL_EXAMPLE)
    NearbyPageSchema().load(NEARBY_EXAMPLE)
    MapSchema().load(MAP_CLUSTERS_EXAMPLE)
    MapSchema().load(MAP_PINS_EXAMPLE)
