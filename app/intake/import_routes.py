"""Bulk merchant imports and the tenant's top-brand list (ops)."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from app.api import Blueprint
from app.auth.security import authenticated, current_tenant, current_user
from app.errors import (
    BadEncoding,
    BadFile,
    EmptyFile,
    ImportNotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from app.intake import imports
from app.intake.examples import IMPORT_EXAMPLE, TOP_BRANDS_EXAMPLE
from app.intake.schemas import ImportFormSchema, ImportStatusSchema, TopBrandsSchema
from app.intake.topbrands import set_top_brands, top_brands
from app.org.models import Role
from geo.coords import CoordSys

blp = Blueprint("imports", __name__, url_prefix="/api/v1", description="Bulk merchant imports (ops)")

FILE_ERRORS = (
    PayloadTooLarge,
    (ValidationFailed, "no `file` part, or a form field is invalid (e.g. `mapping` is not a JSON object)"),
    EmptyFile,
    BadEncoding,
    BadFile,
)


@blp.route("/imports")
class Imports(MethodView):
    @authenticated(blp, Role.OPS, Role.ADMIN, errors=FILE_ERRORS)
    @blp.arguments(ImportFormSchema, location="files")
    @blp.response(
        202,
        ImportStatusSchema,
        example=IMPORT_EXAMPLE,
        headers={"Location": {"description": "Where to poll the import's progress", "schema": {"type": "string"}}},
    )
    def post(self, form):
        """Upload a CSV or GeoJSON of merchants (multipart); the rows load in the background."""
        upload = form["file"]
        record = imports.start_import(
            current_user(),
            upload.read(imports.max_bytes() + 1),
            filename=upload.filename or "",
            source=form["source"],
            coord_sys=CoordSys(form["coord_sys"]),
            mapping=imports.parse_mapping(form.get("mapping")),
            file_format=form.get("format"),
        )
        return imports.status(record), 202, {"Location": url_for("imports.ImportItem", import_id=record.id)}


@blp.route("/imports/<id:import_id>")
class ImportItem(MethodView):
    @authenticated(blp, Role.OPS, Role.ADMIN, errors=(ImportNotFound,))
    @blp.response(200, ImportStatusSchema, example=IMPORT_EXAMPLE)
    def get(self, import_id):
        """An import's progress (rows done of total), counts, rejected rows and matches."""
        return imports.status(imports.get_import(import_id))


@blp.route("/brands/top300")
class TopBrands(MethodView):
    @authenticated(blp, Role.OPS, Role.ADMIN)
    @blp.response(200, TopBrandsSchema, example=TOP_BRANDS_EXAMPLE)
    def get(self):
        """The business line's top brands (merchants of these brands get the `top300` tag)."""
        return {"brands": top_brands(current_tenant())}

    @authenticated(blp, Role.OPS, Role.ADMIN, errors=((ValidationFailed, "more than 1,000 brands, or a blank one"),))
    @blp.arguments(TopBrandsSchema, example=TOP_BRANDS_EXAMPLE)
    @blp.response(200, TopBrandsSchema, example=TOP_BRANDS_EXAMPLE)
    def put(self, fields):
        """Replace the top-brand list; tags are recomputed in the background."""
        return {"brands": set_top_brands(current_tenant(), fields["brands"])}
