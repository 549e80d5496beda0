"""Lead intake under real concurrency (real commits, one thread per phone)."""

from __future__ import annotations

from sqlalchemy import func, select

from app import db
from app.merchants.models import Merchant
from app.org.models import Role
from tests.factories import MerchantFactory, UserFactory, auth_headers
from tests.integration.test_lead_concurrency import post, run_concurrently


def test_crossing_merges_do_not_deadlock_and_one_wins(app, live):
    tenant = live.tenant()
    ops = UserFactory(tenant=tenant, role=Role.OPS)
    a, b = MerchantFactory(tenant=tenant, name="甲店"), MerchantFactory(tenant=tenant, name="乙店")
    headers = auth_headers(ops)
    results = run_concurrently(
        app,
        [
            post(app, headers, f"/api/v1/merchants/{a.id}/audit", {"action": "merge", "into_id": b.id}),
            post(app, headers, f"/api/v1/merchants/{b.id}/audit", {"action": "merge", "into_id": a.id}),
        ],
    )
    assert sorted(results) in (
        [(200, None), (404, "MERCHANT_NOT_FOUND")],
        [(200, None), (404, "MERGE_TARGET_NOT_FOUND")],
    )
    db.session.expire_all()
    statuses = sorted(
        m.audit_status.value for m in db.session.scalars(select(Merchant).where(Merchant.tenant_id == tenant.id))
    )
    assert statuses == ["approved", "merged"]


def test_two_bds_adding_the_same_shop_at_once_make_one_merchant(app, live):
    tenant = live.tenant()
    bds = [UserFactory(tenant=tenant, role=Role.BD) for _ in range(2)]
    body = {"name": "老王面馆", "lat": 30.2459, "lng": 120.1811, "phone": "13812345678"}
    results = run_concurrently(app, [post(app, auth_headers(bd), "/api/v1/merchants", body) for bd in bds])
    assert sorted(results) == [(201, None), (409, "POSSIBLE_DUPLICATE")]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Merchant).where(Merchant.tenant_id == tenant.id)) == 1
