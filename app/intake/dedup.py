"""Duplicate candidates for a merchant about to be created: the same place under another spelling, or the
same store phone.

A candidate is a visible merchant of the tenant that is within ``RADIUS_M`` with a name-key trigram
similarity of at least ``NAME_THRESHOLD`` (unless both names name a branch, and different ones: two
stores of a chain), or that shares a store phone number anywhere in the tenant (a shop that moved is still
the same shop) which no other live merchant has (a number on several merchants is a mall switchboard or a
chain's line; chain hotlines never get a key, see ``normalize``). The threshold was tuned with
``bench/dedup.py`` on the real Hangzhou POIs; see bench/README.md for the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from app import db

RADIUS_M = 150
NAME_THRESHOLD = 0.45
MAX_CANDIDATES = 10
# What a BD creating a merchant is told about: a phone match further away would tell them whose shop a
# number is (a masked colleague's phone recovered by guessing); ops still see every match in the audit queue.
CALLER_PHONE_RADIUS_M = 1000
RULE = "own phone anywhere"  # what bench/dedup.py calls the rule this module applies

CANDIDATES_SQL = text(
    """
    WITH origin AS (SELECT ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography AS g),
    -- A number on several live merchants is a switchboard or a chain's line, not one shop's phone.
    own_numbers AS (
        SELECT coalesce(array_agg(k), '{}')::varchar(20)[] AS keys
        FROM unnest(CAST(:phone_keys AS varchar(20)[])) k
        WHERE (SELECT count(*) FROM merchants x
               WHERE x.tenant_id = :tenant_id AND x.phone_keys @> ARRAY[k]::varchar(20)[]
                 AND x.audit_status NOT IN ('rejected', 'merged')) = 1
    ),
    -- two indexed look-ups (GiST on tenant+location, GIN on phone keys) rather than one OR that uses neither
    found AS (
        SELECT m.id FROM merchants m, origin
        WHERE m.tenant_id = :tenant_id AND ST_DWithin(m.location, origin.g, :radius_m)
          AND similarity(m.name_key, :name_key) >= :threshold
          AND NOT (m.branch_key <> '' AND :branch_key <> '' AND strpos(m.branch_key, :branch_key) = 0
                   AND strpos(:branch_key, m.branch_key) = 0)
        UNION
        SELECT m.id FROM merchants m, origin
        WHERE m.tenant_id = :tenant_id AND m.phone_keys && (SELECT keys FROM own_numbers)
          AND (CAST(:phone_radius_m AS float) IS NULL OR ST_DWithin(m.location, origin.g, :phone_radius_m))
    )
    SELECT m.id, m.name, m.address, m.audit_status, ST_Y(m.location::geometry) AS lat,
           ST_X(m.location::geometry) AS lng,
           ST_Distance(m.location, origin.g) AS distance_m,
           similarity(m.name_key, :name_key) AS similarity,
           m.phone_keys && (SELECT keys FROM own_numbers) AS phone_match
    FROM found JOIN merchants m ON m.id = found.id, origin
    WHERE m.audit_status NOT IN ('rejected', 'merged') AND m.id <> :exclude_id
    ORDER BY phone_match DESC, similarity DESC, distance_m
    LIMIT :limit
    """
)


@dataclass(frozen=True)
class Probe:
    """What a new merchant is compared on (WGS84 position, keys from ``normalize``)."""

    lat: float
    lng: float
    name_key: str
    phone_keys: tuple[str, ...] = ()
    branch_key: str = ""


def candidates(
    tenant_id: int,
    probe: Probe,
    *,
    exclude_id: int = 0,
    threshold: float = NAME_THRESHOLD,
    radius_m: float = RADIUS_M,
    phone_radius_m: float | None = None,
    limit: int = MAX_CANDIDATES,
) -> list[dict[str, Any]]:
    """Candidates within ``radius_m`` by name, and by a shared store phone within ``phone_radius_m``
    (anywhere in the tenant when None)."""
    """Possible duplicates, the strongest first: phone matches, then by name similarity, then distance."""
    rows = (
        db.session.execute(
            CANDIDATES_SQL,
            {
                "tenant_id": tenant_id,
                "lat": probe.lat,
                "lng": probe.lng,
                "name_key": probe.name_key,
                "branch_key": probe.branch_key,
                "phone_keys": list(probe.phone_keys),
                "exclude_id": exclude_id,
                "radius_m": radius_m,
                "phone_radius_m": phone_radius_m,
                "threshold": threshold,
                "limit": limit,
            },
        )
        .mappings()
        .all()
    )
    return [
        {
            "id": row["id"],
            "name": row["name"],
            "address": row["address"],
            "audit_status": row["audit_status"],
            "lat": row["lat"],
            "lng": row["lng"],
            "distance_m": round(row["distance_m"], 1),
            "similarity": round(float(row["similarity"]), 3),
            "phone_match": bool(row["phone_match"]),
        }
        for row in rows
    ]
