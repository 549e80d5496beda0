"""Offline delta sync."""

from __future__ import annotations

from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_tenant, current_user
from app.errors import InvalidCursor
from app.extensions import compress
from app.json import json_response
from app.sync import queries
from app.sync.schemas import SyncPageSchema, SyncQueryArgsSchema

blp = Blueprint("sync", __name__, url_prefix="/api/v1", description="Offline delta sync")


@blp.route("/sync")
class Sync(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, InvalidCursor))
    @blp.arguments(SyncQueryArgsSchema, location="query")
    @blp.response(200, SyncPageSchema, description="A page of changes; gzip when the client accepts it")
    @compress.compressed()
    def get(self, args):
        """What changed since the cursor (none: the full bundle) in what the app caches, as upserts and tombstones."""
        return json_response(
            queries.sync(
                current_user(),
                current_tenant(),
                cursor=args.get("cursor"),
                limit=args["limit"],
                coord_sys=args["coord_sys"],
                lat=args.get("lat"),
                lng=args.get("lng"),
                radius_m=args["radius_m"],
            )
        )
