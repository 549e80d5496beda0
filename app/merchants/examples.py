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
            "sea": {"state": "public", "owner": None, "mine": False, "expires_at": None},
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
                "expires_at": "2026-12-01T09:12:00+00:00",
            },
            "claimable": False,
            "last_visit_at": "2026-11-18T19:51:49+00:00",
        },
    ],
    "next_cursor": "eyJrIjpbMjUwLjI2LDE3XSwiZiI6ImFmMTM2NmU1ZDI0OSJ9",
    "query": {
        "lat": 60.1699, "lng": 24.9384, "coord_sys": "wgs84", "radius_m": 1000, "limit": 2, "sea": "all",
        "category": None, "tag": [], "q": None, "unvisited_days": None,
    },
}

MAP_CLUSTERS_EXAMPLE = {
    "mode": "clusters",
    "total": 945,
    "pins": [],
    "clusters": [
        {"lat": 60.1689182, "lng": 24.941625, "count": 182,
         "by_state": {"public": 161, "private": 15, "partner": 6, "mine": 5}},
        {"lat": 60.1689074, "lng": 24.9377902, "count": 164,
         "by_state": {"public": 144, "private": 17, "partner": 3, "mine": 9}},
    ],
    "cell_deg": 0.0054931640625,
}

MAP_PINS_EXAMPLE = {
    "mode": "pins",
    "total": 1,
    "pins": [{"id": 17, "name": "Nordea", "category": "amenity=bank", "lat": 60.1717198, "lng": 24.9407188,
              "sea_state": "private", "mine": True}],
    "clusters": [],
    "cell_deg": None,
}
