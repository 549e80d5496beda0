"""Example payloads for the OpenAPI spec (real shapes from the demo city)."""

NEARBY_EXAMPLE = {
    "items": [
        {
            "id": 312,
            "name": "Robert's Coffee",
            "category": "amenity=cafe",
            "address": "Mannerheimintie 20 B, 00100 Helsinki",
            "lat": 60.1696135,
            "lng": 24.9381557,
            "distance_m": 34.68,
            "bearing_deg": 203.0,
            "tags": ["head"],
            "sea": {
                "state": "public",
                "owner": None,
                "mine": False,
                "drops_at": None,
                "expires_at": None,
                "locked_until": None,
            },
            "claimable": True,
            "last_visit_at": None,
        },
        {
            "id": 17,
            "name": "Nordea",
            "category": "amenity=bank",
            "address": "Aleksanterinkatu 36, 00100 Helsinki",
            "lat": 60.1717198,
            "lng": 24.9407188,
            "distance_m": 250.31,
            "bearing_deg": 34.8,
            "tags": [],
            "sea": {
                "state": "private",
                "owner": {"id": 4, "name": "Aino Virtanen"},
                "mine": True,
                "drops_at": "2026-12-01T09:12:00+00:00",
                "expires_at": "2026-12-01T09:12:00+00:00",
                "locked_until": None,
            },
            "claimable": False,
            "last_visit_at": "2026-11-18T19:51:49+00:00",
        },
    ],
    "next_cursor": "eyJrIjpbMjUwLjI2LDE3XSwiZiI6ImFmMTM2NmU1ZDI0OSJ9",
    "query": {
        "lat": 60.1699,
        "lng": 24.9384,
        "coord_sys": "wgs84",
        "radius_m": 1000,
        "limit": 2,
        "sea": "all",
        "category": None,
        "tag": [],
        "q": None,
        "unvisited_days": None,
        "in_my_territory": False,
        "attr": {},
    },
}

MAP_CLUSTERS_EXAMPLE = {
    "mode": "clusters",
    "total": 945,
    "pins": [],
    "clusters": [
        {
            "lat": 60.1689182,
            "lng": 24.941625,
            "count": 182,
            "by_state": {"public": 161, "private": 15, "partner": 6, "mine": 5},
        },
        {
            "lat": 60.1689074,
            "lng": 24.9377902,
            "count": 164,
            "by_state": {"public": 144, "private": 17, "partner": 3, "mine": 9},
        },
    ],
    "cell_deg": 0.0054931640625,
}

MAP_PINS_EXAMPLE = {
    "mode": "pins",
    "total": 1,
    "pins": [
        {
            "id": 17,
            "name": "Nordea",
            "category": "amenity=bank",
            "lat": 60.1717198,
            "lng": 24.9407188,
            "sea_state": "private",
            "mine": True,
        }
    ],
    "clusters": [],
    "cell_deg": None,
}

