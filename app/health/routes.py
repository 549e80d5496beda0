"""Liveness of the service and its dependencies, for load balancers and on-call.

``/livez``: the process answers (no dependency is asked), for restarting a hung process. ``/readyz``: the
database answers, for a load balancer: Redis down is ``degraded`` but still 200, since nearby, detail,
check-ins and claims keep serving from the database (pushes wait in the outbox); only a database outage is
503. ``/health`` is the detailed view for people.
"""

from __future__ import annotations

import time

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app import db, redis_conn
from app.api import Blueprint
from app.auth.security import optional_caller
from app.org.models import Role

blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Service health")


class DatabaseHealthSchema(ma.Schema):
    ok = ma.fields.Boolean(required=True)
    latency_ms = ma.fields.Float(allow_none=True)
    postgis_version = ma.fields.String(allow_none=True, metadata={"example": "3.3 USE_GEOS=1 USE_PROJ=1 USE_STATS=1"})
    error = ma.fields.String()


class RedisHealthSchema(ma.Schema):
    ok = ma.fields.Boolean(required=True)
    latency_ms = ma.fields.Float(allow_none=True)
    error = ma.fields.String()


class QueueHealthSchema(ma.Schema):
    ok = ma.fields.Boolean(required=True)
    depth = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "Jobs waiting per queue", "example": {"default": 0, "push": 3, "sweeps": 0}},
    )
    failed = ma.fields.Integer(allow_none=True, metadata={"description": "Jobs in the failed registries"})


class HealthSchema(ma.Schema):
    status = ma.fields.String(
        required=True,
        metadata={
            "enum": ["ok", "degraded", "down"],
            "description": "`degraded`: Redis/queue down, the API still answers from the database; "
            "`down`: the database "
            "is unreachable",
        },
    )
    database = ma.fields.Nested(DatabaseHealthSchema, required=True)
    redis = ma.fields.Nested(RedisHealthSchema, required=True)
    queue = ma.fields.Nested(QueueHealthSchema, required=True)


class LivenessSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["ok"], "example": "ok"})


class DependencyStateSchema(ma.Schema):
    ok = ma.fields.Boolean(required=True)


class ReadinessSchema(ma.Schema):
    status = ma.fields.String(
        required=True,
        metadata={
            "enum": ["ok", "degraded", "down"],
            "description": "`degraded` (still 200): Redis is down, reads and writes still serve from the database; "
            "`down` (503): the database is unreachable",
            "example": "ok",
        },
    )
    database = ma.fields.Nested(DependencyStateSchema, required=True)
    redis = ma.fields.Nested(DependencyStateSchema, required=True)


def _timed(check):
    started = time.perf_counter()
    result = check()
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def _database() -> dict:
    db.on_primary()  # the health of the database that takes the writes, not of a read replica
    try:
        version = db.session.execute(text("SELECT postgis_version()")).scalar_one()
        return {"ok": True, "postgis_version": version}
    except SQLAlchemyError as exc:  # the request's session is discarded at its end
        return {"ok": False, "postgis_version": None, "error": exc.__class__.__name__}


def _database_answers() -> bool:
    try:
        db.session.execute(text("SELECT 1")).scalar_one()
        return True
    except SQLAlchemyError:
        return False


def _redis() -> dict:
    try:
        redis_conn.client().ping()
        return {"ok": True}
    except RedisError as exc:
        return {"ok": False, "error": exc.__class__.__name__}


def _queue() -> dict:
    try:
        connection = redis_conn.client()
        queues = [Queue(name, connection=connection) for name in current_app.config["RQ_QUEUES"]]
        return {
            "ok": True,
            "depth": {q.name: q.count for q in queues},
            "failed": sum(q.failed_job_registry.count for q in queues),
        }
    except RedisError:
        return {"ok": False, "depth": {}, "failed": None}


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="A dependency is down (see `status` and each part)")
    def get(self):
        """Up or down per dependency; 503 when one is down. Versions, latencies and queues for admins only."""
        database = _timed(_database)
        cache = _timed(_redis)
        queue = _queue() if cache["ok"] else {"ok": False, "depth": {}, "failed": None}
        status = "ok" if database["ok"] and cache["ok"] else ("degraded" if database["ok"] else "down")
        body = {"status": status, "database": database, "redis": cache, "queue": queue}
        caller = optional_caller()
        if caller is None or caller.role != Role.ADMIN:
            # what runs where (versions, queue names and depths) is reconnaissance for anyone else
            body = {"status": status, **{part: {"ok": body[part]["ok"]} for part in ("database", "redis", "queue")}}
        return body, (200 if status == "ok" else 503)


@blp.route("/livez")
class Liveness(MethodView):
    @blp.response(200, LivenessSchema, example={"status": "ok"})
    def get(self):
        """The process answers (asks no dependency): restart the process when this fails."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.response(200, ReadinessSchema, example={"status": "ok", "database": {"ok": True}, "redis": {"ok": True}})
    @blp.alt_response(503, schema=ReadinessSchema, description="The database is unreachable (`status: down`)")
    def get(self):
        """Ready for traffic while the database answers; Redis down is 200 `degraded`, the database down is 503."""
        database = _database_answers()
        cache = _redis()["ok"]
        status = ("ok" if cache else "degraded") if database else "down"
        body = {"status": status, "database": {"ok": database}, "redis": {"ok": cache}}
        return body, (200 if database else 503)
