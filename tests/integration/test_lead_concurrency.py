"""The pool under real concurrency (real commits, one thread per phone): nothing is owned twice, and the
history always explains the final state."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, text

from app import clock, db
from app.leads.jobs import sweep_due_leads
from app.merchants.models import Lead, LeadEvent, LeadState
from app.org.models import OrgKind, Role
from app.tenants.models import Tenant
from tests.factories import MerchantFactory, OrgUnitFactory, UserFactory, auth_headers


def run_concurrently(app, calls):
    """Run each zero-argument callable in its own thread, released together; return their results in order."""
    results = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def worker(index, call):
        with app.app_context():
            barrier.wait()
            try:
                results[index] = call()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def post(app, headers, path, body=None):
    def call():
        response = app.test_client().post(path, headers=headers, json=body)
        return response.status_code, (response.json or {}).get("error_code")

    return call


def replayed_state(merchant_id):
    """The (state, owner) that the recorded history implies."""
    state, owner = LeadState.PUBLIC, None
    for event in db.session.scalars(
        select(LeadEvent).where(LeadEvent.merchant_id == merchant_id).order_by(LeadEvent.id)
    ):
        if event.action in ("claim", "assign", "transfer"):
            state = (
                LeadState.PARTNER if state == LeadState.PARTNER and event.action == "transfer" else LeadState.PRIVATE
            )
            owner = event.to_owner_id
        elif event.action in ("release", "drop"):
            state, owner = LeadState.PUBLIC, None
        elif event.action == "sign":
            state = LeadState.PARTNER
    return state, owner


def assert_history_explains(merchant_id):
    db.session.expire_all()
    lead = db.session.get(Lead, merchant_id)
    actual = (lead.state, lead.owner_id) if lead else (LeadState.PUBLIC, None)
    assert replayed_state(merchant_id) == actual


def test_fifty_bds_claim_one_lead_exactly_one_wins(app, live):
    tenant = live.tenant()
    shop = MerchantFactory(tenant=tenant)
    bds = [UserFactory(tenant=tenant) for _ in range(50)]
    calls = [post(app, auth_headers(bd), f"/api/v1/leads/{shop.id}/claim") for bd in bds]
    db.session.remove()
    results = run_concurrently(app, calls)
    assert Counter(results) == {(200, None): 1, (409, "LEAD_TAKEN"): 49}
    claims = db.session.scalars(select(LeadEvent).where(LeadEvent.merchant_id == shop.id)).all()
    assert len(claims) == 1
    assert_history_explains(shop.id)


def test_one_bd_claiming_150_leads_at_once_gets_exactly_the_cap(app, live):
    tenant = live.tenant(settings={"pool": {"claim_cap": 100}})
    bd = UserFactory(tenant=tenant)
    shops = [MerchantFactory(tenant=tenant) for _ in range(150)]
    headers = auth_headers(bd)
    calls = [post(app, headers, f"/api/v1/leads/{shop.id}/claim") for shop in shops]
    db.session.remove()
    results = run_concurrently(app, calls)
    assert Counter(results) == {(200, None): 100, (409, "CLAIM_CAP_REACHED"): 50}
    owned = db.session.scalars(select(Lead).where(Lead.owner_id == bd.id, Lead.state == LeadState.PRIVATE)).all()
    assert len(owned) == 100


def _due_leads(tenant, owner, count, due_in=timedelta(hours=-1)):
    shops = [MerchantFactory(tenant=tenant) for _ in range(count)]
    now = clock.now()
    for shop in shops:
        db.session.add(
            Lead(
                merchant_id=shop.id,
                tenant_id=tenant.id,
                state=LeadState.PRIVATE,
                owner_id=owner.id,
                claimed_at=now - timedelta(days=20),
                drops_at=now + due_in,
                drop_reason="no_visit",
            )
        )
        db.session.add(LeadEvent(merchant_id=shop.id, tenant_id=tenant.id, action="claim", to_owner_id=owner.id))
    db.session.commit()
    return shops


def _sweep(app, **kwargs):
    def call():
        return sweep_due_leads(batch=3, **kwargs)

    return call


def test_claims_racing_the_sweeper(app, live):
    tenant = live.tenant()
    owner, rival = UserFactory(tenant=tenant), UserFactory(tenant=tenant)
    shops = _due_leads(tenant, owner, 12)
    headers = auth_headers(rival)
    calls = [_sweep(app), *[post(app, headers, f"/api/v1/leads/{shop.id}/claim") for shop in shops]]
    db.session.remove()
    swept, *claims = run_concurrently(app, calls)
    won = sum(1 for status, _ in claims if status == 200)
    assert all(result in ((200, None), (409, "LEAD_TAKEN")) for result in claims)
    # a lead a losing claim held locked was skipped (SKIP LOCKED); the next scheduled run takes it
    swept += sweep_due_leads()
    for shop in shops:
        assert_history_explains(shop.id)
    db.session.expire_all()
    final = Counter(
        (lead.state, lead.owner_id)
        for lead in db.session.scalars(select(Lead).where(Lead.merchant_id.in_([s.id for s in shops])))
    )
    assert final[(LeadState.PRIVATE, rival.id)] == won
    assert final[(LeadState.PRIVATE, owner.id)] == 0  # every lead was due: none stays with its old owner
    assert swept == len(shops)  # each due lead dropped exactly once; a rival could only win after that


def test_extensions_racing_the_sweeper(app, live):
    tenant = live.tenant()
    owner = UserFactory(tenant=tenant)
    shops = _due_leads(tenant, owner, 10, due_in=timedelta(hours=1))
    headers = auth_headers(owner)
    later = clock.now() + timedelta(hours=2)  # the sweeper runs as if two hours had passed
    calls = [_sweep(app, now=later), *[post(app, headers, f"/api/v1/leads/{shop.id}/extend") for shop in shops]]
    db.session.remove()
    _, *extensions = run_concurrently(app, calls)
    assert all(result in ((200, None), (409, "NOT_OWNER")) for result in extensions)
    for shop, result in zip(shops, extensions, strict=True):
        assert_history_explains(shop.id)
        lead = db.session.get(Lead, shop.id)
        if result[0] == 200:  # extended first: the sweeper then saw a later drop time and left it
            assert lead.state == LeadState.PRIVATE and lead.drops_at > later
        else:
            assert lead.state == LeadState.PUBLIC


def test_release_racing_an_assignment(app, live):
    tenant = live.tenant()
    team = OrgUnitFactory(tenant=tenant, kind=OrgKind.TEAM)
    manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=team.id)
    owner = UserFactory(tenant=tenant, org_unit_id=team.id)
    other = UserFactory(tenant=tenant, org_unit_id=team.id)
    shops = _due_leads(tenant, owner, 10, due_in=timedelta(days=5))
    owner_headers, manager_headers = auth_headers(owner), auth_headers(manager)
    calls = []
    for shop in shops:
        calls.append(post(app, owner_headers, f"/api/v1/leads/{shop.id}/release", {"reason": "busy"}))
        calls.append(post(app, manager_headers, f"/api/v1/leads/{shop.id}/assign", {"user_id": other.id}))
    db.session.remove()
    results = run_concurrently(app, calls)
    for index, shop in enumerate(shops):
        release, assign = results[2 * index], results[2 * index + 1]
        assert assign == (200, None)  # a manager's assignment always applies
        assert release in ((200, None), (409, "NOT_OWNER"))
        assert_history_explains(shop.id)
        lead = db.session.get(Lead, shop.id)
        assert (lead.state, lead.owner_id) == (LeadState.PRIVATE, other.id)
    assert db.session.get(Tenant, tenant.id) is not None


def test_a_claim_does_not_wait_for_transactions_that_reference_the_bd(app, live):
    """A sweep batch (or a check-in) holds FOR KEY SHARE on the BD's row through its foreign keys until it
    commits; the claim's own lock must not conflict with that."""
    tenant = live.tenant()
    bd = UserFactory(tenant=tenant)
    shop = MerchantFactory(tenant=tenant)
    claim = post(app, auth_headers(bd), f"/api/v1/leads/{shop.id}/claim")
    db.session.remove()
    result = {}

    def run():
        with app.app_context():
            try:
                result["claim"] = claim()
            finally:
                db.session.remove()

    with db.engine().connect() as other:
        other.execute(text("SELECT id FROM users WHERE id = :id FOR KEY SHARE"), {"id": bd.id})  # held open
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(timeout=10)
        waited = thread.is_alive()
        other.rollback()  # lets a blocked claim finish either way
    thread.join()
    assert not waited, "the claim waited for a transaction that only references the BD"
    assert result["claim"] == (200, None)
