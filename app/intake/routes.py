"""Lead intake over HTTP: BDs add merchants found in the street, ops audit them."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint, ErrorSchema
from app.auth.security import authenticated, current_tenant, current_user
from app.errors import (
    CorrectionNotFound,
    InvalidAttributes,
    InvalidCursor,
    InvalidPhone,
    MerchantNotFound,
    MergeIntoSelf,
    MergeTargetNotFound,
    NotAllowedForLead,
    NothingToCorrect,
    NotPendingAudit,
    RateLimited,
    UnknownPhotos,
    ValidationFailed,
)
from app.intake import corrections, queries, service
from app.intake.examples import (
    AUDIT_EXAMPLE,
    AUDIT_QUEUE_CORRECTION,
    AUDIT_QUEUE_ITEM,
    CORRECTION_EXAMPLE,
    CORRECTION_RESULT_EXAMPLE,
    CREATE_EXAMPLE,
    CREATED_EXAMPLE,
    DUPLICATE_ERROR_EXAMPLE,
)
from app.intake.schemas import (
    AuditQueueQueryArgsSchema,
    AuditQueueSchema,
    AuditResultSchema,
    AuditSchema,
    CandidateSchema,
    CorrectionCreateSchema,
    CorrectionSchema,
    MerchantCreatedSchema,
    MerchantCreateSchema,
)
from app.org.models import Role

blp = Blueprint("intake", __name__, url_prefix="/api/v1/merchants", description="Lead intake: new merchants and audit")


class DuplicateErrorSchema(ErrorSchema):
    candidates = ma.fields.List(
        ma.fields.Nested(CandidateSchema),
        required=True,
        metadata={"description": "Strongest first: phone matches, then name similarity, then distance"},
    )


@blp.route("")
class Merchants(MethodView):
    @authenticated(
        blp,
        Role.BD,
        Role.MANAGER,
        Role.OPS,
        Role.ADMIN,
        errors=(
            *VALIDATION_ERRORS,
            InvalidPhone,
            UnknownPhotos,
            (RateLimited, "more possible-duplicate answers this hour than `DUPLICATE_ANSWERS_PER_HOUR` allows"),
        ),
    )
    @blp.arguments(MerchantCreateSchema, example=CREATE_EXAMPLE)
    @blp.alt_response(
        409,
        schema=DuplicateErrorSchema,
        examples={"POSSIBLE_DUPLICATE": {"summary": "POSSIBLE_DUPLICATE", "value": DUPLICATE_ERROR_EXAMPLE}},
        description=(
            "Conflict. `POSSIBLE_DUPLICATE`: similar merchants exist within 150 m, or one within 1 km shares a "
            "store phone (matches further away go to the ops audit queue only); "
            "show `candidates`, then open one or resend with `force: true`"
        ),
    )
    @blp.response(201, MerchantCreatedSchema, example=CREATED_EXAMPLE)
    def post(self, fields):
        """Add a merchant found in the street; checked for duplicates first, then pending audit."""
        return service.create_field_merchant(current_user(), current_tenant(), fields)


@blp.route("/<id:merchant_id>/corrections")
class Corrections(MethodView):
    @authenticated(
        blp,
        errors=(
            *VALIDATION_ERRORS,
            NothingToCorrect,
            InvalidPhone,
            InvalidAttributes,
            UnknownPhotos,
            MerchantNotFound,
            (
                NotAllowedForLead,
                "only the lead's owner, their managers, ops and admins may correct a private lead or a partner",
            ),
        ),
    )
    @blp.arguments(CorrectionCreateSchema, example=CORRECTION_EXAMPLE)
    @blp.response(201, CorrectionSchema, example=CORRECTION_RESULT_EXAMPLE)
    def post(self, fields, merchant_id):
        """Correct a merchant's data from the street: applied at once or queued for ops, by the tenant's rules."""
        return corrections.submit(current_user(), current_tenant(), merchant_id, fields)


@blp.route("/<id:merchant_id>/audit")
class Audit(MethodView):
    @authenticated(
        blp,
        Role.OPS,
        Role.ADMIN,
        errors=(
            *VALIDATION_ERRORS,
            MerchantNotFound,
            MergeTargetNotFound,
            CorrectionNotFound,
            NotPendingAudit,
            MergeIntoSelf,
        ),
    )
    @blp.arguments(AuditSchema, example={"action": "merge", "into_id": 1042, "note": "Same shop as 老王面馆"})
    @blp.response(200, AuditResultSchema, example=AUDIT_EXAMPLE)
    def post(self, fields, merchant_id):
        """Approve, reject, or merge a new merchant into an existing one; or approve or reject a correction (ops)."""
        if fields.get("correction_id") is not None:
            return corrections.audit(
                current_user(),
                merchant_id,
                fields["correction_id"],
                fields["action"],
                fields["coord_sys"],
                fields.get("note"),
            )
        return service.audit(
            current_user(),
            merchant_id,
            fields["action"],
            fields.get("into_id"),
            fields["coord_sys"],
            fields.get("note"),
        )


@blp.route("/audit-queue")
class AuditQueue(MethodView):
    @authenticated(
        blp,
        Role.OPS,
        Role.ADMIN,
        errors=(
            (ValidationFailed, "a query parameter is invalid"),
            InvalidCursor,
        ),
    )
    @blp.arguments(AuditQueueQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(
        200, AuditQueueSchema, example={"items": [AUDIT_QUEUE_ITEM, AUDIT_QUEUE_CORRECTION], "next_cursor": None}
    )
    def get(self, coord_sys, limit, cursor=None):
        """New merchants and merchant corrections waiting for audit, oldest first (ops)."""
        return queries.pending(current_tenant().id, coord_sys, limit, cursor)
