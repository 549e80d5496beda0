"""Day plans: the order to walk a day's stops in, and which of them the BD has visited."""

from __future__ import annotations

from datetime import date
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app import db
from app.errors import PlanNotFound, UnknownMerchants
from app.merchants.models import Merchant
from app.org.models import User
from app.tenants.models import Tenant
from app.visits.models import Visit, VisitPlan
from geo import route
from geo.coords import CoordSys, from_wgs84, to_wgs84


def save_plan(user: User, tenant: Tenant, day: date, start: dict[str, Any], merchant_ids: list[int]) -> dict[str, Any]:
    merchant_ids = list(dict.fromkeys(merchant_ids))
    merchants = {m.id: m for m in db.session.scalars(select(Merchant).where(Merchant.id.in_(merchant_ids)))}
    unknown = [mid for mid in merchant_ids if mid not in merchants]
    if unknown:
        raise UnknownMerchants(errors={"json": {"merchant_ids": [f"No such merchants: {unknown}"]}})
    coord_sys = CoordSys(start.get("coord_sys", "wgs84"))
    start_lat, start_lng = to_wgs84(start["lat"], start["lng"], coord_sys)
    ordered = [merchants[mid] for mid in merchant_ids]
    positions = [(p.y, p.x) for p in (to_shape(m.location) for m in ordered)]
    order, legs = route.plan((start_lat, start_lng), positions)
    stops = [{"merchant_id": ordered[i].id, "leg_m": round(leg, 1)} for i, leg in zip(order, legs, strict=True)]
    values = {
        "tenant_id": tenant.id,
        "user_id": user.id,
        "plan_date": day,
        "start_lat": start_lat,
        "start_lng": start_lng,
        "stops": stops,
        "total_m": round(sum(legs), 1),
    }
    db.session.execute(
        insert(VisitPlan)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["user_id", "plan_date"], set_={k: v for k, v in values.items() if k not in ("user_id",)}
        )
    )
    db.session.flush()
    return get_plan(user, tenant, day, coord_sys)


def get_plan(user: User, tenant: Tenant, day: date, coord_sys: CoordSys = CoordSys.WGS84) -> dict[str, Any]:
    plan = db.session.scalar(select(VisitPlan).where(VisitPlan.user_id == user.id, VisitPlan.plan_date == day))
    if plan is None:
        raise PlanNotFound()
    ids = [stop["merchant_id"] for stop in plan.stops]
    merchants = {m.id: m for m in db.session.scalars(select(Merchant).where(Merchant.id.in_(ids)))}
    start, end = tenant.day_bounds(day)
    visited = set(
        db.session.scalars(
            select(Visit.merchant_id).where(
                Visit.user_id == user.id,
                Visit.merchant_id.in_(ids),
                Visit.verified.is_(True),
                Visit.client_time >= start,
                Visit.client_time < end,
            )
        )
    )
    stops = []
    for position, stop in enumerate(plan.stops, start=1):
        merchant = merchants.get(stop["merchant_id"])
        if merchant is None:  # merged or deleted since planning
            continue
        point = to_shape(merchant.location)
        lat, lng = from_wgs84(point.y, point.x, coord_sys)
        stops.append(
            {
                "order": position,
                "merchant": {
                    "id": merchant.id,
                    "name": merchant.name,
                    "address": merchant.address,
                    "lat": round(lat, 7),
                    "lng": round(lng, 7),
                },
                "leg_m": stop["leg_m"],
                "visited": merchant.id in visited,
            }
        )
    start_lat, start_lng = from_wgs84(plan.start_lat, plan.start_lng, coord_sys)
    return {
        "date": day.isoformat(),
        "coord_sys": coord_sys.value,
        "start": {"lat": round(start_lat, 7), "lng": round(start_lng, 7)},
        "total_m": plan.total_m,
        "stops": stops,
        "visited": sum(1 for s in stops if s["visited"]),
        "remaining": sum(1 for s in stops if not s["visited"]),
    }
