"""Bulk merchant import from CSV: validate every row, COPY the good ones, upsert by source id.

Re-importing a file updates rows in place (keyed by ``source`` + ``source_id``; rows without a
``source_id`` get one derived from name and position), so importing twice changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from psycopg.types.json import Jsonb
from sqlalchemy import text

from app import db
from geo.coords import CoordSys, to_wgs84

REQUIRED = ("name", "lat")
KNOWN = {"name", "lat", "lon", "lng", "category", "phone", "address", "source_id", "city", "brand", "tags"}
MAX_REJECTS_KEPT = 1000
COPY_COLUMNS = ("line", "name", "category", "address", "city", "phone", "brand", "tags", "lat", "lng", "source_id",
                "attributes")


@dataclass
class ImportReport:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    rejected_count: int = 0

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def reject(self, line: int, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REJECTS_KEPT:
            self.rejected.append((line, reason))


class BadFile(ValueError):
    """The file as a whole cannot be imported (no header, missing required columns)."""


def _coordinate_problem(lat_raw: str | None, lng_raw: str | None) -> str | None:
    if not (lat_raw or "").strip() or not (lng_raw or "").strip():
        return "lat/lon is missing"
    try:
        lat, lng = float(lat_raw), float(lng_raw)
    except ValueError:
        return "lat/lon is not a number"
    if not (math.isfinite(lat) and math.isfinite(lng)):
        return "lat/lon is not a finite number"
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return "lat/lon is out of range"
    if lat == 0 and lng == 0:
        return "lat/lon is 0,0 (no position)"
    return None


def _clean(value: str | None, limit: int) -> str:
    return (value or "").strip()[:limit]


def parse_rows(
    stream: IO[str], report: ImportReport, coord_sys: CoordSys = CoordSys.WGS84
) -> Iterator[tuple[Any, ...]]:
    """Yield one COPY tuple per valid row; record every invalid row in ``report`` with its line number."""
    reader = csv.DictReader(stream)
    if not reader.fieldnames:
        raise BadFile("the file is empty")
    header = {name: (name or "").strip().lower() for name in reader.fieldnames}
    columns = set(header.values())
    lng_column = "lng" if "lng" in columns else "lon"
    missing = [c for c in (*REQUIRED, lng_column) if c not in columns]
    if missing:
        raise BadFile(f"missing required column(s): {', '.join(missing)} (need name, lat and lon or lng)")
    seen_ids: set[str] = set()
    for row in reader:
        report.rows += 1
        line = reader.line_num
        record = {header[k]: v for k, v in row.items() if k is not None}
        if None in row:
            report.reject(line, "more fields than the header has")
            continue
        name = _clean(record.get("name"), 300)
        if not name:
            report.reject(line, "name is empty")
            continue
        problem = _coordinate_problem(record.get("lat"), record.get(lng_column))
        if problem:
            report.reject(line, problem)
            continue
        lat, lng = to_wgs84(float(record["lat"]), float(record[lng_column]), coord_sys)
        source_id = _clean(record.get("source_id"), 120) or _derived_id(name, lat, lng)
        if source_id in seen_ids:
            report.reject(line, f"duplicate source_id {source_id!r} in this file")
            continue
        seen_ids.add(source_id)
        tags = [t.strip()[:64] for t in (record.get("tags") or "").split(";") if t.strip()]
        attributes = {k: v for k, v in record.items() if k not in KNOWN and v not in (None, "")}
        yield (
            line,
            name,
            _clean(record.get("category"), 300),
            _clean(record.get("address"), 500),
            _clean(record.get("city"), 100),
            _clean(record.get("phone"), 100) or None,
            _clean(record.get("brand"), 200) or None,
            tags,
            lat,
            lng,
            source_id,
            Jsonb(attributes),
        )


def _derived_id(name: str, lat: float, lng: float) -> str:
    # ~1 m precision: the same row re-imported maps to the same merchant
    digest = hashlib.sha1(f"{name}|{lat:.5f}|{lng:.5f}".encode()).hexdigest()[:20]
    return f"h:{digest}"


UPSERT = text(
    """
    WITH upserted AS (
        INSERT INTO merchants (tenant_id, name, category, address, city, phone, brand, tags, location, source,
                               source_id, attributes, created_by_id)
        SELECT :tenant_id, name, category, address, city, phone, brand, tags,
               ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography, :source, source_id, attributes, :created_by
        FROM merchant_import
        ORDER BY line
        ON CONFLICT (tenant_id, source, source_id) WHERE source_id IS NOT NULL DO UPDATE SET
            name = EXCLUDED.name, category = EXCLUDED.category, address = EXCLUDED.address, city = EXCLUDED.city,
            phone = EXCLUDED.phone, brand = EXCLUDED.brand, tags = EXCLUDED.tags, location = EXCLUDED.location,
            attributes = EXCLUDED.attributes, updated_at = now()
        WHERE (merchants.name, merchants.category, merchants.address, merchants.city, merchants.phone,
               merchants.brand, merchants.tags, merchants.attributes, merchants.location::geometry)
              IS DISTINCT FROM
              (EXCLUDED.name, EXCLUDED.category, EXCLUDED.address, EXCLUDED.city, EXCLUDED.phone,
               EXCLUDED.brand, EXCLUDED.tags, EXCLUDED.attributes, EXCLUDED.location::geometry)
        RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
    """
)


def import_csv(
    stream: IO[str] | Iterable[str],
    tenant_id: int,
    *,
    source: str = "import",
    coord_sys: CoordSys = CoordSys.WGS84,
    created_by_id: int | None = None,
) -> ImportReport:
    """Load a merchant CSV into one tenant inside the caller's transaction (the caller commits)."""
    report = ImportReport()
    if not hasattr(stream, "read"):
        stream = io.StringIO("".join(stream))
    session = db.session()
    connection = session.connection()
    connection.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS merchant_import (line int, name text, category text, address text, "
        "city text, phone text, brand text, tags varchar(64)[], lat float8, lng float8, source_id text, "
        "attributes jsonb) ON COMMIT DROP"
    )
    connection.exec_driver_sql("TRUNCATE merchant_import")
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY merchant_import ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
        for record in parse_rows(stream, report, coord_sys):
            copy.write_row(record)
    inserted, updated = connection.execute(
        UPSERT, {"tenant_id": tenant_id, "source": source, "created_by": created_by_id}
    ).one()
    report.inserted, report.updated = inserted, updated
    report.unchanged = report.rows - report.rejected_count - inserted - updated
    connection.exec_driver_sql("DROP TABLE merchant_import")
    return report
