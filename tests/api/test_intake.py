"""Field creation with duplicate detection, force, and the ops audit (approve, reject, merge with alias)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import db
from app.intake.normalize import branch_key, name_key, phone_keys
from app.intake.schemas import AuditResultSchema, MerchantCreatedSchema
from app.merchants.models import Contact, Lead, LeadEvent, LeadState, Merchant
from app.org.models import Role
from app.reminders.models import Reminder
from app.sales.models import CompetitorRecord, Deal, SalesMonth
from app.tasks.models import Task, TaskAssignment, TaskKind
from app.visits.models import Visit
from geo.coords import wgs84_to_gcj02
from tests.factories import ContactFactory, MerchantFactory, TenantFactory, UserFactory, auth_headers, point

LAT, LNG = 30.2459, 120.1811
# about 1 m of latitude
M = 1 / 111_320


def shop(tenant, name, lat=LAT, lng=LNG, phone=None, **kwargs):
    keys = phone_keys(phone)
    return MerchantFactory(
        tenant=tenant,
        name=name,
        lat=lat,
        lng=lng,
        phone=phone,
        name_key=name_key(name),
        branch_key=branch_key(name),
        phone_keys=keys,
        **kwargs,
    )


@pytest.fixture
def team(session):
    tenant = TenantFactory()
    return {
        "tenant": tenant,
        "bd": UserFactory(tenant=tenant, role=Role.BD),
        "ops": UserFactory(tenant=tenant, role=Role.OPS),
    }


def create(client, user, **body):
    payload = {"name": "新店", "lat": LAT, "lng": LNG, "category": "餐饮服务;中餐厅", "address": "清泰街 1 号", **body}
    return client.post("/api/v1/merchants", json=payload, headers=auth_headers(user))


def duplicate(response):
    assert response.status_code == 409, response.json
    assert response.json["error_code"] == "POSSIBLE_DUPLICATE"
    return response.json["candidates"]


@pytest.mark.parametrize(
    ("existing", "typed"),
    [
        ("老王麵館(清泰街店)", "老王面馆"),  # traditional script, branch in brackets
        ("老王面馆", "老王 面馆 分店"),  # spaces, branch suffix
        ("真功夫（杭州火车站店）", "真功夫【火车站】"),  # full-width and other brackets
        ("Starbucks Coffee (West Lake)", "STARBUCKS  coffee"),
        ("McDonald's", "Mcdonalds"),
    ],
)
def test_name_variants_nearby_are_possible_duplicates(client, team, existing, typed):
    original = shop(team["tenant"], existing)
    candidates = duplicate(create(client, team["bd"], name=typed, lat=LAT + 40 * M))
    assert [c["id"] for c in candidates] == [original.id]
    assert 35 < candidates[0]["distance_m"] < 45
    assert candidates[0]["similarity"] >= 0.45 and candidates[0]["phone_match"] is False


@pytest.mark.parametrize("typed", ["+86 571 8780 6201", "(0571) 87806201", "0086-571-87806201", "057187806201"])
def test_same_phone_in_any_format_nearby(client, team, typed):
    original = shop(team["tenant"], "清泰街水果店", lat=LAT + 800 * M, phone="0571-87806201;13812345678")
    candidates = duplicate(create(client, team["bd"], name="完全不同的名字", phone=typed))
    assert candidates[0]["id"] == original.id and candidates[0]["phone_match"] is True
    assert 750 < candidates[0]["distance_m"] < 850


def test_a_phone_match_far_away_is_for_ops_only(client, team, session):
    """Telling the BD would tell whose shop a number is: a colleague's masked phone could be guessed."""
    original = shop(team["tenant"], "清泰街水果店", lat=LAT + 0.05, phone="0571-87806201")
    response = create(client, team["bd"], name="完全不同的名字", phone="057187806201")
    assert response.status_code == 201, response.json
    assert not response.json.get("candidates") and "phone_match" not in str(response.json)
    created = session.get(Merchant, response.json["id"])
    assert created.attributes["duplicate_candidates"] == [original.id] and "possible_duplicate" in created.audit_flags