DETAIL_EXAMPLE: dict = {
    "merchant": {
        "id": 644,
        "name": "TimanttiForum",
        "category": "shop=jewelry",
        "address": "Simonkatu 8, 00100 Helsinki",
        "city": "Helsinki",
        "phone": "+358 9 694 9361",
        "brand": None,
        "tags": [],
        "lat": 60.1690401,
        "lng": 24.9366011,
        "attributes": {
            "website": "https://www.timanttiforum.net/",
            "opening_hours": "Mo-Fr 10:00-18:30; Sa 10:00-15:30",
        },
        "source": "osm",
        "source_id": "osm:node/4751244137",
        "audit_status": "approved",
        "audit_flags": [],
        "closed": None,
        "self_onboarded": False,
        "created_at": "2026-11-22T02:45:32.014183+00:00",
        "updated_at": "2026-11-22T02:45:32.014183+00:00",
        "created_by": None,
        "coord_sys": "wgs84",
    },
    "contacts": [],
    "visits": {"total": 0, "verified": 0, "last_visit": None, "recent": []},
    "sales": {
        "active_deals": [
            {
                "id": 19,
                "title": "Voucher 1",
                "price": 21.68,
                "status": "active",
                "started_at": "2026-05-06",
                "ended_at": None,
            },
            {
                "id": 20,
                "title": "Voucher 2",
                "price": 38.43,
                "status": "active",
                "started_at": "2026-05-06",
                "ended_at": None,
            },
        ],
        "ended_deals": [
            {
                "id": 7,
                "title": "Summer set",
                "price": 25.0,
                "status": "ended",
                "started_at": "2026-05-06",
                "ended_at": "2026-08-31",
            }
        ],
        "contracts": [
            {
                "id": 9,
                "number": "HZ-2026-00123",
                "type": "group_buy",
                "starts_on": "2026-05-07",
                "ends_on": "2027-05-06",
                "status": "active",
            }
        ],
        "totals": {"orders_12m": 4695, "gmv_12m": 85281.47, "orders_lifetime": 7190, "gmv_lifetime": 134924.99},
        "months": [
            {"month": "2026-09", "orders": 339, "gmv": 4837.53},
            {"month": "2026-10", "orders": 398, "gmv": 7844.58},
            {"month": "2026-11", "orders": 456, "gmv": 10770.72},
        ],
        "related_stores": {"count": 0, "stores": []},
    },
    "competitors": [
        {
            "platform": "Wolt",
            "online": True,
            "captured_at": "2026-11-22T02:45:32.152899+00:00",
            "deals": [
                {
                    "their_title": "Lunch menu 1",
                    "their_price": 18.6,
                    "monthly_sales": 585,
                    "our_deal_id": 19,
                    "our_title": "Voucher 1",
                    "our_price": 21.68,
                    "difference": 3.08,
                    "price_disadvantage": True,
                }
            ],
            "price_disadvantage": True,
            "latest_observation": {
                "platform": "Wolt",
                "online": True,
                "offer": "Lunch menu for two",
                "their_price": 18.6,
                "our_price": 21.68,
                "price_gap": 3.08,
                "observed_at": "2026-11-21T08:12:00+00:00",
                "visit_id": 9120,
                "by": {"id": 8, "name": "Aino Virtanen"},
            },
        }
    ],
    "activities": {
        "total": 1,
        "calls": 1,
        "messages": 0,
        "recent": [
            {
                "id": 5012,
                "kind": "call",
                "direction": "outgoing",
                "at": "2026-11-22T01:40:00+00:00",
                "duration_s": 185,
                "result": "follow_up",
                "notes": "Wants the lunch-deal numbers before Friday",
                "by": {"id": 8, "name": "Aino Virtanen"},
                "contact": None,
            }
        ],
    },
    "sea": {
        "state": "partner",
        "owner": {"id": 4, "name": "Aino Virtanen"},
        "mine": False,
        "expires_at": None,
        "claimed_at": "2026-05-07T02:45:32.152899+00:00",
        "drops_at": None,
        "drop_reason": None,
        "extensions_left": None,
        "locked_until": None,
        "lock_reason": None,
        "account_owner": {"id": 7, "name": "Ops Liisa"},
        "claimable": False,
    },
    "tasks": [],
    "nearby_same_brand": [],
    "phones_masked": False,
}

CHANGES_EXAMPLE = {
    "items": [
        {
            "id": 90211,
            "field": "phone",
            "before": "0571-8780 6201",
            "after": "0571-8780 6202",
            "source": "correction",
            "details": {"correction_id": 311},
            "at": "2026-11-22T11:40:00+08:00",
            "by": {"id": 57, "name": "李明"},
        },
        {
            "id": 88017,
            "field": "address",
            "before": "",
            "after": "清泰街 318 号",
            "source": "import",
            "details": {"source": "amap"},
            "at": "2026-11-01T02:00:00+08:00",
            "by": {"id": 3, "name": "Ops"},
        },
    ],
    "coord_sys": "gcj02",
    "next_cursor": None,
}
