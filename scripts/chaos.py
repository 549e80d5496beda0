"""Fault injection against the real processes: gunicorn, an RQ worker, PostgreSQL, Redis and the local FCM server.

``scripts/chaos`` (``make chaos``) runs every scenario; ``--quick`` is the short form the test suite runs.
Everything runs on throwaway instances this script starts on free ports (a PostgreSQL cluster made with
initdb, a redis-server, the FCM-compatible server from push/), so the machine's shared servers are never
stopped. Each scenario prints what it measured and fails (exit 1) when the service misbehaved:

redis     Redis stopped: nearby, detail, check-in and claims keep answering, health says degraded, a task
          created meanwhile is pushed once Redis is back (outbox sweep + worker).
fcm       FCM answers 503 + Retry-After: nothing is lost, every device gets the task once the outage ends.
postgres  PostgreSQL restarted under load: requests during the outage get 503 + Retry-After (never 500),
          the same gunicorn processes serve again afterwards, and no visit or claim is half-written.
worker    An RQ worker SIGKILLed in the middle of a push job (after FCM accepted, before the delivery log
          was written): the job is run again and the end state is the same (FCM may see the device twice,
          which is the documented at-least-once case).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PASSWORD = "chaos-password-1"
CENTER = (60.1699, 24.9384)
SECRET = "chaos-secret-" + "x" * 40


class ChaosFailure(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ChaosFailure(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> set[int]:
    try:
        return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return
        time.sleep(interval)
    raise ChaosFailure(f"timed out waiting for {what}")


# --- throwaway servers -------------------------------------------------------------------------------


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; CI runs as root
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Postgres:
    """A private cluster in a temporary directory, stopped and started at will."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "pgdata"
        self.log = workdir / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/chaos"

    def init(self) -> Postgres:
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir.parent, "postgres")
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        self.start()
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "chaos"]
            ),
            check=True,
        )
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-l", str(self.log), "-o", options, "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
        )


class Redis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> Redis:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        wait_until(lambda: redis.Redis(port=self.port).ping(), 10, "redis-server")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class Gunicorn:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "gunicorn.log"
        self.env = {**env, "PORT": str(self.port), "WEB_CONCURRENCY": "2"}
        self.process: subprocess.Popen | None = None

    def start(self) -> Gunicorn:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_until(lambda: httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code in (200, 503), 30, "gunicorn")
        return self

    def worker_pids(self) -> set[int]:
        return children(self.process.pid)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)


# --- the environment ----------------------------------------------------------------------------------