def test_possible_duplicate_answers_are_rate_limited_per_user(client, team, app, monkeypatch):
    monkeypatch.setitem(app.config, "DUPLICATE_ANSWERS_PER_HOUR", 2)
    shop(team["tenant"], "清泰街水果店", phone="0571-87806201")
    for _ in range(2):
        duplicate(create(client, team["bd"], name="完全不同的名字", phone="057187806201"))
    limited = create(client, team["bd"], name="完全不同的名字", phone="057187806201")
    assert (
        limited.status_code == 429 and limited.json["error_code"] == "RATE_LIMITED" and "Retry-After" in limited.headers
    )
    other = UserFactory(tenant=team["tenant"], role=Role.BD)
    duplicate(create(client, other, name="完全不同的名字", phone="057187806201"))


def test_chain_hotline_is_no_evidence(client, team):
    shop(team["tenant"], "肯德基(西湖店)", lat=LAT + 0.02, phone="400-882-3823")
    response = create(client, team["bd"], name="肯德基(清泰街店)", phone="4008823823")
    assert response.status_code == 201, response.json


def test_two_named_branches_of_a_chain_are_two_stores(client, team):
    shop(team["tenant"], "沙县小吃(姚园寺巷)")
    assert create(client, team["bd"], name="沙县小吃(清泰街)", lat=LAT + 60 * M).status_code == 201
    # a branch named on one side only, or the same branch spelled differently, is still a candidate
    assert create(client, team["bd"], name="沙县小吃", lat=LAT + 60 * M).status_code == 409
    assert create(client, team["bd"], name="沙县小吃(姚園寺巷店)", lat=LAT + 60 * M).status_code == 409


def test_a_number_several_merchants_share_is_no_evidence(client, team):
    for i in range(2):
        shop(team["tenant"], f"商场店铺{i}", lat=LAT + 0.01 * (i + 1), phone="0571-87001234")
    assert create(client, team["bd"], name="新开的店", phone="0571 8700 1234").status_code == 201


def test_same_name_far_away_or_different_name_nearby_is_new(client, team):
    shop(team["tenant"], "沙县小吃", lat=LAT + 300 * M)
    shop(team["tenant"], "星巴克", lat=LAT + 10 * M)
    response = create(client, team["bd"], name="沙县小吃")
    assert response.status_code == 201, response.json
    MerchantCreatedSchema().load(response.json)
    assert response.json["duplicate_candidates"] == [] and response.json["audit_flags"] == []


def test_other_tenants_and_hidden_merchants_are_not_candidates(client, team):
    shop(TenantFactory(), "老王面馆")
    shop(team["tenant"], "老王面馆", audit_status="rejected")
    assert create(client, team["bd"], name="老王面馆").status_code == 201


def test_force_creates_flagged_pending_merchant(client, team, session):
    original = shop(team["tenant"], "老王面馆")
    duplicate(create(client, team["bd"], name="老王面館"))
    count = select(func.count()).select_from(Merchant).where(Merchant.tenant_id == team["tenant"].id)
    assert session.scalar(count) == 1
    response = create(client, team["bd"], name="老王面館", force=True, phone="13812345678")
    assert response.status_code == 201, response.json
    body = MerchantCreatedSchema().load(response.json)
    assert body["audit_status"] == "pending_audit" and body["audit_flags"] == ["possible_duplicate"]
    assert [c["id"] for c in body["duplicate_candidates"]] == [original.id]
    created = session.get(Merchant, body["id"])
    assert created.created_by_id == team["bd"].id and created.source == "field"
    assert created.phone_keys == ["+8613812345678"] and created.attributes["duplicate_candidates"] == [original.id]


