"""Every list is paged with the same cursor scheme: `limit`, `cursor`, `next_cursor` (null on the last page),
`total` on every page, and a cursor that belongs to another query refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon

from app import clock
from app.merchants.models import LeadEvent
from app.territories.models import Territory
from tests.factories import MerchantFactory, UserFactory, auth_headers, make_org

SQUARE = MultiPolygon([Polygon([(120.1, 30.2), (120.2, 30.2), (120.2, 30.3), (120.1, 30.3), (120.1, 30.2)])])


@pytest.fixture
def world(session):
    org = make_org()
    for _ in range(4):
        UserFactory(tenant=org["tenant"], org_unit_id=org["team"].id, manager_id=org["manager"].id)
    # a name twice (in two teams of the manager's subtree): the id breaks the tie
    for team, name in [("team", "Delta"), ("team", "alpha"), ("team", "Charlie"), ("team", "Bravo"), ("sub", "Bravo")]:
        session.add(
            Territory(
                tenant_id=org["tenant"].id,
                team_id=org[team].id,
                name=name,
                area_m2=1,
                vertices=4,
                boundary=from_shape(SQUARE, srid=4326),
            )
        )
    shop = MerchantFactory(tenant=org["tenant"])
    start = clock.now() - timedelta(days=3)
    for i, action in enumerate(["claim", "extend", "release", "claim", "extend"]):
        session.add(
            LeadEvent(
                tenant_id=org["tenant"].id,
                merchant_id=shop.id,
                action=action,
                actor_id=org["bd1"].id,
                to_owner_id=org["bd1"].id,
                created_at=start + timedelta(hours=i // 2),  # equal times too: the id breaks the tie
            )
        )
    session.commit()
    return {**org, "shop": shop}


def walk(client, user, url, limit):
    """Every page of a list, following next_cursor; the ids in order and the totals seen."""
    ids, totals, cursor, pages = [], set(), None, 0
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, query_string=query, headers=auth_headers(user))
        assert response.status_code == 200, response.json
        assert len(response.json["items"]) <= limit
        ids += [item["id"] for item in response.json["items"]]
        totals.add(response.json["total"])
        pages += 1
        cursor = response.json["next_cursor"]
        if cursor is None:
            return ids, totals, pages
        assert pages < 50


@pytest.mark.parametrize(
    "url, who",
    [
        ("/api/v1/users", "admin"),
        ("/api/v1/users", "manager"),
        ("/api/v1/org/units", "admin"),
        ("/api/v1/territories", "manager"),
        ("/api/v1/leads/{shop}/history", "manager"),
    ],
)
def test_pages_of_one_walk_the_same_list_as_one_page(client, world, url, who):
    url = url.format(shop=world["shop"].id)
    everything, totals, pages = walk(client, world[who], url, 500)
    assert pages == 1 and totals == {len(everything)} and len(everything) >= 3
    one_by_one, totals, pages = walk(client, world[who], url, 1)
    assert one_by_one == everything and len(set(one_by_one)) == len(one_by_one)  # no gap, no duplicate
    assert pages == len(everything) and totals == {len(everything)}
    two_by_two, _, _ = walk(client, world[who], url, 2)
    assert two_by_two == everything


def test_territories_come_by_name_and_history_oldest_first(client, world):
    body = client.get("/api/v1/territories", headers=auth_headers(world["manager"])).json
    assert [t["name"] for t in body["items"]] == ["Bravo", "Bravo", "Charlie", "Delta", "alpha"]
    history = client.get(f"/api/v1/leads/{world['shop'].id}/history", headers=auth_headers(world["manager"])).json
    assert [e["action"] for e in history["items"]] == ["claim", "extend", "release", "claim", "extend"]


def test_a_cursor_of_another_list_or_filter_is_refused(client, world):
    admin = auth_headers(world["admin"])
    cursor = client.get("/api/v1/users", query_string={"limit": 1}, headers=admin).json["next_cursor"]
    for url, query in [
        ("/api/v1/users", {"role": "bd"}),  # same list, other filters
        ("/api/v1/org/units", {}),
        ("/api/v1/territories", {}),
    ]:
        response = client.get(url, query_string={**query, "cursor": cursor}, headers=admin)
        assert response.status_code == 400 and response.json["error_code"] == "INVALID_CURSOR", url
    tampered = client.get("/api/v1/users", query_string={"cursor": cursor[:-2] + "AA"}, headers=admin)
    assert tampered.status_code == 400 and tampered.json["error_code"] == "INVALID_CURSOR"
    for limit in (0, 501, "x"):
        response = client.get("/api/v1/users", query_string={"limit": limit}, headers=admin)
        assert response.status_code == 422 and "limit" in response.json["errors"]["query"]
