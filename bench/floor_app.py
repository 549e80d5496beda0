"""The floor: the least a Flask app can do to serve the nearby query, for comparison with the real endpoint.

    FLOOR_SPEC=/tmp/spec.json gunicorn -c gunicorn.conf.py bench.floor_app:app

One route, ``GET /nearby?lat=&lng=``: no auth, no ORM, no schema. It fills the endpoint's own compiled SQL
(written by ``bench.nearby`` into the FLOOR_SPEC file, see ``write_spec``) with the point and its
bounding box, runs it on a pooled psycopg connection and returns ``flask.jsonify`` of the rows. Whatever
our endpoint costs above this is the price of auth, validation, the ORM session and item building.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from geo.distance import bbox_around

# --- the spec: SQL text, a parameter template and which parameters the query point fills --------------


def write_spec(path: Path, *, dsn: str, sql: str, template: dict[str, Any], keys: dict[str, Any]) -> None:
    """Save what the floor app needs; datetimes (the cooldown cut-off) are tagged to survive JSON."""
    encoded = {
        name: {"$datetime": value.isoformat()} if isinstance(value, datetime) else value
        for name, value in template.items()
    }
    path.write_text(json.dumps({"dsn": dsn, "sql": sql, "template": encoded, "keys": keys}))


def read_spec(path: str) -> dict[str, Any]:
    spec = json.loads(Path(path).read_text())
    spec["template"] = {
        name: datetime.fromisoformat(value["$datetime"]) if isinstance(value, dict) else value
        for name, value in spec["template"].items()
    }
    return spec


def point_params(spec: dict[str, Any], lat: float, lng: float) -> dict[str, Any]:
    """The endpoint's parameters for a query point: the template with the point and its box filled in."""
    keys = spec["keys"]
    params = dict(spec["template"])
    params[keys["lat"]], params[keys["lng"]] = lat, lng
    box = bbox_around(lat, lng, keys["radius_m"])
    for name, value in zip(keys["bbox"], box, strict=True):
        params[name] = value
    return params


# --- the app --------------------------------------------------------------------------------------

app = Flask(__name__)
SPEC = read_spec(os.environ["FLOOR_SPEC"]) if "FLOOR_SPEC" in os.environ else None
_pool: ConnectionPool | None = None


def pool() -> ConnectionPool:
    """This worker's pool, opened on first use: gunicorn preloads the app and then forks, and a pool's
    connections and background threads must not be shared across that fork. A sync worker serves one
    request at a time, so two connections are plenty."""
    global _pool
    if _pool is None:
        _pool = ConnectionPool(
            SPEC["dsn"],
            min_size=1,
            max_size=2,
            open=True,
            kwargs={"autocommit": True, "options": "-c jit=off"},
        )
    return _pool


@app.get("/nearby")
def nearby():
    params = point_params(SPEC, float(request.args["lat"]), float(request.args["lng"]))
    with pool().connection() as conn:
        rows = conn.cursor(row_factory=dict_row).execute(SPEC["sql"], params).fetchall()
    return jsonify(rows)