def test_coordinates_in_gcj02_are_stored_as_wgs84(client, team, session):
    lat, lng = wgs84_to_gcj02(LAT, LNG)
    response = create(client, team["bd"], name="新开的店", lat=lat, lng=lng, coord_sys="gcj02")
    assert response.status_code == 201
    assert abs(response.json["lat"] - lat) < 1e-6
    stored = session.execute(
        select(func.ST_Y(func.ST_GeomFromWKB(func.ST_AsBinary(Merchant.location)))).where(
            Merchant.id == response.json["id"]
        )
    ).scalar_one()
    assert abs(stored - LAT) < 1e-5


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"phone": "12345"}, "INVALID_PHONE"),
        ({"name": "   "}, "VALIDATION_ERROR"),
        ({"lat": 91}, "VALIDATION_ERROR"),
        ({"photo_ids": [str(uuid.uuid4())]}, "UNKNOWN_PHOTOS"),
        ({"nickname": "x"}, "VALIDATION_ERROR"),
    ],
)
def test_bad_input(client, team, body, code):
    response = create(client, team["bd"], **body)
    assert response.status_code == 422 and response.json["error_code"] == code


def audit(client, user, merchant_id, **body):
    return client.post(f"/api/v1/merchants/{merchant_id}/audit", json=body, headers=auth_headers(user))


def test_approve_and_reject(client, team, session):
    first = create(client, team["bd"], name="甲店").json["id"]
    second = create(client, team["bd"], name="乙铺", lat=LAT + 0.01).json["id"]
    assert audit(client, team["bd"], first, action="approve").status_code == 403
    response = audit(client, team["ops"], first, action="approve")
    assert response.status_code == 200, response.json
    assert AuditResultSchema().load(response.json)["audit_status"] == "approved"
    again = audit(client, team["ops"], first, action="reject")
    assert again.status_code == 409 and again.json["error_code"] == "NOT_PENDING_AUDIT"
    assert audit(client, team["ops"], second, action="reject", note="closed").json["audit_status"] == "rejected"
    assert audit(client, team["ops"], second, action="approve").json["error_code"] == "MERCHANT_NOT_FOUND"
    todos = session.scalars(select(Reminder).where(Reminder.user_id == team["bd"].id).order_by(Reminder.id)).all()
    assert [(t.kind, t.payload["action"]) for t in todos] == [("audit_result", "approve"), ("audit_result", "reject")]
    assert todos[1].payload["note"] == "closed"
    nearby = client.get(
        f"/api/v1/merchants/nearby?lat={LAT}&lng={LNG}&radius_m=2000", headers=auth_headers(team["bd"])
    ).json
    assert [item["id"] for item in nearby["items"]] == [first]


def test_merge_errors(client, team):
    gone = create(client, team["bd"], name="甲店").json["id"]
    other_tenant = shop(TenantFactory(), "甲店")
    for body, status, code in [
        ({"action": "merge"}, 422, "VALIDATION_ERROR"),
        ({"action": "merge", "into_id": gone}, 422, "MERGE_INTO_SELF"),
        ({"action": "merge", "into_id": other_tenant.id}, 404, "MERGE_TARGET_NOT_FOUND"),
        ({"action": "split"}, 422, "VALIDATION_ERROR"),
    ]:
        response = audit(client, team["ops"], gone, **body)
        assert (response.status_code, response.json["error_code"]) == (status, code), body


def _visit(merchant, user, key):
    return Visit(
        tenant_id=merchant.tenant_id,
        merchant_id=merchant.id,
        user_id=user.id,
        idempotency_key=key,
        request_hash="x",
        client_time=datetime(2026, 11, 1, tzinfo=UTC),
        location=point(LAT, LNG),
        verified=True,
    )


