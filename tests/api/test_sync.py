"""GET /sync: the full bundle, then deltas as upserts and tombstones; scope by territory or radius; paging, gzip.

These run inside the per-test transaction, which is still open while the app reads: every change the test
made has that transaction's id, at or above the cursor's floor, so a delta here re-serves all of them (harmless
by design: see app/sync/queries.py). Assertions are therefore about the state each change carries, never that
a delta is empty; tests/integration/test_sync_concurrency.py proves the cursor with real commits. For the same
reason the delta tests use the radius scope: a territory membership written in the test's transaction would
reset every later sync. A request ends the scoped session, so rows are changed through fresh ``db.session`` reads.
"""

from __future__ import annotations

import gzip
from datetime import timedelta

import orjson
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import select, text

from app import clock, db
from app.merchants.models import AuditStatus, Lead, LeadState, Merchant
from app.reminders.models import Reminder
from app.sync import queries as sync_queries
from app.sync.jobs import prune_sync_changes
from app.sync.queries import CHANGE_LOG_DAYS, CURSOR_MAX_AGE
from app.sync.schemas import SyncPageSchema
from app.territories.models import Territory, TerritoryMember
from geo.coords import from_wgs84
from tests.factories import MerchantFactory, auth_headers, make_org, point

# a square around central Helsinki (the factories' default position is 60.17, 24.94)
SQUARE = [(24.90, 60.15), (24.98, 60.15), (24.98, 60.19), (24.90, 60.19), (24.90, 60.15)]


def _territory(session, org, members):
    territory = Territory(
        tenant_id=org["tenant"].id,
        team_id=org["team"].id,
        name="Centre",
        area_m2=1,
        vertices=4,
        boundary=from_shape(MultiPolygon([Polygon(SQUARE)]), srid=4326),
    )
    session.add(territory)
    session.flush()
    for user in members:
        session.add(TerritoryMember(tenant_id=org["tenant"].id, territory_id=territory.id, user_id=user.id))
    session.commit()
    return territory


def _sync(client, user, **query):
    response = client.get("/api/v1/sync", headers=auth_headers(user), query_string=query)
    assert response.status_code == 200, response.json
    SyncPageSchema().load(response.json)
    return response.json


def _by_key(page):
    keys = [(change["entity"], change["id"]) for change in page["changes"]]
    assert len(keys) == len(set(keys)), "one change per entity in a page"
    return {key: change for key, change in zip(keys, page["changes"], strict=True)}


def _drain(client, user, cursor=None, **query):
    """Every page of one sync: (changes by key, the cursor for the next sync, pages)."""
    changes, pages = {}, 0
    while True:
        page = _sync(client, user, **({"cursor": cursor} if cursor else {}), **query)
        pages += 1
        changes.update(_by_key(page))
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return changes, cursor, pages


HELSINKI = {"lat": 60.17, "lng": 24.94, "radius_m": 3000}


def _world(session, territory=True):
    org = make_org()
    tenant = org["tenant"]
    inside = [MerchantFactory(tenant=tenant, lat=60.17, lng=24.94 + i * 0.001) for i in range(3)]
    outside = MerchantFactory(tenant=tenant, lat=60.30, lng=24.94)
    rejected = MerchantFactory(tenant=tenant, audit_status=AuditStatus.REJECTED)
    session.add(
        Lead(
            tenant_id=tenant.id,
            merchant_id=inside[0].id,
            state=LeadState.PRIVATE,
            owner_id=org["bd1"].id,
            claimed_at=clock.now(),
            drops_at=clock.now() + timedelta(days=5),
            drop_reason="no_visit",
        )
    )
    session.add(
        Reminder(
            tenant_id=tenant.id,
            user_id=org["bd1"].id,
            kind="lead_dropping",
            title="Lead drops soon",
            merchant_id=inside[0].id,
            due_at=clock.now() + timedelta(days=1),
            dedupe_key="sync-1",
        )
    )
    session.commit()
    if territory:
        _territory(session, org, [org["bd1"]])
    return org, inside, outside, rejected


