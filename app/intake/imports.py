"""Bulk merchant imports over the API: the upload is checked at once, the rows are loaded by an RQ job.

The job runs the same importer as ``flask import-merchants`` (``app.intake.importer``), in chunks that
each commit and report progress, so a client polling ``GET /imports/{id}`` sees rows done/total grow.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import current_app

from app import db
from app.errors import (
    BadEncoding,
    BadFile,
    EmptyFile,
    ImportNotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from app.intake.importer import MAPPABLE, csv_records, geojson_records
from app.intake.models import ImportStatus, MerchantImport
from app.org.models import User
from app.outbox.service import enqueue_after_commit
from app.tabular import ImportReport, UnreadableFile
from geo.coords import CoordSys

FORMATS = ("csv", "geojson")


def _format(filename: str, data: bytes, declared: str | None) -> str:
    if declared:
        return declared
    lowered = filename.lower()
    if lowered.endswith((".geojson", ".json")) or data.lstrip()[:1] == b"{":
        return "geojson"
    return "csv"


def decode_csv(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"Not UTF-8 at byte {exc.start}; save it as UTF-8."
        raise BadEncoding(errors={"files": {"file": [problem]}}) from exc


def _check_mapping(mapping: dict[str, Any]) -> dict[str, str]:
    unknown = sorted(set(mapping) - set(MAPPABLE))
    bad = [k for k, v in mapping.items() if not isinstance(v, str) or not v.strip()]
    if unknown or bad:
        raise ValidationFailed(
            "The column mapping is invalid.",
            errors={
                "form": {
                    "mapping": [
                        f"Keys are our columns ({', '.join(MAPPABLE)}) and values the file's column names."
                        + (f" Unknown: {unknown}." if unknown else "")
                    ]
                }
            },
        )
    return {k: v.strip() for k, v in mapping.items()}


def count_rows(data: bytes, file_format: str, mapping: dict[str, str]) -> int:
    """Read the whole file once: the rows it has, and a ``UnreadableFile`` if it cannot be imported at all."""
    report = ImportReport()
    if file_format == "geojson":
        for _ in geojson_records(data, report, mapping):
            pass
    else:
        for _ in csv_records(io.StringIO(decode_csv(data), newline=""), report, mapping):
            pass
    return report.rows


def max_bytes() -> int:
    return current_app.config["IMPORT_MAX_BYTES"]


def start_import(
    user: User,
    data: bytes,
    *,
    filename: str,
    source: str,
    coord_sys: CoordSys,
    mapping: dict[str, Any] | None,
    file_format: str | None,
) -> MerchantImport:
    limit = max_bytes()
    if len(data) > limit:
        raise PayloadTooLarge(f"Import files are limited to {limit // (1024 * 1024)} MB.")
    if not data.strip():
        raise EmptyFile()
    checked = _check_mapping(mapping or {})
    kind = _format(filename, data, file_format)
    try:
        total = count_rows(data, kind, checked)
    except (UnreadableFile, csv.Error) as exc:
        raise BadFile(f"The file cannot be imported: {exc}", errors={"files": {"file": [str(exc)]}}) from exc
    record = MerchantImport(
        tenant_id=user.tenant_id,
        created_by_id=user.id,
        status=ImportStatus.QUEUED,
        filename=filename[:200],
        file_format=kind,
        source=source,
        coord_sys=coord_sys.value,
        mapping=checked,
        content=data,
        rows_total=total,
        rows_done=0,
        counts={},
        rejects=[],
        matches=[],
    )
    db.session.add(record)
    db.session.flush()
    enqueue_after_commit("app.intake.jobs.enqueue_import", queue="default", import_id=record.id)
    db.session.flush()
    return record


def get_import(import_id: int) -> MerchantImport:
    record = db.get(MerchantImport, import_id)
    if record is None:
        raise ImportNotFound()
    return record


def status(record: MerchantImport) -> dict[str, Any]:
    return {
        "id": record.id,
        "status": record.status.value,
        "filename": record.filename,
        "format": record.file_format,
        "source": record.source,
        "coord_sys": record.coord_sys,
        "mapping": record.mapping,
        "rows_total": record.rows_total,
        "rows_done": record.rows_done,
        "counts": {
            key: record.counts.get(key, 0)
            for key in ("inserted", "updated", "unchanged", "matched", "rejected", "kept")
        },
        "rejects": record.rejects,
        "matches": record.matches,
        "error": record.error,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
    }


def parse_mapping(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValidationFailed(
            "The mapping is not JSON.", errors={"form": {"mapping": ['Send a JSON object, e.g. {"name": "店名"}.']}}
        ) from exc
    if not isinstance(value, dict):
        raise ValidationFailed(
            "The mapping is not a JSON object.", errors={"form": {"mapping": ["Send a JSON object."]}}
        )
    return value
