"""Price gap: computed set-based from records, deals and observations; the tag follows the tenant threshold."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from app import db
from app.intake.jobs import compute_tags
from app.merchants.models import Merchant
from app.sales.models import CompetitorObservation, CompetitorRecord, Deal
from tests.factories import MerchantFactory, TenantFactory


def gap_and_tags(merchant):
    db.session.expire_all()
    row = db.session.get(Merchant, merchant.id)
    return (None if row.price_gap is None else float(row.price_gap)), "price_disadvantage" in row.tags


def test_price_gap_from_records_and_observations(session):
    tenant, other = TenantFactory(), TenantFactory(settings={"pricing": {"disadvantage_gap_pct": 30}})
    undercut, cheaper, observed, unknown, lenient = (MerchantFactory(tenant=tenant) for _ in range(5))
    foreign = MerchantFactory(tenant=other)
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    for merchant, ours, theirs in ((undercut, "100", 80), (cheaper, "50", 60), (foreign, "100", 80)):
        session.add(Deal(tenant_id=merchant.tenant_id, merchant_id=merchant.id, title="套餐", price=Decimal(ours)))
        session.add(
            CompetitorRecord(
                tenant_id=merchant.tenant_id,
                merchant_id=merchant.id,
                platform="meituan",
                deals=[{"title": "a", "price": theirs}, {"title": "b", "price": theirs + 50}],
                captured_at=early,
            )
        )
    # the record says we are cheaper, but a BD's later observation says otherwise: the fresher source wins
    session.add(Deal(tenant_id=tenant.id, merchant_id=observed.id, title="套餐", price=Decimal("100")))
    session.add(
        CompetitorRecord(
            tenant_id=tenant.id, merchant_id=observed.id, platform="dianping", deals=[{"price": 120}], captured_at=early
        )
    )
    for at, theirs in ((early, "10"), (late, "85")):
        session.add(
            CompetitorObservation(
                tenant_id=tenant.id,
                merchant_id=observed.id,
                platform="dianping",
                online=True,
                our_price=Decimal("100"),
                their_price=Decimal(theirs),
                price_gap=Decimal("100") - Decimal(theirs),
                observed_at=at,
            )
        )
    # a competitor record without our deal gives no gap
    session.add(CompetitorRecord(tenant_id=tenant.id, merchant_id=unknown.id, platform="x", deals=[{"price": 1}]))
    # 5 % cheaper there: below the default threshold of 10 %
    session.add(Deal(tenant_id=tenant.id, merchant_id=lenient.id, title="套餐", price=Decimal("100")))
    session.add(CompetitorRecord(tenant_id=tenant.id, merchant_id=lenient.id, platform="x", deals=[{"price": 95}]))
    session.commit()

    compute_tags()

    assert gap_and_tags(undercut) == (20.0, True)
    assert gap_and_tags(cheaper) == (-20.0, False)
    assert gap_and_tags(observed) == (15.0, True)
    assert gap_and_tags(unknown) == (None, False)
    assert gap_and_tags(lenient) == (5.0, False)
    # the other tenant's threshold is 30 %: a 20 % gap is kept but not tagged
    assert gap_and_tags(foreign) == (20.0, False)

    # our deal ends: the gap becomes unknown and the tag goes, on the next pass
    db.session.query(Deal).filter(Deal.merchant_id == undercut.id).update({"status": "ended"})
    session.commit()
    compute_tags(tenant.id)
    assert gap_and_tags(undercut) == (None, False)