def test_first_call_is_the_full_bundle_of_my_world(client, session):
    org, inside, outside, rejected = _world(session)
    page = _sync(client, org["bd1"])
    assert page["reset"] is True and page["has_more"] is False and page["scope"] == "territories"
    changes = _by_key(page)
    merchants = {int(key[1]) for key in changes if key[0] == "merchant"}
    assert merchants == {m.id for m in inside}  # not outside the territory, not the rejected one
    lead = changes[("lead", str(inside[0].id))]
    assert lead["op"] == "upsert" and lead["lead"]["drop_reason"] == "no_visit" and lead["lead"]["drops_at"]
    todos = [change for key, change in changes.items() if key[0] == "todo"]
    assert [todo["todo"]["title"] for todo in todos] == ["Lead drops soon"]
    # another BD of the tenant without territory or position: none of bd1's things, no merchants
    other = _sync(client, org["bd2"])
    assert other["changes"] == [] and other["scope"] == "none"


def test_delta_carries_tombstones_with_their_reasons(client, session):
    org, inside, outside, rejected = _world(session, territory=False)
    ids = [m.id for m in inside]
    outside_id = outside.id
    cursor = _sync(client, org["bd1"], **HELSINKI)["next_cursor"]

    merged = db.session.get(Merchant, ids[1])
    merged.audit_status, merged.merged_into_id = AuditStatus.MERGED, ids[2]
    db.session.get(Merchant, ids[2]).location = point(60.30, 24.94)  # moved out of the radius
    db.session.get(Merchant, outside_id).location = point(60.17, 24.95)  # moved in
    db.session.get(Lead, ids[0]).owner_id = org["bd2"].id  # transferred
    reminder = db.session.scalars(select(Reminder).where(Reminder.user_id == org["bd1"].id)).one()
    reminder.done_at = clock.now()
    added = MerchantFactory(tenant_id=org["tenant"].id, tenant=None, lat=60.16, lng=24.93)
    db.session.commit()
    reminder_id, added_id, added_name = reminder.id, added.id, added.name

    changes, _, _ = _drain(client, org["bd1"], cursor, **HELSINKI)
    tombstone = changes[("merchant", str(ids[1]))]
    assert (tombstone["op"], tombstone["reason"], tombstone["merged_into_id"]) == ("delete", "merged", ids[2])
    assert changes[("merchant", str(ids[2]))]["reason"] == "out_of_scope"
    assert changes[("merchant", str(outside_id))]["op"] == "upsert"
    assert changes[("merchant", str(added_id))]["merchant"]["name"] == added_name
    assert changes[("lead", str(ids[0]))]["reason"] == "transferred"
    assert changes[("todo", f"r{reminder_id}")]["reason"] == "gone"
    # the new owner gets the lead as an upsert
    theirs, _, _ = _drain(client, org["bd2"], None, **HELSINKI)
    assert theirs[("lead", str(ids[0]))]["op"] == "upsert"


def test_a_lead_back_in_the_pool_is_lost(client, session):
    org, inside, _, _ = _world(session, territory=False)
    merchant_id = inside[0].id
    cursor = _sync(client, org["bd1"], **HELSINKI)["next_cursor"]
    lead = db.session.get(Lead, merchant_id)
    lead.state, lead.owner_id, lead.drop_reason = LeadState.PUBLIC, None, "expired"
    db.session.commit()
    changes, _, _ = _drain(client, org["bd1"], cursor, **HELSINKI)
    assert changes[("lead", str(merchant_id))]["reason"] == "lost"


