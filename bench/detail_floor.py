"""The floor for merchant detail: the least a Flask app can do to run the endpoint's two statements.

    DETAIL_FLOOR_DSN=postgresql://127.0.0.1:5432/fieldsales_bench_detail DETAIL_FLOOR_TENANT=<tenant id> \
    DETAIL_FLOOR_CALLER=<user id> gunicorn -c gunicorn.conf.py bench.detail_floor:app

``GET /detail/<merchant id>``: no auth, no ORM, no schema, no payload building. It runs the app's own
``CALLER_SQL`` and ``AGGREGATE_SQL`` (the text imported from ``app.merchants.queries``, compiled to psycopg's
``%(name)s`` style) with the parameters ``merchant_detail`` passes for a BD, on a pooled autocommit psycopg
connection, and returns ``json.dumps`` of the two rows. Whatever our endpoint costs above this is the
price of auth, the ORM session and transaction, and shaping the payload.

psycopg's defaults apply: a statement is prepared on its 5th run on a connection, and later runs skip
parsing (and, once PostgreSQL settles on a generic plan, planning). The app gets the same since its
read-only requests end with COMMIT (psycopg forgets prepared statements on ROLLBACK). With
DETAIL_FLOOR_UNPREPARED=1 every run is parsed and planned: a reference for what preparing is worth.

``GET /ping`` answers ``{}`` without touching the database: the transport's share of every request.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask, Response
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from sqlalchemy.dialects import postgresql

from app.merchants import queries as detail
from app.tenants.models import DEFAULT_SETTINGS


def psycopg_sql(statement: Any) -> str:
    """SQLAlchemy ``text()`` to psycopg's paramstyle (``:name`` -> ``%(name)s``, ``%`` escaped)."""
    return str(statement.compile(dialect=postgresql.psycopg.dialect()))


CALLER_SQL = psycopg_sql(detail.CALLER_SQL)
AGGREGATE_SQL = psycopg_sql(detail.AGGREGATE_SQL)


def caller_params(merchant_id: int, tenant_id: int, caller_id: int, now: datetime) -> dict[str, Any]:
    """What ``merchant_detail`` binds for a BD without an org unit (the bench's BDs)."""
    cooldown_days = DEFAULT_SETTINGS["pool"]["reclaim_cooldown_days"]
    return {
        "merchant_id": merchant_id,
        "tenant": tenant_id,
        "caller": caller_id,
        "caller_unit": None,
        "cooldown_since": now - timedelta(days=cooldown_days),
        "cooldown_actions": list(detail.pool.COOLDOWN_ACTIONS),
        "sees_all": False,
        "is_manager": False,
    }


def aggregate_params(merchant_id: int, tenant_id: int, today: date) -> dict[str, Any]:
    """What ``_load_aggregate`` binds."""
    this_month = today.replace(day=1)
    return {
        "merchant_id": merchant_id,
        "tenant": tenant_id,
        "recent_visits": detail.RECENT_VISITS,
        "since_month": detail._months_ago(this_month, detail.SALES_MONTHS - 1),
        "related_stores": detail.RELATED_STORES,
        "nearby_same_brand": detail.NEARBY_SAME_BRAND,
    }


app = Flask(__name__)
_pool: ConnectionPool | None = None


def pool() -> ConnectionPool:
    """This worker's pool, opened on first use (gunicorn preloads the app, then forks; a pool's
    connections and threads must not cross that fork). A sync worker serves one request at a time."""
    global _pool
    if _pool is None:
        unprepared = os.environ.get("DETAIL_FLOOR_UNPREPARED") == "1"
        _pool = ConnectionPool(
            os.environ["DETAIL_FLOOR_DSN"],
            min_size=1,
            max_size=2,
            open=True,
            kwargs={"autocommit": True, "options": "-c jit=off", **({"prepare_threshold": None} if unprepared else {})},
        )
    return _pool


@app.get("/ping")
def ping() -> Response:
    """No database, no work: what one request through gunicorn, Flask and a new TCP connection costs."""
    return Response("{}", mimetype="application/json")


@app.get("/detail/<int:merchant_id>")
def merchant_detail(merchant_id: int) -> Response:
    tenant_id, caller_id = int(os.environ["DETAIL_FLOOR_TENANT"]), int(os.environ["DETAIL_FLOOR_CALLER"])
    now = datetime.now(UTC)
    with pool().connection() as conn:
        cursor = conn.cursor(row_factory=dict_row)
        caller = cursor.execute(CALLER_SQL, caller_params(merchant_id, tenant_id, caller_id, now)).fetchone()
        aggregate = cursor.execute(AGGREGATE_SQL, aggregate_params(merchant_id, tenant_id, now.date())).fetchone()
    if caller is None:
        return Response('{"error": "not found"}', status=404, mimetype="application/json")
    body = json.dumps({"caller": caller, "aggregate": aggregate}, default=str, ensure_ascii=False)
    return Response(body, mimetype="application/json")
