"""The application factory: configuration, extensions, error handlers, every blueprint and command.

The composition root: it sits above every domain package (see the layers in `.importlinter`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from app import db, models  # noqa: F401 - models: every table registered on Base.metadata
from app.api import register_docs_assets, reject_hostile_text, reject_unexpected_query
from app.cli import register_commands
from app.config import Config, check_production_safety
from app.converters import IdConverter
from app.errors import register_error_handlers
from app.extensions import api
from app.json import OrjsonProvider
from app.routes import register_blueprints
from app.web import headers as security_headers
from app.web import proxy, request_id
from app.web.logs import configure_logging


def create_app(config: Config | None = None, **overrides: Any) -> Flask:
    config = config or Config(**overrides)
    check_production_safety(config)

    app = Flask(__name__)
    app.url_map.converters["id"] = IdConverter
    app.json = OrjsonProvider(app)
    app.config.from_object(config)
    configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    request_id.init_app(app)
    security_headers.init_app(app)
    proxy.init_app(app)

    db.init_engine(
        app.config["DATABASE_URL"],
        pool_size=app.config["DB_POOL_SIZE"],
        prepare_threshold=app.config["DB_PREPARE_THRESHOLD"],
        replica_urls=app.config["DATABASE_REPLICA_URLS"],
        replica_max_lag_ms=app.config["REPLICA_MAX_LAG_MS"],
        replica_check_interval_ms=app.config["REPLICA_CHECK_INTERVAL_MS"],
    )
    # A request's session (and the tenant it is scoped to) never outlives the request.
    app.before_request(db.begin_request)
    app.teardown_request(db.end_request)
    app.teardown_appcontext(lambda _exc: db.session.remove())

    api.init_app(app)
    api.register_converter(IdConverter, lambda _: {"type": "integer", "format": "int64", "minimum": 1})
    register_docs_assets(app)
    register_error_handlers(app)
    app.before_request(reject_hostile_text)
    app.before_request(reject_unexpected_query)

    register_blueprints(api)
    for endpoint, view in app.view_functions.items():
        app.view_functions[endpoint] = db.unit_of_work(view)

    register_commands(app)
    return app
