"""Check-ins verified by location, idempotent retries, check-out, the lead clock, lists and the team view."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select

from app import clock, db
from app.idempotency.models import IdempotencyKey
from app.leads.rules import drop_clock
from app.merchants.models import AuditStatus, Contact, Lead, LeadState, Merchant
from app.org.models import OrgKind, Role
from app.reminders.models import Reminder
from app.tenants.models import DEFAULT_SETTINGS
from app.visits.models import Visit
from app.visits.schemas import CheckInResultSchema, TeamDaySchema, VisitPageSchema
from geo.coords import wgs84_to_gcj02
from tests.factories import (
    ContactFactory,
    MerchantFactory,
    OrgUnitFactory,
    TenantFactory,
    UserFactory,
    auth_headers,
    image_bytes,
)

SHOP = (30.2585, 120.1700)  # West Lake, Hangzhou


def moved(metres):
    """About ``metres`` due north of the shop (a degree of latitude is ~110.9 km here)."""
    return SHOP[0] + metres / 110_900, SHOP[1]


@pytest.fixture
def area(session):
    tenant = TenantFactory()
    team = OrgUnitFactory(tenant=tenant, kind=OrgKind.TEAM, name="West Lake")
    manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=team.id)
    bd = UserFactory(tenant=tenant, role=Role.BD, org_unit_id=team.id, manager_id=manager.id, display_name="Zhang")
    colleague = UserFactory(tenant=tenant, role=Role.BD, org_unit_id=team.id, manager_id=manager.id)
    outsider = UserFactory(tenant=tenant, role=Role.BD)
    other_manager = UserFactory(tenant=tenant, role=Role.MANAGER)
    ops = UserFactory(tenant=tenant, role=Role.OPS)
    shop = MerchantFactory(tenant=tenant, name="外婆家", lat=SHOP[0], lng=SHOP[1])
    return {
        "tenant": tenant,
        "manager": manager,
        "bd": bd,
        "colleague": colleague,
        "outsider": outsider,
        "other_manager": other_manager,
        "ops": ops,
        "shop": shop,
    }


def body(area, at=SHOP, **overrides):
    payload = {
        "merchant_id": area["shop"].id,
        "lat": at[0],
        "lng": at[1],
        "accuracy_m": 10,
        "client_time": clock.now().isoformat(),
        "mock_location": False,
    }
    payload.update(overrides)
    return payload


def check_in(client, user, payload, key=None):
    headers = {**auth_headers(user), "Idempotency-Key": key or str(uuid.uuid4())}
    return client.post("/api/v1/visits", json=payload, headers=headers)


def test_a_check_in_at_the_shop_is_verified(client, area):
    response = check_in(client, area["bd"], body(area, at=moved(30)))
    assert response.status_code == 201, response.json
    result = response.json
    CheckInResultSchema().load(result)
    assert result["verified"] is True and result["flags"] == []
    assert result["distance_m"] == pytest.approx(30, abs=0.5)
    assert result["offline"] is False and result["lead"] is None
    assert response.headers["Idempotent-Replayed"] == "false"


@pytest.mark.parametrize(
    ("overrides", "flags"),
    [
        ({"at": moved(400), "accuracy_m": 50}, ["too_far"]),
        ({"at": moved(240), "accuracy_m": 50}, []),  # 240 m minus 50 m accuracy is within 200 m
        ({"accuracy_m": 150}, ["low_accuracy"]),
        ({"accuracy_m": 100}, []),
        ({"mock_location": True}, ["mock_location"]),
        ({"client_time_offset": timedelta(hours=1)}, ["clock_skew"]),
        ({"client_time_offset": timedelta(minutes=3)}, []),
        ({"client_time_offset": -timedelta(hours=25)}, ["clock_skew"]),
        ({"at": moved(1200), "accuracy_m": 800, "mock_location": True}, ["too_far", "low_accuracy", "mock_location"]),
    ],
)
def test_each_flag(client, area, overrides, flags):
    at = overrides.pop("at", SHOP)
    offset = overrides.pop("client_time_offset", timedelta(0))
    payload = body(area, at=at, client_time=(clock.now() + offset).isoformat(), **overrides)
    result = check_in(client, area["bd"], payload).json
    assert result["flags"] == flags and result["verified"] is (not flags)


def test_gcj02_input_is_converted_before_measuring(client, area):
    lat, lng = wgs84_to_gcj02(*SHOP)  # ~500 m off in raw numbers
    result = check_in(client, area["bd"], body(area, at=(lat, lng), coord_sys="gcj02")).json
    assert result["verified"] is True and result["distance_m"] < 0.5
    wrong = check_in(client, area["bd"], body(area, at=(lat, lng))).json  # the same numbers read as WGS84
    assert "too_far" in wrong["flags"]


def test_impossible_speed_between_check_ins(client, area, session):
    far_shop = MerchantFactory(tenant=area["tenant"], lat=30.35, lng=120.17)  # ~10 km north
    start = clock.now() - timedelta(minutes=10)
    first = check_in(client, area["bd"], body(area, client_time=start.isoformat())).json
    assert first["verified"]
    fast = body(
        area, at=(30.35, 120.17), merchant_id=far_shop.id, client_time=(start + timedelta(minutes=2)).isoformat()
    )
    assert check_in(client, area["bd"], fast).json["flags"] == ["impossible_speed"]
    slow = {**fast, "client_time": (start + timedelta(minutes=9)).isoformat()}  # ~68 km/h
    assert check_in(client, area["bd"], slow).json["flags"] == []


def test_offline_check_in_arriving_hours_late(client, area, session):
    earlier = clock.now() - timedelta(hours=3)
    result = check_in(client, area["bd"], body(area, client_time=earlier.isoformat())).json
    assert result["offline"] is True and result["verified"] is True
    check_in(client, area["bd"], body(area))
    items = client.get("/api/v1/visits", headers=auth_headers(area["bd"])).json["items"]
    assert [i["offline"] for i in items] == [False, True]  # ordered by the phone's time, newest first


def test_replay_returns_the_same_visit(client, area, session):
    key = str(uuid.uuid4())
    payload = body(area)
    first = check_in(client, area["bd"], payload, key)
    replay = check_in(client, area["bd"], payload, key)
    assert replay.status_code == first.status_code == 201
    assert replay.json == first.json and replay.headers["Idempotent-Replayed"] == "true"
    assert db.session.scalar(select(func.count()).select_from(Visit).where(Visit.user_id == area["bd"].id)) == 1


def test_same_key_with_another_body_is_409(client, area):
    key = str(uuid.uuid4())
    check_in(client, area["bd"], body(area), key)
    response = check_in(client, area["bd"], body(area, accuracy_m=11), key)
    assert response.status_code == 409 and response.json["error_code"] == "IDEMPOTENCY_KEY_REUSED"


def test_keys_are_per_user(client, area):
    key = str(uuid.uuid4())
    assert check_in(client, area["bd"], body(area), key).status_code == 201
    second = check_in(client, area["colleague"], body(area), key)
    assert second.status_code == 201 and second.headers["Idempotent-Replayed"] == "false"


def test_idempotency_key_is_required(client, area):
    response = client.post("/api/v1/visits", json=body(area), headers=auth_headers(area["bd"]))
    assert response.status_code == 422 and "Idempotency-Key" in response.json["errors"]["headers"]


@pytest.mark.parametrize("key", ["", "short", "x" * 121])
def test_a_malformed_idempotency_key_is_400(client, area, key):
    """As on every POST (tests/api/test_idempotency.py)."""
    headers = {**auth_headers(area["bd"]), "Idempotency-Key": key}
    response = client.post("/api/v1/visits", json=body(area), headers=headers)
    assert response.status_code == 400 and response.json["error_code"] == "INVALID_IDEMPOTENCY_KEY"
    assert "Idempotency-Key" in response.json["errors"]["headers"]


def test_a_check_in_retried_after_its_key_expired_still_makes_one_visit(client, area, session):
    """The visit keeps its key: a phone offline for longer than the stored answers are kept replays its visit."""
    key = str(uuid.uuid4())
    payload = body(area)
    first = check_in(client, area["bd"], payload, key)
    session.execute(delete(IdempotencyKey))  # what the purge does once the key's lifetime is over
    late = check_in(client, area["bd"], payload, key)
    assert late.status_code == 201 and late.headers["Idempotent-Replayed"] == "true"
    assert late.json == first.json
    assert db.session.scalar(select(func.count()).select_from(Visit).where(Visit.user_id == area["bd"].id)) == 1
    other = check_in(client, area["bd"], body(area, accuracy_m=11), key)
    session.execute(delete(IdempotencyKey))
    assert check_in(client, area["bd"], body(area, accuracy_m=11), key).json["error_code"] == "IDEMPOTENCY_KEY_REUSED"
    assert other.status_code == 409


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"merchant_id": 0}, "merchant_id"),
        ({"lat": 91}, "lat"),
        ({"lng": "east"}, "lng"),
        ({"accuracy_m": -1}, "accuracy_m"),
        ({"client_time": "2026-11-22T10:00:00"}, "client_time"),
        ({"client_time": "yesterday"}, "client_time"),
        ({"coord_sys": "utm"}, "coord_sys"),
        ({"photo_ids": ["nope"]}, "photo_ids"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_check_ins_are_422(client, area, overrides, field):
    response = check_in(client, area["bd"], body(area, **overrides))
    assert response.status_code == 422 and field in response.json["errors"]["json"]


def test_unknown_or_foreign_merchant_is_404(client, area):
    foreign = MerchantFactory(tenant=TenantFactory())
    for merchant_id in (foreign.id, 987654321):
        response = check_in(client, area["bd"], body(area, merchant_id=merchant_id))
        assert response.status_code == 404 and response.json["error_code"] == "MERCHANT_NOT_FOUND"


def test_concurrent_duplicates_of_one_key_make_exactly_one_visit(app, live):
    tenant = live.tenant()
    bd = UserFactory(tenant=tenant)
    shop = MerchantFactory(tenant=tenant, lat=SHOP[0], lng=SHOP[1])
    headers = {**auth_headers(bd), "Idempotency-Key": str(uuid.uuid4())}
    payload = {
        "merchant_id": shop.id,
        "lat": SHOP[0],
        "lng": SHOP[1],
        "accuracy_m": 5,
        "client_time": clock.now().isoformat(),
    }
    db.session.remove()
    results, barrier = [], threading.Barrier(8)

    def send():
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/v1/visits", json=payload, headers=headers)
        results.append((response.status_code, response.json["id"]))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in results} == {201}
    assert len({visit_id for _, visit_id in results}) == 1
    assert db.session.scalar(select(func.count()).select_from(Visit).where(Visit.user_id == bd.id)) == 1


def test_concurrent_check_ins_on_one_merchant_never_deadlock(app, live):
    """Verified and unverified check-ins of several BDs on one owned merchant at once: the lead row and the
    merchant row are always locked in the same order (a deadlock surfaces as a 503)."""
    tenant = live.tenant()
    owner = UserFactory(tenant=tenant)
    others = [UserFactory(tenant=tenant) for _ in range(7)]
    shop = MerchantFactory(tenant=tenant, lat=SHOP[0], lng=SHOP[1])
    now = clock.now()
    db.session.add(
        Lead(
            merchant_id=shop.id,
            tenant_id=tenant.id,
            state=LeadState.PRIVATE,
            owner_id=owner.id,
            claimed_at=now - timedelta(days=3),
            drops_at=now + timedelta(days=10),
            drop_reason="no_visit",
        )
    )
    db.session.commit()
    calls = []
    for round_no in range(4):
        for i, bd in enumerate([owner, *others]):
            far = i % 2 == 1  # every other one checks in 5 km away: unverified, leaves the merchant alone
            calls.append(
                (
                    auth_headers(bd),
                    {
                        "merchant_id": shop.id,
                        "lat": SHOP[0] + (0.05 if far else 0),
                        "lng": SHOP[1],
                        "accuracy_m": 5,
                        "client_time": (now - timedelta(minutes=10 - round_no)).isoformat(),
                    },
                )
            )
    db.session.remove()
    results = []

    def send(headers, payload):
        response = app.test_client().post(
            "/api/v1/visits", json=payload, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
        )
        results.append(response.status_code)

    for start in range(0, len(calls), 8):
        barrier = threading.Barrier(8)

        def run(headers, payload, barrier=barrier):
            barrier.wait()
            send(headers, payload)

        threads = [threading.Thread(target=run, args=call) for call in calls[start : start + 8]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [201] * len(calls)


# --- the lead clock ---------------------------------------------------------------------------------


@pytest.fixture
def owned(area, session):
    claimed = clock.now() - timedelta(days=5)
    rules = DEFAULT_SETTINGS["pool"]
    clock_ = drop_clock(claimed, None, 0, rules)
    session.add(
        Lead(
            merchant_id=area["shop"].id,
            tenant_id=area["tenant"].id,
            state=LeadState.PRIVATE,
            owner_id=area["bd"].id,
            claimed_at=claimed,
            drops_at=clock_.drops_at,
            drop_reason=clock_.reason,
        )
    )
    session.commit()
    return claimed


def lead_of(area):
    db.session.expire_all()
    return db.session.get(Lead, area["shop"].id)


def test_owners_verified_visit_resets_the_no_visit_clock(client, area, owned):
    before = lead_of(area).drops_at
    now = clock.now()
    result = check_in(client, area["bd"], body(area, client_time=now.isoformat())).json
    lead = lead_of(area)
    assert lead.drops_at > before and lead.last_visit_at == now.replace(microsecond=now.microsecond)
    expected = drop_clock(owned, now, 0, DEFAULT_SETTINGS["pool"])
    assert lead.drops_at == expected.drops_at and lead.drop_reason == expected.reason
    assert result["lead"]["drops_at"] == expected.drops_at.isoformat() and result["lead"]["mine"] is True


def test_unverified_visit_does_not_move_the_clock(client, area, owned):
    before = lead_of(area).drops_at
    result = check_in(client, area["bd"], body(area, at=moved(800))).json
    assert result["verified"] is False and lead_of(area).drops_at == before


def test_another_bds_visit_does_not_move_the_clock(client, area, owned):
    before = lead_of(area).drops_at
    result = check_in(client, area["colleague"], body(area)).json
    assert result["verified"] is True and lead_of(area).drops_at == before
    assert result["lead"] == {
        "state": "private",
        "mine": False,
        "owner": {"id": area["bd"].id, "name": "Zhang"},  # whose shop the colleague is standing in
        "drops_at": None,
        "drop_reason": None,
    }
    assert db.session.get(Merchant, area["shop"].id).last_visit_at is not None  # street-sweep still sees it


def test_a_late_offline_visit_never_moves_the_clock_backwards(client, area, owned):
    check_in(client, area["bd"], body(area))
    latest = lead_of(area).drops_at
    check_in(client, area["bd"], body(area, client_time=(clock.now() - timedelta(hours=5)).isoformat()))
    assert lead_of(area).drops_at == latest


def test_visit_shows_in_merchant_detail_at_once(client, area):
    detail = client.get(f"/api/v1/merchants/{area['shop'].id}", headers=auth_headers(area["bd"])).json
    assert detail["visits"]["total"] == 0
    check_in(client, area["bd"], body(area))
    detail = client.get(f"/api/v1/merchants/{area['shop'].id}", headers=auth_headers(area["bd"])).json
    assert detail["visits"]["total"] == 1


# --- check-out ------------------------------------------------------------------------------------


def test_check_out(client, area, session):
    contact = ContactFactory(merchant=area["shop"])
    start = clock.now() - timedelta(minutes=25)
    visit = check_in(client, area["bd"], body(area, client_time=start.isoformat())).json
    next_visit = clock.now() + timedelta(days=2)
    response = client.post(
        f"/api/v1/visits/{visit['id']}/checkout",
        headers=auth_headers(area["bd"]),
        json={
            "result": "follow_up",
            "notes": "wants a lunch deal",
            "contact_ids": [contact.id],
            "next_visit_at": next_visit.isoformat(),
            "lat": SHOP[0],
            "lng": SHOP[1],
        },
    )
    assert response.status_code == 200, response.json
    out = response.json
    assert out["result"] == "follow_up" and 1490 <= out["duration_s"] <= 1520
    assert out["contact_ids"] == [contact.id] and out["notes"] == "wants a lunch deal"
    assert db.session.get(Contact, contact.id).last_contacted_at is not None
    reminder = db.session.scalar(select(Reminder).where(Reminder.user_id == area["bd"].id))
    assert (
        reminder.kind == "planned_visit" and reminder.due_at == next_visit and reminder.merchant_id == area["shop"].id
    )
    again = client.post(
        f"/api/v1/visits/{visit['id']}/checkout", headers=auth_headers(area["bd"]), json={"result": "interested"}
    )
    assert again.status_code == 409 and again.json["error_code"] == "ALREADY_CHECKED_OUT"


def test_check_out_in_the_far_future_is_422(client, area):
    """Found by fuzzing: a year-5367 check-out overflowed the duration column (a 500)."""
    visit = check_in(client, area["bd"], body(area)).json
    response = client.post(
        f"/api/v1/visits/{visit['id']}/checkout",
        headers=auth_headers(area["bd"]),
        json={"result": "interested", "client_time": "5367-07-06T04:26:08-22:26"},
    )
    assert response.status_code == 422 and "client_time" in response.json["errors"]["json"]


def test_only_the_visits_bd_checks_out(client, area):
    visit = check_in(client, area["bd"], body(area)).json
    response = client.post(
        f"/api/v1/visits/{visit['id']}/checkout", headers=auth_headers(area["colleague"]), json={"result": "interested"}
    )
    # like no visit at all: ids must not tell which visits exist
    assert response.status_code == 404 and response.json["error_code"] == "VISIT_NOT_FOUND"
    foreign = UserFactory(tenant=TenantFactory())
    response = client.post(
        f"/api/v1/visits/{visit['id']}/checkout", headers=auth_headers(foreign), json={"result": "interested"}
    )
    assert response.status_code == 404


def test_store_closed_sends_the_merchant_to_audit(client, area):
    visit = check_in(client, area["bd"], body(area)).json
    client.post(
        f"/api/v1/visits/{visit['id']}/checkout", headers=auth_headers(area["bd"]), json={"result": "store_closed"}
    )
    merchant = db.session.get(Merchant, area["shop"].id)
    assert merchant.audit_status == AuditStatus.PENDING and "store_closed" in merchant.audit_flags


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"result": "bored"},
        {"result": "interested", "lat": 30.0},
        {"result": "interested", "contact_ids": [999999]},
        {"result": "interested", "client_time": "2000-01-01T00:00:00+00:00"},
    ],
)
def test_bad_check_outs_are_422(client, area, payload):
    visit = check_in(client, area["bd"], body(area)).json
    response = client.post(f"/api/v1/visits/{visit['id']}/checkout", headers=auth_headers(area["bd"]), json=payload)
    assert response.status_code == 422, response.json


# --- photos ---------------------------------------------------------------------------------------

JPEG = image_bytes("JPEG")
PNG = image_bytes("PNG")
HEIC = image_bytes("HEIF")


def upload(client, user, data, name="photo.jpg"):
    import io

    return client.post(
        "/api/v1/uploads",
        data={"file": (io.BytesIO(data), name)},
        headers=auth_headers(user),
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(("data", "content_type"), [(JPEG, "image/jpeg"), (PNG, "image/png"), (HEIC, "image/jpeg")])
def test_photo_types_are_checked_by_content(client, area, data, content_type):
    response = upload(client, area["bd"], data, name="whatever.txt")
    assert response.status_code == 201 and response.json["content_type"] == content_type


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"GIF89a" + b"\x00" * 50, 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"<?php echo 1; ?>", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 100, 415, "UNSUPPORTED_MEDIA_TYPE"),  # a header only
        (JPEG + b"\x00" * (5 * 1024 * 1024), 413, "PAYLOAD_TOO_LARGE"),
        (b"", 422, "EMPTY_FILE"),
    ],
)
def test_bad_photos_are_refused(client, area, data, status, code):
    response = upload(client, area["bd"], data)
    assert response.status_code == status and response.json["error_code"] == code


def test_missing_file_part_is_422(client, area):
    response = client.post(
        "/api/v1/uploads", data={}, headers=auth_headers(area["bd"]), content_type="multipart/form-data"
    )
    assert response.status_code == 422


def test_photos_attach_to_check_ins_only_by_their_uploader(client, area):
    photo = upload(client, area["bd"], JPEG).json["id"]
    assert check_in(client, area["bd"], body(area, photo_ids=[photo])).status_code == 201
    response = check_in(client, area["colleague"], body(area, photo_ids=[photo]))
    assert response.status_code == 422 and response.json["error_code"] == "UNKNOWN_PHOTOS"


# --- lists and the team view ----------------------------------------------------------------------


def visits_of(client, viewer, **params):
    return client.get("/api/v1/visits", query_string=params, headers=auth_headers(viewer))


def test_visit_lists_are_scoped_by_role(client, area):
    for user in ("bd", "colleague", "outsider"):
        check_in(client, area[user], body(area))

    def users(response):
        assert response.status_code == 200, response.json
        VisitPageSchema().load(response.json)
        return {item["user"]["id"] for item in response.json["items"]}

    assert users(visits_of(client, area["bd"])) == {area["bd"].id}
    assert users(visits_of(client, area["manager"])) == {area["bd"].id, area["colleague"].id}
    assert users(visits_of(client, area["ops"])) == {area["bd"].id, area["colleague"].id, area["outsider"].id}
    assert users(visits_of(client, area["manager"], user_id=area["colleague"].id)) == {area["colleague"].id}
    for viewer, target in (("bd", "colleague"), ("manager", "outsider"), ("other_manager", "bd")):
        response = visits_of(client, area[viewer], user_id=area[target].id)
        assert response.status_code == 403 and response.json["error_code"] == "NOT_IN_SCOPE"


def test_visit_list_filters_and_paging(client, area):
    base = clock.now() - timedelta(hours=10)
    for hour in range(7):
        check_in(client, area["bd"], body(area, client_time=(base + timedelta(hours=hour)).isoformat()))
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = visits_of(client, area["bd"], **params).json
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7
    window = visits_of(
        client,
        area["bd"],
        **{"from": (base + timedelta(hours=2)).isoformat(), "to": (base + timedelta(hours=4)).isoformat()},
    ).json["items"]
    assert len(window) == 2
    assert visits_of(client, area["bd"], merchant_id=987654).json["items"] == []


def test_team_day(client, area):
    start = clock.now().replace(microsecond=0) - timedelta(minutes=30)
    check_in(client, area["bd"], body(area, client_time=start.isoformat()))
    check_in(client, area["bd"], body(area, at=moved(600), client_time=(start + timedelta(minutes=10)).isoformat()))
    day = start.astimezone(area["tenant"].zone).date().isoformat()
    response = client.get("/api/v1/team/visits", query_string={"date": day}, headers=auth_headers(area["manager"]))
    assert response.status_code == 200
    TeamDaySchema().load(response.json)
    members = {m["user"]["id"]: m for m in response.json["members"]}
    assert set(members) == {area["bd"].id, area["colleague"].id}
    mine = members[area["bd"].id]
    assert mine["total"] == 2 and mine["verified"] == 1 and mine["flags"] == {"too_far": 1}
    assert mine["track"]["type"] == "LineString" and len(mine["track"]["coordinates"]) == 2
    assert mine["track"]["coordinates"][0] == pytest.approx([SHOP[1], SHOP[0]])
    assert members[area["colleague"].id]["total"] == 0 and members[area["colleague"].id]["track"] is None
    assert client.get("/api/v1/team/visits", headers=auth_headers(area["bd"])).status_code == 403


# --- day plans ------------------------------------------------------------------------------------


def test_day_plan_orders_stops_and_tracks_visits(client, area, session):
    stops = [
        MerchantFactory(tenant=area["tenant"], name=f"Stop {k}", lat=SHOP[0], lng=SHOP[1] + 0.001 * k)
        for k in (3, 1, 4, 2)
    ]
    day = clock.now().astimezone(area["tenant"].zone).date().isoformat()
    response = client.post(
        "/api/v1/visit-plans",
        headers=auth_headers(area["bd"]),
        json={"date": day, "start": {"lat": SHOP[0], "lng": SHOP[1]}, "merchant_ids": [m.id for m in stops]},
    )
    assert response.status_code == 201, response.json
    plan = response.json
    assert [s["merchant"]["name"] for s in plan["stops"]] == ["Stop 1", "Stop 2", "Stop 3", "Stop 4"]
    assert plan["total_m"] == pytest.approx(4 * 96.3, rel=0.01) and plan["visited"] == 0
    check_in(client, area["bd"], body(area, merchant_id=stops[1].id, at=(SHOP[0], SHOP[1] + 0.001)))
    plan = client.get(f"/api/v1/visit-plans/{day}", headers=auth_headers(area["bd"])).json
    assert [s["visited"] for s in plan["stops"]] == [True, False, False, False]
    assert plan["remaining"] == 3


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"merchant_ids": []}, "VALIDATION_ERROR"),
        ({"merchant_ids": list(range(1, 102))}, "VALIDATION_ERROR"),
        ({"merchant_ids": [987654321]}, "UNKNOWN_MERCHANTS"),
        ({"date": "tomorrow"}, "VALIDATION_ERROR"),
    ],
)
def test_bad_plans_are_422(client, area, payload, code):
    full = {
        "date": "2026-11-23",
        "start": {"lat": SHOP[0], "lng": SHOP[1]},
        "merchant_ids": [area["shop"].id],
        **payload,
    }
    response = client.post("/api/v1/visit-plans", json=full, headers=auth_headers(area["bd"]))
    assert response.status_code == 422 and response.json["error_code"] == code


def test_missing_plan_and_bad_date(client, area):
    assert client.get("/api/v1/visit-plans/2030-01-01", headers=auth_headers(area["bd"])).status_code == 404
    assert client.get("/api/v1/visit-plans/someday", headers=auth_headers(area["bd"])).status_code == 422


def test_every_time_the_server_answers_is_utc_whatever_offset_the_phone_sent(client, area):
    india = timezone(timedelta(hours=5, minutes=30))
    sent = (clock.now() - timedelta(hours=1)).astimezone(india).replace(microsecond=0)
    visit = check_in(client, area["bd"], body(area, client_time=sent.isoformat())).json
    assert visit["client_time"].endswith(("Z", "+00:00")) and datetime.fromisoformat(visit["client_time"]) == sent
    next_visit = (sent + timedelta(days=2)).isoformat()
    done = client.post(
        f"/api/v1/visits/{visit['id']}/checkout",
        headers=auth_headers(area["bd"]),
        json={
            "result": "follow_up",
            "client_time": (sent + timedelta(minutes=20)).isoformat(),
            "next_visit_at": next_visit,
        },
    )
    assert done.status_code == 200, done.json["errors"]
    done = done.json
    for key in ("checkout_at", "next_visit_at"):
        assert done[key].endswith(("Z", "+00:00")), (key, done[key])
