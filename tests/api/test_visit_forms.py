"""Visit forms: tenant definitions (validated, versioned), answers checked against the version the app had (422 per
field), stored with the visit and shown in visit history, team views and merchant detail; the built-in
competitor-observation form feeds the competitor section and the price-gap observations."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from app import clock, db
from app.merchants.schemas import MerchantDetailSchema
from app.org.models import OrgKind, Role
from app.sales.models import CompetitorObservation, CompetitorRecord, Deal
from app.tenants.models import VisitFormVersion
from app.visits.schemas import TeamDaySchema, VisitFormsSchema, VisitPageSchema
from tests.factories import MerchantFactory, OrgUnitFactory, TenantFactory, UserFactory, auth_headers, image_bytes

SHOP = (30.2585, 120.1700)

SHELF = {
    "key": "shelf_check",
    "title": "Shelf check",
    "bind": "check_out",
    "fields": [
        {"key": "promo", "label": "Promo display up?", "type": "yes_no", "required": True},
        {
            "key": "facings",
            "label": "Facings",
            "type": "number",
            "required": True,
            "unit": "pcs",
            "min": 0,
            "max": 50,
            "show_if": {"field": "promo", "equals": True},
        },
        {"key": "placement", "label": "Placement", "type": "choice", "options": ["front", "back"]},
        {"key": "brands", "label": "Brands seen", "type": "multi_choice", "options": ["a", "b", "c"]},
        {"key": "remark", "label": "Remark", "type": "text", "max_length": 20},
        {"key": "restock", "label": "Next restock", "type": "date"},
        {"key": "shelf_photo", "label": "Shelf photo", "type": "photo", "max_photos": 2},
    ],
}


@pytest.fixture
def area(session):
    tenant = TenantFactory()
    team = OrgUnitFactory(tenant=tenant, kind=OrgKind.TEAM)
    manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=team.id)
    team.manager_id = manager.id
    bd = UserFactory(tenant=tenant, org_unit_id=team.id, manager_id=manager.id)
    admin = UserFactory(tenant=tenant, role=Role.ADMIN)
    shop = MerchantFactory(tenant=tenant, name="Noodle House", lat=SHOP[0], lng=SHOP[1])
    session.commit()
    return {"tenant": tenant, "manager": manager, "bd": bd, "admin": admin, "shop": shop}


def set_forms(client, area, forms):
    return client.patch("/api/v1/tenant/settings", json={"visit_forms": forms}, headers=auth_headers(area["admin"]))


def forms(client, user):
    response = client.get("/api/v1/visit-forms", headers=auth_headers(user))
    assert response.status_code == 200, response.json
    VisitFormsSchema().load(response.json)
    return {form["key"]: form for form in response.json["forms"]}


def check_in(client, area, form_answers=None, **overrides):
    body = {
        "merchant_id": area["shop"].id,
        "lat": SHOP[0],
        "lng": SHOP[1],
        "accuracy_m": 10,
        "client_time": clock.now().isoformat(),
        "form_answers": form_answers or [],
        **overrides,
    }
    headers = {**auth_headers(area["bd"]), "Idempotency-Key": str(uuid.uuid4())}
    return client.post("/api/v1/visits", json=body, headers=headers)


def check_out(client, area, visit_id, form_answers):
    return client.post(
        f"/api/v1/visits/{visit_id}/checkout",
        json={"result": "follow_up", "form_answers": form_answers},
        headers=auth_headers(area["bd"]),
    )


def shelf(version=1, **answers):
    return {"form": "shelf_check", "version": version, "answers": {"promo": True, "facings": 4, **answers}}


def test_admins_define_forms_and_each_change_is_a_new_version(client, area, session):
    response = set_forms(client, area, [SHELF])
    assert response.status_code == 200, response.json
    assert response.json["visit_forms"][0]["version"] == 1
    assert forms(client, area["bd"])["shelf_check"]["version"] == 1
    # the same definition again: no new version
    assert set_forms(client, area, [SHELF]).json["visit_forms"][0]["version"] == 1
    changed = {**SHELF, "title": "Shelf check (v2)"}
    assert set_forms(client, area, [changed]).json["visit_forms"][0]["version"] == 2
    listed = forms(client, area["bd"])
    assert listed["shelf_check"]["version"] == 2 and listed["shelf_check"]["title"] == "Shelf check (v2)"
    assert listed["competitor_observation"]["built_in"] is True
    versions = session.scalars(
        select(VisitFormVersion.version).where(VisitFormVersion.tenant_id == area["tenant"].id)
    ).all()
    assert sorted(versions) == [1, 2]
    assert set_forms(client, area, [SHELF]).status_code == 200
    assert forms(client, area["bd"])["shelf_check"]["version"] == 3  # back to the first text: still a new version


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"fields": [{"key": "x", "label": "X", "type": "choice"}]}, "options"),
        ({"fields": [{"key": "x", "label": "X", "type": "text", "options": ["a"]}]}, "options"),
        ({"fields": [{"key": "x", "label": "X", "type": "number", "min": 5, "max": 1}]}, "min"),
        ({"fields": [{"key": "x", "label": "X", "type": "yes_no", "unit": "kg"}]}, "unit"),
        ({"fields": [{"key": "x", "label": "X", "type": "slider"}]}, "type"),
        ({"fields": [{"key": "x", "label": "X", "type": "text", "show_if": {"field": "y"}}]}, "show_if"),
        ({"fields": [{"key": "x", "label": "X", "type": "text"}, {"key": "x", "label": "Y", "type": "text"}]}, "key"),
        ({"fields": []}, "fields"),
        ({"bind": "sometimes"}, "bind"),
        ({"key": "competitor_observation"}, "key"),
        ({"key": "Bad Key"}, "key"),
    ],
)
def test_bad_definitions_are_422(client, area, change, where):
    response = set_forms(client, area, [{**SHELF, **change}])
    assert response.status_code == 422 and response.json["error_code"] == "VALIDATION_ERROR"
    assert where in str(response.json["errors"]), response.json


def test_only_admins_define_forms(client, area):
    assert set_forms(client, area, [SHELF]).status_code == 200
    response = client.patch("/api/v1/tenant/settings", json={"visit_forms": []}, headers=auth_headers(area["manager"]))
    assert response.status_code == 403


def test_answers_are_stored_with_the_visit_and_shown(client, area):
    set_forms(client, area, [SHELF])
    visit = check_in(client, area)
    assert visit.status_code == 201, visit.json
    response = check_out(
        client,
        area,
        visit.json["id"],
        [shelf(placement="front", brands=["a", "c"], remark=" ok ", restock="2026-12-24")],
    )
    assert response.status_code == 200, response.json
    (stored,) = response.json["form_answers"]
    assert stored == {
        "form": "shelf_check",
        "version": 1,
        "stage": "check_out",
        "answers": {
            "promo": True,
            "facings": 4,
            "placement": "front",
            "brands": ["a", "c"],
            "remark": "ok",
            "restock": "2026-12-24",
        },
    }
    history = client.get(
        "/api/v1/visits", query_string={"merchant_id": area["shop"].id}, headers=auth_headers(area["manager"])
    ).json
    VisitPageSchema().load(history)
    assert history["items"][0]["form_answers"] == [stored]
    team = client.get("/api/v1/team/visits", headers=auth_headers(area["manager"])).json
    TeamDaySchema().load(team)
    (member,) = [m for m in team["members"] if m["user"]["id"] == area["bd"].id]
    assert member["form_answers"] == [{"visit_id": visit.json["id"], "merchant_id": area["shop"].id, **stored}]
    detail = client.get(f"/api/v1/merchants/{area['shop'].id}", headers=auth_headers(area["bd"])).json
    MerchantDetailSchema().load(detail)
    assert detail["visits"]["recent"][0]["form_answers"] == [stored]


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"promo": None}, "promo", "Required."),
        ({"promo": "yes"}, "promo", "true or false."),
        ({"facings": 51}, "facings", "At most 50."),
        ({"facings": -1}, "facings", "At least 0."),
        ({"facings": "4"}, "facings", "A number."),
        ({"facings": True}, "facings", "A number."),
        ({"facings": None}, "facings", "Required."),
        ({"promo": False, "facings": 4}, "facings", "Not asked unless promo is answered so."),
        ({"placement": "middle"}, "placement", "One of: front, back."),
        ({"brands": ["a", "z"]}, "brands", "A list of: a, b, c."),
        ({"brands": ["a", "a"]}, "brands", "Each option once."),
        ({"remark": "x" * 21}, "remark", "At most 20 characters."),
        ({"restock": "24.12.2026"}, "restock", "A date: YYYY-MM-DD."),
        ({"shelf_photo": ["not-a-uuid"]}, "shelf_photo", "A list of upload ids."),
        ({"colour": "red"}, "colour", "Not a field of this form."),
    ],
)
def test_each_bad_answer_is_a_422_for_its_field(client, area, answers, field, message):
    set_forms(client, area, [SHELF])
    visit = check_in(client, area).json
    response = check_out(client, area, visit["id"], [shelf(**answers)])
    assert response.status_code == 422 and response.json["error_code"] == "INVALID_FORM_ANSWERS", response.json
    assert response.json["errors"]["json"]["form_answers"]["0"]["answers"] == {field: [message]}


def test_a_hidden_field_may_be_left_out_and_a_promo_less_answer_passes(client, area):
    set_forms(client, area, [SHELF])
    visit = check_in(client, area).json
    response = check_out(
        client, area, visit["id"], [{"form": "shelf_check", "version": 1, "answers": {"promo": False}}]
    )
    assert response.status_code == 200, response.json
    assert response.json["form_answers"][0]["answers"] == {"promo": False}


def test_answers_are_checked_against_the_version_the_app_had(client, area):
    set_forms(client, area, [SHELF])
    stricter = {**SHELF, "fields": [{**SHELF["fields"][0]}, {**SHELF["fields"][1], "max": 10}]}
    set_forms(client, area, [stricter])  # version 2: at most 10 facings, no placement field
    visit = check_in(client, area).json
    # an app that still had version 1 (offline) sends 30 facings and a placement: valid under version 1
    ok = check_out(client, area, visit["id"], [shelf(version=1, facings=30, placement="back")])
    assert ok.status_code == 200, ok.json
    assert ok.json["form_answers"][0]["version"] == 1
    second = check_in(client, area, client_time=clock.now().isoformat()).json
    refused = check_out(client, area, second["id"], [shelf(version=2, facings=30)])
    assert refused.json["errors"]["json"]["form_answers"]["0"]["answers"] == {"facings": ["At most 10."]}


def test_an_unknown_form_or_version_is_422(client, area):
    set_forms(client, area, [SHELF])
    for entry in (shelf(version=7), {"form": "nope", "version": 1, "answers": {}}):
        response = check_in(client, area, [entry])
        assert response.status_code == 422 and response.json["error_code"] == "UNKNOWN_FORM", response.json
        assert "version" in response.json["errors"]["json"]["form_answers"]["0"]


def test_a_form_bound_to_every_check_in_must_be_answered(client, area):
    at_check_in = {**SHELF, "key": "opening", "bind": "check_in"}
    set_forms(client, area, [at_check_in])
    response = check_in(client, area)
    assert response.status_code == 422 and response.json["error_code"] == "INVALID_FORM_ANSWERS"
    assert response.json["errors"]["json"]["form_answers"]["_schema"] == ["Required at every check-in: opening."]
    answered = check_in(client, area, [{"form": "opening", "version": 1, "answers": {"promo": False}}])
    assert answered.status_code == 201, answered.json
    twice = check_in(client, area, [{"form": "opening", "version": 1, "answers": {"promo": False}}] * 2)
    assert twice.json["errors"]["json"]["form_answers"]["_schema"] == ["Answer each form once."]


def test_photo_answers_must_be_the_bds_uploads(client, area, session):
    set_forms(client, area, [SHELF])
    upload = client.post(
        "/api/v1/uploads",
        data={"file": (io.BytesIO(image_bytes()), "shelf.jpg", "image/jpeg")},
        headers=auth_headers(area["bd"]),
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.json
    photo = upload.json["id"]
    visit = check_in(client, area).json
    foreign = check_out(client, area, visit["id"], [shelf(shelf_photo=[str(uuid.uuid4())])])
    assert foreign.status_code == 422 and foreign.json["error_code"] == "UNKNOWN_PHOTOS"
    ok = check_out(client, area, visit["id"], [shelf(shelf_photo=[photo])])
    assert ok.status_code == 200, ok.json
    assert ok.json["form_answers"][0]["answers"]["shelf_photo"] == [photo]


def observe(**answers):
    return [{"form": "competitor_observation", "version": 1, "answers": answers}]


def test_a_bd_records_competitor_facts_that_feed_merchant_detail(client, area, session):
    session.add(Deal(tenant_id=area["tenant"].id, merchant_id=area["shop"].id, title="Lunch set", price=Decimal("64")))
    session.commit()
    response = check_in(
        client, area, observe(platform="Eleme", online=True, offer="Lunch set for two", their_price=59, our_price=64)
    )
    assert response.status_code == 201, response.json
    observation = session.scalar(select(CompetitorObservation))
    assert (observation.platform, observation.price_gap) == ("Eleme", Decimal("5.00"))
    assert observation.visit_id == response.json["id"] and observation.user_id == area["bd"].id
    detail = client.get(f"/api/v1/merchants/{area['shop'].id}", headers=auth_headers(area["bd"])).json
    MerchantDetailSchema().load(detail)
    (competitor,) = detail["competitors"]
    assert competitor["platform"] == "Eleme" and competitor["online"] is True
    assert competitor["deals"][0]["their_price"] == 59 and competitor["deals"][0]["our_price"] == 64
    assert competitor["price_disadvantage"] is True
    latest = competitor["latest_observation"]
    assert (latest["their_price"], latest["our_price"], latest["price_gap"]) == (59, 64, 5)
    assert latest["by"]["id"] == area["bd"].id


def test_an_imported_snapshot_is_kept_and_the_observation_shown_beside_it(client, area, session):
    session.add(
        CompetitorRecord(
            tenant_id=area["tenant"].id,
            merchant_id=area["shop"].id,
            platform="eleme",
            online=True,
            deals=[{"title": "Imported deal", "price": 40, "monthly_sales": 300}],
        )
    )
    session.commit()
    assert check_in(client, area, observe(platform="ELEME", online=False)).status_code == 201
    records = session.scalars(select(CompetitorRecord).where(CompetitorRecord.merchant_id == area["shop"].id)).all()
    assert [(r.platform, r.deals[0]["title"]) for r in records] == [("eleme", "Imported deal")]
    detail = client.get(f"/api/v1/merchants/{area['shop'].id}", headers=auth_headers(area["bd"])).json
    latest = detail["competitors"][0]["latest_observation"]
    assert latest["online"] is False and latest["platform"] == "eleme" and latest["price_gap"] is None


def test_competitor_answers_are_validated_too(client, area):
    response = check_in(client, area, observe(online=True, their_price=-3))
    assert response.status_code == 422
    assert response.json["errors"]["json"]["form_answers"]["0"]["answers"] == {
        "platform": ["Required."],
        "their_price": ["At least 0."],
    }
    hidden = check_in(client, area, observe(platform="Meituan", online=False, their_price=10))
    assert hidden.json["errors"]["json"]["form_answers"]["0"]["answers"] == {
        "their_price": ["Not asked unless online is answered so."]
    }
    assert db.session.scalar(select(CompetitorObservation)) is None
