"""Org tree and user administration: subtree rules, moves, and what deactivating a BD does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock, db
from app.admin.schemas import DeactivationSchema, OrgUnitPageSchema, UserPageSchema, UserSchema
from app.devices.models import Device
from app.merchants.models import Lead, LeadEvent, LeadState
from app.org.models import OrgUnit
from app.territories.models import Territory, TerritoryMember
from tests.factories import MerchantFactory, auth_headers, make_org


@pytest.fixture
def org(session):
    return make_org()


def ids(response):
    assert response.status_code == 200, response.json
    return {item["id"] for item in response.json["items"]}


def test_who_sees_which_users_and_units(client, org):
    users = client.get("/api/v1/users", headers=auth_headers(org["manager"]))
    UserPageSchema().load(users.json)
    assert ids(users) == {org["manager"].id, org["bd1"].id, org["bd2"].id}
    assert org["outsider"].id in ids(client.get("/api/v1/users", headers=auth_headers(org["ops"])))
    assert ids(client.get("/api/v1/users", headers=auth_headers(org["stranger"]))) == {org["stranger"].id}
    units = client.get("/api/v1/org/units", headers=auth_headers(org["manager"]))
    OrgUnitPageSchema().load(units.json)
    assert ids(units) == {org["team"].id, org["sub"].id}
    assert client.get("/api/v1/users", headers=auth_headers(org["bd1"])).status_code == 403
    assert client.get(f"/api/v1/users/{org['outsider'].id}", headers=auth_headers(org["manager"])).status_code == 404
    assert client.get(f"/api/v1/users/{org['bd2'].id}", headers=auth_headers(org["stranger"])).status_code == 404
    only_bds = client.get(
        "/api/v1/users", query_string={"role": "bd", "active": "true"}, headers=auth_headers(org["admin"])
    )
    assert ids(only_bds) == {org["bd1"].id, org["bd2"].id, org["outsider"].id}


def test_a_manager_creates_bds_in_the_subtree_only(client, org):
    body = {"username": "new.bd", "password": "long-enough-1", "role": "bd", "org_unit_id": org["sub"].id}
    response = client.post("/api/v1/users", json=body, headers=auth_headers(org["manager"]))
    assert response.status_code == 201, response.json
    created = UserSchema().load(response.json)
    assert created["manager_id"] == org["manager"].id and "password" not in response.json
    assert client.post("/api/v1/users", json=body, headers=auth_headers(org["manager"])).status_code == 409
    outside = client.post(
        "/api/v1/users",
        json={**body, "username": "x.bd", "org_unit_id": org["other_team"].id},
        headers=auth_headers(org["manager"]),
    )
    assert outside.status_code == 422 and outside.json["error_code"] == "UNKNOWN_ORG_UNIT"
    as_admin = client.post(
        "/api/v1/users", json={**body, "username": "boss", "role": "admin"}, headers=auth_headers(org["manager"])
    )
    assert as_admin.status_code == 403
    by_bd = client.post("/api/v1/users", json={**body, "username": "y"}, headers=auth_headers(org["bd1"]))
    assert by_bd.status_code == 403
    login = client.post(
        "/api/v1/auth/login", json={"tenant": org["tenant"].slug, "username": "new.bd", "password": "long-enough-1"}
    )
    assert login.status_code == 200, login.json


def test_moving_a_unit_rewrites_its_subtree_and_the_managers_scope_follows(client, org, session):
    extra = client.post(
        "/api/v1/org/units",
        json={"name": "Night shift", "kind": "subteam", "parent_id": org["sub"].id},
        headers=auth_headers(org["manager"]),
    )
    assert extra.status_code == 201 and extra.json["path"] == f"{org['sub'].path}{extra.json['id']}/"
    cycle = client.patch(
        f"/api/v1/org/units/{org['team'].id}", json={"parent_id": extra.json["id"]}, headers=auth_headers(org["admin"])
    )
    assert cycle.status_code == 422 and cycle.json["error_code"] == "ORG_CYCLE"
    moved = client.patch(
        f"/api/v1/org/units/{org['sub'].id}",
        json={"parent_id": org["other_team"].id},
        headers=auth_headers(org["admin"]),
    )
    assert moved.status_code == 200
    assert moved.json["path"] == f"{org['other_team'].path}{org['sub'].id}/"
    night = session.scalar(select(OrgUnit.path).where(OrgUnit.id == extra.json["id"]))
    assert night == f"{org['other_team'].path}{org['sub'].id}/{extra.json['id']}/"
    # bd2 sits in the moved sub-team: now the other manager's, no longer this one's
    assert org["bd2"].id in ids(client.get("/api/v1/users", headers=auth_headers(org["other_manager"])))
    assert org["bd2"].id not in ids(client.get("/api/v1/users", headers=auth_headers(org["manager"])))
    own = client.patch(
        f"/api/v1/org/units/{org['team'].id}", json={"parent_id": None}, headers=auth_headers(org["manager"])
    )
    assert own.status_code == 403


def test_moving_a_user(client, org, session):
    def territory(team, name):
        row = Territory(
            tenant_id=org["tenant"].id,
            team_id=team.id,
            name=name,
            area_m2=1,
            vertices=4,
            boundary="SRID=4326;MULTIPOLYGON(((120 30,120.1 30,120.1 30.1,120 30.1,120 30)))",
        )
        session.add(row)
        session.flush()
        session.add(TerritoryMember(tenant_id=org["tenant"].id, territory_id=row.id, user_id=org["bd1"].id))
        return row.id

    team_territory, city_territory = territory(org["team"], "Team's"), territory(org["city"], "City's")
    session.commit()
    response = client.patch(
        f"/api/v1/users/{org['bd1'].id}", json={"org_unit_id": org["sub"].id}, headers=auth_headers(org["manager"])
    )
    assert response.status_code == 200 and response.json["org_unit_id"] == org["sub"].id
    # the sub-team is inside both territories' teams: bd1 keeps them
    kept = set(session.scalars(select(TerritoryMember.territory_id).where(TerritoryMember.user_id == org["bd1"].id)))
    assert kept == {team_territory, city_territory}
    moved = client.patch(
        f"/api/v1/users/{org['bd1'].id}", json={"org_unit_id": org["other_team"].id}, headers=auth_headers(org["admin"])
    )
    assert moved.status_code == 200
    kept = set(session.scalars(select(TerritoryMember.territory_id).where(TerritoryMember.user_id == org["bd1"].id)))
    assert kept == {city_territory}
    client.patch(
        f"/api/v1/users/{org['bd1'].id}", json={"org_unit_id": org["sub"].id}, headers=auth_headers(org["admin"])
    )
    away = client.patch(
        f"/api/v1/users/{org['bd1'].id}",
        json={"org_unit_id": org["other_team"].id},
        headers=auth_headers(org["manager"]),
    )
    assert away.status_code == 422
    role = client.patch(f"/api/v1/users/{org['bd1'].id}", json={"role": "ops"}, headers=auth_headers(org["manager"]))
    assert role.status_code == 403
    assert (
        client.patch(f"/api/v1/users/{org['bd1'].id}", json={"role": "ops"}, headers=auth_headers(org["admin"])).json[
            "role"
        ]
        == "ops"
    )
    assert (
        client.patch(
            f"/api/v1/users/{org['admin'].id}", json={"role": "bd"}, headers=auth_headers(org["admin"])
        ).status_code
        == 409
    )


@pytest.fixture
def busy_bd(org, session):
    """bd1 with two private leads, a partner, two sessions, a phone and a territory."""
    bd = org["bd1"]
    now = clock.now()
    shops = [MerchantFactory(tenant=org["tenant"]) for _ in range(3)]
    for shop in shops[:2]:
        session.add(
            Lead(
                merchant_id=shop.id,
                tenant_id=org["tenant"].id,
                state=LeadState.PRIVATE,
                owner_id=bd.id,
                claimed_at=now - timedelta(days=3),
                drops_at=now + timedelta(days=10),
                drop_reason="no_visit",
            )
        )
    session.add(
        Lead(
            merchant_id=shops[2].id, tenant_id=org["tenant"].id, state=LeadState.PARTNER, owner_id=bd.id, signed_at=now
        )
    )
    session.add(Device(tenant_id=org["tenant"].id, user_id=bd.id, token="fcm-token-bd1", platform="android"))
    territory = Territory(
        tenant_id=org["tenant"].id,
        team_id=org["team"].id,
        name="T",
        area_m2=1,
        vertices=4,
        boundary="SRID=4326;MULTIPOLYGON(((120 30,120.1 30,120.1 30.1,120 30.1,120 30)))",
    )
    session.add(territory)
    session.flush()
    session.add(TerritoryMember(tenant_id=org["tenant"].id, territory_id=territory.id, user_id=bd.id))
    session.commit()
    return {"bd": bd, "headers": [auth_headers(bd), auth_headers(bd)], "shops": shops}


def deactivate(client, actor, user):
    return client.post(
        f"/api/v1/users/{user.id}/deactivate", json={"reason": "left the company"}, headers=auth_headers(actor)
    )


def test_deactivating_a_bd_revokes_everything_and_returns_leads_to_the_pool(client, org, busy_bd, session):
    response = deactivate(client, org["manager"], busy_bd["bd"])
    assert response.status_code == 200, response.json
    body = DeactivationSchema().load(response.json)
    assert body["sessions_revoked"] == 2 and body["devices_disabled"] == 1 and body["territories_left"] == 1
    assert body["leads_to_public"] == 2 and body["leads_to_manager"] == 0 and body["user"]["is_active"] is False
    for headers in busy_bd["headers"]:
        assert (
            client.get("/api/v1/users/" + str(busy_bd["bd"].id), headers=headers).json["error_code"] == "TOKEN_REVOKED"
        )
    db.session.expire_all()
    assert session.scalar(select(Device.disabled_reason).where(Device.token == "fcm-token-bd1")) == "user_deactivated"
    states = dict(
        session.execute(
            select(Lead.merchant_id, Lead.state).where(Lead.merchant_id.in_([s.id for s in busy_bd["shops"]]))
        ).all()
    )
    assert list(states.values()).count(LeadState.PUBLIC) == 2
    assert states[busy_bd["shops"][2].id] == LeadState.PARTNER  # signed partners keep their history
    events = session.scalars(select(LeadEvent).where(LeadEvent.from_owner_id == busy_bd["bd"].id)).all()
    assert {(e.action, e.to_owner_id, e.actor_id, e.reason) for e in events} == {
        ("deactivate", None, org["manager"].id, "left the company")
    }
    assert len(events) == 2
    history = client.get(f"/api/v1/leads/{busy_bd['shops'][0].id}/history", headers=auth_headers(org["manager"]))
    assert history.status_code == 200 and history.json["items"][0]["action"] == "deactivate"
    again = deactivate(client, org["manager"], busy_bd["bd"])
    assert again.json["already_inactive"] is True and again.json["leads_to_public"] == 0
    login = client.post(
        "/api/v1/auth/login",
        json={"tenant": org["tenant"].slug, "username": busy_bd["bd"].username, "password": "correct-horse-battery"},
    )
    assert login.status_code in (401, 403)


def test_leads_go_to_the_manager_when_the_tenant_says_so(client, org, busy_bd, session):
    settings = client.patch(
        "/api/v1/tenant/settings", json={"pool": {"on_deactivate": "manager"}}, headers=auth_headers(org["admin"])
    )
    assert settings.status_code == 200
    body = deactivate(client, org["admin"], busy_bd["bd"]).json
    assert body["leads_to_manager"] == 2 and body["heir_id"] == org["manager"].id
    db.session.expire_all()
    owners = set(
        session.scalars(
            select(Lead.owner_id).where(Lead.state == LeadState.PRIVATE, Lead.tenant_id == org["tenant"].id)
        )
    )
    assert owners == {org["manager"].id}
    events = session.scalars(select(LeadEvent).where(LeadEvent.from_owner_id == busy_bd["bd"].id)).all()
    assert {e.to_owner_id for e in events} == {org["manager"].id}


def test_an_unmanaged_bd_falls_back_to_the_units_manager(client, org, session):
    client.patch(
        "/api/v1/tenant/settings", json={"pool": {"on_deactivate": "manager"}}, headers=auth_headers(org["admin"])
    )
    shop = MerchantFactory(tenant=org["tenant"])
    session.add(
        Lead(
            merchant_id=shop.id,
            tenant_id=org["tenant"].id,
            state=LeadState.PRIVATE,
            owner_id=org["bd2"].id,
            claimed_at=clock.now(),
            drops_at=clock.now() + timedelta(days=5),
        )
    )
    session.commit()
    # bd2 has no manager_id; their sub-team has no manager; the team above has one
    assert deactivate(client, org["admin"], org["bd2"]).json["heir_id"] == org["manager"].id


def test_who_may_deactivate_whom(client, org):
    assert deactivate(client, org["manager"], org["outsider"]).status_code == 404
    assert deactivate(client, org["stranger"], org["bd1"]).status_code == 404
    assert deactivate(client, org["ops"], org["bd1"]).status_code == 403
    assert deactivate(client, org["bd2"], org["bd1"]).status_code == 403
    assert deactivate(client, org["manager"], org["manager"]).status_code == 404
    assert deactivate(client, org["admin"], org["admin"]).status_code == 404
    assert deactivate(client, org["manager"], org["bd2"]).status_code == 200
