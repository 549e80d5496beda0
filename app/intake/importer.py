"""Bulk merchant import from CSV: validate every row, COPY the good ones, upsert by source id.

Re-importing a file updates rows in place (keyed by ``source`` + ``source_id``; rows without a
``source_id`` get one derived from name and position), so importing twice changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import IO, Any

from psycopg.types.json import Jsonb
from sqlalchemy import text

from app import db
from app.intake import dedup
from app.intake.normalize import branch_key, name_key, phone_keys
from app.intake.tags import AUTO_TAGS
from app.tabular import MAX_REJECTS_KEPT, ImportReport, UnreadableFile
from geo.coords import CoordSys, to_wgs84

REQUIRED = ("name", "lat")
KNOWN = {"name", "lat", "lon", "lng", "category", "phone", "address", "source_id", "city", "brand", "tags"}
COPY_COLUMNS = (
    "line",
    "name",
    "name_key",
    "branch_key",
    "phone_keys",
    "phone_normalized",
    "category",
    "address",
    "city",
    "phone",
    "brand",
    "tags",
    "lat",
    "lng",
    "source_id",
    "attributes",
)


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


MAPPABLE = ("name", "lat", "lng", "category", "phone", "address", "source_id", "city", "brand", "tags")


def _apply_mapping(columns: list[str], mapping: dict[str, str] | None) -> dict[str, str]:
    """The file's column -> our column: the file's own names (lower-cased), renamed by ``mapping``
    (our column -> the file's column)."""
    header = {name: (name or "").strip().lower() for name in columns}
    for ours, theirs in (mapping or {}).items():
        matches = [name for name in columns if name == theirs or (name or "").strip().lower() == theirs.strip().lower()]
        if not matches:
            raise UnreadableFile(f"mapped column {theirs!r} (for {ours}) is not in the file")
        for name, renamed in list(header.items()):
            if renamed == ours and name not in matches:
                header[name] = f"_unmapped_{renamed}"  # a mapped column wins over a same-named one
        header[matches[0]] = ours
    return header


def csv_records(
    stream: IO[str], report: ImportReport, mapping: dict[str, str] | None = None
) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line, record with our column names) per row; record is None for a row already rejected."""
    reader = csv.DictReader(stream)
    if not reader.fieldnames:
        raise UnreadableFile("the file is empty")
    header = _apply_mapping(list(reader.fieldnames), mapping)
    _check_columns(set(header.values()))
    for row in reader:
        report.rows += 1
        if None in row:
            report.reject(reader.line_num, "more fields than the header has")
            yield reader.line_num, None
            continue
        yield reader.line_num, {header[k]: v for k, v in row.items() if k is not None}


def geojson_records(
    data: bytes, report: ImportReport, mapping: dict[str, str] | None = None
) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(feature number, record) per feature of a FeatureCollection of Points (properties + coordinates)."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableFile(f"the file is not valid GeoJSON: {exc}") from exc
    if (
        not isinstance(document, dict)
        or document.get("type") != "FeatureCollection"
        or not isinstance(document.get("features"), list)
    ):
        raise UnreadableFile("the GeoJSON is not a FeatureCollection")
    keys = sorted(
        {
            k
            for f in document["features"]
            if isinstance(f, dict)
            for k in (f.get("properties") or {})
            if isinstance(k, str)
        }
    )
    header = _apply_mapping(keys, mapping)
    for number, feature in enumerate(document["features"], start=1):
        report.rows += 1
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if (
            not isinstance(geometry, dict)
            or geometry.get("type") != "Point"
            or not isinstance(geometry.get("coordinates"), list)
            or len(geometry["coordinates"]) < 2
        ):
            report.reject(number, "the feature's geometry is not a Point")
            yield number, None
            continue
        properties = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
        record = {header.get(k, k): ("" if v is None else str(v)) for k, v in properties.items()}
        record["lng"], record["lat"] = (str(c) for c in geometry["coordinates"][:2])
        yield number, record


def _check_columns(columns: set[str]) -> None:
    missing = [c for c in REQUIRED if c not in columns]
    if "lng" not in columns and "lon" not in columns:
        missing.append("lon or lng")
    if missing:
        raise UnreadableFile(f"missing required column(s): {', '.join(missing)} (need name, lat and lon or lng)")


def parse_rows(
    stream: IO[str],
    report: ImportReport,
    coord_sys: CoordSys = CoordSys.WGS84,
    *,
    phone_region: str = "CN",
    mapping: dict[str, str] | None = None,
    records: Iterator[tuple[int, dict[str, Any] | None]] | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Yield one COPY tuple per valid row; record every invalid row in ``report`` with its line number."""
    seen_ids: set[str] = set()
    for line, record in records if records is not None else csv_records(stream, report, mapping):
        if record is None:
            continue
        lng_column = "lng" if (record.get("lng") or "").strip() or "lon" not in record else "lon"
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
        tags = sorted({t.strip()[:64] for t in (record.get("tags") or "").split(";") if t.strip()})
        attributes = {
            k: v for k, v in record.items() if k not in KNOWN and not k.startswith("_unmapped_") and v not in (None, "")
        }
        phone = _clean(record.get("phone"), 100) or None
        keys = phone_keys(phone, phone_region)
        yield (
            line,
            name,
            name_key(name),
            branch_key(name),
            keys,
            keys[0] if keys else None,
            _clean(record.get("category"), 300),
            _clean(record.get("address"), 500),
            _clean(record.get("city"), 100),
            phone,
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


TEMP_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS merchant_import (line int, name text, name_key text, branch_key text, "
    "phone_keys varchar(20)[], phone_normalized text, category text, address text, city text, phone text, "
    "brand text, tags varchar(64)[], "
    "lat float8, lng float8, source_id text, attributes jsonb, own boolean NOT NULL DEFAULT false, "
    "target_id bigint, matched boolean NOT NULL DEFAULT false, similarity real, distance_m float8) ON COMMIT DROP"
)

# Which rows are already ours (this source's id on a merchant), which were matched to another merchant by
# an earlier import or a merge (merchant_source_ids), and which look like a merchant already there.
RESOLVE = [
    text("""UPDATE merchant_import i SET own = true FROM merchants m
            WHERE m.tenant_id = :tenant_id AND m.source = :source AND m.source_id = i.source_id"""),
    text("""UPDATE merchant_import i SET target_id = l.merchant_id FROM merchant_source_ids l
            WHERE NOT i.own AND l.tenant_id = :tenant_id AND l.source = :source AND l.source_id = i.source_id"""),
    # Matched only against merchants that existed before this import: rows of one file are the source's
    # own business (distinct ids), and the outcome must not depend on the order of chunks.
    text("""UPDATE merchant_import i SET target_id = c.id, matched = true, similarity = c.similarity,
                   distance_m = c.distance_m
            FROM merchant_import j CROSS JOIN LATERAL (
                SELECT m.id, similarity(m.name_key, j.name_key) AS similarity,
                       ST_Distance(m.location, ST_SetSRID(ST_MakePoint(j.lng, j.lat), 4326)::geography) AS distance_m
                FROM merchants m
                -- "+ 0": not a primary-key range to walk (the planner's pick when this tenant's rows have
                -- no statistics yet, 6 s a chunk) but a filter on what the GiST index finds near the row
                WHERE m.tenant_id = :tenant_id AND m.id + 0 <= :watermark
                  AND m.audit_status NOT IN ('rejected', 'merged')
                  AND ST_DWithin(m.location, ST_SetSRID(ST_MakePoint(j.lng, j.lat), 4326)::geography, :radius_m)
                  AND ((similarity(m.name_key, j.name_key) >= :threshold
                        AND NOT (m.branch_key <> '' AND j.branch_key <> '' AND strpos(m.branch_key, j.branch_key) = 0
                                 AND strpos(j.branch_key, m.branch_key) = 0))
                       OR m.phone_keys && j.phone_keys)
                ORDER BY m.phone_keys && j.phone_keys DESC, 2 DESC, 3
                LIMIT 1) c
            WHERE i.line = j.line AND NOT j.own AND j.target_id IS NULL"""),
]
MATCH_EXISTING = RESOLVE[2]

LINK = text(
    """
    INSERT INTO merchant_source_ids (tenant_id, source, source_id, merchant_id)
    SELECT :tenant_id, :source, source_id, target_id FROM merchant_import WHERE matched
    ON CONFLICT (tenant_id, source, source_id) DO NOTHING
    """
)


# Provenance per field: a field a person set (``merchants.corrected_fields``, see app/merchants/history.py)
# is never overwritten by an import; ``KEPT`` counts the values an import would have changed but kept.
def _unless_corrected(field: str, kept: str, imported: str) -> str:
    return f"CASE WHEN m.corrected_fields ? '{field}' THEN {kept} ELSE {imported} END"


# One history row per field an import changed (merchant_changes), from the rows before (``old``) and after.
_HISTORY_FIELDS = ("name", "category", "address", "city", "phone", "brand")


def _history(changed: str, fields: tuple[str, ...], *, with_position: bool) -> str:
    values = [f"('{f}', to_jsonb(o.{f}), to_jsonb(u.{f}))" for f in fields]
    if with_position:
        values.append(
            "('position', jsonb_build_object('lat', o.lat, 'lng', o.lng), "
            "jsonb_build_object('lat', u.lat, 'lng', u.lng))"
        )
    return f"""
    logged AS (
        INSERT INTO merchant_changes (tenant_id, merchant_id, field, before, after, source, actor_id, details)
        SELECT :tenant_id, u.id, v.field, v.before, v.after, 'import', CAST(:created_by AS bigint),
               jsonb_build_object('source', CAST(:source AS text))
        FROM {changed} u JOIN old o ON o.id = u.id
        CROSS JOIN LATERAL (VALUES {", ".join(values)}) v(field, before, after)
        WHERE v.before IS DISTINCT FROM v.after
        RETURNING 1
    )"""


# A matched merchant keeps what it has: the import only fills its gaps (never one a person emptied).
FILL = text(
    f"""
    WITH old AS (
        SELECT m.id, m.phone, m.address, m.category, m.city, m.brand FROM merchants m
        WHERE m.tenant_id = :tenant_id AND m.id IN (SELECT target_id FROM merchant_import WHERE target_id IS NOT NULL)
    ),
    filled AS (
        UPDATE merchants m SET
            phone = {_unless_corrected("phone", "m.phone", "coalesce(nullif(m.phone, ''), i.phone)")},
            address = {_unless_corrected("address", "m.address", "coalesce(nullif(m.address, ''), i.address)")},
            category = {_unless_corrected("category", "m.category", "coalesce(nullif(m.category, ''), i.category)")},
            city = coalesce(nullif(m.city, ''), i.city),
            brand = {_unless_corrected("brand", "m.brand", "coalesce(m.brand, i.brand)")},
            phone_keys = CASE WHEN coalesce(m.phone, '') = '' AND NOT m.corrected_fields ? 'phone' THEN i.phone_keys
                              ELSE m.phone_keys END,
            phone_normalized = CASE WHEN coalesce(m.phone, '') = '' AND NOT m.corrected_fields ? 'phone'
                                    THEN i.phone_normalized ELSE m.phone_normalized END,
            detail_version = m.detail_version + 1, updated_at = now()
        FROM (SELECT DISTINCT ON (target_id) * FROM merchant_import WHERE target_id IS NOT NULL
              ORDER BY target_id, line) i
        WHERE m.id = i.target_id AND m.tenant_id = :tenant_id
          AND ((coalesce(m.phone, '') = '' AND i.phone IS NOT NULL AND NOT m.corrected_fields ? 'phone')
               OR (m.address = '' AND i.address <> '' AND NOT m.corrected_fields ? 'address')
               OR (m.category = '' AND i.category <> '' AND NOT m.corrected_fields ? 'category')
               OR (m.city = '' AND i.city <> '')
               OR (m.brand IS NULL AND i.brand IS NOT NULL AND NOT m.corrected_fields ? 'brand'))
        RETURNING m.id, m.phone, m.address, m.category, m.city, m.brand
    ),
    {_history("filled", ("phone", "address", "category", "city", "brand"), with_position=False)}
    SELECT count(*) FROM merchant_import WHERE target_id IN (SELECT id FROM filled)
    """
)

KEPT = text(
    """
    SELECT
      (SELECT count(*)
       FROM merchant_import i
       JOIN merchants m ON m.tenant_id = :tenant_id AND m.source = :source AND m.source_id = i.source_id
       CROSS JOIN LATERAL (VALUES
           ('name', m.name IS DISTINCT FROM i.name), ('phone', m.phone IS DISTINCT FROM i.phone),
           ('category', m.category IS DISTINCT FROM i.category), ('address', m.address IS DISTINCT FROM i.address),
           ('brand', m.brand IS DISTINCT FROM i.brand),
           ('position', NOT ST_DWithin(m.location, ST_SetSRID(ST_MakePoint(i.lng, i.lat), 4326)::geography, 0.5))
       ) v(field, differs)
       WHERE i.target_id IS NULL AND v.differs AND m.corrected_fields ? v.field)
      +
      (SELECT count(*)
       FROM merchant_import i
       JOIN merchants m ON m.tenant_id = :tenant_id AND m.source = :source AND m.source_id = i.source_id
       CROSS JOIN LATERAL jsonb_each(m.attributes) e
       WHERE i.target_id IS NULL AND m.corrected_fields ? ('attributes.' || e.key)
         AND i.attributes ? e.key AND (i.attributes -> e.key) IS DISTINCT FROM e.value)
      +
      (SELECT count(*)
       FROM (SELECT DISTINCT ON (target_id) * FROM merchant_import WHERE target_id IS NOT NULL
             ORDER BY target_id, line) i
       JOIN merchants m ON m.id = i.target_id AND m.tenant_id = :tenant_id
       CROSS JOIN LATERAL (VALUES
           ('phone', coalesce(m.phone, '') = '' AND i.phone IS NOT NULL),
           ('address', m.address = '' AND i.address <> ''), ('category', m.category = '' AND i.category <> ''),
           ('brand', m.brand IS NULL AND i.brand IS NOT NULL)
       ) v(field, fills)
       WHERE v.fills AND m.corrected_fields ? v.field)
    """
)

# The file's tags plus the computed ones the merchant has (app/intake/tags.py owns those): a re-import
# neither drops them nor counts as a change.
_KEPT_TAGS = """ARRAY(SELECT DISTINCT t FROM unnest(EXCLUDED.tags || ARRAY(
                   SELECT unnest(merchants.tags) INTERSECT SELECT unnest(CAST(:auto_tags AS varchar(64)[])))) t
                   ORDER BY t)::varchar(64)[]"""


def _effective(column: str, field: str) -> str:
    """The value an upsert writes: the person's value for a corrected field, else the file's."""
    return f"CASE WHEN merchants.corrected_fields ? '{field}' THEN merchants.{column} ELSE EXCLUDED.{column} END"


_UPSERTED = {
    "name": _effective("name", "name"),
    "name_key": _effective("name_key", "name"),
    "branch_key": _effective("branch_key", "name"),
    "phone_keys": _effective("phone_keys", "phone"),
    "phone_normalized": _effective("phone_normalized", "phone"),
    "category": _effective("category", "category"),
    "address": _effective("address", "address"),
    "city": "EXCLUDED.city",
    "phone": _effective("phone", "phone"),
    "brand": _effective("brand", "brand"),
    "tags": _KEPT_TAGS,
    "location": _effective("location", "position"),
    # custom attributes a person set stay; the file's other columns replace the rest
    "attributes": """EXCLUDED.attributes || coalesce((SELECT jsonb_object_agg(e.key, e.value)
                     FROM jsonb_each(merchants.attributes) e
                     WHERE merchants.corrected_fields ? ('attributes.' || e.key)), '{}'::jsonb)""",
}
_COMPARED = tuple(column for column in _UPSERTED if column != "location")

UPSERT = text(
    f"""
    WITH old AS (
        SELECT m.id, m.name, m.category, m.address, m.city, m.phone, m.brand,
               ST_Y(m.location::geometry) AS lat, ST_X(m.location::geometry) AS lng
        FROM merchants m JOIN merchant_import i
          ON m.tenant_id = :tenant_id AND m.source = :source AND m.source_id = i.source_id
        WHERE i.target_id IS NULL
    ),
    upserted AS (
        INSERT INTO merchants (tenant_id, name, name_key, branch_key, phone_keys, phone_normalized, category, address,
                               city, phone, brand, tags, location, source, source_id, attributes, created_by_id)
        SELECT :tenant_id, name, name_key, branch_key, phone_keys, phone_normalized, category, address, city, phone,
               brand, tags, ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography, :source, source_id, attributes,
               :created_by
        FROM merchant_import
        WHERE target_id IS NULL
        ORDER BY line
        ON CONFLICT (tenant_id, source, source_id) WHERE source_id IS NOT NULL DO UPDATE SET
            {", ".join(f"{column} = {value}" for column, value in _UPSERTED.items())},
            detail_version = merchants.detail_version + 1, updated_at = now()
        WHERE ({", ".join(f"merchants.{column}" for column in _COMPARED)}, merchants.location::geometry)
              IS DISTINCT FROM
              ({", ".join(_UPSERTED[column] for column in _COMPARED)}, ({_UPSERTED["location"]})::geometry)
        RETURNING merchants.id, (xmax = 0) AS inserted, merchants.name, merchants.category, merchants.address,
                  merchants.city, merchants.phone, merchants.brand,
                  ST_Y(merchants.location::geometry) AS lat, ST_X(merchants.location::geometry) AS lng
    ),
    {_history("upserted", _HISTORY_FIELDS, with_position=True)}
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
    """
)

MATCHES = text(
    """
    SELECT line, target_id, similarity, distance_m FROM merchant_import WHERE matched ORDER BY line LIMIT :n
    """
)

DEFAULT_CHUNK_ROWS = 5000


def import_merchants(
    stream: IO[str] | IO[bytes] | bytes | Iterable[str],
    tenant_id: int,
    *,
    source: str = "import",
    coord_sys: CoordSys = CoordSys.WGS84,
    created_by_id: int | None = None,
    phone_region: str | None = None,
    mapping: dict[str, str] | None = None,
    file_format: str = "csv",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_chunk: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Load merchants (CSV text, or GeoJSON bytes) into one tenant, ``chunk_rows`` rows per statement batch.

    Rows whose (source, source_id) is known update their merchant; other rows that look like a merchant
    already in the tenant (``app.intake.dedup``'s rule within 150 m) fill that merchant's gaps and are
    remembered for the next import; the rest are inserted. Runs in the caller's transaction; ``on_chunk``
    is called after each chunk (the RQ job commits there and reports progress; the CLI commits once).
    """
    report = ImportReport()
    session = db.session()
    if phone_region is None:
        phone_region = session.execute(
            text("SELECT coalesce(settings->>'phone_region', 'CN') FROM tenants WHERE id = :t"), {"t": tenant_id}
        ).scalar_one()
    if file_format == "geojson":
        if isinstance(stream, (bytes, bytearray, memoryview)):
            data = bytes(stream)
        else:
            data = stream.read() if hasattr(stream, "read") else "".join(stream)
        records = geojson_records(data.encode() if isinstance(data, str) else data, report, mapping)
    else:
        if not hasattr(stream, "read"):
            stream = io.StringIO("".join(stream))
        records = csv_records(stream, report, mapping)
    watermark = session.execute(
        text("SELECT coalesce(max(id), 0) FROM merchants WHERE tenant_id = :t"), {"t": tenant_id}
    ).scalar_one()
    params = {
        "tenant_id": tenant_id,
        "source": source,
        "created_by": created_by_id,
        "watermark": watermark,
        "radius_m": dedup.RADIUS_M,
        "threshold": dedup.NAME_THRESHOLD,
        "auto_tags": list(AUTO_TAGS),
    }
    rows = parse_rows(None, report, coord_sys, phone_region=phone_region, records=records)
    while True:
        chunk = list(islice(rows, chunk_rows))
        if not chunk:
            break
        _load_chunk(chunk, report, params)
        report.unchanged = report.rows - report.rejected_count - report.inserted - report.updated
        if on_chunk is not None:
            on_chunk(report)
    report.unchanged = report.rows - report.rejected_count - report.inserted - report.updated
    return report


def import_csv(stream: IO[str] | Iterable[str], tenant_id: int, **options: Any) -> ImportReport:
    return import_merchants(stream, tenant_id, file_format="csv", **options)


def _load_chunk(chunk: list[tuple[Any, ...]], report: ImportReport, params: dict[str, Any]) -> None:
    connection = db.session().connection()
    connection.exec_driver_sql(TEMP_TABLE)
    connection.exec_driver_sql("TRUNCATE merchant_import")
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY merchant_import ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
        for record in chunk:
            copy.write_row(record)
    connection.exec_driver_sql("ANALYZE merchant_import")
    for statement in RESOLVE:
        if statement is MATCH_EXISTING and not params["watermark"]:
            continue  # the tenant had no merchants before this import: nothing to match against
        connection.execute(statement, params)
    connection.execute(LINK, params)
    report.kept += connection.execute(KEPT, params).scalar_one()
    filled = connection.execute(FILL, params).scalar_one()
    inserted, updated = connection.execute(UPSERT, params).one()
    report.inserted += inserted
    report.updated += updated + filled
    for line, merchant_id, similarity, distance in connection.execute(
        MATCHES, {"n": MAX_REJECTS_KEPT - len(report.matches)}
    ):
        report.matches.append(
            {
                "line": line,
                "merchant_id": merchant_id,
                "similarity": round(similarity, 3) if similarity is not None else None,
                "distance_m": round(distance, 1),
            }
        )
    report.matched += connection.execute(text("SELECT count(*) FROM merchant_import WHERE matched")).scalar_one()
    connection.exec_driver_sql("DROP TABLE IF EXISTS merchant_import")
