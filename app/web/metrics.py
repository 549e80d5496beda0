"""The HTTP side of the metrics: requests, the database pool and statements, and ``GET /metrics``.

``/metrics`` is on the API's own port, protected by a bearer token (``METRICS_TOKEN``; empty turns it off
with a 404), rather than on a second port bound to localhost: gunicorn serves one port, Prometheus usually
scrapes from another host or container, and a token works the same behind any load balancer. Give the
token to Prometheus (``authorization.credentials`` in its scrape config) and keep the path off public routes
where the load balancer allows it.

Queue depths, failed-job registries and the outbox's lag are read when the scrape comes (a few cheap
statements: the outbox query uses its partial index of pending rows), so they are current even when
nothing else happens; when Redis or the database is down those series are left out of the answer.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app import db, metrics, redis_conn
from app.errors import NotFound, Unauthorized

# statements run by the current request; None outside requests (jobs, commands)
_statements: ContextVar[list[int] | None] = ContextVar("request_statements", default=None)

OUTBOX_LAG_SQL = text(
    """
    SELECT count(*) AS pending,
           coalesce(extract(epoch FROM clock_timestamp() - (SELECT created_at FROM outbox WHERE processed_at IS NULL
                                                 ORDER BY id LIMIT 1)), 0) AS lag
    FROM outbox WHERE processed_at IS NULL
    """
)


def _count_statement(*_args: Any) -> None:
    counter = _statements.get()
    if counter is not None:
        counter[0] += 1


def _pool_state(engine: Engine) -> None:
    overflow = getattr(engine.pool, "overflow", None)
    if overflow is not None:
        metrics.DB_POOL_OVERFLOW.set(max(0, overflow()))


def instrument_engine(engine: Engine) -> None:
    """Statements per request, connections in use and overflow (checkout waits: ``db.checkout_wait_observers``)."""

    def checkout(*_args: Any) -> None:
        metrics.DB_POOL_IN_USE.inc()
        _pool_state(engine)

    def checkin(*_args: Any) -> None:
        metrics.DB_POOL_IN_USE.dec()
        _pool_state(engine)

    event.listen(engine, "before_cursor_execute", _count_statement)
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    if metrics.DB_CHECKOUT_WAIT.observe not in db.checkout_wait_observers:
        db.checkout_wait_observers.append(metrics.DB_CHECKOUT_WAIT.observe)


def _start() -> None:
    g.metrics_started = time.perf_counter()
    _statements.set([0])


def _record(response: Response) -> Response:
    started = g.get("metrics_started")
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    metrics.HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    if started is not None:
        metrics.HTTP_LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
    counter = _statements.get()
    if counter is not None:
        metrics.DB_STATEMENTS.labels(route).observe(counter[0])
    return response


class LiveState:
    """Gauges read at scrape time: RQ queue depths and failed registries, the outbox's pending rows and lag."""

    def __init__(self, queue_names: tuple[str, ...]) -> None:
        self.queue_names = queue_names

    def collect(self) -> Iterator[Metric]:
        try:
            connection = redis_conn.client()
            queues = [Queue(name, connection=connection) for name in self.queue_names]
            depth = GaugeMetricFamily("fieldsales_rq_queue_depth", "RQ jobs waiting per queue", labels=["queue"])
            failed = GaugeMetricFamily(
                "fieldsales_rq_failed_jobs", "Jobs in the RQ failed registry per queue (kept 7 days)", labels=["queue"]
            )
            for queue in queues:
                depth.add_metric([queue.name], queue.count)
                failed.add_metric([queue.name], queue.failed_job_registry.count)
            yield depth
            yield failed
        except RedisError:
            pass
        try:
            row = db.session.execute(OUTBOX_LAG_SQL).one()
        except SQLAlchemyError:
            return
        yield GaugeMetricFamily("fieldsales_outbox_pending", "Outbox rows not yet processed", value=row.pending)
        yield GaugeMetricFamily(
            "fieldsales_outbox_lag_seconds", "Age of the oldest unprocessed outbox row (0: none)", value=float(row.lag)
        )


def _authorize() -> None:
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:
        raise NotFound()
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise Unauthorized("GET /metrics needs Authorization: Bearer <METRICS_TOKEN>.")


def metrics_view() -> Response:
    _authorize()
    if metrics.multiprocess_dir():
        samples = CollectorRegistry()
        MultiProcessCollector(samples)
    else:
        samples = REGISTRY
    live = CollectorRegistry()
    live.register(LiveState(tuple(current_app.config["RQ_QUEUES"])))
    return Response(generate_latest(samples) + generate_latest(live), content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Register first among the request hooks, so that requests other hooks refuse are timed too."""
    app.before_request(_start)
    app.after_request(_record)
    app.teardown_request(lambda _exc: _statements.set(None))
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
    instrument_engine(db.engine())
