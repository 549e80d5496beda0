from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.schemas import ID, PersonRefSchema, coord_sys_field
from app.uploads.schemas import PhotoLinkSchema

RESULTS = ["interested", "not_interested", "follow_up", "signed_intent", "store_closed", "owner_absent", "other"]
# the check-in's own verification: any of these makes a visit unverified
POSITION_FLAGS = ["too_far", "low_accuracy", "mock_location", "impossible_speed", "clock_skew"]
# what the photos' EXIF says against the check-in: shown to managers, the visit stays verified
PHOTO_FLAGS = ["photo_far", "photo_stale"]
FLAGS = POSITION_FLAGS + PHOTO_FLAGS
FLAGS_DESCRIPTION = (
    "`too_far`, `low_accuracy`, `mock_location`, `impossible_speed`, `clock_skew` make the visit unverified; "
    "`photo_far` (a photo's EXIF GPS is farther than the tenant's `checkin.photo_max_distance_m`, 500 m, from the "
    "merchant) and `photo_stale` (taken more than `checkin.photo_max_age_hours`, 12 h, before the check-in) are "
    "evidence for the manager and do not"
)


class IdempotencyHeaderSchema(ma.Schema):
    idempotency_key = ma.fields.String(
        data_key="Idempotency-Key",
        required=True,
        validate=validate.Length(min=8, max=120),
        metadata={"description": "A UUID the app generates when the BD taps check-in, reused on every retry"},
    )


class FormAnswersSchema(ma.Schema):
    form = ma.fields.String(
        required=True, validate=validate.Length(min=1, max=40), metadata={"example": "competitor_observation"}
    )
    version = ma.fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=1_000_000),
        metadata={"description": "The version the app showed (from `GET /visit-forms`)"},
    )
    answers = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(max=40)),
        values=ma.fields.Raw(allow_none=True),
        required=True,
        metadata={
            "description": "Field key -> value: choice a string, multi_choice a list of strings, number a number, "
            "text a string, yes_no a boolean, date YYYY-MM-DD, photo a list of upload ids",
            "example": {"platform": "eleme", "online": True, "offer": "2-person set", "their_price": 59},
        },
    )


def form_answers_field(stage: str) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.Nested(FormAnswersSchema),
        load_default=list,
        validate=validate.Length(max=10),
        metadata={
            "description": f"Answers to visit forms at {stage.replace('_', '-')}; forms bound to every "
            f"{stage.replace('_', '-')} with required fields must be among them"
        },
    )


class StoredFormAnswersSchema(FormAnswersSchema):
    stage = ma.fields.String(required=True, validate=validate.OneOf(["check_in", "check_out"]))


class CheckInSchema(ma.Schema):
    merchant_id = ma.fields.Integer(required=True, validate=ID)
    lat = ma.fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lng = ma.fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    coord_sys = coord_sys_field()
    accuracy_m = ma.fields.Float(
        required=True,
        validate=validate.Range(min=0, max=100_000),
        metadata={"description": "The position's accuracy radius as the phone reports it"},
    )
    client_time = ma.fields.AwareDateTime(
        required=True,
        metadata={
            "description": "When the BD checked in, by the phone's clock (with timezone); orders offline check-ins"
        },
    )
    mock_location = ma.fields.Boolean(
        load_default=False, metadata={"description": "The phone's mock-location flag (Android `isMock`)"}
    )
    photo_ids = ma.fields.List(ma.fields.UUID(), load_default=list, validate=validate.Length(max=9))
    purpose = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    form_answers = form_answers_field("check_in")


class LeadClockSchema(ma.Schema):
    state = ma.fields.String(required=True)
    mine = ma.fields.Boolean(required=True)
    owner = ma.fields.Nested(
        PersonRefSchema, allow_none=True, load_default=None, metadata={"description": "Whose lead it is"}
    )
    drops_at = ma.fields.DateTime(
        allow_none=True,
        required=True,
        metadata={"description": "The lead's drop date after this visit (your own private leads only)"},
    )
    drop_reason = ma.fields.String(allow_none=True, required=True)


class CheckInResultSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    merchant_id = ma.fields.Integer(required=True)
    verified = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "No position flags (photo flags aside). Unverified visits are kept but do not keep a "
            "lead private"
        },
    )
    flags = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(FLAGS)), required=True, metadata={"description": FLAGS_DESCRIPTION}
    )
    distance_m = ma.fields.Float(required=True, metadata={"description": "Geodesic metres to the merchant"})
    offline = ma.fields.Boolean(
        required=True, metadata={"description": "It arrived minutes or hours after `client_time`"}
    )
    client_time = ma.fields.DateTime(required=True)
    lead = ma.fields.Nested(
        LeadClockSchema,
        allow_none=True,
        required=True,
        metadata={"description": "null when the merchant is in the public pool"},
    )


class CheckOutSchema(ma.Schema):
    lat = ma.fields.Float(validate=validate.Range(min=-90, max=90))
    lng = ma.fields.Float(validate=validate.Range(min=-180, max=180))
    coord_sys = coord_sys_field()
    result = ma.fields.String(required=True, validate=validate.OneOf(RESULTS))
    notes = ma.fields.String(load_default="", validate=validate.Length(max=4000))
    contact_ids = ma.fields.List(ma.fields.Integer(validate=ID), load_default=list, validate=validate.Length(max=20))
    next_visit_at = ma.fields.AwareDateTime(
        load_default=None, allow_none=True, metadata={"description": "Puts a reminder in the BD's to-do list"}
    )
    client_time = ma.fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "When the BD checked out by the phone's clock (default: now)"},
    )
    form_answers = form_answers_field("check_out")

    @ma.validates_schema
    def both_or_neither(self, data, **kwargs):
        if ("lat" in data) != ("lng" in data):
            raise ma.ValidationError("Send both lat and lng, or neither.", field_name="lat")


class VisitSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    merchant = ma.fields.Nested(PersonRefSchema, required=True)
    user = ma.fields.Nested(PersonRefSchema, required=True)
    client_time = ma.fields.DateTime(required=True)
    received_at = ma.fields.DateTime(required=True)
    lat = ma.fields.Float(required=True, metadata={"description": "WGS84"})
    lng = ma.fields.Float(required=True)
    accuracy_m = ma.fields.Float(allow_none=True, required=True)
    distance_m = ma.fields.Float(allow_none=True, required=True)
    verified = ma.fields.Boolean(required=True)
    flags = ma.fields.List(ma.fields.String(), required=True, metadata={"description": FLAGS_DESCRIPTION})
    offline = ma.fields.Boolean(required=True)
    purpose = ma.fields.String(allow_none=True, required=True)
    photo_ids = ma.fields.List(ma.fields.String(), required=True)
    photos = ma.fields.List(
        ma.fields.Nested(PhotoLinkSchema),
        required=True,
        metadata={"description": "The visit's photos as signed URLs (in `photo_ids` order)"},
    )
    checkout_at = ma.fields.DateTime(allow_none=True, required=True)
    duration_s = ma.fields.Integer(allow_none=True, required=True)
    result = ma.fields.String(allow_none=True, required=True)
    notes = ma.fields.String(required=True)
    contact_ids = ma.fields.List(ma.fields.Integer(), required=True)
    next_visit_at = ma.fields.DateTime(allow_none=True, required=True)
    form_answers = ma.fields.List(ma.fields.Nested(StoredFormAnswersSchema), required=True)


class VisitPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(VisitSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


class VisitQueryArgsSchema(ma.Schema):
    user_id = ma.fields.Integer(validate=ID)
    merchant_id = ma.fields.Integer(validate=ID)
    from_ = ma.fields.AwareDateTime(data_key="from", metadata={"description": "Inclusive, with timezone"})
    to = ma.fields.AwareDateTime(metadata={"description": "Exclusive, with timezone"})
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = ma.fields.String(validate=validate.Length(min=1, max=300))


class TeamDayQueryArgsSchema(ma.Schema):
    date = ma.fields.Date(load_default=None, metadata={"description": "A day in the tenant's timezone (default today)"})


class TrackSchema(ma.Schema):
    type = ma.fields.String(required=True, validate=validate.OneOf(["LineString", "Point"]))
    coordinates = ma.fields.Raw(required=True, metadata={"description": "GeoJSON [lng, lat] positions (WGS84)"})


class TeamVisitSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    merchant = ma.fields.Nested(PersonRefSchema, required=True)
    client_time = ma.fields.DateTime(required=True)
    verified = ma.fields.Boolean(required=True)
    flags = ma.fields.List(ma.fields.String(), required=True, metadata={"description": FLAGS_DESCRIPTION})
    distance_m = ma.fields.Float(allow_none=True, required=True)
    result = ma.fields.String(allow_none=True, required=True)
    photos = ma.fields.List(
        ma.fields.Nested(PhotoLinkSchema), required=True, metadata={"description": "Signed URLs, never the bytes"}
    )


class TeamFormAnswersSchema(StoredFormAnswersSchema):
    visit_id = ma.fields.Integer(required=True)
    merchant_id = ma.fields.Integer(required=True)


class TeamMemberSchema(ma.Schema):
    user = ma.fields.Nested(PersonRefSchema, required=True)
    total = ma.fields.Integer(required=True)
    verified = ma.fields.Integer(required=True)
    flags = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "How many of the day's visits carry each flag (`photo_far`, `too_far`...)"},
    )
    visits = ma.fields.List(
        ma.fields.Nested(TeamVisitSchema), required=True, metadata={"description": "The day's visits in time order"}
    )
    first_check_in = ma.fields.DateTime(allow_none=True, required=True)
    last_check_in = ma.fields.DateTime(allow_none=True, required=True)
    track = ma.fields.Nested(
        TrackSchema,
        allow_none=True,
        required=True,
        metadata={"description": "The day's check-ins in time order, as GeoJSON"},
    )
    form_answers = ma.fields.List(
        ma.fields.Nested(TeamFormAnswersSchema),
        required=True,
        metadata={"description": "The visit-form answers of the day's visits, in time order"},
    )
    calls = ma.fields.Integer(required=True, metadata={"description": "Calls logged that day (not visits)"})
    messages = ma.fields.Integer(required=True, metadata={"description": "Messages logged that day"})


class TeamDaySchema(ma.Schema):
    date = ma.fields.String(required=True)
    timezone = ma.fields.String(required=True)
    members = ma.fields.List(ma.fields.Nested(TeamMemberSchema), required=True)


class PlanStartSchema(ma.Schema):
    lat = ma.fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lng = ma.fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    coord_sys = ma.fields.String(load_default="wgs84", validate=validate.OneOf(["wgs84", "gcj02", "bd09"]))


class PlanCreateSchema(ma.Schema):
    date = ma.fields.Date(required=True)
    start = ma.fields.Nested(PlanStartSchema, required=True)
    merchant_ids = ma.fields.List(
        ma.fields.Integer(validate=ID), required=True, validate=validate.Length(min=1, max=100)
    )


class PlanQueryArgsSchema(ma.Schema):
    coord_sys = coord_sys_field()


class PlanMerchantSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)


class PlanStopSchema(ma.Schema):
    order = ma.fields.Integer(required=True)
    merchant = ma.fields.Nested(PlanMerchantSchema, required=True)
    leg_m = ma.fields.Float(required=True, metadata={"description": "Walking distance from the previous stop"})
    visited = ma.fields.Boolean(required=True, metadata={"description": "A verified visit by you that day"})


class PlanPointSchema(ma.Schema):
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)


class PlanSchema(ma.Schema):
    date = ma.fields.String(required=True)
    coord_sys = ma.fields.String(required=True)
    start = ma.fields.Nested(PlanPointSchema, required=True)
    total_m = ma.fields.Float(required=True)
    stops = ma.fields.List(ma.fields.Nested(PlanStopSchema), required=True)
    visited = ma.fields.Integer(required=True)
    remaining = ma.fields.Integer(required=True)


class VisitFormFieldOutSchema(ma.Schema):
    key = ma.fields.String(required=True)
    label = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    required = ma.fields.Boolean(required=True)
    options = ma.fields.List(ma.fields.String())
    unit = ma.fields.String()
    min = ma.fields.Float()
    max = ma.fields.Float()
    max_length = ma.fields.Integer()
    max_photos = ma.fields.Integer()
    show_if = ma.fields.Dict(metadata={"description": "`{field, equals?}`: shown only when that field is so answered"})


class VisitFormOutSchema(ma.Schema):
    key = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    bind = ma.fields.String(required=True)
    built_in = ma.fields.Boolean(load_default=False)
    fields_ = ma.fields.List(
        ma.fields.Nested(VisitFormFieldOutSchema), required=True, data_key="fields", attribute="fields"
    )


class VisitFormsSchema(ma.Schema):
    forms = ma.fields.List(ma.fields.Nested(VisitFormOutSchema), required=True)
