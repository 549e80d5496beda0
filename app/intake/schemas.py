"""Request and response schemas for lead intake: field creation, audit, imports, onboarding, tags."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.merchants.schemas import _coord_sys_field

ID = validate.Range(min=1, max=2**63 - 1)


def _text(max_length: int, **kwargs):  # noqa: ANN003, ANN202
    return ma.fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


def _stripped(data: dict, names: tuple[str, ...]) -> dict:
    return {**data, **{n: data[n].strip() for n in names if isinstance(data.get(n), str)}}


class MerchantCreateSchema(ma.Schema):
    name = _text(300, required=True)
    lat = ma.fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lng = ma.fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    coord_sys = _coord_sys_field()
    category = ma.fields.String(load_default="", validate=validate.Length(max=300))
    phone = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100), metadata={
        "description": "One or more numbers separated by `;`, any format; checked against the tenant's phone region"})
    address = ma.fields.String(load_default="", validate=validate.Length(max=500))
    photo_ids = ma.fields.List(ma.fields.UUID(), load_default=list, validate=validate.Length(max=9), metadata={
        "description": "Ids from `POST /uploads`"})
    force = ma.fields.Boolean(load_default=False, metadata={
        "description": "Create even though `POSSIBLE_DUPLICATE` listed candidates (the merchant is flagged for audit)"})

    @ma.pre_load
    def strip(self, data, **kwargs):  # noqa: ANN001, ANN201
        return _stripped(data, ("name", "phone", "address", "category")) if isinstance(data, dict) else data

    @ma.validates("name")
    def name_not_blank(self, value: str, **kwargs) -> None:  # noqa: ANN003
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
    similarity = ma.fields.Float(required=True, metadata={
        "description": "Trigram similarity of the normalised names, 0..1"})
    phone_match = ma.fields.Boolean(required=True, metadata={"description": "Shares a store phone number"})


class MerchantCreatedSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    phone = ma.fields.String(allow_none=True, required=True)
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)
    coord_sys = ma.fields.String(required=True)
    audit_status = ma.fields.String(required=True, validate=validate.OneOf(
        ["approved", "pending_audit", "rejected", "merged"]))
    audit_flags = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "`possible_duplicate` when created with force over candidates"})
    merged_into_id = ma.fields.Integer(allow_none=True, required=True)
    self_onboarded = ma.fields.Boolean(required=True)
    duplicate_candidates = ma.fields.List(ma.fields.Nested(CandidateSchema), required=True)


class AuditSchema(ma.Schema):
    action = ma.fields.String(required=True, validate=validate.OneOf(["approve", "reject", "merge"]))
    into_id = ma.fields.Integer(load_default=None, allow_none=True, validate=ID, metadata={
        "description": "The surviving merchant (merge only)"})
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500), metadata={
        "description": "Shown to the BD who created the merchant"})
    coord_sys = _coord_sys_field()


class AuditResultSchema(MerchantCreatedSchema):
    action = ma.fields.String(required=True)
    audited_id = ma.fields.Integer(required=True, metadata={
        "description": "The merchant audited; after a merge the body describes the survivor"})
