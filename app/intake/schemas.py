"""Request and response schemas for lead intake: field creation, audit, imports, onboarding, tags."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from app.schemas import ID, PersonRefSchema, coord_sys_field


def _text(max_length: int, **kwargs):
    return ma.fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


def _stripped(data: dict, names: tuple[str, ...]) -> dict:
    return {**data, **{n: data[n].strip() for n in names if isinstance(data.get(n), str)}}


class MerchantCreateSchema(ma.Schema):
    name = _text(300, required=True)
    lat = ma.fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lng = ma.fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    coord_sys = coord_sys_field()
    category = ma.fields.String(load_default="", validate=validate.Length(max=300))
    phone = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={
            "description": "One or more numbers separated by `;`, any format; checked against the tenant's phone region"
        },
    )
    address = ma.fields.String(load_default="", validate=validate.Length(max=500))
    photo_ids = ma.fields.List(
        ma.fields.UUID(),
        load_default=list,
        validate=validate.Length(max=9),
        metadata={"description": "Ids from `POST /uploads`"},
    )
    force = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "Create even though `POSSIBLE_DUPLICATE` listed candidates "
            "(the merchant is flagged for audit)"
        },
    )
    attributes = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(min=1, max=60)),
        load_default=dict,
        metadata={
            "description": "Values of the business line's custom fields "
            "(`custom_fields` in `GET /tenant/settings`); required ones must be given",
            "example": {"seats": 120, "cuisine": "hangbang"},
        },
    )

    @ma.pre_load
    def strip(self, data, **kwargs):
        return _stripped(data, ("name", "phone", "address", "category")) if isinstance(data, dict) else data

    @ma.validates("name")
    def name_not_blank(self, value: str, **kwargs) -> None:
        if not value.strip():
            raise ma.ValidationError("Must not be blank.")


class CandidateSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    audit_status = ma.fields.String(required=True)
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)
    distance_m = ma.fields.Float(required=True, metadata={"description": "Metres from the position sent"})
    similarity = ma.fields.Float(
        required=True, metadata={"description": "Trigram similarity of the normalised names, 0..1"}
    )
    phone_match = ma.fields.Boolean(required=True, metadata={"description": "Shares a store phone number"})


class _MerchantBasicsSchema(ma.Schema):
    """What every answer about a new or pending merchant starts with."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    phone = ma.fields.String(allow_none=True, required=True)
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)


class MerchantCreatedSchema(_MerchantBasicsSchema):
    coord_sys = ma.fields.String(required=True)
    audit_status = ma.fields.String(
        required=True, validate=validate.OneOf(["approved", "pending_audit", "rejected", "merged"])
    )
    audit_flags = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "`possible_duplicate` when created with force over candidates"},
    )
    merged_into_id = ma.fields.Integer(allow_none=True, required=True)
    self_onboarded = ma.fields.Boolean(required=True)
    duplicate_candidates = ma.fields.List(ma.fields.Nested(CandidateSchema), required=True)


# --- corrections ---------------------------------------------------------------------------------


class CorrectionCreateSchema(ma.Schema):
    """Only the fields sent are corrected; send at least one that differs from what the merchant has."""

    name = _text(300)
    address = ma.fields.String(validate=validate.Length(max=500))
    phone = ma.fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"description": "One or more numbers separated by `;`; null or empty removes the number"},
    )
    category = ma.fields.String(validate=validate.Length(max=300))
    brand = ma.fields.String(allow_none=True, validate=validate.Length(max=200))
    lat = ma.fields.Float(validate=validate.Range(min=-90, max=90), metadata={"description": "The new position"})
    lng = ma.fields.Float(validate=validate.Range(min=-180, max=180))
    coord_sys = coord_sys_field()
    closed = ma.fields.String(
        allow_none=True,
        validate=validate.OneOf(["temporarily", "permanently"]),
        metadata={
            "description": "`permanently`: the shop is gone (once applied it leaves the pool, nearby and the map); "
            "null: open again"
        },
    )
    attributes = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(min=1, max=60)),
        metadata={"description": "Custom-field values to set (null clears one)", "example": {"seats": 80}},
    )
    note = ma.fields.String(load_default="", validate=validate.Length(max=1000), metadata={"description": "For ops"})
    photo_ids = ma.fields.List(
        ma.fields.UUID(),
        load_default=list,
        validate=validate.Length(max=9),
        metadata={"description": "Ids from `POST /uploads` (a photo of the new sign, the closed shutter)"},
    )

    @ma.pre_load
    def strip(self, data, **kwargs):
        return _stripped(data, ("name", "phone", "address", "category", "brand")) if isinstance(data, dict) else data

    @ma.validates("name")
    def name_not_blank(self, value: str, **kwargs) -> None:
        if not value.strip():
            raise ma.ValidationError("Must not be blank.")

    @ma.validates_schema
    def position_pair(self, data: dict, **kwargs) -> None:
        if ("lat" in data) != ("lng" in data):
            raise ma.ValidationError("Send both lat and lng for a new position.", "lat")


class CorrectionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    merchant_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, validate=validate.OneOf(["applied", "pending", "approved", "rejected"]))
    changes = ma.fields.Dict(
        required=True,
        metadata={
            "description": "Every field that differed from the merchant, with its new value (`position`: "
            "`{lat, lng}` in `coord_sys`; `attributes`: the custom fields sent)"
        },
    )
    applied = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "Fields applied at once"})
    queued = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "Fields waiting for ops"})
    reasons = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(["setting", "not_owner", "possible_duplicate"])),
        required=True,
        metadata={
            "description": "Why fields wait: `setting` (the business line sends them to audit), `not_owner` (only "
            "the lead's owner applies corrections at once), `possible_duplicate` (a rename or move found one)"
        },
    )
    duplicate_candidates = ma.fields.List(
        ma.fields.Integer(), required=True, metadata={"description": "Merchants the renamed or moved one may duplicate"}
    )
    note = ma.fields.String(required=True)
    photo_ids = ma.fields.List(ma.fields.String(), required=True)
    coord_sys = ma.fields.String(required=True)


class AuditSchema(ma.Schema):
    action = ma.fields.String(required=True, validate=validate.OneOf(["approve", "reject", "merge"]))
    correction_id = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=ID,
        metadata={
            "description": "Audit this pending correction of the merchant (approve or reject) instead of the "
            "merchant itself"
        },
    )
    into_id = ma.fields.Integer(
        load_default=None, allow_none=True, validate=ID, metadata={"description": "The surviving merchant (merge only)"}
    )
    note = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=500),
        metadata={"description": "Shown to the BD who created the merchant"},
    )
    coord_sys = coord_sys_field()


class AuditResultSchema(MerchantCreatedSchema):
    action = ma.fields.String(required=True)
    audited_id = ma.fields.Integer(
        required=True, metadata={"description": "The merchant audited; after a merge the body describes the survivor"}
    )
    correction_id = ma.fields.Integer(
        allow_none=True, required=True, metadata={"description": "The correction audited (null: the merchant was)"}
    )
    correction = ma.fields.Nested(CorrectionSchema, allow_none=True, required=True)


# --- imports -------------------------------------------------------------------------------------


class ImportFormSchema(ma.Schema):
    """The multipart body of an import: the file and the form fields beside it."""

    file = Upload(
        required=True,
        metadata={
            "description": "UTF-8 CSV with a header row (at least name, lat, lon/lng) or a GeoJSON FeatureCollection "
            "of Points; at most 8 MB"
        },
    )
    source = ma.fields.String(
        load_default="import",
        validate=validate.Regexp(r"^[a-z0-9][a-z0-9_.-]{0,39}$"),
        metadata={"description": "Name of the data source; re-imports match rows on it and on `source_id`"},
    )
    coord_sys = ma.fields.String(load_default="wgs84", validate=validate.OneOf(["wgs84", "gcj02", "bd09"]))
    format = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(["csv", "geojson"]),
        metadata={"description": "Default: from the file name / content"},
    )
    mapping = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=4000),
        metadata={
            "description": 'JSON object: our column -> the file\'s column, e.g. `{"name": "店名", "lat": "纬度", '
            '"lng": "经度", "phone": "电话"}`. Our columns: name, lat, lng, category, phone, address, '
            "source_id, city, brand, tags. Other columns are kept as attributes."
        },
    )


class ImportCountsSchema(ma.Schema):
    inserted = ma.fields.Integer(required=True)
    updated = ma.fields.Integer(required=True, metadata={"description": "Existing merchants changed by a row"})
    unchanged = ma.fields.Integer(required=True)
    matched = ma.fields.Integer(
        required=True,
        metadata={
            "description": "Rows matched to a merchant already there from another source (its gaps filled, no new "
            "merchant); a re-import of the row updates the same merchant"
        },
    )
    rejected = ma.fields.Integer(required=True)
    kept = ma.fields.Integer(
        required=True,
        metadata={
            "description": "Field values the file would have changed but a person had corrected: a correction "
            "(or an edit) wins over every later import of the row"
        },
    )


class ImportRejectSchema(ma.Schema):
    line = ma.fields.Integer(required=True, metadata={"description": "CSV line (header = 1) or GeoJSON feature number"})
    reason = ma.fields.String(required=True)


class ImportMatchSchema(ma.Schema):
    line = ma.fields.Integer(required=True)
    merchant_id = ma.fields.Integer(required=True)
    similarity = ma.fields.Float(allow_none=True, required=True)
    distance_m = ma.fields.Float(required=True)


class ImportStatusSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, validate=validate.OneOf(["queued", "running", "done", "failed"]))
    filename = ma.fields.String(required=True)
    format = ma.fields.String(required=True)
    source = ma.fields.String(required=True)
    coord_sys = ma.fields.String(required=True)
    mapping = ma.fields.Dict(required=True)
    rows_total = ma.fields.Integer(allow_none=True, required=True)
    rows_done = ma.fields.Integer(required=True)
    counts = ma.fields.Nested(ImportCountsSchema, required=True)
    rejects = ma.fields.List(
        ma.fields.Nested(ImportRejectSchema),
        required=True,
        metadata={"description": "The first 1,000 rejected rows with their reasons"},
    )
    matches = ma.fields.List(
        ma.fields.Nested(ImportMatchSchema),
        required=True,
        metadata={"description": "The first 1,000 rows matched to existing merchants"},
    )
    error = ma.fields.String(allow_none=True, required=True, metadata={"description": "Why a failed import failed"})
    created_at = ma.fields.DateTime(required=True)
    started_at = ma.fields.DateTime(allow_none=True, required=True)
    finished_at = ma.fields.DateTime(allow_none=True, required=True)


# --- top brands ----------------------------------------------------------------------------------


class TopBrandsSchema(ma.Schema):
    brands = ma.fields.List(
        _text(200),
        required=True,
        validate=validate.Length(max=1000),
        metadata={"description": "Brand names (any script or spelling: matched on normalised names)"},
    )


# --- self-onboarding -----------------------------------------------------------------------------

_NO_CONTROL = validate.Regexp(r"^[^\x00-\x1f\x7f<>]*$", error="Must not contain control characters or < >.")


class OnboardingSchema(ma.Schema):
    tenant = ma.fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,63}$"),
        metadata={"description": "The business line's slug (the app or web form knows it)"},
    )
    business_name = ma.fields.String(required=True, validate=[validate.Length(min=2, max=100), _NO_CONTROL])
    contact_name = ma.fields.String(required=True, validate=[validate.Length(min=1, max=50), _NO_CONTROL])
    phone = ma.fields.String(required=True, validate=validate.Length(min=5, max=30))
    address = ma.fields.String(required=True, validate=[validate.Length(min=4, max=300), _NO_CONTROL])
    lat = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90))
    lng = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180))
    coord_sys = coord_sys_field()
    category = ma.fields.String(load_default="", validate=[validate.Length(max=100), _NO_CONTROL])

    @ma.pre_load
    def strip(self, data, **kwargs):
        return (
            _stripped(data, ("tenant", "business_name", "contact_name", "phone", "address", "category"))
            if isinstance(data, dict)
            else data
        )

    @ma.validates_schema
    def location_pair(self, data: dict, **kwargs) -> None:
        if (data.get("lat") is None) != (data.get("lng") is None):
            raise ma.ValidationError("Send both lat and lng, or neither.", "lat")


class OnboardingReceivedSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "received"})
    message = ma.fields.String(required=True)


# --- the audit queue -----------------------------------------------------------------------------


class AuditQueueQueryArgsSchema(ma.Schema):
    coord_sys = coord_sys_field()
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = ma.fields.String(load_default=None, validate=validate.Length(max=200))


class QueuedCorrectionSchema(CorrectionSchema):
    current = ma.fields.Dict(
        required=True,
        metadata={"description": "What the merchant has now for each queued field (before -> `changes` after)"},
    )


class PendingMerchantSchema(_MerchantBasicsSchema):
    kind = ma.fields.String(
        required=True,
        validate=validate.OneOf(["merchant", "correction"]),
        metadata={"description": "`merchant`: a new merchant to audit; `correction`: a correction of this one"},
    )
    correction = ma.fields.Nested(
        QueuedCorrectionSchema,
        allow_none=True,
        required=True,
        metadata={"description": "The correction to approve or reject (`correction_id` in the audit call)"},
    )
    source = ma.fields.String(required=True, metadata={"description": "`field`, `self_onboarding`, an import's source"})
    audit_flags = ma.fields.List(ma.fields.String(), required=True)
    self_onboarded = ma.fields.Boolean(required=True)
    candidates = ma.fields.List(
        ma.fields.Integer(),
        required=True,
        metadata={"description": "Ids of the possible duplicates shown to the BD who forced the creation"},
    )
    created_at = ma.fields.DateTime(required=True, metadata={"description": "When it entered the queue"})
    created_by = ma.fields.Nested(
        PersonRefSchema, allow_none=True, required=True, metadata={"description": "Who created or corrected it"}
    )


class AuditQueueSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PendingMerchantSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)
