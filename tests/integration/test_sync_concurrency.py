"""The sync cursor never passes a change that was not visible yet: real commits, writers on their own connections.

Transactions commit out of order. Writer A changes a merchant first (its change-log row takes the lower id and
the lower xid) but commits last; writer B starts later, changes another merchant and commits first. A reader
that syncs in between must not let its cursor pass A's change: a cursor that only remembered "the last id (or
xid) served" would skip it for ever.
"""

from __future__ import annotations

from sqlalchemy import text

from app import db
from tests.factories import MerchantFactory, UserFactory, auth_headers

HELSINKI = {"lat": 60.17, "lng": 24.94, "radius_m": 3000}


def _sync(app, headers, cursor=None, **query):
    """Every page of one sync: (changes by (entity, id), the cursor for the next sync)."""
    changes = {}
    while True:
        response = app.test_client().get(
            "/api/v1/sync",
            headers=headers,
            query_string={**HELSINKI, **query, **({"cursor": cursor} if cursor else {})},
        )
        assert response.status_code == 200, response.json
        page = response.json
        changes.update({(c["entity"], int(c["id"])): c for c in page["changes"]})
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return changes, cursor


def _rename(conn, merchant_id, name):
    conn.execute(text("UPDATE merchants SET name = :name WHERE id = :id"), {"name": name, "id": merchant_id})


def test_a_change_committed_after_a_later_one_is_not_skipped(app, live):
    tenant = live.tenant()
    first, second = (MerchantFactory(tenant=tenant, lat=60.17, lng=24.94) for _ in range(2))
    bd = UserFactory(tenant=tenant)
    db.session.commit()
    first_id, second_id = first.id, second.id
    headers = auth_headers(bd)
    db.session.remove()
    _, cursor = _sync(app, headers)

    writer_a, writer_b = db.engine().connect(), db.engine().connect()
    try:
        writer_a.begin()
        _rename(writer_a, first_id, "A, committed last")  # takes the lower log id and xid
        writer_b.begin()
        _rename(writer_b, second_id, "B, committed first")
        writer_b.commit()

        seen, cursor = _sync(app, headers, cursor)
        assert seen[("merchant", second_id)]["merchant"]["name"] == "B, committed first"
        assert seen.get(("merchant", first_id), {}).get("merchant", {}).get("name") != "A, committed last"

        writer_a.commit()
        seen, cursor = _sync(app, headers, cursor)
        assert seen[("merchant", first_id)]["merchant"]["name"] == "A, committed last"

        # a later sync may serve them again (while any transaction of the cluster that overlapped the last sync
        # is open: other test runs share this server), but only ever in their latest state
        seen, cursor = _sync(app, headers, cursor)
        assert {seen[key]["merchant"]["name"] for key in seen} <= {"A, committed last", "B, committed first"}
    finally:
        writer_a.close()
        writer_b.close()


def test_a_change_made_while_paging_arrives_on_a_later_page_or_the_next_sync(app, live):
    tenant = live.tenant()
    shops = [MerchantFactory(tenant=tenant, lat=60.17, lng=24.94 + i * 0.001) for i in range(4)]
    bd = UserFactory(tenant=tenant)
    db.session.commit()
    ids = [shop.id for shop in shops]
    headers = auth_headers(bd)
    db.session.remove()

    client = app.test_client()
    page = client.get("/api/v1/sync", headers=headers, query_string={**HELSINKI, "limit": 2}).json
    assert page["has_more"] and [int(c["id"]) for c in page["changes"]] == ids[:2]
    with db.engine().begin() as writer:  # the first page's merchant changes mid-bundle
        _rename(writer, ids[0], "renamed while paging")
    served = {}
    cursor = page["next_cursor"]
    while True:
        page = client.get("/api/v1/sync", headers=headers, query_string={**HELSINKI, "limit": 2, "cursor": cursor}).json
        served.update({int(c["id"]): c for c in page["changes"]})
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert set(served) == set(ids[2:])
    seen, _ = _sync(app, headers, cursor)
    assert seen[("merchant", ids[0])]["merchant"]["name"] == "renamed while paging"


def test_a_delta_reads_the_change_log_not_the_tenant(app, live):
    """EXPLAIN of the delta query: an index scan of sync_changes from the cursor on (the bench shows buffers)."""
    tenant = live.tenant()
    bd = UserFactory(tenant=tenant)
    db.session.commit()
    with db.engine().connect() as conn:
        plan = "\n".join(
            conn.execute(
                text("""
                    EXPLAIN SELECT txid::text::bigint AS txid_number, id, entity, entity_id FROM sync_changes
                    WHERE tenant_id = :tenant AND txid >= CAST(CAST(:floor AS text) AS xid8)
                      AND (txid, id) > (CAST(CAST(:floor AS text) AS xid8), 0)
                      AND (user_id = :user OR user_id IS NULL)
                    ORDER BY sync_changes.txid, sync_changes.id LIMIT 1001"""),
                {"tenant": tenant.id, "floor": "1", "user": bd.id},
            ).scalars()
        )
    assert "ix_sync_changes_tenant_txid" in plan and "merchants" not in plan
