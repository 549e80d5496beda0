"""Schema pieces every domain's schemas share: id fields, the coordinate system, a person reference."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.converters import MAX_BIGINT
from geo.coords import CoordSys

# A row id in a body or a query: PostgreSQL bigint, positive.
ID = validate.Range(min=1, max=MAX_BIGINT)


def coord_sys_field() -> ma.fields.Enum:
    return ma.fields.Enum(
        CoordSys,
        by_value=True,
        load_default=CoordSys.WGS84,
        metadata={
            "description": "Coordinate system of `lat`/`lng` in the request and in the response. "
            "Amap/Tencent SDKs report `gcj02`, Baidu `bd09`, GPS `wgs84`."
        },
    )


class PersonRefSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class PageQueryArgsSchema(ma.Schema):
    """``limit`` and ``cursor`` of a paged list (the ``Cursor`` parameter component in the spec)."""

    limit = ma.fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = ma.fields.String(validate=validate.Length(min=1, max=1024))


class PageSchema(ma.Schema):
    """A page: ``items`` of the list's type, and ``next_cursor`` (``null`` on the last page)."""

    next_cursor = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "Send as `cursor` for the next page; null: last page"}
    )
    total = ma.fields.Integer(required=True, metadata={"description": "Rows matching the filters, on every page"})
