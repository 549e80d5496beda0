"""Reads run in autocommit (no BEGIN/COMMIT round trips); writes keep their transaction.

Against the real engine (``live``): the per-test rolled-back connection of the other tests keeps its
transaction on purpose, so only here does a GET take the autocommit path it takes in production.
"""

from __future__ import annotations

import flask
from sqlalchemy import event, func, select, text

from app import db
from app.audit.models import AuditEntry
from app.audit.service import PHONES_REVEALED
from tests.factories import ContactFactory, MerchantFactory, UserFactory, auth_headers


def test_reads_autocommit_writes_commit_and_after_commit_hooks_still_run(app, live):
    tenant = live.tenant()
    bd = UserFactory(tenant=tenant)
    shop = MerchantFactory(tenant=tenant)
    ContactFactory(merchant=shop)
    headers = auth_headers(bd)
    shop_id = shop.id
    db.session.remove()

    seen: list[tuple[str, bool]] = []

    def record(conn, _cursor, _statement, _params, _context, _executemany):
        if flask.has_request_context():
            seen.append((flask.request.method, conn.connection.dbapi_connection.autocommit))

    event.listen(db.engine(), "before_cursor_execute", record)
    try:
        client = app.test_client()
        assert client.post(f"/api/v1/leads/{shop_id}/claim", headers=headers).status_code == 200
        for _ in range(2):
            response = client.get(f"/api/v1/merchants/{shop_id}", headers=headers)
            assert response.status_code == 200 and response.json["phones_masked"] is False
    finally:
        event.remove(db.engine(), "before_cursor_execute", record)

    assert {autocommit for method, autocommit in seen if method == "POST"} == {False}
    assert {autocommit for method, autocommit in seen if method == "GET"} == {True}
    # the owner saw full numbers: audited once (the first read's INSERT is durable, and its after-commit
    # hook remembered it in Redis, so the second read did not audit again)
    db.session.remove()
    audited = db.session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == PHONES_REVEALED, AuditEntry.subject_id == shop_id)
    )
    assert audited == 1
    # the pooled connection went back to transactional mode for the next request
    with db.engine().connect() as conn:
        assert conn.connection.dbapi_connection.autocommit is False


def _kill_idle_backends() -> int:
    """Terminate this database's idle server processes: what a restart or a firewall does to a pool."""
    with db.engine().connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
            )
        ).scalar_one()
        conn.commit()
    return killed


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(app, monkeypatch, live):
    # (monkeypatch before live: the threshold stays 0 while live's teardown checks out a connection)
    tenant = live.tenant()
    bd = UserFactory(tenant=tenant)
    shop = MerchantFactory(tenant=tenant)
    headers = auth_headers(bd)
    shop_id = shop.id
    db.session.remove()
    client = app.test_client()
    # every checkout counts as idle: the ping runs before each request below
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    # the ping must leave no transaction behind: a read's connection is then switched to autocommit
    assert client.get(f"/api/v1/merchants/{shop_id}", headers=headers).status_code == 200
    assert client.post(f"/api/v1/leads/{shop_id}/claim", headers=headers).status_code == 200
    assert client.get(f"/api/v1/merchants/{shop_id}", headers=headers).status_code == 200
    assert client.post(f"/api/v1/leads/{shop_id}/release", headers=headers, json={"reason": "test"}).status_code == 200
    assert _kill_idle_backends() >= 1
    # the dead pooled connection fails its ping and is replaced: the caller never sees the outage
    try:
        assert client.get(f"/api/v1/merchants/{shop_id}", headers=headers).status_code == 200
    finally:
        db.engine().dispose()  # other pooled connections were killed too: none may outlive this test
