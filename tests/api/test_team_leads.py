"""The team's lead pool: the list of a manager's subtree, bulk actions, locks, claim caps and pool groups."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from app import clock, db
from app.audit.models import AuditEntry
from app.leads.jobs import sweep_due_leads
from app.leads.schemas import MyLeadsSchema, TeamLeadsBulkResultSchema, TeamLeadsPageSchema
from app.merchants.models import Lead, LeadEvent, LeadState
from app.reminders.models import Reminder
from app.territories.models import Territory, TerritoryMember
from tests.factories import MerchantFactory, auth_headers, make_org

DAY = timedelta(days=1)
BOX = "SRID=4326;MULTIPOLYGON(((120.15 30.25,120.17 30.25,120.17 30.27,120.15 30.27,120.15 30.25)))"


@pytest.fixture
def org(session):
    org = make_org()
    tenant = org["tenant"]
    org["shops"] = [
        MerchantFactory(tenant=tenant, name=f"Shop {i}", lat=30.26 + i * 0.0001, lng=120.16, city="Hangzhou")
        for i in range(8)
    ]
    org["far"] = MerchantFactory(tenant=tenant, name="Far shop", lat=31.5, lng=121.5, city="Shanghai")
    return org


def claim(client, user, merchant):
    response = client.post(f"/api/v1/leads/{merchant.id}/claim", headers=auth_headers(user))
    assert response.status_code == 200, response.json
    return response.json


def team_leads(client, user, **query):
    return client.get("/api/v1/team/leads", headers=auth_headers(user), query_string=query)


def bulk(client, user, **body):
    return client.post("/api/v1/team/leads/bulk", headers=auth_headers(user), json=body)


def fresh(obj):
    """The row in the current session (objects of fixtures are detached once a request has run)."""
    return db.session.get(type(obj), obj.id)


def lead(merchant):
    db.session.expire_all()
    return db.session.get(Lead, merchant.id)


@pytest.fixture
def held(client, org):
    """bd1 holds shops 0-2, bd2 (sub-team) shops 3-4, the outsider (other team) shop 5."""
    shops = org["shops"]
    for shop in shops[:3]:
        claim(client, org["bd1"], shop)
    for shop in shops[3:5]:
        claim(client, org["bd2"], shop)
    claim(client, org["outsider"], shops[5])
    return org


def ids(page):
    return [item["merchant"]["id"] for item in page["items"]]


def test_a_manager_lists_the_private_leads_of_their_subtree_only(client, held):
    response = team_leads(client, held["manager"])
    assert response.status_code == 200, response.json
    page = TeamLeadsPageSchema().load(response.json) and response.json
    shops = held["shops"]
    assert sorted(ids(page)) == sorted(s.id for s in shops[:5])  # not the other team's shop 5
    assert page["total"] == 5
    item = next(i for i in page["items"] if i["merchant"]["id"] == shops[3].id)
    assert item["owner"]["id"] == held["bd2"].id and item["team"]["id"] == held["sub"].id
    assert item["drop_reason"] == "no_visit" and item["extensions_left"] == 2 and item["lock"] is None
    # ops see the whole business line, the other team's manager only theirs
    assert team_leads(client, held["ops"]).json["total"] == 6
    assert ids(team_leads(client, held["other_manager"]).json) == [shops[5].id]


def test_other_roles_and_tenants_are_refused_or_see_nothing(client, held):
    assert team_leads(client, held["bd1"]).status_code == 403
    assert bulk(client, held["bd1"], action="extend", merchant_ids=[held["shops"][0].id]).status_code == 403
    stranger = team_leads(client, held["stranger"])
    assert stranger.status_code == 200 and stranger.json["total"] == 0
    foreign = bulk(client, held["stranger"], action="extend", merchant_ids=[held["shops"][0].id])
    assert foreign.status_code == 422 and foreign.json["error_code"] == "UNKNOWN_MERCHANTS"


def test_filters(client, held, session):
    shops, manager = held["shops"], held["manager"]
    assert sorted(ids(team_leads(client, manager, owner_id=held["bd2"].id).json)) == [shops[3].id, shops[4].id]
    assert sorted(ids(team_leads(client, manager, team_id=held["sub"].id).json)) == [shops[3].id, shops[4].id]
    out = team_leads(client, manager, owner_id=held["outsider"].id)
    assert out.status_code == 403 and out.json["error_code"] == "NOT_IN_SCOPE"
    assert team_leads(client, manager, team_id=held["other_team"].id).json["error_code"] == "NOT_IN_SCOPE"
    # drop within N days: move one lead's clock close
    near = lead(shops[1])
    near.drops_at = clock.now() + 2 * DAY
    fresh(shops[2]).tags = ["chain"]
    session.commit()
    assert ids(team_leads(client, manager, drops_within_days=3).json) == [shops[1].id]
    assert ids(team_leads(client, manager, tag="chain").json) == [shops[2].id]
    assert team_leads(client, manager, reason="term_end").json["total"] == 0
    assert team_leads(client, manager, reason="no_visit").json["total"] == 5
    territory = Territory(
        tenant_id=held["tenant"].id, team_id=held["team"].id, name="T", area_m2=1.0, vertices=4, boundary=BOX
    )
    session.add(territory)
    session.commit()
    claim(client, held["bd1"], held["far"])
    assert team_leads(client, manager).json["total"] == 6
    assert team_leads(client, manager, territory_id=territory.id).json["total"] == 5  # not the far shop
    assert team_leads(client, manager, reason="bogus").status_code == 422


def test_sorted_and_cursor_paged_without_gaps(client, held, session):
    shops = held["shops"]
    for offset, shop in enumerate(shops[:5]):
        row = session.get(Lead, shop.id)
        row.drops_at = clock.now() + (5 - offset) * DAY
    session.commit()
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = team_leads(client, held["manager"], **query).json
        seen += ids(page)
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [s.id for s in reversed(shops[:5])]  # soonest drop first, each once
    newest_first = ids(team_leads(client, held["manager"], order="desc").json)
    assert newest_first == [s.id for s in shops[:5]]
    # a cursor of one query is refused for another
    first = team_leads(client, held["manager"], limit=2).json
    wrong = team_leads(client, held["manager"], limit=2, cursor=first["next_cursor"], sort="claimed_at")
    assert wrong.status_code == 400 and wrong.json["error_code"] == "INVALID_CURSOR"
    assert team_leads(client, held["manager"], sort="last_visit_at").json["total"] == 5


def test_bulk_reassign_groups_pushes_per_bd_and_reports_each_lead(client, held, session):
    shops = held["shops"]
    public = shops[6]
    response = bulk(
        client,
        held["manager"],
        action="reassign",
        merchant_ids=[shops[0].id, shops[1].id, shops[3].id, public.id],
        user_id=held["bd2"].id,
        reason="Territory handover",
    )
    assert response.status_code == 200, response.json
    body = TeamLeadsBulkResultSchema().load(response.json) and response.json
    results = {r["merchant_id"]: r for r in body["results"]}
    assert results[shops[0].id]["result"] == "done" and results[shops[0].id]["owner_id"] == held["bd2"].id
    assert results[shops[3].id]["error_code"] == "ALREADY_YOURS"
    assert results[public.id]["error_code"] == "NOT_PRIVATE_LEAD"
    assert body["done"] == 2 and body["failed"] == 2
    assert lead(shops[0]).owner_id == held["bd2"].id and lead(shops[3]).owner_id == held["bd2"].id
    # one to-do (one push) per BD for the batch, not one per lead
    reminders = session.scalars(select(Reminder).where(Reminder.kind == "team_leads")).all()
    assert sorted(r.user_id for r in reminders) == sorted([held["bd1"].id, held["bd2"].id])
    assert sorted(body["notified_user_ids"]) == sorted([held["bd1"].id, held["bd2"].id])
    to_bd2 = next(r for r in reminders if r.user_id == held["bd2"].id)
    assert to_bd2.title.startswith("2 lead(s) assigned to you")
    # history and audit log
    events = session.scalars(select(LeadEvent).where(LeadEvent.merchant_id == shops[0].id)).all()
    assert [e.action for e in events] == ["claim", "transfer"]
    actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.tenant_id == held["tenant"].id)))
    assert {"lead.transfer", "lead.bulk"} <= actions


def test_bulk_refuses_leads_or_bds_outside_the_subtree_as_a_whole(client, held):
    shops = held["shops"]
    outside = bulk(client, held["manager"], action="release", merchant_ids=[shops[0].id, shops[5].id], reason="x")
    assert outside.status_code == 403 and outside.json["error_code"] == "NOT_IN_SCOPE"
    assert lead(shops[0]).owner_id == held["bd1"].id  # nothing changed
    to_outsider = bulk(
        client, held["manager"], action="reassign", merchant_ids=[shops[0].id], user_id=held["outsider"].id
    )
    assert to_outsider.status_code == 403
    assert bulk(client, held["manager"], action="release", merchant_ids=[shops[0].id]).status_code == 422
    assert bulk(client, held["manager"], action="extend", merchant_ids=list(range(1, 1002))).status_code == 422
    unknown = bulk(client, held["manager"], action="extend", merchant_ids=[shops[0].id, 987654321])
    assert unknown.status_code == 422 and unknown.json["error_code"] == "UNKNOWN_MERCHANTS"


def test_bulk_release_and_extend(client, held, session):
    shops = held["shops"]
    before = lead(shops[1]).drops_at
    extended = bulk(client, held["manager"], action="extend", merchant_ids=[shops[1].id])
    assert extended.json["done"] == 1
    assert lead(shops[1]).drops_at == before + 15 * DAY and lead(shops[1]).extensions_used == 0
    released = bulk(client, held["manager"], action="release", merchant_ids=[shops[0].id], reason="Closed")
    assert released.json["results"][0]["result"] == "done"
    assert lead(shops[0]).state == LeadState.PUBLIC
    actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.tenant_id == held["tenant"].id)))
    assert {"lead.extend", "lead.release"} <= actions


def test_a_lock_stops_the_clocks_and_the_bd_sees_it(client, held, session):
    shop, bd = held["shops"][0], held["bd1"]
    original = lead(shop).drops_at  # 15 days: the no-visit clock
    until = clock.now() + 30 * DAY
    response = bulk(
        client, held["manager"], action="lock", merchant_ids=[shop.id], until=until.isoformat(), reason="Key account"
    )
    assert response.json["done"] == 1, response.json
    locked = lead(shop)
    assert locked.locked_until == until and abs((locked.drops_at - original) - 30 * DAY) < timedelta(seconds=2)
    # visible to the BD: my leads, detail, nearby
    mine = client.get("/api/v1/leads/mine", headers=auth_headers(bd)).json
    MyLeadsSchema().load(mine)
    assert next(i for i in mine["items"] if i["merchant_id"] == shop.id)["lock"]["reason"] == "Key account"
    detail = client.get(f"/api/v1/merchants/{shop.id}", headers=auth_headers(bd)).json
    assert detail["sea"]["locked_until"] is not None and detail["sea"]["lock_reason"] == "Key account"
    nearby = client.get(
        "/api/v1/merchants/nearby", headers=auth_headers(bd), query_string={"lat": 30.26, "lng": 120.16}
    ).json
    assert next(i for i in nearby["items"] if i["id"] == shop.id)["sea"]["locked_until"] is not None
    assert team_leads(client, held["manager"], locked=True).json["total"] == 1
    # the BD may not release it; the sweeper does not drop it at the old date
    refused = client.post(f"/api/v1/leads/{shop.id}/release", headers=auth_headers(bd), json={"reason": "x"})
    assert refused.status_code == 409 and refused.json["error_code"] == "LEAD_LOCKED"
    with freeze_time(original + DAY):
        sweep_due_leads()
    assert lead(shop).state == LeadState.PRIVATE
    events = [e.action for e in session.scalars(select(LeadEvent).where(LeadEvent.merchant_id == shop.id))]
    assert events == ["claim", "lock"]
    reminder = session.scalars(select(Reminder).where(Reminder.kind == "team_leads")).one()
    assert reminder.user_id == bd.id and "locked" in reminder.title


def test_unlock_counts_only_the_time_the_clocks_stood_still(client, held):
    shop = held["shops"][0]
    original = lead(shop).drops_at
    t0 = clock.now()
    until = t0 + 30 * DAY
    bulk(client, held["manager"], action="lock", merchant_ids=[shop.id], until=until.isoformat(), reason="Key")
    with freeze_time(t0 + 10 * DAY):
        response = bulk(client, held["manager"], action="unlock", merchant_ids=[shop.id])
        assert response.json["done"] == 1, response.json
    unlocked = lead(shop)
    assert unlocked.locked_until is None
    assert abs((unlocked.drops_at - original) - 10 * DAY) < timedelta(seconds=2)
    again = bulk(client, held["manager"], action="unlock", merchant_ids=[shop.id])
    assert again.json["results"][0]["error_code"] == "NOT_PRIVATE_LEAD"


def test_a_lock_ends_in_the_future(client, held):
    shop = held["shops"][0]
    past = bulk(
        client,
        held["manager"],
        action="lock",
        merchant_ids=[shop.id],
        until=(clock.now() - DAY).isoformat(),
        reason="x",
    )
    assert past.json["results"][0]["error_code"] == "VALIDATION_ERROR"
    assert bulk(client, held["manager"], action="lock", merchant_ids=[shop.id], reason="x").status_code == 422


def test_claim_caps_per_bd_and_per_rank_override_the_default(client, org, session):
    tenant, bd1, bd2 = org["tenant"], org["bd1"], org["bd2"]
    fresh(tenant).settings = {
        "pool": {"claim_cap": 5, "claim_caps": {"users": {str(bd1.id): 1}, "ranks": {"senior": 2}}}
    }
    fresh(bd2).rank = "senior"
    session.commit()
    shops = org["shops"]
    claim(client, bd1, shops[0])
    capped = client.post(f"/api/v1/leads/{shops[1].id}/claim", headers=auth_headers(bd1))
    assert capped.status_code == 409 and capped.json["cap"] == 1
    claim(client, bd2, shops[2])
    claim(client, bd2, shops[3])
    assert client.post(f"/api/v1/leads/{shops[4].id}/claim", headers=auth_headers(bd2)).json["cap"] == 2
    assert client.get("/api/v1/leads/mine", headers=auth_headers(bd2)).json["cap"] == 2
    claim(client, org["outsider"], shops[4])  # no override: the tenant's 5


def test_rank_is_set_by_user_admin(client, org):
    response = client.patch(
        f"/api/v1/users/{org['bd1'].id}", headers=auth_headers(org["admin"]), json={"rank": "senior"}
    )
    assert response.status_code == 200 and response.json["rank"] == "senior"


def test_pool_groups_by_territory(client, org, session):
    tenant = org["tenant"]
    fresh(tenant).settings = {"pool": {"pool_groups": "territory"}}
    territory = Territory(tenant_id=tenant.id, team_id=org["team"].id, name="T", area_m2=1.0, vertices=4, boundary=BOX)
    session.add(territory)
    session.flush()
    session.add(TerritoryMember(tenant_id=tenant.id, territory_id=territory.id, user_id=org["bd1"].id))
    session.commit()
    # nearby and detail say what a claim would answer
    near = client.get(
        "/api/v1/merchants/nearby", headers=auth_headers(org["bd1"]), query_string={"lat": 30.26, "lng": 120.16}
    ).json["items"]
    assert all(item["claimable"] for item in near if item["id"] in {s.id for s in org["shops"]})
    assert not client.get(
        "/api/v1/merchants/nearby", headers=auth_headers(org["bd2"]), query_string={"lat": 30.26, "lng": 120.16}
    ).json["items"][0]["claimable"]
    far_detail = client.get(f"/api/v1/merchants/{org['far'].id}", headers=auth_headers(org["bd1"])).json
    assert far_detail["sea"]["claimable"] is False
    claim(client, org["bd1"], org["shops"][0])
    outside = client.post(f"/api/v1/leads/{org['far'].id}/claim", headers=auth_headers(org["bd1"]))
    assert outside.status_code == 409 and outside.json["error_code"] == "NOT_IN_POOL_GROUP"
    no_territory = client.post(f"/api/v1/leads/{org['shops'][1].id}/claim", headers=auth_headers(org["bd2"]))
    assert no_territory.json["error_code"] == "NOT_IN_POOL_GROUP"


def test_pool_groups_by_city(client, org, session):
    fresh(org["tenant"]).settings = {"pool": {"pool_groups": "city"}}  # make_org's city unit is "Hangzhou"
    session.commit()
    assert client.get(f"/api/v1/merchants/{org['shops'][0].id}", headers=auth_headers(org["bd2"])).json["sea"][
        "claimable"
    ]
    far_near = client.get(
        "/api/v1/merchants/nearby",
        headers=auth_headers(org["bd2"]),
        query_string={"lat": 31.5, "lng": 121.5, "radius_m": 500},
    ).json["items"]
    assert [(i["id"], i["claimable"]) for i in far_near] == [(org["far"].id, False)]
    claim(client, org["bd2"], org["shops"][0])
    outside = client.post(f"/api/v1/leads/{org['far'].id}/claim", headers=auth_headers(org["bd2"]))
    assert outside.status_code == 409 and outside.json["error_code"] == "NOT_IN_POOL_GROUP"


def test_pool_group_settings_are_validated(client, org):
    headers = auth_headers(org["admin"])
    bad = client.patch("/api/v1/tenant/settings", headers=headers, json={"pool": {"pool_groups": "street"}})
    assert bad.status_code == 422
    bad_cap = client.patch(
        "/api/v1/tenant/settings", headers=headers, json={"pool": {"claim_caps": {"users": {"bob": 3}}}}
    )
    assert bad_cap.status_code == 422
    good = client.patch(
        "/api/v1/tenant/settings",
        headers=headers,
        json={"pool": {"pool_groups": "city", "claim_caps": {"ranks": {"senior": 150}}}},
    )
    assert good.status_code == 200 and good.json["pool"]["claim_caps"] == {"users": {}, "ranks": {"senior": 150}}
