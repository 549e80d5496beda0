"""The application factory: configuration, extensions, error handlers, every blueprint and command.

The composition root: it sits above every domain package (see the layers in `.importlinter`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from app import db, error_reporting, models  # noqa: F401 - models: every table registered on Base.metadata
from app.api import register_docs_assets, reject_hostile_text, reject_unexpected_query
from app.cli import register_commands
from app.config import Config, check_production_safety
from app.console import session as console_session
from app.console.routes import blp as console_blp
from app.converters import IdConverter
from app.errors import ErrorCode, register_error_handlers
from app.extensions import api, compress
from app.intake.models import ImportStatus
from app.json import OrjsonProvider
from app.merchants.models import AuditStatus, ContactRole, DropReason, LeadState
from app.merchants.schemas import SeaFilter
from app.org.models import OrgKind, Role
from app.routes import register_blueprints
from app.tasks.models import AssignmentStatus, TaskKind
from app.uploads import storage as photo_storage
from app.web import headers as security_headers
from app.web import metrics as http_metrics
from app.web import proxy, request_id
from app.web.logs import configure_logging
from geo.coords import CoordSys

# Enums the spec shows once, as components: every field with exactly these choices refers to them.
SHARED_ENUMS = [
    ("CoordSys", CoordSys, "Coordinate system: Amap/Tencent SDKs report `gcj02`, Baidu `bd09`, GPS `wgs84`"),
    ("LeadState", LeadState, "A merchant's pool: `public` (claimable), `private` (a BD's lead), `partner` (signed)"),
    ("DropReason", DropReason, "Which clock returns a private lead to the public pool"),
    ("SeaFilter", SeaFilter, "Which pools a merchant list shows"),
    ("MerchantStatus", AuditStatus, "A merchant's audit status"),
    ("ContactRole", ContactRole, "A key person's role at the merchant"),
    ("Role", Role, "A user's role"),
    ("OrgKind", OrgKind, "An org unit's level"),
    ("TaskKind", TaskKind, "What a task asks for"),
    ("AssignmentStatus", AssignmentStatus, "A task assignment's (a to-do's) state"),
    ("ImportState", ImportStatus, "A merchant import's state"),
    ("ErrorCode", ErrorCode, ErrorCode.__doc__ or ""),
]


def create_app(config: Config | None = None, **overrides: Any) -> Flask:
    config = config or Config(**overrides)
    check_production_safety(config)

    app = Flask(__name__)
    app.url_map.converters["id"] = IdConverter
    app.json = OrjsonProvider(app)
    app.config.from_object(config)
    configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    error_reporting.init(app.config)
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
    http_metrics.init_app(app)
    # A request's session (and the tenant it is scoped to) never outlives the request.
    app.before_request(db.begin_request)
    app.teardown_request(db.end_request)
    app.teardown_appcontext(lambda _exc: db.session.remove())

    api.register_enums(SHARED_ENUMS)
    photo_storage.init_app(app)
    api.init_app(app)
    app.config["COMPRESS_REGISTER"] = False  # per view, see app/extensions.py
    # gzip only: every HTTP client and generated client decodes it (zstd/br would reach clients that ask for them
    # but whose decoders are optional, as the fuzz test's was)
    app.config["COMPRESS_ALGORITHM"] = ["gzip"]
    compress.init_app(app)
    api.register_converter(IdConverter, lambda _: {"type": "integer", "format": "int64", "minimum": 1})
    register_docs_assets(app)
    register_error_handlers(app)
    app.before_request(reject_hostile_text)
    app.before_request(reject_unexpected_query)

    register_blueprints(api)
    app.register_blueprint(console_blp)
    console_session.csrf.init_app(app)
    for endpoint, view in app.view_functions.items():
        app.view_functions[endpoint] = db.unit_of_work(view)

    register_commands(app)
    return app
