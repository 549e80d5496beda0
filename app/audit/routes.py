"""The audit log, for admins."""

from __future__ import annotations

from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.audit import service
from app.audit.schemas import AUDIT_EXAMPLE, AuditPageSchema, AuditQueryArgsSchema
from app.auth.security import authenticated, current_user
from app.errors import InvalidCursor
from app.json import json_response
from app.org.models import Role

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Audit log of sensitive actions (admins)")


@blp.route("/audit")
class AuditLog(MethodView):
    @authenticated(blp, Role.ADMIN, errors=(*VALIDATION_ERRORS, InvalidCursor))
    @blp.arguments(AuditQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, AuditPageSchema, example=AUDIT_EXAMPLE)
    def get(self, limit, cursor=None, **filters):
        """Sensitive actions in your business line, newest first: who, when, what, before and after."""
        return json_response(service.list_entries(current_user(), service.AuditFilters(**filters), limit, cursor))
