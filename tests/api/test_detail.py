"""GET /merchants/{id}: one payload with every section, bounded SQL, ETags, a cache that is never stale."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from app import clock, db
from app.merchants.models import Lead, LeadState, Merchant
from app.merchants.schemas import MerchantDetailSchema
from app.org.models import OrgKind, Role
from app.sales import service as sales
from app.sales.models import CompetitorRecord, Deal, SalesMonth
from app.tasks.models import AssignmentStatus, Task, TaskAssignment, TaskKind
from app.visits.models import Visit
from tests.factories import (
    ContactFactory,
    MerchantFactory,
    OrgUnitFactory,
    TenantFactory,
    UserFactory,
    auth_headers,
    point,
)


def url(merchant_id, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/merchants/{merchant_id}" + (f"?{query}" if query else "")


def months_back(n):
    first = clock.now().date().replace(day=1)
    year, month = divmod(first.year * 12 + first.month - 1 - n, 12)
    return date(year, month + 1, 1)


@pytest.fixture
def world(session):
    """One merchant with a rich history, the people around it, and a few stores of the same brand."""
    tenant = TenantFactory()
    city = OrgUnitFactory(tenant=tenant, kind=OrgKind.CITY, name="Hangzhou")
    team = OrgUnitFactory(tenant=tenant, name="West Lake", parent_id=city.id)
    other_team = OrgUnitFactory(tenant=tenant, name="Binjiang")
    manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=city.id, display_name="Manager Li")
    owner = UserFactory(
        tenant=tenant, role=Role.BD, org_unit_id=team.id, manager_id=manager.id, display_name="Owner Wang"
    )
    colleague = UserFactory(tenant=tenant, role=Role.BD, org_unit_id=team.id, manager_id=manager.id)
    stranger_manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=other_team.id)
    ops = UserFactory(tenant=tenant, role=Role.OPS)
    admin = UserFactory(tenant=tenant, role=Role.ADMIN)
    shop = MerchantFactory(
        tenant=tenant,
        name="外婆家(湖滨店)",
        brand="外婆家",
        phone="0571-87654321",
        lat=30.2585,
        lng=120.1700,
        attributes={"seats": "120"},
        created_by_id=owner.id,
    )
    siblings = [
        MerchantFactory(tenant=tenant, name=f"外婆家 {i}", brand="外婆家", lat=30.2585 + 0.001 * i, lng=120.1700)
        for i in range(1, 8)
    ]
    now = clock.now()
    session.add(
        Lead(
            merchant_id=shop.id,
            tenant_id=tenant.id,
            state=LeadState.PRIVATE,
            owner_id=owner.id,
            claimed_at=now - timedelta(days=3),
            drops_at=now + timedelta(days=12),
            drop_reason="no_visit",
            extensions_used=1,
        )
    )
    ContactFactory(
        merchant=shop,
        name="王芳",
        title="店长",
        role="decision_maker",
        is_key_person=True,
        phones=["+86 138 1234 5678"],
    )
    ContactFactory(merchant=shop, name="李雷", phones=["13912345678", "0571-11112222"])
    for i in range(15):
        session.add(
            Visit(
                tenant_id=tenant.id,
                merchant_id=shop.id,
                user_id=owner.id if i % 2 else colleague.id,
                idempotency_key=f"k{i}",
                request_hash="h",
                client_time=now - timedelta(days=i),
                location=point(30.2585, 120.1700),
                verified=i % 3 != 0,
                flags=[] if i % 3 else ["too_far"],
                distance_m=12.5 + i,
                result="follow_up",
                notes=f"visit {i}",
            )
        )
    session.add_all(
        [
            Deal(tenant_id=tenant.id, merchant_id=shop.id, title="双人套餐", price=Decimal("98.00"), status="active"),
            Deal(tenant_id=tenant.id, merchant_id=shop.id, title="四人套餐", price=Decimal("188.00"), status="active"),
            Deal(tenant_id=tenant.id, merchant_id=shop.id, title="Old deal", price=Decimal("50.00"), status="ended"),
        ]
    )
    for n in range(14):
        session.add(
            SalesMonth(
                tenant_id=tenant.id,
                merchant_id=shop.id,
                month=months_back(n),
                orders=100 + n,
                gmv=Decimal("1000.50") + n,
            )
        )
    session.add(
        SalesMonth(
            tenant_id=tenant.id, merchant_id=siblings[2].id, month=months_back(1), orders=5, gmv=Decimal("99999")
        )
    )
    session.add_all(
        [
            CompetitorRecord(
                tenant_id=tenant.id,
                merchant_id=shop.id,
                platform="Meituan",
                online=True,
                deals=[{"title": "双人套餐", "price": 88, "monthly_sales": 320}],
            ),
            CompetitorRecord(
                tenant_id=tenant.id,
                merchant_id=shop.id,
                platform="Eleme",
                online=False,
                deals=[{"title": "四人套餐 豪华", "price": 199, "monthly_sales": 12}],
            ),
        ]
    )
    session.flush()
    task = Task(
        tenant_id=tenant.id,
        creator_id=manager.id,
        title="Match Meituan's price",
        kind=TaskKind.PRICE_ADJUST,
        merchant_id=shop.id,
        due_at=now - timedelta(days=1),
        target={},
    )
    session.add(task)
    session.flush()
    session.add_all(
        [
            TaskAssignment(task_id=task.id, tenant_id=tenant.id, assignee_id=owner.id, merchant_id=shop.id),
            TaskAssignment(
                task_id=task.id,
                tenant_id=tenant.id,
                assignee_id=colleague.id,
                merchant_id=shop.id,
                status=AssignmentStatus.DONE,
            ),
        ]
    )
    session.commit()
    return {
        "tenant": tenant,
        "shop": shop,
        "siblings": siblings,
        "owner": owner,
        "colleague": colleague,
        "manager": manager,
        "stranger_manager": stranger_manager,
        "ops": ops,
        "admin": admin,
    }


def get_detail(client, world, who="owner", **params):
    return client.get(url(world["shop"].id, **params), headers=auth_headers(world[who]))


def test_every_section(client, world):
    response = get_detail(client, world)
    assert response.status_code == 200
    body = response.json
    MerchantDetailSchema().load(body)
    merchant = body["merchant"]
    assert merchant["name"] == "外婆家(湖滨店)" and merchant["brand"] == "外婆家"
    assert merchant["attributes"] == {"seats": "120"} and merchant["audit_status"] == "approved"
    assert merchant["created_by"]["name"] == "Owner Wang"
    assert (merchant["lat"], merchant["lng"]) == pytest.approx((30.2585, 120.17))

    assert [c["name"] for c in body["contacts"]] == ["王芳", "李雷"]  # key persons first
    assert body["contacts"][0]["role"] == "decision_maker"

    visits = body["visits"]
    assert visits["total"] == 15 and visits["verified"] == 10
    assert len(visits["recent"]) == 10 and visits["last_visit"] == visits["recent"][0]
    assert visits["recent"][0]["notes"] == "visit 0" and visits["recent"][0]["verified"] is False
    assert visits["recent"][1]["by"]["id"] == world["owner"].id

    sales_section = body["sales"]
    assert [d["title"] for d in sales_section["active_deals"]] == ["双人套餐", "四人套餐"]
    months = sales_section["months"]
    assert len(months) == 12 and months[-1]["month"] == months_back(0).isoformat()[:7]
    assert months[-1]["orders"] == 100 and months[0]["orders"] == 111
    assert sales_section["totals"]["orders_12m"] == sum(100 + n for n in range(12))
    assert sales_section["totals"]["orders_lifetime"] == sum(100 + n for n in range(14))
    assert sales_section["totals"]["gmv_12m"] == pytest.approx(sum(1000.5 + n for n in range(12)))
    related = sales_section["related_stores"]
    assert related["count"] == 7 and related["stores"][0]["id"] == world["siblings"][2].id

    meituan, eleme = sorted(body["competitors"], key=lambda c: c["platform"] != "Meituan")
    assert meituan["price_disadvantage"] is True
    assert meituan["deals"][0]["our_title"] == "双人套餐" and meituan["deals"][0]["difference"] == 10.0
    assert eleme["online"] is False and eleme["price_disadvantage"] is False
    assert eleme["deals"][0]["our_title"] == "四人套餐"

    sea = body["sea"]
    assert sea["state"] == "private" and sea["mine"] is True and sea["drop_reason"] == "no_visit"
    assert sea["extensions_left"] == 1 and sea["claimable"] is False and sea["drops_at"]

    assert [t["title"] for t in body["tasks"]] == ["Match Meituan's price"]
    assert body["tasks"][0]["overdue"] is True and body["tasks"][0]["status"] == "assigned"

    nearest = body["nearby_same_brand"]
    assert [n["id"] for n in nearest] == [m.id for m in world["siblings"][:5]]
    assert nearest[0]["distance_m"] == pytest.approx(110.9, abs=1)


@pytest.mark.parametrize(
    ("who", "masked"),
    [
        ("owner", False),
        ("manager", False),
        ("ops", False),
        ("admin", False),
        ("colleague", True),
        ("stranger_manager", True),
    ],
)
def test_phones_are_masked_for_those_without_a_claim_on_the_lead(client, world, who, masked):
    body = get_detail(client, world, who).json
    phones = [p for c in body["contacts"] for p in c["phones"]] + [body["merchant"]["phone"]]
    assert body["phones_masked"] is masked
    if masked:
        assert phones == ["+86 138 **** 5678", "139****5678", "057*-****2222", "057*-****4321"]
    else:
        assert phones == ["+86 138 1234 5678", "13912345678", "0571-11112222", "0571-87654321"]


def test_tasks_are_limited_to_what_the_caller_may_see(client, world):
    assert get_detail(client, world, "colleague").json["tasks"] == []  # their assignment is done
    assert len(get_detail(client, world, "manager").json["tasks"]) == 1
    assert get_detail(client, world, "stranger_manager").json["tasks"] == []
    assert len(get_detail(client, world, "ops").json["tasks"]) == 1


def test_public_merchant_is_claimable_by_a_bd(client, world):
    sibling = world["siblings"][0]
    body = client.get(url(sibling.id), headers=auth_headers(world["colleague"])).json
    assert body["sea"] == {**body["sea"], "state": "public", "owner": None, "claimable": True, "drops_at": None}


def test_gcj02_positions(client, world):
    from geo.coords import wgs84_to_gcj02

    body = get_detail(client, world, coord_sys="gcj02").json
    assert (body["merchant"]["lat"], body["merchant"]["lng"]) == pytest.approx(wgs84_to_gcj02(30.2585, 120.17))
    assert body["merchant"]["coord_sys"] == "gcj02"


def test_another_tenants_merchant_is_a_404(client, world):
    outsider = UserFactory(tenant=TenantFactory())
    response = client.get(url(world["shop"].id), headers=auth_headers(outsider))
    assert response.status_code == 404 and response.json["error_code"] == "MERCHANT_NOT_FOUND"


@pytest.mark.parametrize("bad", ["abc", "-1", "0", "1.5", "99999999999999999999", "9223372036854775808"])
def test_bad_ids_are_404_not_500(client, world, bad):
    response = client.get(f"/api/v1/merchants/{bad}", headers=auth_headers(world["owner"]))
    assert response.status_code == 404 and response.json["error_code"] in ("NOT_FOUND", "MERCHANT_NOT_FOUND")


@pytest.fixture
def count_statements(app):
    counted = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        counted.append(statement)

    event.listen(db.engine(), "before_cursor_execute", listener)
    yield counted
    event.remove(db.engine(), "before_cursor_execute", listener)


def test_statement_count_is_bounded_whatever_the_history(client, world, session, count_statements):
    shop, owner = world["shop"], world["owner"]
    for i in range(500):
        session.add(
            Visit(
                tenant_id=shop.tenant_id,
                merchant_id=shop.id,
                user_id=owner.id,
                idempotency_key=f"x{i}",
                request_hash="h",
                client_time=clock.now() - timedelta(hours=i),
                location=shop.location,
                verified=True,
            )
        )
    for _ in range(18):
        ContactFactory(merchant=shop)
    session.commit()
    headers = auth_headers(owner)
    count_statements.clear()
    cold = client.get(url(shop.id), headers=headers)
    assert cold.status_code == 200 and cold.json["visits"]["total"] == 515
    cold_count = len([s for s in count_statements if not s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))])
    count_statements.clear()
    warm = client.get(url(shop.id), headers=headers)
    assert warm.json == cold.json and warm.json["competitors"]  # the cached sections equal the computed ones
    warm_count = len([s for s in count_statements if not s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))])
    assert cold_count <= 6, cold_count
    assert warm_count < cold_count  # the cached read skips the aggregate


def test_etag_and_304(client, world):
    first = get_detail(client, world)
    etag = first.headers["ETag"]
    again = client.get(url(world["shop"].id), headers={**auth_headers(world["owner"]), "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    # another caller sees masked phones: a different body, so a different ETag
    assert get_detail(client, world, "colleague").headers["ETag"] != etag


def test_without_redis_the_database_answers(client, world, app, monkeypatch):
    expected = get_detail(client, world).json
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    response = get_detail(client, world)
    assert response.status_code == 200 and response.json == expected


# --- freshness after every kind of write ------------------------------------------------------------


def fresh(client, world, check):
    """Read once (fills the cache); the returned reader is called after each write and must show it."""
    get_detail(client, world)
    db.scope_to_tenant(world["tenant"].id)

    def read():
        return get_detail(client, world).json

    return read


def test_contact_writes_are_visible_at_once(client, world):
    read = fresh(client, world, None)
    headers = auth_headers(world["owner"])
    base = f"/api/v1/merchants/{world['shop'].id}/contacts"
    created = client.post(base, json={"name": "New Person", "phones": ["+86 150 0000 1111"]}, headers=headers)
    assert created.status_code == 201
    assert "New Person" in [c["name"] for c in read()["contacts"]]
    contact_id = created.json["id"]
    assert client.patch(f"{base}/{contact_id}", json={"title": "Chef"}, headers=headers).status_code == 200
    assert {c["name"]: c["title"] for c in read()["contacts"]}["New Person"] == "Chef"
    assert client.delete(f"{base}/{contact_id}", headers=headers).status_code == 204
    assert "New Person" not in [c["name"] for c in read()["contacts"]]


def test_sales_and_deal_and_competitor_endpoints_are_visible_at_once(client, world):
    read = fresh(client, world, None)
    headers = auth_headers(world["ops"])
    base = f"/api/v1/merchants/{world['shop'].id}"
    this_month = months_back(0).isoformat()[:7]
    assert (
        client.post(f"{base}/sales", json={"month": this_month, "orders": 7, "gmv": 70}, headers=headers).status_code
        == 200
    )
    assert read()["sales"]["months"][-1] == {"month": this_month, "orders": 7, "gmv": 70.0}
    assert client.post(f"{base}/deals", json={"title": "单人午餐", "price": 29.9}, headers=headers).status_code == 201
    assert "单人午餐" in [d["title"] for d in read()["sales"]["active_deals"]]
    assert (
        client.post(
            f"{base}/competitors", json={"platform": "Douyin", "online": True, "deals": []}, headers=headers
        ).status_code
        == 200
    )
    assert "Douyin" in [c["platform"] for c in read()["competitors"]]


def test_imports_are_visible_at_once(client, world, session):
    read = fresh(client, world, None)
    shop = world["shop"]
    db.scope_to_tenant(shop.tenant_id)
    month = months_back(0).isoformat()[:7]
    sales.import_sales(io.StringIO(f"merchant_id,month,orders,gmv\n{shop.id},{month},1,2\n"), shop.tenant_id)
    db.session.commit()
    assert read()["sales"]["months"][-1]["orders"] == 1
    sales.import_competitors(
        io.StringIO(f"merchant_id,platform,online,deal_title,deal_price\n{shop.id},Meituan,true,双人套餐,120\n"),
        shop.tenant_id,
    )
    db.session.commit()
    meituan = next(c for c in read()["competitors"] if c["platform"] == "Meituan")
    assert meituan["deals"][0]["their_price"] == 120 and meituan["price_disadvantage"] is False


def test_any_touch_invalidates(client, world, session):
    """Visits, claims and tasks call ``detail.touch`` in their own transactions (their issues test them)."""
    from app.merchants.models import touch

    read = fresh(client, world, None)
    db.session.get(Merchant, world["shop"].id).name = "Renamed"
    touch(world["shop"].id)
    db.session.commit()
    assert read()["merchant"]["name"] == "Renamed"


def test_visit_lead_and_task_writes_through_the_api_are_visible_at_once(client, world):
    """Each kind of write the other screens make, read back through a warm cache right after it."""
    read = fresh(client, world, None)
    shop, owner, colleague, manager = world["shop"], world["owner"], world["colleague"], world["manager"]
    total = read()["visits"]["total"]
    visit = client.post(
        "/api/v1/visits",
        json={
            "merchant_id": shop.id,
            "lat": 30.2585,
            "lng": 120.1700,
            "accuracy_m": 10,
            "client_time": clock.now().isoformat(),
        },
        headers={**auth_headers(owner), "Idempotency-Key": "fresh-visit-1"},
    )
    assert visit.status_code == 201, visit.json
    after_visit = read()
    assert after_visit["visits"]["total"] == total + 1
    assert after_visit["visits"]["recent"][0]["id"] == visit.json["id"]

    assert (
        client.post(
            f"/api/v1/leads/{shop.id}/release", json={"reason": "not my area"}, headers=auth_headers(owner)
        ).status_code
        == 200
    )
    assert read()["sea"]["state"] == "public"
    assert client.post(f"/api/v1/leads/{shop.id}/claim", headers=auth_headers(colleague)).status_code == 200
    sea = get_detail(client, world, "colleague").json["sea"]
    assert sea["state"] == "private" and sea["mine"] is True

    open_before = {t["task_id"] for t in get_detail(client, world, "colleague").json["tasks"]}
    created = client.post(
        "/api/v1/tasks",
        json={"title": "Photograph the menu", "kind": "collect_info", "merchant_ids": [shop.id]},
        headers=auth_headers(manager),
    )
    assert created.status_code == 201, created.json
    tasks = get_detail(client, world, "colleague").json["tasks"]
    assert {t["task_id"] for t in tasks} - open_before == {created.json["id"]}
    assignment = next(t for t in tasks if t["task_id"] == created.json["id"])["assignment_id"]
    assert (
        client.post(
            f"/api/v1/todos/a{assignment}/done", json={"feedback": "done"}, headers=auth_headers(colleague)
        ).status_code
        == 200
    )
    assert created.json["id"] not in {t["task_id"] for t in get_detail(client, world, "colleague").json["tasks"]}


# --- writes: permissions and validation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("owner", 201), ("manager", 201), ("ops", 201), ("admin", 201), ("colleague", 403), ("stranger_manager", 403)],
)
def test_who_may_add_contacts(client, world, who, status):
    response = client.post(
        f"/api/v1/merchants/{world['shop'].id}/contacts", json={"name": "X"}, headers=auth_headers(world[who])
    )
    assert response.status_code == status
    if status == 403:
        assert response.json["error_code"] == "NOT_ALLOWED_FOR_LEAD"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "X", "role": "boss"},
        {"name": "X", "phones": ["call me"]},
        {"name": "X", "phones": "13800000000"},
        {"name": "X", "last_contacted_at": "2026-01-01T10:00:00"},
        {"name": "X", "extra": 1},
    ],
)
def test_contact_validation(client, world, body):
    response = client.post(
        f"/api/v1/merchants/{world['shop'].id}/contacts", json=body, headers=auth_headers(world["owner"])
    )
    assert response.status_code == 422 and response.json["error_code"] == "VALIDATION_ERROR"


def test_contact_of_another_merchant_is_404(client, world):
    other = ContactFactory(merchant=world["siblings"][0])
    response = client.patch(
        f"/api/v1/merchants/{world['shop'].id}/contacts/{other.id}",
        json={"title": "x"},
        headers=auth_headers(world["owner"]),
    )
    assert response.status_code == 404 and response.json["error_code"] == "CONTACT_NOT_FOUND"


@pytest.mark.parametrize("who", ["owner", "manager", "colleague"])
def test_sales_endpoints_are_for_ops(client, world, who):
    response = client.post(
        f"/api/v1/merchants/{world['shop'].id}/deals", json={"title": "x", "price": 1}, headers=auth_headers(world[who])
    )
    assert response.status_code == 403 and response.json["error_code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("sales", {"month": "2026-13", "orders": 1, "gmv": 1}),
        ("sales", {"month": "2026-10", "orders": -1, "gmv": 1}),
        ("sales", {"month": "2026-10", "orders": 1, "gmv": "NaN"}),
        ("deals", {"title": "x", "price": -5}),
        ("competitors", {"platform": "X", "online": "maybe"}),
        ("competitors", {"platform": "X", "online": True, "deals": [{"title": "a"}]}),
    ],
)
def test_sales_validation(client, world, path, body):
    response = client.post(
        f"/api/v1/merchants/{world['shop'].id}/{path}", json=body, headers=auth_headers(world["ops"])
    )
    assert response.status_code == 422, response.json


def test_sales_import_reports_bad_rows(world, session):
    shop = world["shop"]
    db.scope_to_tenant(shop.tenant_id)
    csv_text = (
        "merchant_id,month,orders,gmv\n"
        f"{shop.id},2026-01,10,100\n"
        f"{shop.id},2026-13,10,100\n"
        f"{shop.id},2026-02,ten,100\n"
        f"{shop.id},2026-03,10,-1\n"
        "999999999,2026-03,10,1\n"
        f"{shop.id},2026-01,11,110\n"
    )
    report = sales.import_sales(io.StringIO(csv_text), shop.tenant_id)
    assert report.rejected == [
        (3, "month '2026-13' is not YYYY-MM"),
        (4, "orders 'ten' is not a whole number"),
        (5, "gmv '-1' is out of range"),
        (6, "no merchant with id '999999999'"),
    ]
    stored = session.query(SalesMonth).filter_by(merchant_id=shop.id, month=date(2026, 1, 1)).one()
    assert stored.orders == 11  # the last row for a month wins


def test_deal_import_upserts_by_deal_id(world, session):
    shop = world["shop"]
    db.scope_to_tenant(shop.tenant_id)
    text = f"merchant_id,deal_id,title,price,status\n{shop.id},d-1,Set A,10,active\n"
    assert sales.import_sales(io.StringIO(text), shop.tenant_id).inserted == 1
    report = sales.import_sales(io.StringIO(text.replace("10,active", "12,paused")), shop.tenant_id)
    assert (report.inserted, report.updated) == (0, 1)
    assert session.query(Deal).filter_by(external_id="d-1").one().price == Decimal("12.00")


def test_cache_can_be_switched_off(client, world, app, monkeypatch, count_statements):
    monkeypatch.setitem(app.config, "DETAIL_CACHE_ENABLED", False)
    headers = auth_headers(world["owner"])
    counts = []
    for _ in range(2):
        count_statements.clear()
        assert client.get(url(world["shop"].id), headers=headers).status_code == 200
        # the phone-reveal audit entry is written on the first read of the day only
        counts.append(len([s for s in count_statements if "audit_log" not in s]))
    assert counts[0] == counts[1]
