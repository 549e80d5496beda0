"""Merchant corrections: applied at once or queued by the tenant's rules, the duplicate check on a rename or a far
move, closing for good, the ops audit with the BD's to-do, the change history, imports that keep corrected
fields, the detail cache, bad input and scope."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app import clock, db
from app.intake.importer import import_csv
from app.intake.normalize import branch_key, name_key, phone_keys
from app.merchants.models import Lead, LeadEvent, LeadState, Merchant
from app.org.models import Role
from app.reminders.models import Reminder
from geo.coords import wgs84_to_gcj02
from tests.factories import MerchantFactory, OrgUnitFactory, TenantFactory, UserFactory, auth_headers

LAT, LNG = 30.2459, 120.1811
M = 1 / 111_320  # about 1 m of latitude


def shop(tenant, name, lat=LAT, lng=LNG, phone=None, **kwargs):
    return MerchantFactory(
        tenant=tenant,
        name=name,
        lat=lat,
        lng=lng,
        phone=phone,
        name_key=name_key(name),
        branch_key=branch_key(name),
        phone_keys=phone_keys(phone),
        **kwargs,
    )


def own(session, merchant, user):
    now = clock.now()
    session.add(
        Lead(
            merchant_id=merchant.id,
            tenant_id=merchant.tenant_id,
            state=LeadState.PRIVATE,
            owner_id=user.id,
            claimed_at=now,
            drops_at=now + timedelta(days=10),
            drop_reason="no_visit",
        )
    )
    session.commit()


@pytest.fixture
def world(session):
    tenant = TenantFactory(
        settings={"custom_fields": [{"key": "seats", "label": "Seats", "type": "number", "required": False}]}
    )
    team = OrgUnitFactory(tenant=tenant, name="West Lake")
    other_team = OrgUnitFactory(tenant=tenant, name="Binjiang")
    manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=team.id)
    team.manager_id = manager.id
    bd = UserFactory(tenant=tenant, org_unit_id=team.id, manager_id=manager.id)
    outsider = UserFactory(tenant=tenant, org_unit_id=other_team.id)
    ops = UserFactory(tenant=tenant, role=Role.OPS)
    stranger = UserFactory(tenant=TenantFactory(), role=Role.OPS)
    merchant = shop(tenant, "老王面馆", phone="0571-87806201", address="清泰街 318 号", category="餐饮服务")
    own(session, merchant, bd)
    return {
        "tenant": tenant,
        "bd": bd,
        "manager": manager,
        "outsider": outsider,
        "ops": ops,
        "stranger": stranger,
        "shop": merchant,
    }


def correct(client, user, merchant_id, **body):
    return client.post(f"/api/v1/merchants/{merchant_id}/corrections", json=body, headers=auth_headers(user))


def audit(client, user, merchant_id, correction_id, action, **body):
    return client.post(
        f"/api/v1/merchants/{merchant_id}/audit",
        json={"action": action, "correction_id": correction_id, **body},
        headers=auth_headers(user),
    )


def reload(session, merchant):
    session.expire_all()
    return session.get(Merchant, merchant.id)


def changes(client, user, merchant_id, **query):
    response = client.get(f"/api/v1/merchants/{merchant_id}/changes", query_string=query, headers=auth_headers(user))
    assert response.status_code == 200, response.json
    return response.json


def nearby_ids(client, user):
    response = client.get(
        "/api/v1/merchants/nearby", query_string={"lat": LAT, "lng": LNG, "radius_m": 2000}, headers=auth_headers(user)
    )
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def map_ids(client, user):
    box = f"{LNG - 0.01},{LAT - 0.01},{LNG + 0.01},{LAT + 0.01}"
    response = client.get("/api/v1/merchants/map", query_string={"bbox": box, "zoom": 17}, headers=auth_headers(user))
    assert response.status_code == 200 and response.json["mode"] == "pins", response.json
    return [pin["id"] for pin in response.json["pins"]]


def set_rules(session, tenant, **rules):
    tenant.settings = {**tenant.settings, "corrections": rules}
    session.commit()


# --- applied at once vs queued, per the tenant's setting --------------------------------------------------------


def test_owner_correction_applies_the_fields_the_setting_lists_and_queues_the_rest(client, world, session):
    response = correct(client, world["bd"], world["shop"].id, phone="0571-87806202", name="老王面馆二号", note="sign")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["applied"] == ["phone"] and body["queued"] == ["name"]
    assert body["status"] == "pending" and body["reasons"] == ["setting"]
    merchant = reload(session, world["shop"])
    assert merchant.phone == "0571-87806202" and merchant.phone_keys == phone_keys("0571-87806202")
    assert merchant.name == "老王面馆"  # waits for ops
    assert set(merchant.corrected_fields) == {"phone"}


def test_a_tenant_can_apply_names_at_once_or_queue_phones(client, world, session):
    set_rules(session, world["tenant"], apply_at_once=["name"], move_check_m=50)
    body = correct(client, world["bd"], world["shop"].id, phone="0571-87806202", name="老王面馆二号").json
    assert body["applied"] == ["name"] and body["queued"] == ["phone"]
    merchant = reload(session, world["shop"])
    assert merchant.name == "老王面馆二号" and merchant.name_key == name_key("老王面馆二号")
    assert merchant.phone == "0571-87806201"


def test_someone_else_than_the_owner_queues_everything_and_ops_apply_at_once(client, world, session):
    body = correct(client, world["manager"], world["shop"].id, phone="0571-87806209").json
    assert body["applied"] == [] and body["queued"] == ["phone"] and body["reasons"] == ["not_owner"]
    body = correct(client, world["ops"], world["shop"].id, name="老王面馆总店", closed="temporarily").json
    assert body["status"] == "applied" and sorted(body["applied"]) == ["closed", "name"]
    merchant = reload(session, world["shop"])
    assert merchant.name == "老王面馆总店" and merchant.closed == "temporarily"


def test_a_public_merchant_can_be_corrected_by_any_bd_for_audit(client, world):
    public = shop(world["tenant"], "张记小笼", lat=LAT + 500 * M)
    body = correct(client, world["outsider"], public.id, address="中山南路 9 号").json
    assert body["queued"] == ["address"] and body["reasons"] == ["not_owner"]


def test_position_in_the_callers_coord_sys_and_custom_attributes(client, world, session):
    set_rules(session, world["tenant"], apply_at_once=["position", "attributes"], move_check_m=50)
    lat, lng = wgs84_to_gcj02(LAT + 30 * M, LNG)
    response = correct(
        client, world["bd"], world["shop"].id, lat=lat, lng=lng, coord_sys="gcj02", attributes={"seats": 40}
    )
    body = response.json
    assert response.status_code == 201, body
    assert sorted(body["applied"]) == ["attributes", "position"], body
    assert body["changes"]["position"] == pytest.approx({"lat": lat, "lng": lng}, abs=1e-6)
    row = session.execute(
        text("SELECT attributes, ST_Y(location::geometry), ST_X(location::geometry) FROM merchants WHERE id = :id"),
        {"id": world["shop"].id},
    ).one()
    assert row[0]["seats"] == 40
    assert row[1] == pytest.approx(LAT + 30 * M, abs=1e-6) and row[2] == pytest.approx(LNG, abs=1e-6)


# --- the duplicate check on a rename or a far move ----------------------------------------------------------------


def test_a_move_of_more_than_50_m_next_to_a_similar_merchant_goes_to_audit(client, world, session):
    set_rules(session, world["tenant"], apply_at_once=["position", "phone"], move_check_m=50)
    neighbour = shop(world["tenant"], "老王麵館(清泰街店)", lat=LAT + 300 * M)
    body = correct(client, world["bd"], world["shop"].id, lat=LAT + 290 * M, lng=LNG, phone="0571-87806203").json
    assert body["queued"] == ["position"] and body["applied"] == ["phone"]
    assert body["reasons"] == ["possible_duplicate"] and body["duplicate_candidates"] == [neighbour.id]
    queue = client.get("/api/v1/merchants/audit-queue", headers=auth_headers(world["ops"])).json["items"]
    item = next(i for i in queue if i["kind"] == "correction")
    assert item["id"] == world["shop"].id and item["correction"]["id"] == body["id"]
    assert item["correction"]["current"]["position"]["lat"] == pytest.approx(LAT, abs=1e-6)


def test_a_short_move_or_a_move_without_neighbours_applies(client, world, session):
    set_rules(session, world["tenant"], apply_at_once=["position"], move_check_m=50)
    shop(world["tenant"], "老王麵館(清泰街店)", lat=LAT + 60 * M)
    # 40 m: under the threshold, no check although the similar merchant is 20 m away
    assert correct(client, world["bd"], world["shop"].id, lat=LAT + 40 * M, lng=LNG).json["applied"] == ["position"]
    # far away from anything similar
    assert correct(client, world["bd"], world["shop"].id, lat=LAT - 900 * M, lng=LNG).json["applied"] == ["position"]


def test_a_rename_to_a_neighbours_name_goes_to_audit_even_when_names_apply_at_once(client, world, session):
    set_rules(session, world["tenant"], apply_at_once=["name"], move_check_m=50)
    neighbour = shop(world["tenant"], "张记小笼包", lat=LAT + 20 * M)
    body = correct(client, world["bd"], world["shop"].id, name="张记小笼包(清泰街店)").json
    assert body["queued"] == ["name"] and body["duplicate_candidates"] == [neighbour.id]
    assert reload(session, world["shop"]).name == "老王面馆"


# --- closed for good ----------------------------------------------------------------------------------------------


def test_closed_for_good_releases_the_lead_and_leaves_nearby_once_approved(client, world, session):
    merchant = world["shop"]
    body = correct(client, world["bd"], merchant.id, closed="permanently", note="shutters down, sign removed").json
    assert body["queued"] == ["closed"]
    assert merchant.id in nearby_ids(client, world["bd"])  # not yet: ops decide
    assert merchant.id in map_ids(client, world["ops"])
    result = audit(client, world["ops"], merchant.id, body["id"], "approve", note="confirmed by phone")
    assert result.status_code == 200, result.json
    assert result.json["correction"]["status"] == "approved" and result.json["correction_id"] == body["id"]
    lead = session.get(Lead, merchant.id)
    session.refresh(lead)
    assert lead.state == LeadState.PUBLIC and lead.owner_id is None
    event = session.scalars(select(LeadEvent).where(LeadEvent.merchant_id == merchant.id)).one()
    assert (event.action, event.reason, event.from_owner_id) == ("release", "closed", world["bd"].id)
    assert merchant.id not in nearby_ids(client, world["bd"])
    assert merchant.id not in nearby_ids(client, world["ops"])
    assert merchant.id not in map_ids(client, world["ops"])
    claim = client.post(f"/api/v1/leads/{merchant.id}/claim", headers=auth_headers(world["bd"]))
    assert claim.status_code == 404  # out of the pool
    detail = client.get(f"/api/v1/merchants/{merchant.id}", headers=auth_headers(world["ops"]))
    assert detail.json["merchant"]["closed"] == "permanently"


# --- the audit: approve, reject, the BD's to-do -------------------------------------------------------------------


def test_approve_applies_and_reject_drops_each_with_a_todo_for_the_bd(client, world, session):
    first = correct(client, world["bd"], world["shop"].id, name="老王面馆(新店)").json
    assert audit(client, world["ops"], world["shop"].id, first["id"], "approve").status_code == 200
    assert reload(session, world["shop"]).name == "老王面馆(新店)"
    second = correct(client, world["bd"], world["shop"].id, name="王家面馆").json
    rejected = audit(client, world["ops"], world["shop"].id, second["id"], "reject", note="sign says 老王")
    assert rejected.status_code == 200 and rejected.json["correction"]["status"] == "rejected"
    assert reload(session, world["shop"]).name == "老王面馆(新店)"
    todos = client.get("/api/v1/todos", headers=auth_headers(world["bd"])).json["items"]
    results = [t for t in todos if t["kind"] == "correction_result"]
    assert len(results) == 2
    reminders = session.scalars(
        select(Reminder).where(Reminder.user_id == world["bd"].id, Reminder.kind == "correction_result")
    ).all()
    assert sorted((r.payload["correction_id"], r.payload["action"]) for r in reminders) == [
        (first["id"], "approve"),
        (second["id"], "reject"),
    ]
    assert next(r for r in reminders if r.payload["action"] == "reject").payload["note"] == "sign says 老王"
    again = audit(client, world["ops"], world["shop"].id, second["id"], "approve")
    assert again.status_code == 409 and again.json["error_code"] == "NOT_PENDING_AUDIT"
    queue = client.get("/api/v1/merchants/audit-queue", headers=auth_headers(world["ops"])).json["items"]
    assert not [i for i in queue if i["kind"] == "correction"]


def test_audit_errors(client, world):
    body = correct(client, world["bd"], world["shop"].id, name="老王面馆(新店)").json
    other = shop(world["tenant"], "别家", lat=LAT + 900 * M)
    wrong_merchant = audit(client, world["ops"], other.id, body["id"], "approve")
    assert wrong_merchant.status_code == 404 and wrong_merchant.json["error_code"] == "CORRECTION_NOT_FOUND"
    merge = audit(client, world["ops"], world["shop"].id, body["id"], "merge", into_id=other.id)
    assert merge.status_code == 422
    by_bd = audit(client, world["bd"], world["shop"].id, body["id"], "approve")
    assert by_bd.status_code == 403
    by_stranger = audit(client, world["stranger"], world["shop"].id, body["id"], "approve")
    assert by_stranger.status_code == 404


def test_the_queue_pages_merchants_and_corrections_together(client, world):
    for n in range(3):
        correct(client, world["manager"], world["shop"].id, address=f"清泰街 {n} 号")
    client.post(
        "/api/v1/merchants",
        json={"name": "新开的店", "lat": LAT + 800 * M, "lng": LNG},
        headers=auth_headers(world["bd"]),
    )
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/merchants/audit-queue", query_string=query, headers=auth_headers(world["ops"])).json
        seen += [(i["kind"], (i["correction"] or {}).get("id", i["id"])) for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 4
    assert sorted(kind for kind, _ in seen) == ["correction", "correction", "correction", "merchant"]


# --- the change history -------------------------------------------------------------------------------------------


def test_changes_history_says_who_when_how_and_before_after(client, world, session):
    set_rules(session, world["tenant"], apply_at_once=["phone", "position", "attributes"], move_check_m=50)
    fields = {"phone": "0571-87806202", "lat": LAT + 10 * M, "lng": LNG, "attributes": {"seats": 12}}
    body = correct(client, world["bd"], world["shop"].id, **fields).json
    queued = correct(client, world["bd"], world["shop"].id, name="老王面馆(新店)").json
    audit(client, world["ops"], world["shop"].id, queued["id"], "approve")
    edit = client.patch(
        f"/api/v1/merchants/{world['shop'].id}/attributes",
        json={"attributes": {"seats": 20}},
        headers=auth_headers(world["ops"]),
    )
    assert edit.status_code == 200, edit.json
    items = changes(client, world["bd"], world["shop"].id)["items"]
    summary = [(i["field"], i["source"], i["by"]["id"]) for i in items]
    assert summary == [
        ("attributes.seats", "edit", world["ops"].id),
        ("name", "correction", world["ops"].id),
        *sorted(
            [
                ("phone", "correction", world["bd"].id),
                ("position", "correction", world["bd"].id),
                ("attributes.seats", "correction", world["bd"].id),
            ],
            key=lambda s: ["phone", "position", "attributes.seats"].index(s[0]),
            reverse=True,
        ),
    ]
    phone = next(i for i in items if i["field"] == "phone")
    assert (phone["before"], phone["after"]) == ("0571-87806201", "0571-87806202")
    assert phone["details"] == {"correction_id": body["id"]}
    name = next(i for i in items if i["field"] == "name")
    assert (name["before"], name["after"]) == ("老王面馆", "老王面馆(新店)")
    position = next(i for i in items if i["field"] == "position")
    assert position["after"]["lat"] == pytest.approx(LAT + 10 * M, abs=1e-6)
    gcj = changes(client, world["bd"], world["shop"].id, coord_sys="gcj02")["items"]
    moved = next(i for i in gcj if i["field"] == "position")
    assert moved["after"]["lat"] == pytest.approx(wgs84_to_gcj02(LAT + 10 * M, LNG)[0], abs=1e-6)
    assert next(i for i in items if i["field"] == "attributes.seats" and i["source"] == "edit")["before"] == 12


def test_changes_are_paged_with_cursors_and_masked_for_colleagues(client, world, session):
    set_rules(session, world["tenant"], apply_at_once=["address", "phone"], move_check_m=50)
    for n in range(5):
        correct(client, world["bd"], world["shop"].id, address=f"清泰街 {n} 号")
    first = changes(client, world["bd"], world["shop"].id, limit=2)
    second = changes(client, world["bd"], world["shop"].id, limit=2, cursor=first["next_cursor"])
    third = changes(client, world["bd"], world["shop"].id, limit=2, cursor=second["next_cursor"])
    ids = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert len(ids) == len(set(ids)) == 5 and ids == sorted(ids, reverse=True) and third["next_cursor"] is None
    bad = client.get(
        f"/api/v1/merchants/{world['shop'].id}/changes",
        query_string={"cursor": "nonsense"},
        headers=auth_headers(world["bd"]),
    )
    assert bad.status_code == 400 and bad.json["error_code"] == "INVALID_CURSOR"


def test_a_merge_filling_the_survivors_gap_is_in_its_history(client, world, session):
    survivor = shop(world["tenant"], "张记小笼", lat=LAT + 700 * M)
    duplicate = shop(world["tenant"], "张记小笼包", lat=LAT + 705 * M, address="中山南路 9 号")
    duplicate.audit_status = "pending_audit"
    session.commit()
    merged = client.post(
        f"/api/v1/merchants/{duplicate.id}/audit",
        json={"action": "merge", "into_id": survivor.id},
        headers=auth_headers(world["ops"]),
    )
    assert merged.status_code == 200, merged.json
    items = changes(client, world["ops"], survivor.id)["items"]
    assert [(i["field"], i["source"], i["before"], i["after"], i["details"]) for i in items] == [
        ("address", "merge", "", "中山南路 9 号", {"merged_id": duplicate.id})
    ]


# --- imports keep what people corrected ----------------------------------------------------------------------------


def test_an_import_keeps_corrected_fields_counts_them_and_records_what_it_changed(client, world, session):
    tenant_id = world["tenant"].id
    csv_text = "name,lat,lng,phone,address,source_id\n老王面馆,{lat},{lng},0571-87806201,清泰街 318 号,A1\n"
    row = csv_text.format(lat=LAT + 900 * M, lng=LNG)
    db.scope_to_tenant(tenant_id)
    import_csv(io.StringIO(row), tenant_id, source="amap")
    session.commit()
    imported = session.scalars(select(Merchant).where(Merchant.source_id == "A1")).one()
    own(session, imported, world["bd"])
    set_rules(session, world["tenant"], apply_at_once=["phone", "name"], move_check_m=50)
    assert correct(client, world["bd"], imported.id, phone="0571-87806299").json["applied"] == ["phone"]
    # the source's next file: a new address and its old phone
    db.scope_to_tenant(tenant_id)
    changed = row.replace("清泰街 318 号", "清泰街 320 号")
    report = import_csv(io.StringIO(changed), tenant_id, source="amap")
    session.commit()
    assert report.kept == 1 and report.updated == 1
    merchant = reload(session, imported)
    assert merchant.phone == "0571-87806299" and merchant.address == "清泰街 320 号"
    items = changes(client, world["bd"], imported.id)["items"]
    assert [(i["field"], i["source"], i["after"]) for i in items[:1]] == [("address", "import", "清泰街 320 号")]
    assert items[0]["details"] == {"source": "amap"}
    # importing the same file again changes nothing and still keeps the phone
    db.scope_to_tenant(tenant_id)
    again = import_csv(io.StringIO(changed), tenant_id, source="amap")
    assert (again.kept, again.updated, again.unchanged) == (1, 0, 1)


# --- the detail cache reflects a correction at once ------------------------------------------------------------------


def test_detail_and_nearby_show_an_applied_correction_at_once(client, world, redis_client):
    url = f"/api/v1/merchants/{world['shop'].id}"
    headers = auth_headers(world["bd"])
    before = client.get(url, headers=headers)
    assert before.json["merchant"]["address"] == "清泰街 318 号"
    assert redis_client.keys("merchant-detail:*")  # cached
    assert correct(client, world["bd"], world["shop"].id, address="清泰街 400 号").json["applied"] == ["address"]
    after = client.get(url, headers={**headers, "If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.json["merchant"]["address"] == "清泰街 400 号"
    nearby = client.get(
        "/api/v1/merchants/nearby", query_string={"lat": LAT, "lng": LNG, "radius_m": 500}, headers=headers
    ).json["items"]
    assert next(i for i in nearby if i["id"] == world["shop"].id)["address"] == "清泰街 400 号"


# --- bad input and scope -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "NOTHING_TO_CORRECT"),
        ({"note": "just a note"}, 422, "NOTHING_TO_CORRECT"),
        ({"phone": "0571-87806201"}, 422, "NOTHING_TO_CORRECT"),  # what it has
        ({"name": "   "}, 422, "VALIDATION_ERROR"),
        ({"lat": 30.1}, 422, "VALIDATION_ERROR"),
        ({"lat": 95, "lng": 120}, 422, "VALIDATION_ERROR"),
        ({"closed": "forever"}, 422, "VALIDATION_ERROR"),
        ({"coord_sys": "mars"}, 422, "VALIDATION_ERROR"),
        ({"phone": "12"}, 422, "INVALID_PHONE"),
        ({"attributes": {"seats": "many"}}, 422, "INVALID_ATTRIBUTES"),
        ({"attributes": {"nope": 1}}, 422, "INVALID_ATTRIBUTES"),
        ({"address": "x", "photo_ids": ["8a0c6a52-5d1e-4d7a-9a83-0f1a6f4c2b11"]}, 422, "UNKNOWN_PHOTOS"),
        ({"address": "x", "unknown": 1}, 422, "VALIDATION_ERROR"),
    ],
)
def test_bad_input(client, world, body, status, code):
    response = correct(client, world["bd"], world["shop"].id, **body)
    assert response.status_code == status, response.json
    assert response.json["error_code"] == code


def test_scope_other_team_bd_other_tenant_and_unknown_merchant_are_refused(client, world, session):
    outsider = correct(client, world["outsider"], world["shop"].id, address="清泰街 9 号")
    assert outsider.status_code == 403 and outsider.json["error_code"] == "NOT_ALLOWED_FOR_LEAD"
    stranger = correct(client, world["stranger"], world["shop"].id, address="清泰街 9 号")
    assert stranger.status_code == 404 and stranger.json["error_code"] == "MERCHANT_NOT_FOUND"
    assert correct(client, world["bd"], 987654321, address="x").status_code == 404
    history_outsider = client.get(
        f"/api/v1/merchants/{world['shop'].id}/changes", headers=auth_headers(world["outsider"])
    )
    assert history_outsider.status_code == 403
    history_stranger = client.get(
        f"/api/v1/merchants/{world['shop'].id}/changes", headers=auth_headers(world["stranger"])
    )
    assert history_stranger.status_code == 404
    assert reload(session, world["shop"]).address == "清泰街 318 号"


def test_a_merchant_closed_for_good_takes_no_more_corrections_but_ops_can_reopen_it(client, world, session):
    assert correct(client, world["ops"], world["shop"].id, closed="permanently").json["status"] == "applied"
    assert correct(client, world["bd"], world["shop"].id, address="x").status_code == 404
    reopened = correct(client, world["ops"], world["shop"].id, closed=None)
    assert reopened.status_code == 201 and reopened.json["applied"] == ["closed"]
    assert world["shop"].id in nearby_ids(client, world["ops"])


def test_a_pending_correction_follows_its_merchant_into_a_merge(client, world, session):
    duplicate = shop(world["tenant"], "张记小笼包", lat=LAT + 705 * M)
    survivor = shop(world["tenant"], "张记小笼", lat=LAT + 700 * M)
    pending = correct(client, world["manager"], duplicate.id, address="中山南路 9 号").json
    duplicate.audit_status = "pending_audit"
    session.commit()
    merged = client.post(
        f"/api/v1/merchants/{duplicate.id}/audit",
        json={"action": "merge", "into_id": survivor.id},
        headers=auth_headers(world["ops"]),
    )
    assert merged.status_code == 200, merged.json
    queue = client.get("/api/v1/merchants/audit-queue", headers=auth_headers(world["ops"])).json["items"]
    assert [(i["id"], i["correction"]["id"]) for i in queue if i["kind"] == "correction"] == [
        (survivor.id, pending["id"])
    ]
    assert audit(client, world["ops"], survivor.id, pending["id"], "approve").status_code == 200
    assert reload(session, survivor).address == "中山南路 9 号"


def test_an_import_matched_to_a_merchant_does_not_fill_a_field_a_person_emptied(client, world, session):
    merchant = world["shop"]
    assert correct(client, world["ops"], merchant.id, address="").json["applied"] == ["address"]
    tenant_id = world["tenant"].id
    db.scope_to_tenant(tenant_id)
    row = f"name,lat,lng,address,category,source_id\n老王面馆,{LAT + 5 * M},{LNG},清泰街 318 号,餐饮服务,B7\n"
    report = import_csv(io.StringIO(row), tenant_id, source="osm")
    assert report.matched == 1 and report.kept == 1
    assert reload(session, merchant).address == ""
