"""Tenant settings (admins change them; everyone signed in reads them: the app needs the custom fields)."""

from __future__ import annotations

from flask.views import MethodView

from app.admin import settings as service
from app.admin.settings_schemas import TenantSettingsSchema, TenantSettingsUpdateSchema
from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_tenant, current_user
from app.org.models import Role
from app.tenants.models import DEFAULT_SETTINGS

blp = Blueprint("tenant", __name__, url_prefix="/api/v1/tenant", description="Tenant (business line) settings")

SETTINGS_EXAMPLE = {
    "slug": "hz-food",
    "name": "Hangzhou food delivery",
    **DEFAULT_SETTINGS,
    "custom_fields": [
        {"key": "seats", "label": "Seats", "type": "number", "required": False},
        {
            "key": "cuisine",
            "label": "Cuisine",
            "type": "enum",
            "required": True,
            "options": ["zhejiang", "sichuan", "cantonese"],
        },
    ],
}


@blp.route("/settings")
class Settings(MethodView):
    @authenticated(blp)
    @blp.response(200, TenantSettingsSchema, example=SETTINGS_EXAMPLE)
    def get(self):
        """The business line's settings, product defaults filled in (custom-field schema included)."""
        return service.effective_settings(current_tenant())

    @authenticated(blp, Role.ADMIN, errors=VALIDATION_ERRORS)
    @blp.arguments(
        TenantSettingsUpdateSchema,
        example={"pool": {"on_deactivate": "manager"}, "custom_fields": SETTINGS_EXAMPLE["custom_fields"]},
    )
    @blp.response(200, TenantSettingsSchema, example=SETTINGS_EXAMPLE)
    def patch(self, changes):
        """Change settings (admins): sections merge key by key; `custom_fields` replaces the list."""
        return service.update_settings(current_user(), current_tenant(), changes)