def test_full_bundle_pages_without_gaps_or_repeats(client, session):
    org, inside, _, _ = _world(session)
    more = [MerchantFactory(tenant=org["tenant"], lat=60.18, lng=24.92 + i * 0.001) for i in range(4)]
    db.session.commit()
    seen, cursor = [], None
    while True:
        page = _sync(client, org["bd1"], limit=2, **({"cursor": cursor} if cursor else {}))
        assert page["reset"] is (cursor is None)
        seen += [int(c["id"]) for c in page["changes"] if c["entity"] == "merchant"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert sorted(seen) == sorted(m.id for m in inside + more) and len(seen) == len(set(seen))


def test_radius_scope_answers_in_the_requested_coord_sys(client, session):
    org = make_org()
    near = MerchantFactory(tenant=org["tenant"], lat=30.2561, lng=120.1749)
    MerchantFactory(tenant=org["tenant"], lat=30.40, lng=120.1749)  # ~16 km north
    session.commit()
    gcj_lat, gcj_lng = from_wgs84(30.2561, 120.1749, "gcj02")
    query = {"lat": gcj_lat, "lng": gcj_lng, "coord_sys": "gcj02", "radius_m": 2000}
    page = _sync(client, org["bd1"], **query)
    assert page["scope"] == "radius"
    (change,) = page["changes"]
    assert change["merchant"]["id"] == near.id
    assert abs(change["merchant"]["lat"] - gcj_lat) < 1e-6 and abs(change["merchant"]["lng"] - gcj_lng) < 1e-6
    # a cursor belongs to its area: another centre is a new sync
    moved = client.get(
        "/api/v1/sync",
        headers=auth_headers(org["bd1"]),
        query_string={**query, "lat": gcj_lat + 0.01, "cursor": page["next_cursor"]},
    )
    assert moved.status_code == 400 and moved.json["error_code"] == "INVALID_CURSOR"


def test_joining_a_territory_resets_the_cache(client, session):
    org, inside, _, _ = _world(session, territory=False)
    inside_ids = {m.id for m in inside}
    tenant_id, bd2_id = org["tenant"].id, org["bd2"].id
    cursor = _sync(client, org["bd2"])["next_cursor"]
    territory = _territory(db.session(), org, [])
    db.session.add(TerritoryMember(tenant_id=tenant_id, territory_id=territory.id, user_id=bd2_id))
    db.session.commit()
    page = _sync(client, org["bd2"], cursor=cursor)
    assert page["reset"] is True and page["scope"] == "territories"
    assert {int(c["id"]) for c in page["changes"] if c["entity"] == "merchant"} == inside_ids


def test_bad_input_is_a_4xx(client, session):
    org = make_org()
    headers = auth_headers(org["bd1"])
    forged = client.get("/api/v1/sync", headers=headers, query_string={"cursor": "not-a-cursor"})
    assert forged.status_code == 400 and forged.json["error_code"] == "INVALID_CURSOR"
    half = client.get("/api/v1/sync", headers=headers, query_string={"lat": 30.0})
    assert half.status_code == 422 and half.json["error_code"] == "VALIDATION_ERROR"
    # another user's cursor is not mine
    theirs = _sync(client, org["bd2"])["next_cursor"]
    stolen = client.get("/api/v1/sync", headers=headers, query_string={"cursor": theirs})
    assert stolen.status_code == 400
    assert client.get("/api/v1/sync").status_code == 401


def test_gzip_when_accepted(client, session):
    org, inside, _, _ = _world(session)
    for _ in range(20):
        MerchantFactory(tenant=org["tenant"], lat=60.17, lng=24.95)
    session.commit()
    headers = auth_headers(org["bd1"])
    plain = client.get("/api/v1/sync", headers=headers)
    assert "Content-Encoding" not in plain.headers
    zipped = client.get("/api/v1/sync", headers={**headers, "Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    # gzip even for a client that prefers zstd or brotli: the one encoding every client decodes
    preferring = client.get("/api/v1/sync", headers={**headers, "Accept-Encoding": "zstd, br;q=1.0, gzip;q=0.5"})
    assert preferring.headers["Content-Encoding"] == "gzip"
    body = orjson.loads(gzip.decompress(zipped.data))
    assert len(zipped.data) < len(plain.data)
    assert [c["id"] for c in body["changes"]] == [c["id"] for c in plain.json["changes"]]


def test_a_cursor_older_than_the_change_log_starts_over(client, session, monkeypatch):
    org, inside, _, _ = _world(session, territory=False)
    cursor = _sync(client, org["bd1"], **HELSINKI)["next_cursor"]
    assert _sync(client, org["bd1"], cursor=cursor, **HELSINKI)["reset"] is False
    # as if the cursor had been issued longer ago than the change log keeps (the token clock must not move)
    monkeypatch.setattr(sync_queries, "CURSOR_MAX_AGE", CURSOR_MAX_AGE - CURSOR_MAX_AGE - timedelta(seconds=1))
    assert _sync(client, org["bd1"], cursor=cursor, **HELSINKI)["reset"] is True


def test_prune_keeps_the_recent_change_log(client, session, monkeypatch):
    org, inside, _, _ = _world(session, territory=False)
    tenant_id = org["tenant"].id
    count = "SELECT count(*) FROM sync_changes WHERE tenant_id = :t"
    before = db.session.scalar(text(count), {"t": tenant_id})
    assert before > 0
    assert prune_sync_changes() == 0 or db.session.scalar(text(count), {"t": tenant_id}) == before
    later = clock.now() + timedelta(days=CHANGE_LOG_DAYS + 1)
    monkeypatch.setattr(clock, "now", lambda: later)
    prune_sync_changes()
    assert db.session.scalar(text(count), {"t": tenant_id}) == 0
