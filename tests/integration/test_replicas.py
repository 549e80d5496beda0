"""Read replicas against a real streaming replica (``scripts/replica``, started by ``scripts/test``).

Which server answered is asked of the server itself: every statement of a request is preceded, on the same
connection, by ``SELECT pg_is_in_recovery()`` (true only on a standby). The replica set's clock is moved by
the tests rather than waited for; the only waits are for the replica to replay WAL the primary already has
(there is no other way to know it did, in PostgreSQL 15), each bounded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import flask
import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from app import clock as app_clock
from app import db, replicas
from app.replicas import ReplicaSet
from tests.conftest import TEST_DATABASE_URL
from tests.factories import MerchantFactory, OrgUnitFactory, UserFactory, auth_headers

ROOT = Path(__file__).resolve().parents[2]
TEST_DATABASE_REPLICA_URL = os.environ.get("TEST_DATABASE_REPLICA_URL") or make_url(TEST_DATABASE_URL).set(
    port=int(os.environ.get("REPLICA_PORT", "5433"))
).render_as_string(hide_password=False)
MAX_LAG_MS = 1000
CHECK_INTERVAL_MS = 100
SHOP = (30.2585, 120.1700)


def _replica_reason() -> str | None:
    """Why the replica tests cannot run here, or None."""
    url = make_url(TEST_DATABASE_REPLICA_URL).set(database="postgres")
    probe = create_engine(url, connect_args={"connect_timeout": 2})
    try:
        with probe.connect() as conn:
            if not conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one():
                return f"{TEST_DATABASE_REPLICA_URL} is not a standby"
    except Exception as exc:  # any failure to reach it means: no replica on this machine
        return (
            f"no streaming replica at {TEST_DATABASE_REPLICA_URL} ({type(exc).__name__}): "
            "`scripts/replica start` makes one (scripts/test does)"
        )
    finally:
        probe.dispose()
    return None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, ms: float) -> None:
        self.now += ms / 1000


class Replicated:
    def __init__(self, replica_set: ReplicaSet, clock: FakeClock) -> None:
        self.set = replica_set
        self.replica = replica_set.replicas[0]
        self.clock = clock

    def catch_up(self) -> None:
        """Wait until the replica has replayed what the primary has now, then let the set see it."""
        target = replicas.primary_lsn(self.set.primary)
        deadline = time.monotonic() + 30
        while True:
            try:
                with self.replica.engine.connect() as conn:
                    replayed = conn.execute(
                        text("SELECT pg_last_wal_replay_lsn() - '0/0' >= :target"), {"target": target}
                    ).scalar_one()
            except Exception:  # just restarted: not accepting connections yet
                replayed = False
            if replayed:
                break
            assert time.monotonic() < deadline, "the replica did not catch up with the primary within 30 s"
            time.sleep(0.05)
        self.recheck()

    def recheck(self, after_ms: float = CHECK_INTERVAL_MS) -> None:
        self.clock.advance(after_ms)
        self.set.check()

    def replica_sql(self, sql: str) -> object:
        with self.replica.engine.connect() as conn:
            return conn.execute(text(sql)).scalar()


@pytest.fixture
def replicated(app, live) -> Iterator[Replicated]:
    reason = _replica_reason()
    if reason:
        pytest.skip(reason)
    replica_set = db.configure_replicas(
        [TEST_DATABASE_REPLICA_URL], pool_size=2, max_lag_ms=MAX_LAG_MS, check_interval_ms=CHECK_INTERVAL_MS
    )
    clock = FakeClock()
    replica_set.clock = clock
    replica_set.check()  # the primary's first known position
    try:
        yield Replicated(replica_set, clock)
    finally:
        db.configure_replicas([])


@pytest.fixture
def served_by(app, replicated) -> Iterator[list[tuple[str, str, bool]]]:
    """(method, path, in recovery) for every statement a request runs, whichever server ran it."""
    seen: list[tuple[str, str, bool]] = []

    def record(conn, _cursor, _statement, _params, _context, _executemany):
        if flask.has_request_context():
            raw = conn.connection.dbapi_connection
            in_recovery = raw.execute("SELECT pg_is_in_recovery()").fetchone()[0]
            seen.append((flask.request.method, flask.request.path, in_recovery))

    engines = (db.engine(), replicated.replica.engine)
    for target in engines:
        event.listen(target, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for target in engines:
            event.remove(target, "before_cursor_execute", record)


def _servers(seen: list[tuple[str, str, bool]], method: str = "GET") -> set[str]:
    servers = {"replica" if in_recovery else "primary" for m, _path, in_recovery in seen if m == method}
    seen.clear()
    return servers


@pytest.fixture
def team(live):
    tenant = live.tenant()
    unit = OrgUnitFactory(tenant=tenant, name="West Lake")
    bd = UserFactory(tenant=tenant, org_unit_id=unit.id)
    colleague = UserFactory(tenant=tenant, org_unit_id=unit.id)
    shop = MerchantFactory(tenant=tenant, name="外婆家", lat=SHOP[0], lng=SHOP[1])
    result = {"bd": auth_headers(bd), "colleague": auth_headers(colleague), "shop_id": shop.id}
    db.session.remove()
    return result


def _detail(client, headers, shop_id):
    response = client.get(f"/api/v1/merchants/{shop_id}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def test_reads_land_on_the_replica_writes_on_the_primary(app, replicated, served_by, team):
    replicated.catch_up()
    client = app.test_client()
    nearby = client.get(f"/api/v1/merchants/nearby?lat={SHOP[0]}&lng={SHOP[1]}&radius_m=500", headers=team["bd"])
    assert nearby.status_code == 200 and [m["id"] for m in nearby.json["items"]] == [team["shop_id"]]
    _detail(client, team["bd"], team["shop_id"])
    assert _servers(served_by) == {"replica"}

    assert client.post(f"/api/v1/leads/{team['shop_id']}/claim", headers=team["bd"]).status_code == 200
    assert _servers(served_by, "POST") == {"primary"}

    # the health check probes the database that takes the writes
    assert client.get("/api/v1/health").status_code == 200
    assert _servers(served_by) == {"primary"}


def test_a_bd_reads_their_own_check_in_while_a_colleague_reads_the_lagging_replica(app, replicated, served_by, team):
    replicated.catch_up()
    client = app.test_client()
    shop_id = team["shop_id"]
    assert _detail(client, team["colleague"], shop_id)["visits"]["total"] == 0
    assert _servers(served_by) == {"replica"}

    replicated.replica_sql("SELECT pg_wal_replay_pause()")
    try:
        checked_in = client.post(
            "/api/v1/visits",
            json={
                "merchant_id": shop_id,
                "lat": SHOP[0],
                "lng": SHOP[1],
                "accuracy_m": 10,
                "client_time": app_clock.now().isoformat(),
                "mock_location": False,
            },
            headers={**team["bd"], "Idempotency-Key": str(uuid.uuid4())},
        )
        assert checked_in.status_code == 201, checked_in.json
        replicated.recheck()  # the replica is behind the check-in, but only just: within the limit

        # the BD's own read: the replica has not replayed their commit, so the primary answers
        assert _detail(client, team["bd"], shop_id)["visits"]["total"] == 1
        assert _servers(served_by) == {"primary"}
        # a colleague may read the replica, up to REPLICA_MAX_LAG_MS stale: the visit is not there yet
        assert _detail(client, team["colleague"], shop_id)["visits"]["total"] == 0
        assert _servers(served_by) == {"replica"}

        # past the limit (replay still paused) the replica is skipped for everyone
        replicated.recheck(after_ms=MAX_LAG_MS + CHECK_INTERVAL_MS)
        assert replicated.replica.lag_ms > MAX_LAG_MS
        assert _detail(client, team["colleague"], shop_id)["visits"]["total"] == 1
        assert _servers(served_by) == {"primary"}
    finally:
        replicated.replica_sql("SELECT pg_wal_replay_resume()")

    # replayed again: the colleague is back on the replica, and it has the visit now
    replicated.catch_up()
    assert _detail(client, team["colleague"], shop_id)["visits"]["total"] == 1
    assert _servers(served_by) == {"replica"}
    assert _detail(client, team["bd"], shop_id)["visits"]["total"] == 1
    assert _servers(served_by) == {"replica"}


def _run_replica_script(action: str) -> None:
    url = make_url(TEST_DATABASE_REPLICA_URL)
    env = {**os.environ, "DATABASE_URL": TEST_DATABASE_URL, "REPLICA_PORT": str(url.port or 5433)}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "replica"), action], env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"scripts/replica {action} failed:\n{done.stdout}\n{done.stderr}"


def _can_manage_the_replica() -> bool:
    if os.geteuid() == 0:
        return True
    if shutil.which("sudo") is None:
        return False
    return subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0


def test_a_stopped_replica_is_skipped_without_errors_and_used_again_when_back(app, replicated, served_by, team):
    if not _can_manage_the_replica():
        pytest.skip("stopping the replica needs root or password-less sudo (scripts/replica stop)")
    replicated.catch_up()
    client = app.test_client()
    shop_id = team["shop_id"]
    _detail(client, team["colleague"], shop_id)  # a pooled connection to the replica, which the stop kills
    assert _servers(served_by) == {"replica"}

    _run_replica_script("stop")
    try:
        # the set still believes the replica healthy (no check is due): the request finds it gone and the
        # primary answers it instead
        _detail(client, team["colleague"], shop_id)
        assert _servers(served_by) == {"primary"}
        assert not replicated.replica.healthy
        # the next check finds it still down: skipped with no attempt on it
        replicated.recheck()
        assert not replicated.replica.healthy
        _detail(client, team["colleague"], shop_id)
        assert _servers(served_by) == {"primary"}
    finally:
        _run_replica_script("start")

    replicated.catch_up()
    assert replicated.replica.healthy
    _detail(client, team["colleague"], shop_id)
    assert _servers(served_by) == {"replica"}
