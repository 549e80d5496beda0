"""Tenant settings: the effective values (defaults filled in) and the partial update an admin sends."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import marshmallow as ma
import phonenumbers
from marshmallow import validate

from app.i18n import SUPPORTED_LOCALES
from app.tenants import app_version, visit_forms
from app.tenants.custom_fields import FIELD_TYPES
from app.tenants.models import CORRECTABLE_FIELDS

KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$", error="Lower-case letters, digits and _, starting with a letter.")


def _days(**kwargs) -> ma.fields.Integer:
    return ma.fields.Integer(validate=validate.Range(min=0, max=3650), **kwargs)


class ClaimCapsSchema(ma.Schema):
    users = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Regexp(r"^[1-9][0-9]{0,18}$", error="A user id.")),
        values=ma.fields.Integer(validate=validate.Range(min=0, max=100_000)),
        load_default=dict,
        metadata={"description": "A BD's own cap, by user id", "example": {"42": 150}},
    )
    ranks = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(min=1, max=40)),
        values=ma.fields.Integer(validate=validate.Range(min=0, max=100_000)),
        load_default=dict,
        metadata={"description": "The cap of every BD of a rank (`rank` of the user)", "example": {"senior": 200}},
    )


class PoolRulesSchema(ma.Schema):
    claim_cap = ma.fields.Integer(
        validate=validate.Range(min=1, max=100_000), metadata={"description": "Most private leads a BD may hold"}
    )
    term_days = _days(metadata={"description": "A private lead drops after this many days however visited"})
    no_visit_days = _days(metadata={"description": "…or this many days without a verified visit"})
    no_sign_days = _days(metadata={"description": "…or this many days without signing"})
    max_extensions = ma.fields.Integer(validate=validate.Range(min=0, max=100))
    extension_days = _days()
    reclaim_cooldown_days = _days(
        metadata={"description": "A BD may not re-claim what dropped from them for this long"}
    )
    signing = ma.fields.String(
        validate=validate.OneOf(["manager", "contract", "none"]),
        metadata={
            "description": "How a BD's signing is verified before the lead becomes a partner: `manager` (their "
            "manager or ops confirms), `contract` (final when a deal imported for the merchant has the contract "
            "number as its `external_id`, otherwise as `manager`), `none` (the BD's signing is final)"
        },
    )
    claim_caps = ma.fields.Nested(
        ClaimCapsSchema,
        metadata={
            "description": "Caps that override `claim_cap`: a BD's own (by user id) first, then their rank's; "
            "replaced as a whole when sent"
        },
    )
    pool_groups = ma.fields.String(
        validate=validate.OneOf(["off", "territory", "city"]),
        metadata={
            "description": "Split the public pool: `territory` (a BD claims only merchants inside their "
            "territories), `city` (only merchants whose `city` is the name of the city unit above the BD in the org "
            "tree), `off` (one pool)"
        },
    )
    on_deactivate = ma.fields.String(
        validate=validate.OneOf(["public", "manager"]),
        metadata={"description": "Where a deactivated BD's private leads go: the public pool or their manager"},
    )


class CheckinRulesSchema(ma.Schema):
    radius_m = ma.fields.Integer(validate=validate.Range(min=10, max=5000))
    max_accuracy_m = ma.fields.Integer(validate=validate.Range(min=5, max=5000))
    max_speed_kmh = ma.fields.Integer(validate=validate.Range(min=1, max=1000))
    offline_window_hours = ma.fields.Integer(validate=validate.Range(min=0, max=24 * 30))
    photo_max_distance_m = ma.fields.Integer(
        validate=validate.Range(min=10, max=100_000),
        metadata={"description": "A visit photo taken (EXIF GPS) farther from the merchant is flagged `photo_far`"},
    )
    photo_max_age_hours = ma.fields.Integer(
        validate=validate.Range(min=1, max=24 * 30),
        metadata={"description": "A visit photo taken (EXIF time) this long before the check-in is `photo_stale`"},
    )


class TerritoryRulesSchema(ma.Schema):
    max_vertices = ma.fields.Integer(validate=validate.Range(min=4, max=100_000))
    max_area_km2 = ma.fields.Float(validate=validate.Range(min=0.001, max=1_000_000))


class CustomFieldSchema(ma.Schema):
    key = ma.fields.String(required=True, validate=KEY, metadata={"example": "seats"})
    label = ma.fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"example": "Seats"})
    type = ma.fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    required = ma.fields.Boolean(load_default=False)
    options = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=100)),
        validate=validate.Length(max=200),
        load_default=None,
        metadata={"description": "The allowed values (enum fields only)"},
    )

    @ma.validates_schema
    def options_for_enums(self, data, **kwargs):
        if data.get("type") == "enum" and not data.get("options"):
            raise ma.ValidationError("Enum fields need at least one option.", "options")
        if data.get("type") != "enum" and data.get("options"):
            raise ma.ValidationError("Only enum fields have options.", "options")

    @ma.post_load
    def drop_empty_options(self, data, **kwargs):
        if data.get("options") is None:
            data.pop("options", None)
        return data


class ShowIfSchema(ma.Schema):
    field = ma.fields.String(required=True, validate=KEY, metadata={"description": "An earlier field's key"})
    equals = ma.fields.Raw(
        metadata={
            "description": "Shown only when that field has this value (a multi-choice: contains it); "
            "without `equals`, when it has any value"
        }
    )


class VisitFormFieldSchema(ma.Schema):
    key = ma.fields.String(required=True, validate=KEY, metadata={"example": "facings"})
    label = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    type = ma.fields.String(required=True, validate=validate.OneOf(visit_forms.FIELD_TYPES))
    required = ma.fields.Boolean(load_default=False)
    options = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=100)),
        validate=validate.Length(min=1, max=100),
        metadata={"description": "choice and multi_choice: the allowed values"},
    )
    unit = ma.fields.String(validate=validate.Length(max=20), metadata={"description": "number: e.g. CNY, pcs, m²"})
    min = ma.fields.Float(allow_nan=False, metadata={"description": "number: smallest allowed"})
    max = ma.fields.Float(allow_nan=False, metadata={"description": "number: largest allowed"})
    max_length = ma.fields.Integer(
        validate=validate.Range(min=1, max=visit_forms.TEXT_MAX), metadata={"description": "text (default 2000)"}
    )
    max_photos = ma.fields.Integer(
        validate=validate.Range(min=1, max=visit_forms.PHOTOS_MAX), metadata={"description": "photo (default 9)"}
    )
    show_if = ma.fields.Nested(ShowIfSchema)

    @ma.validates_schema
    def fits_its_type(self, data, **kwargs):
        kind = data.get("type")
        if kind in ("choice", "multi_choice") and not data.get("options"):
            raise ma.ValidationError("Choice fields need their options.", "options")
        if kind not in ("choice", "multi_choice") and data.get("options"):
            raise ma.ValidationError("Only choice fields have options.", "options")
        for name in ("unit", "min", "max"):
            if kind != "number" and name in data:
                raise ma.ValidationError("Only number fields have it.", name)
        if data.get("min") is not None and data.get("max") is not None and data["min"] > data["max"]:
            raise ma.ValidationError("min is above max.", "min")
        if kind != "text" and "max_length" in data:
            raise ma.ValidationError("Only text fields have it.", "max_length")
        if kind != "photo" and "max_photos" in data:
            raise ma.ValidationError("Only photo fields have it.", "max_photos")


class VisitFormSchema(ma.Schema):
    key = ma.fields.String(required=True, validate=KEY, metadata={"example": "shelf_check"})
    version = ma.fields.Integer(
        dump_only=True, metadata={"description": "Set by the server: a new one each time the definition changes"}
    )
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    bind = ma.fields.String(
        required=True,
        validate=validate.OneOf(visit_forms.BINDINGS),
        metadata={
            "description": "When the app shows it: `check_in`/`check_out` (every one; its required fields must "
            "be answered), `task:<kind>` (with a visit for an open task of that kind), `on_demand`"
        },
    )
    built_in = ma.fields.Boolean(dump_only=True)
    # "fields" is marshmallow's own attribute on a schema: the field is declared under another name
    fields_ = ma.fields.List(
        ma.fields.Nested(VisitFormFieldSchema),
        required=True,
        validate=validate.Length(min=1, max=50),
        data_key="fields",
        attribute="fields",
    )

    @ma.validates_schema
    def consistent(self, data, **kwargs):
        if data.get("key") in visit_forms.BUILT_IN:
            raise ma.ValidationError("A built-in form has this key.", "key")
        seen: dict[str, dict] = {}
        for index, field in enumerate(data.get("fields") or []):
            if field["key"] in seen:
                raise ma.ValidationError({index: {"key": ["Duplicate key."]}}, "fields")
            condition = field.get("show_if")
            if condition and condition["field"] not in seen:
                raise ma.ValidationError({index: {"show_if": ["Name an earlier field of this form."]}}, "fields")
            seen[field["key"]] = field


def _app_version(value: str | None) -> None:
    if value is not None and not app_version.is_version(value):
        raise ma.ValidationError("A version like 2.4 or 2.4.1: up to four dot-separated whole numbers.")


STORE_URL = re.compile(r"^(https?|market|itms-apps)://\S{1,500}$")


def _store_url(value: str) -> None:
    if value and not STORE_URL.match(value):
        raise ma.ValidationError("An https://, market:// or itms-apps:// link without spaces, or empty.")


class AppRulesSchema(ma.Schema):
    min_version = ma.fields.String(
        allow_none=True,
        validate=_app_version,
        metadata={
            "description": "The oldest app version still served: calls sending a lower `X-App-Version` get 426 "
            "`APP_UPGRADE_REQUIRED`; null serves every version",
            "example": "2.4.0",
        },
    )
    store_url = ma.fields.String(
        validate=_store_url,
        metadata={
            "description": "Where the update screen sends the user (app store or download page); sent with 426",
            "example": "https://apps.example.com/fieldsales",
        },
    )


class CorrectionRulesSchema(ma.Schema):
    apply_at_once = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(CORRECTABLE_FIELDS)),
        validate=validate.Length(max=len(CORRECTABLE_FIELDS)),
        metadata={
            "description": "Fields a lead owner's correction applies at once; the others go to the ops audit "
            "queue. A rename or a move that finds a possible duplicate always goes to audit",
            "example": ["address", "phone", "category", "brand", "attributes"],
        },
    )
    move_check_m = ma.fields.Integer(
        validate=validate.Range(min=1, max=5000),
        metadata={"description": "A corrected position further than this from the old one re-runs the duplicate check"},
    )


def _phone_region(value: str) -> None:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ma.ValidationError("An ISO 3166 region code phonenumbers knows, e.g. CN or FI.")


def _timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ma.ValidationError("An IANA time zone, e.g. Asia/Shanghai.") from None


class ContractRulesSchema(ma.Schema):
    renewal_reminder_days = ma.fields.Integer(
        validate=validate.Range(min=1, max=365),
        metadata={
            "description": "The account owner's renewal to-do and push come this many days before a contract ends"
        },
    )


class PricingRulesSchema(ma.Schema):
    disadvantage_gap_pct = ma.fields.Float(
        validate=validate.Range(min=0, max=100),
        metadata={
            "description": "A merchant whose cheapest competitor undercuts our cheapest active deal by more than "
            "this percent of our price is tagged `price_disadvantage` (nightly, and after each import)",
            "example": 10,
        },
    )


class TenantSettingsUpdateSchema(ma.Schema):
    pool = ma.fields.Nested(PoolRulesSchema)
    pricing = ma.fields.Nested(PricingRulesSchema)
    contracts = ma.fields.Nested(ContractRulesSchema)
    checkin = ma.fields.Nested(CheckinRulesSchema)
    territory = ma.fields.Nested(TerritoryRulesSchema)
    app = ma.fields.Nested(AppRulesSchema)
    corrections = ma.fields.Nested(CorrectionRulesSchema)
    phone_region = ma.fields.String(validate=_phone_region, metadata={"example": "CN"})
    timezone = ma.fields.String(validate=_timezone, metadata={"example": "Asia/Shanghai"})
    locale = ma.fields.String(
        validate=validate.OneOf(SUPPORTED_LOCALES),
        metadata={"description": "Language of pushes and system to-dos for users who chose none", "example": "zh-CN"},
    )
    custom_fields = ma.fields.List(
        ma.fields.Nested(CustomFieldSchema),
        validate=validate.Length(max=100),
        metadata={"description": "Replaces the whole list when sent"},
    )

    visit_forms = ma.fields.List(
        ma.fields.Nested(VisitFormSchema),
        validate=validate.Length(max=50),
        metadata={"description": "Replaces the whole list when sent; each changed form gets a new version"},
    )

    @ma.validates("visit_forms")
    def unique_form_keys(self, value, **kwargs):
        keys = [form.get("key") for form in value if form.get("key")]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ma.ValidationError(f"Duplicate keys: {', '.join(duplicates)}.")

    @ma.validates("custom_fields")
    def unique_keys(self, value, **kwargs):
        keys = [field.get("key") for field in value if field.get("key")]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ma.ValidationError(f"Duplicate keys: {', '.join(duplicates)}.")


class TenantSettingsSchema(TenantSettingsUpdateSchema):
    """The effective settings: every value, the product default where the tenant set none."""

    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