class Environment:
    """Servers, the app (for seeding, sweeps and in-process checks) and seeded users with tokens."""

    def __init__(self, workdir: Path, merchants: int) -> None:
        from push.fcm_server import LocalFCMServer

        self.workdir = workdir
        self.pg = Postgres(workdir).init()
        self.redis = Redis(workdir).start()
        self.fcm = LocalFCMServer().start()
        (workdir / "metrics").mkdir(exist_ok=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))},
            "APP_ENV": "development",
            "DATABASE_URL": self.pg.url,
            "REDIS_URL": self.redis.url,
            "PUSH_BACKEND": "fcm",
            "FCM_ENDPOINT": self.fcm.url,
            "SECRET_KEY": SECRET,
            "JWT_SECRET_KEY": SECRET,
            "DB_POOL_SIZE": "4",
            "LOG_FORMAT": "json",
            # the throwaway processes' metric files go with the work directory
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
            "PASSWORD_TIME_COST": "1",
            "PASSWORD_MEMORY_COST_KIB": "1024",
            "FLASK_APP": "wsgi",
        }
        self._configure_app()
        self._migrate_and_seed(merchants)
        self.api = Gunicorn(workdir, self.env).start()
        self.http = httpx.Client(base_url=self.api.url, timeout=10)
        self.tokens = {name: self._login(name) for name in self.users}
        for i, name in enumerate(self.bds):
            response = self.http.post(
                "/api/v1/devices",
                headers=self.auth(name),
                json={"token": f"chaos-{i}:APA91b{'y' * 40}", "platform": "android"},
            )
            check(response.status_code == 200, f"device registration: {response.status_code}")

    def _configure_app(self) -> None:
        from app.config import Config
        from app.factory import create_app

        settings = {
            k: v
            for k, v in self.env.items()
            if k in ("DATABASE_URL", "REDIS_URL", "PUSH_BACKEND", "FCM_ENDPOINT", "SECRET_KEY", "JWT_SECRET_KEY")
        }
        self.app = create_app(
            Config(**settings, PASSWORD_TIME_COST=1, PASSWORD_MEMORY_COST_KIB=1024, LOG_FORMAT="json", DB_POOL_SIZE=2)
        )
        self.ctx = self.app.app_context()
        self.ctx.push()

    def _migrate_and_seed(self, merchants: int) -> None:
        from alembic import command
        from geoalchemy2.shape import from_shape
        from shapely.geometry import Point
        from sqlalchemy import text

        from app import db
        from app.merchants.models import Merchant
        from app.migrate import alembic_config
        from app.org.models import OrgKind, OrgUnit, Role
        from app.org.service import provision_user
        from app.tenants.models import Tenant

        command.upgrade(alembic_config(), "head")
        session = db.session()
        tenant = Tenant(slug="chaos", name="Chaos", settings={})
        session.add(tenant)
        session.flush()
        db.scope_to_tenant(tenant.id)
        team = OrgUnit(tenant_id=tenant.id, kind=OrgKind.TEAM, name="Chaos team", path="/")
        session.add(team)
        session.flush()
        team.path = f"/{team.id}/"
        provision_user(tenant, "boss", PASSWORD, Role.MANAGER, team="Chaos team")
        self.bds = [f"bd{i}" for i in range(4)]
        for name in self.bds:
            provision_user(tenant, name, PASSWORD, Role.BD, team="Chaos team", manager_username="boss")
        lat, lng = CENTER
        rows = [
            Merchant(
                tenant_id=tenant.id,
                name=f"Chaos shop {i}",
                category="food;cafe",
                phone="+358 9 123 4567",
                location=from_shape(Point(lng + (i % 20) * 0.0004, lat + (i // 20) * 0.0003), srid=4326),
            )
            for i in range(merchants)
        ]
        session.add_all(rows)
        session.commit()
        self.tenant_id = tenant.id
        self.merchant_ids = [m.id for m in rows]
        self.users = ["boss", *self.bds]
        self.user_ids = dict(session.execute(text("SELECT username, id FROM users")).all())
        db.session.remove()

    def _login(self, name: str) -> str:
        response = self.http.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        check(response.status_code == 200, f"login {name}: {response.status_code} {response.text[:200]}")
        return response.json()["access_token"]

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    # --- requests the mobile app makes ---

    def nearby(self, name: str) -> httpx.Response:
        return self.http.get(
            "/api/v1/merchants/nearby", params={"lat": CENTER[0], "lng": CENTER[1]}, headers=self.auth(name)
        )

    def detail(self, name: str, merchant_id: int) -> httpx.Response:
        return self.http.get(f"/api/v1/merchants/{merchant_id}", headers=self.auth(name))

    def check_in(self, name: str, merchant_id: int, key: str | None = None) -> httpx.Response:
        body = {
            "merchant_id": merchant_id,
            "lat": CENTER[0],
            "lng": CENTER[1],
            "accuracy_m": 15,
            "client_time": datetime.now(UTC).isoformat(),
        }
        return self.http.post(
            "/api/v1/visits", json=body, headers={**self.auth(name), "Idempotency-Key": key or str(uuid.uuid4())}
        )

    def claim(self, name: str, merchant_id: int) -> httpx.Response:
        return self.http.post(f"/api/v1/leads/{merchant_id}/claim", headers=self.auth(name))

    def create_task(self, title: str) -> int:
        body = {"title": title, "kind": "visit", "user_ids": [self.user_ids[n] for n in self.bds]}
        response = self.http.post("/api/v1/tasks", json=body, headers=self.auth("boss"))
        check(response.status_code == 201, f"task creation: {response.status_code} {response.text[:200]}")
        return response.json()["id"]

    # --- background work ---

    def sweep_outbox(self) -> int:
        from freezegun import freeze_time

        from app import clock
        from app.outbox import service as outbox

        # cron sweeps every 30 s rows older than STALE_AFTER; skip the wait
        with freeze_time(clock.now() + outbox.STALE_AFTER + timedelta(seconds=5)):
            return outbox.sweep()

    def run_worker(self) -> None:
        """A burst worker over the push and default queues, with scheduled retries made due first."""
        from rq import Queue, SimpleWorker

        from app import redis_conn

        connection = redis_conn.client()
        queues = [Queue(name, connection=connection) for name in ("default", "push")]
        for queue in queues:
            registry = queue.scheduled_job_registry
            for job_id in registry.get_job_ids():
                job = queue.fetch_job(job_id)
                registry.remove(job)
                if job is not None:
                    queue.enqueue_job(job)
        SimpleWorker(queues, connection=connection).work(burst=True)

    def fcm_messages(self) -> list[dict]:
        return httpx.get(f"{self.fcm.url}/messages").json()["messages"]

    def deliveries(self, task_id: int) -> dict:
        return self.http.get(f"/api/v1/tasks/{task_id}", headers=self.auth("boss")).json()["deliveries"]

    def sql(self, statement: str, **params: object) -> list:
        from sqlalchemy import text

        from app import db

        try:
            return db.session.execute(text(statement), params).all()
        finally:
            db.session.remove()

    def close(self) -> None:
        for step in (self.http.close, self.api.stop, self.ctx.pop, self.fcm.stop, self.redis.stop, self.pg.stop):
            with contextlib.suppress(Exception):
                step()


# --- scenarios ----------------------------------------------------------------------------------------


def _messages_for(env: Environment, task_id: int) -> Counter:
    return Counter(m["token"] for m in env.fcm_messages() if m["message"].get("data", {}).get("id") == str(task_id))


def scenario_redis(env: Environment, rounds: int) -> dict:
    """Redis stopped: the mobile endpoints keep answering; a task created meanwhile is pushed afterwards."""
    statuses: Counter = Counter()
    env.redis.stop()
    try:
        health = env.http.get("/api/v1/health")
        check(health.status_code == 503 and health.json()["status"] == "degraded", f"health: {health.text[:200]}")
        for i in range(rounds):
            bd = env.bds[i % len(env.bds)]
            merchant = env.merchant_ids[i % len(env.merchant_ids)]
            for response in (
                env.nearby(bd),
                env.detail(bd, merchant),
                env.check_in(bd, merchant),
                env.claim(bd, env.merchant_ids[-1 - i]),
            ):
                statuses[response.status_code] += 1
                check(response.status_code < 500, f"{response.request.url} -> {response.status_code} without Redis")
        task_id = env.create_task("Created while Redis was down")
    finally:
        env.redis.start()
    check(env.sweep_outbox() >= 1, "the outbox sweep found nothing to push")
    env.run_worker()
    got = _messages_for(env, task_id)
    check(set(got) == {f"chaos-{i}:APA91b{'y' * 40}" for i in range(len(env.bds))}, f"pushed after Redis: {got}")
    return {
        "requests_without_redis": sum(statuses.values()),
        "statuses": dict(statuses),
        "task_pushed_after_recovery": sum(got.values()),
    }


def scenario_fcm(env: Environment, tasks: int) -> dict:
    """FCM answers 503 with Retry-After: every message is delivered after recovery, none twice."""
    httpx.post(f"{env.fcm.url}/control/outage", json={"status": 503, "seconds": None, "retry_after": 2})
    task_ids = [env.create_task(f"During the FCM outage {i}") for i in range(tasks)]
    env.run_worker()
    pending = sum(env.deliveries(t)["pending"] for t in task_ids)
    check(all(not _messages_for(env, t) for t in task_ids), "FCM recorded messages during its outage")
    httpx.delete(f"{env.fcm.url}/control/outage")
    env.run_worker()
    totals = Counter()
    for task_id in task_ids:
        got = _messages_for(env, task_id)
        check(len(got) == len(env.bds) and set(got.values()) == {1}, f"task {task_id}: {got}")
        deliveries = env.deliveries(task_id)
        check(deliveries["sent"] == len(env.bds) and deliveries["pending"] == 0, f"deliveries {deliveries}")
        totals.update(deliveries)
    return {
        "tasks": tasks,
        "pending_during_outage": pending,
        "delivered": totals["sent"],
        "attempts": totals["attempts"],
        "duplicates": 0,
    }


def scenario_postgres(env: Environment, load_seconds: float, outage_seconds: float) -> dict:
    """PostgreSQL restarted under load: 503 + Retry-After meanwhile, recovery without restarting gunicorn."""
    pids_before = env.api.worker_pids()
    results: list[tuple[float, str, int, bool, dict | None]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def load(bd: str, offset: int) -> None:
        client = httpx.Client(base_url=env.api.url, timeout=10)
        headers = env.auth(bd)
        i = offset
        while not stop.is_set():
            i += 1
            merchant = env.merchant_ids[i % len(env.merchant_ids)]
            kind = ("nearby", "checkin", "claim", "detail")[i % 4]
            try:
                if kind == "nearby":
                    r = client.get(
                        "/api/v1/merchants/nearby", params={"lat": CENTER[0], "lng": CENTER[1]}, headers=headers
                    )
                elif kind == "detail":
                    r = client.get(f"/api/v1/merchants/{merchant}", headers=headers)
                elif kind == "checkin":
                    body = {
                        "merchant_id": merchant,
                        "lat": CENTER[0],
                        "lng": CENTER[1],
                        "accuracy_m": 15,
                        "client_time": datetime.now(UTC).isoformat(),
                    }
                    r = client.post(
                        "/api/v1/visits", json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
                    )
                else:
                    r = client.post(f"/api/v1/leads/{merchant}/claim", headers=headers)
                body = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
                with lock:
                    results.append((time.monotonic(), kind, r.status_code, "Retry-After" in r.headers, body))
            except httpx.HTTPError as exc:
                with lock:
                    results.append((time.monotonic(), kind, -1, False, {"error": repr(exc)}))

    threads = [threading.Thread(target=load, args=(bd, n * 1000)) for n, bd in enumerate(env.bds)]
    for thread in threads:
        thread.start()
    time.sleep(load_seconds / 3)  # load before the outage
    down_at = time.monotonic()
    env.pg.stop()
    time.sleep(outage_seconds)
    env.pg.start()
    up_at = time.monotonic()
    time.sleep(max(load_seconds / 3, 4))  # load after the restart
    stop.set()
    for thread in threads:
        thread.join()

    statuses = Counter(status for _, _, status, _, _ in results)
    check(statuses[-1] == 0, f"connection errors: {[r for r in results if r[2] == -1][:3]}")
    check(not any(s >= 500 and s != 503 for s in statuses), f"unexpected 5xx: {statuses}")
    unavailable = [r for r in results if r[2] == 503]
    check(unavailable, "no request saw the outage (503)")
    check(all(r[3] for r in unavailable), "a 503 without Retry-After")
    check(all(r[4] and r[4].get("error_code") == "SERVICE_UNAVAILABLE" for r in unavailable), "503 body")
    recovered = [r for r in results if r[0] > up_at + 2.5]
    check(recovered and all(r[2] < 500 for r in recovered), f"not recovered: {Counter(r[2] for r in recovered)}")
    check(env.api.worker_pids() == pids_before, "gunicorn workers were restarted")
    # nothing half-written: every acknowledged check-in exists; every private lead has its claim event
    acknowledged = [r[4]["id"] for r in results if r[1] == "checkin" and r[2] == 201]
    stored = {row.id for row in env.sql("SELECT id FROM visits WHERE id = ANY(:ids)", ids=acknowledged)}
    check(stored == set(acknowledged), "an acknowledged check-in is missing")
    orphans = env.sql("""SELECT l.merchant_id FROM leads l WHERE l.state = 'private' AND NOT EXISTS (
                           SELECT 1 FROM lead_events e WHERE e.merchant_id = l.merchant_id AND e.action = 'claim'
                           AND e.to_owner_id = l.owner_id)""")
    check(not orphans, f"claims without their history: {orphans}")
    return {
        "requests": len(results),
        "statuses": dict(sorted(statuses.items())),
        "outage_s": round(up_at - down_at, 1),
        "first_ok_after_restart_s": round(
            min((r[0] for r in results if r[0] > up_at and r[2] < 500), default=float("nan")) - up_at, 2
        ),
    }


def scenario_worker(env: Environment) -> dict:
    """A worker SIGKILLed mid-push (FCM accepted, delivery log not yet written): retried, same end state."""
    from rq.registry import StartedJobRegistry

    from app import redis_conn

    httpx.post(f"{env.fcm.url}/control/reset")
    # Hold a lock the push job needs after sending: the job blocks exactly between FCM and the delivery log.
    from sqlalchemy import create_engine, text

    engine = create_engine(env.pg.url)
    blocker = engine.connect()
    blocker.execute(text("LOCK TABLE push_deliveries IN SHARE MODE"))
    task_id = env.create_task("Pushed by a worker that dies")
    worker = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "flask"), "worker", "--queues", "default,push"],
        cwd=ROOT,
        env=env.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(lambda: len(_messages_for(env, task_id)) == len(env.bds), 60, "FCM to receive the first send")
        wait_until(
            lambda: env.sql(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%push_deliveries%'"
            ),
            30,
            "the job to block on the lock",
        )
        # the worker and its work horse (RQ puts the horse in a session of its own), mid-job
        horses = children(worker.pid)
        check(bool(horses), "no work horse to kill")
        for pid in [worker.pid, *horses]:
            os.kill(pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        blocker.rollback()
        blocker.close()
        engine.dispose()
    check(env.deliveries(task_id)["sent"] == 0, "the killed job's writes survived")
    # RQ marks a started job abandoned once its heartbeat (at most 90 s) lapses; a worker's periodic registry
    # cleanup then fails it, and the outbox sweep enqueues it again. Both run here with the clock moved on.
    connection = redis_conn.client()
    for name in ("default", "push"):
        StartedJobRegistry(name, connection=connection).cleanup(timestamp=time.time() + 600)
    check(env.sweep_outbox() >= 1, "the outbox sweep did not re-enqueue the abandoned job")
    env.run_worker()
    deliveries = env.deliveries(task_id)
    got = _messages_for(env, task_id)
    check(deliveries["sent"] == len(env.bds) and deliveries["pending"] == 0, f"end state {deliveries}")
    check(
        set(got) == {f"chaos-{i}:APA91b{'y' * 40}" for i in range(len(env.bds))} and max(got.values()) <= 2,
        f"FCM saw {got}",
    )
    pending = env.sql("SELECT count(*) FROM outbox WHERE processed_at IS NULL")[0][0]
    check(pending == 0, f"{pending} outbox rows left pending")
    return {"devices": len(env.bds), "fcm_sends": sum(got.values()), "delivered": deliveries["sent"]}


SCENARIOS = ("redis", "fcm", "postgres", "worker")


def run(names: tuple[str, ...], quick: bool, out: Callable[[str], None] = print) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="fieldsales-chaos-"))
    env = None
    report: dict = {}
    try:
        env = Environment(workdir, merchants=60 if quick else 400)
        for name in names:
            started = time.monotonic()
            if name == "redis":
                result = scenario_redis(env, rounds=3 if quick else 40)
            elif name == "fcm":
                result = scenario_fcm(env, tasks=2 if quick else 10)
            elif name == "postgres":
                result = scenario_postgres(env, load_seconds=4.5 if quick else 15, outage_seconds=2 if quick else 6)
            else:
                result = scenario_worker(env)
            result["seconds"] = round(time.monotonic() - started, 1)
            report[name] = result
            out(f"chaos {name}: ok {json.dumps(result)}")
        return report
    finally:
        if env is not None:
            env.close()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"any of {', '.join(SCENARIOS)} (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="short form (what the test suite runs)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    try:
        report = run(tuple(args.scenarios or SCENARIOS), args.quick)
    except ChaosFailure as failure:
        print(f"chaos FAILED: {failure}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
