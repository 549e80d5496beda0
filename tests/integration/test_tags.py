"""Classification tags: each rule, imported tags kept, the detail version bumped only on change."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from freezegun import freeze_time
from sqlalchemy import select

from app import db
from app.intake.jobs import compute_tags
from app.intake.normalize import name_key
from app.intake.topbrands import set_top_brands
from app.merchants.models import Merchant
from app.org.models import Role
from app.sales.models import CompetitorRecord, Deal, SalesMonth
from tests.factories import MerchantFactory, TenantFactory, UserFactory, auth_headers


def shop(tenant, name, category="餐饮服务;中餐厅;面馆", city="杭州市", **kwargs):
    return MerchantFactory(tenant=tenant, name=name, name_key=name_key(name), category=category, city=city, **kwargs)


def tags_of(*merchants):
    db.session.expire_all()
    return [sorted(db.session.get(Merchant, m.id).tags) for m in merchants]


@freeze_time("2026-11-20 12:00:00")
def test_every_rule(session):
    tenant, other = TenantFactory(), TenantFactory()
    # head: top 10 % by 12-month GMV among the 13 Chinese restaurants in Hangzhou -> the best two (ceil(1.3))
    noodles = [shop(tenant, f"面馆{i}") for i in range(12)]
    for rank, merchant in enumerate(noodles[:3]):
        session.add(
            SalesMonth(
                tenant_id=tenant.id,
                merchant_id=merchant.id,
                month=date(2026, 10, 1),
                orders=10,
                gmv=Decimal(1000 - rank * 100),
            )
        )
    old_sales = shop(tenant, "老店", category="餐饮服务;中餐厅;川菜")
    session.add(
        SalesMonth(tenant_id=tenant.id, merchant_id=old_sales.id, month=date(2024, 1, 1), orders=1, gmv=Decimal(99999))
    )  # outside the 12 months
    cafe = shop(tenant, "咖啡馆", category="餐饮服务;咖啡厅", tags=["imported"])
    session.add(SalesMonth(tenant_id=tenant.id, merchant_id=cafe.id, month=date(2026, 9, 1), orders=1, gmv=Decimal(5)))
    session.add(CompetitorRecord(tenant_id=tenant.id, merchant_id=cafe.id, platform="meituan", online=True))
    session.add(CompetitorRecord(tenant_id=tenant.id, merchant_id=noodles[5].id, platform="meituan", online=False))
    session.add(Deal(tenant_id=tenant.id, merchant_id=noodles[6].id, title="套餐", price=Decimal("9.9")))
    session.add(
        Deal(tenant_id=tenant.id, merchant_id=noodles[7].id, title="旧套餐", price=Decimal("9.9"), status="ended")
    )
    fast = "餐饮服务;快餐厅"
    chain = [shop(tenant, f"沙县小吃({road})", fast) for road in ("文三路", "解放路", "延安路")]
    pair = [shop(tenant, f"兰州拉面({road})", fast) for road in ("文三路", "解放路")]
    branded = [shop(tenant, f"KFC {i}", fast, brand="KFC") for i in range(3)]
    elsewhere = shop(other, "沙县小吃")
    session.commit()
    set_top_brands(tenant, ["沙縣小吃", "kfc"])

    assert compute_tags() > 0
    assert tags_of(*noodles[:3]) == [["head"], ["head"], []]
    assert tags_of(old_sales) == [[]]
    assert tags_of(cafe) == [["competitor_online", "head", "imported"]]  # alone in its category: the head
    assert tags_of(noodles[5], noodles[6], noodles[7]) == [[], ["has_deal"], []]
    assert tags_of(*chain) == [["multi_store", "top300"]] * 3
    assert tags_of(*pair, elsewhere) == [[], [], []]
    assert tags_of(*branded) == [["multi_store", "top300"]] * 3

    # nothing changed: no merchant is rewritten and no detail version moves
    versions = {m.id: m.detail_version for m in db.session.scalars(select(Merchant))}
    assert compute_tags(tenant.id) == 0
    db.session.expire_all()
    assert {m.id: m.detail_version for m in db.session.scalars(select(Merchant))} == versions

    # a deal ending takes the tag away again; tags set by imports stay
    db.session.execute(Deal.__table__.update().values(status="ended"))
    db.session.commit()
    assert compute_tags(tenant.id) == 1
    assert tags_of(noodles[6], cafe) == [[], ["competitor_online", "head", "imported"]]


def test_tags_feed_the_nearby_filter(client, session):
    tenant = TenantFactory()
    bd = UserFactory(tenant=tenant, role=Role.BD)
    target = shop(tenant, "有团购的店", lat=30.25, lng=120.17)
    shop(tenant, "没有团购的店", lat=30.2501, lng=120.17)
    session.add(Deal(tenant_id=tenant.id, merchant_id=target.id, title="套餐", price=Decimal("19")))
    session.commit()
    compute_tags(tenant.id)
    response = client.get("/api/v1/merchants/nearby?lat=30.25&lng=120.17&tag=has_deal", headers=auth_headers(bd))
    assert [item["id"] for item in response.json["items"]] == [target.id]
    detail = client.get(f"/api/v1/merchants/{target.id}", headers=auth_headers(bd)).json
    assert detail["merchant"]["tags"] == ["has_deal"]


def test_top_brand_list_endpoint(client, session, redis_client):
    tenant = TenantFactory()
    ops, bd = UserFactory(tenant=tenant, role=Role.OPS), UserFactory(tenant=tenant, role=Role.BD)
    response = client.put(
        "/api/v1/brands/top300", json={"brands": ["肯德基", " 肯德基 ", "Starbucks"]}, headers=auth_headers(ops)
    )
    assert response.status_code == 200 and response.json == {"brands": ["肯德基", "Starbucks"]}
    assert client.get("/api/v1/brands/top300", headers=auth_headers(ops)).json == {"brands": ["肯德基", "Starbucks"]}
    assert client.get("/api/v1/brands/top300", headers=auth_headers(bd)).status_code == 403
    assert client.put("/api/v1/brands/top300", json={"brands": [""]}, headers=auth_headers(ops)).status_code == 422