def test_merge_moves_every_related_row_and_keeps_an_alias(client, team, session):
    tenant, bd, ops = team["tenant"], team["bd"], team["ops"]
    survivor = shop(tenant, "老王面馆", phone="0571-87806201", source="amap", source_id="hz1")
    gone = shop(tenant, "老王麵館", lat=LAT + 20 * M, phone="13812345678", source="amap", source_id="hz2")
    ContactFactory(merchant=gone, name="王老板")
    session.add_all(
        [
            _visit(gone, bd, "k1"),
            _visit(gone, bd, "k2"),
            _visit(survivor, bd, "k3"),
            Deal(tenant_id=tenant.id, merchant_id=gone.id, title="双人餐", price=Decimal("59.00")),
            SalesMonth(tenant_id=tenant.id, merchant_id=gone.id, month=date(2026, 10, 1), orders=3, gmv=Decimal("100")),
            SalesMonth(tenant_id=tenant.id, merchant_id=gone.id, month=date(2026, 9, 1), orders=1, gmv=Decimal("10")),
            SalesMonth(
                tenant_id=tenant.id, merchant_id=survivor.id, month=date(2026, 10, 1), orders=2, gmv=Decimal("50")
            ),
            CompetitorRecord(
                tenant_id=tenant.id,
                merchant_id=gone.id,
                platform="meituan",
                online=True,
                captured_at=datetime(2026, 11, 1, tzinfo=UTC),
            ),
            CompetitorRecord(
                tenant_id=tenant.id,
                merchant_id=survivor.id,
                platform="meituan",
                online=False,
                captured_at=datetime(2026, 10, 1, tzinfo=UTC),
            ),
            CompetitorRecord(tenant_id=tenant.id, merchant_id=gone.id, platform="eleme", online=True),
            Lead(
                tenant_id=tenant.id,
                merchant_id=gone.id,
                state=LeadState.PRIVATE,
                owner_id=bd.id,
                claimed_at=datetime(2026, 11, 1, tzinfo=UTC),
            ),
            LeadEvent(tenant_id=tenant.id, merchant_id=gone.id, action="claim", to_owner_id=bd.id, actor_id=bd.id),
            Reminder(
                tenant_id=tenant.id,
                user_id=bd.id,
                kind="lead_dropping",
                title="x",
                merchant_id=gone.id,
                due_at=datetime(2026, 11, 20, tzinfo=UTC),
                dedupe_key="r1",
            ),
        ]
    )
    session.flush()
    task = Task(tenant_id=tenant.id, creator_id=ops.id, title="拜访", kind=TaskKind.VISIT, merchant_id=gone.id)
    session.add(task)
    session.flush()
    session.add(TaskAssignment(tenant_id=tenant.id, task_id=task.id, assignee_id=bd.id, merchant_id=gone.id))
    session.commit()

    response = audit(client, ops, gone.id, action="merge", into_id=survivor.id)
    assert response.status_code == 200, response.json
    assert response.json["id"] == survivor.id and response.json["audited_id"] == gone.id

    session.expire_all()

    def on(model, merchant):
        return session.scalar(select(func.count()).select_from(model).where(model.merchant_id == merchant.id))

    for model in (Visit, Contact, Deal, SalesMonth, CompetitorRecord, Task, TaskAssignment, Reminder, Lead):
        assert on(model, gone) == 0, model
    assert on(Visit, survivor) == 3 and on(Contact, survivor) == 1 and on(Deal, survivor) == 1
    months = {
        s.month: (s.orders, s.gmv)
        for s in session.scalars(select(SalesMonth).where(SalesMonth.merchant_id == survivor.id))
    }
    assert months == {date(2026, 10, 1): (5, Decimal("150.00")), date(2026, 9, 1): (1, Decimal("10.00"))}
    competitors = {
        c.platform: c.online
        for c in session.scalars(select(CompetitorRecord).where(CompetitorRecord.merchant_id == survivor.id))
    }
    assert competitors == {"meituan": True, "eleme": True}  # the newer meituan capture won
    assert session.get(Lead, survivor.id).owner_id == bd.id  # the private claim beats the public pool
    actions = session.scalars(
        select(LeadEvent.action).where(LeadEvent.merchant_id == survivor.id).order_by(LeadEvent.id)
    ).all()
    assert actions == ["claim", "merge"]
    merged, kept = session.get(Merchant, gone.id), session.get(Merchant, survivor.id)
    assert merged.audit_status.value == "merged" and merged.merged_into_id == survivor.id
    assert sorted(kept.phone_keys) == ["+8613812345678", "+8657187806201"]

    # the old id resolves to the survivor; lists no longer show the duplicate
    detail = client.get(f"/api/v1/merchants/{gone.id}", headers=auth_headers(bd))
    assert detail.status_code == 200 and detail.json["merchant"]["id"] == survivor.id
    assert detail.json["visits"]["total"] == 3
    history = client.get(f"/api/v1/leads/{survivor.id}/history", headers=auth_headers(ops))
    assert [e["action"] for e in history.json["items"]] == ["claim", "merge"]
    nearby = client.get(f"/api/v1/merchants/nearby?lat={LAT}&lng={LNG}", headers=auth_headers(bd)).json
    assert [item["id"] for item in nearby["items"]] == [survivor.id]
    # writes through the old id land on the survivor: an offline check-in queued before the merge, a claim
    visit = client.post(
        "/api/v1/visits",
        json={
            "merchant_id": gone.id,
            "lat": LAT,
            "lng": LNG,
            "accuracy_m": 10,
            "client_time": datetime.now(UTC).isoformat(),
        },
        headers={**auth_headers(bd), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert visit.status_code == 201, visit.json
    assert visit.json["merchant_id"] == survivor.id
    # sales data keyed by the duplicate's id or by its source id lands on the survivor too
    from app.sales import service as sales

    assert (
        sales.import_sales(io.StringIO(f"merchant_id,month,orders,gmv\n{gone.id},2026-08,1,2\n"), tenant.id).inserted
        == 1
    )
    assert (
        sales.import_sales(io.StringIO("source,source_id,month,orders,gmv\namap,hz2,2026-07,1,2\n"), tenant.id).inserted
        == 1
    )
    db.session.commit()
    assert (
        db.session.scalar(select(func.count()).select_from(SalesMonth).where(SalesMonth.merchant_id == survivor.id))
        == 4
    )
    claim = client.post(f"/api/v1/leads/{gone.id}/claim", headers=auth_headers(bd))
    assert claim.json["error_code"] == "ALREADY_YOURS"  # the survivor's lead, which came over from the duplicate
    # merging once more is refused: the duplicate is gone
    assert audit(client, ops, gone.id, action="approve").json["error_code"] == "MERCHANT_NOT_FOUND"


def test_a_chain_of_merges_resolves_in_one_hop(client, team, session):
    a, b, c = (shop(team["tenant"], name, lat=LAT + i * 0.01) for i, name in enumerate(("甲", "乙", "丙")))
    assert audit(client, team["ops"], a.id, action="merge", into_id=b.id).status_code == 200
    assert audit(client, team["ops"], b.id, action="merge", into_id=c.id).status_code == 200
    session.expire_all()
    assert session.get(Merchant, a.id).merged_into_id == c.id
    assert client.get(f"/api/v1/merchants/{a.id}", headers=auth_headers(team["bd"])).json["merchant"]["id"] == c.id


def test_audit_queue_lists_pending_merchants_oldest_first(client, team):
    original = shop(team["tenant"], "老王面馆")
    forced = create(client, team["bd"], name="老王麵館", force=True).json["id"]
    fresh = create(client, team["bd"], name="别的店", lat=LAT + 0.01).json["id"]
    shop(TenantFactory(), "外人的店", audit_status="pending_audit")
    assert client.get("/api/v1/merchants/audit-queue", headers=auth_headers(team["bd"])).status_code == 403
    page = client.get("/api/v1/merchants/audit-queue?limit=1", headers=auth_headers(team["ops"])).json
    assert [i["id"] for i in page["items"]] == [forced]
    assert page["items"][0]["candidates"] == [original.id] and page["items"][0]["created_by"]["id"] == team["bd"].id
    rest = client.get(
        f"/api/v1/merchants/audit-queue?cursor={page['next_cursor']}", headers=auth_headers(team["ops"])
    ).json
    assert [i["id"] for i in rest["items"]] == [fresh] and rest["next_cursor"] is None
    bad = client.get("/api/v1/merchants/audit-queue?cursor=xyz", headers=auth_headers(team["ops"]))
    assert bad.json["error_code"] == "INVALID_CURSOR"
