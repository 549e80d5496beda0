"""Push devices across tenants: a token belongs to one user at a time within a tenant, and registering it in
another tenant never takes the first tenant's row over."""

from __future__ import annotations

from sqlalchemy import select

from app import db
from app.devices.models import Device
from app.org.models import Role
from tests.factories import TenantFactory, UserFactory, auth_headers

TOKEN = "cRoSsTeNaNt:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"


def register(client, user, token=TOKEN, platform="android"):
    return client.post("/api/v1/devices", json={"token": token, "platform": platform}, headers=auth_headers(user))


def rows(token=TOKEN):
    db.session.expire_all()
    return {(d.tenant_id, d.user_id) for d in db.session.scalars(select(Device).where(Device.token == token))}


def test_a_token_registered_in_another_tenant_is_a_new_row_and_the_first_stays(client):
    food, hotels = TenantFactory(), TenantFactory()
    aino = UserFactory(tenant=food, role=Role.BD)
    mallory = UserFactory(tenant=hotels, role=Role.BD)
    first = register(client, aino)
    assert first.status_code == 200
    second = register(client, mallory)
    assert second.status_code == 200 and second.json["id"] != first.json["id"]
    assert rows() == {(food.id, aino.id), (hotels.id, mallory.id)}
    # the first owner still has the phone and can remove it; the other tenant's row is not touched by that
    assert client.delete(f"/api/v1/devices/{TOKEN}", headers=auth_headers(aino)).status_code == 204
    assert rows() == {(hotels.id, mallory.id)}
    assert client.delete(f"/api/v1/devices/{TOKEN}", headers=auth_headers(mallory)).status_code == 204
    assert rows() == set()


def test_re_registering_in_another_tenant_refreshes_that_tenants_row_only(client):
    food, hotels = TenantFactory(), TenantFactory()
    aino = UserFactory(tenant=food)
    mallory = UserFactory(tenant=hotels)
    register(client, aino)
    register(client, mallory)
    again = register(client, aino, platform="ios")
    assert again.status_code == 200 and again.json["platform"] == "ios"
    platforms = dict(db.session.execute(select(Device.tenant_id, Device.platform).where(Device.token == TOKEN)).all())
    assert platforms == {food.id: "ios", hotels.id: "android"}


def test_within_a_tenant_the_token_moves_to_the_new_user(client):
    tenant = TenantFactory()
    before, after = UserFactory(tenant=tenant), UserFactory(tenant=tenant)
    first = register(client, before)
    moved = register(client, after)
    assert moved.json["id"] == first.json["id"]
    assert rows() == {(tenant.id, after.id)}
    assert client.delete(f"/api/v1/devices/{TOKEN}", headers=auth_headers(before)).status_code == 404


def test_the_first_tenants_user_keeps_receiving_pushes_until_the_token_is_rotated(client, app, monkeypatch):
    """Pushes follow the rows: both tenants' users reach the phone; once FCM says the token is dead (rotated),
    each tenant's row goes at its next push."""
    from app import push_gateway
    from app.devices.push import deliver

    monkeypatch.setitem(app.config, "PUSH_BACKEND", "recording")
    recorder = push_gateway.backend()
    recorder.clear()
    food, hotels = TenantFactory(), TenantFactory()
    aino = UserFactory(tenant=food)
    mallory = UserFactory(tenant=hotels)
    register(client, aino)
    register(client, mallory)

    def push(tenant, user):
        return deliver(
            tenant_id=tenant.id,
            users=[user.id],
            message={
                "title": "t",
                "body": "b",
                "data": {"type": "task", "id": "1", "deep_link": "fieldsales://tasks/1"},
                "collapse_key": "c",
            },
            attempt=1,
            device_ids=None,
            log_fields=lambda device: {},
            retry=lambda delay, ids: None,
        )

    assert push(food, aino) == {"sent": 1}
    assert [p.token for p in recorder.pushes] == [TOKEN]
    recorder.fail([TOKEN], "UNREGISTERED")
    assert push(hotels, mallory) == {"deleted": 1}
    assert rows() == {(food.id, aino.id)}
    assert push(food, aino) == {"deleted": 1}
    assert rows() == set()
