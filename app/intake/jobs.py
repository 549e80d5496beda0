"""RQ jobs of lead intake: ids in, own session, safe to run again."""

from __future__ import annotations

import io
import logging
import time

from app import clock, db, metrics, redis_conn
from app.intake import tags
from app.intake.importer import import_merchants
from app.intake.imports import decode_csv
from app.intake.models import ImportStatus, MerchantImport
from app.tabular import MAX_REJECTS_KEPT, ImportReport, UnreadableFile
from geo.coords import CoordSys

log = logging.getLogger(__name__)

JOB_CHUNK_ROWS = 1000


def enqueue_import(import_id: int) -> None:
    """Outbox entry point: hand the import to its own RQ job (it commits chunk by chunk, which the outbox's
    transaction must not)."""
    redis_conn.queue("default").enqueue(
        run_import,
        import_id,
        job_id=f"merchant-import-{import_id}",
        job_timeout=3600,
        failure_ttl=redis_conn.FAILED_JOB_TTL_S,
    )


def _counts(report: ImportReport) -> dict[str, int]:
    return {
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "matched": report.matched,
        "rejected": report.rejected_count,
        "kept": report.kept,
    }


def run_import(import_id: int) -> str:
    """Load an uploaded file in chunks, each committed with the import's progress (not one unit of work:
    a large file would hold its locks for minutes, and progress would show nothing until the end)."""
    session = db.session()
    try:
        with db.atomic():
            record = session.get(MerchantImport, import_id, with_for_update={"skip_locked": True})
            if record is None or record.status in (ImportStatus.DONE, ImportStatus.FAILED) or record.content is None:
                return "skipped"
            db.scope_to_tenant(record.tenant_id)
            record.status, record.started_at, record.rows_done = ImportStatus.RUNNING, clock.now(), 0
        content, tenant_id = record.content, record.tenant_id
        started, rows_counted = time.perf_counter(), 0

        def progress(report: ImportReport) -> None:
            nonlocal rows_counted
            record.rows_done, record.counts = report.rows, _counts(report)
            db.commit_chunk()
            metrics.IMPORT_ROWS.inc(report.rows - rows_counted)
            rows_counted = report.rows

        try:
            stream = content if record.file_format == "geojson" else io.StringIO(decode_csv(content), newline="")
            report = import_merchants(
                stream,
                tenant_id,
                source=record.source,
                coord_sys=CoordSys(record.coord_sys),
                created_by_id=record.created_by_id,
                mapping=record.mapping,
                file_format=record.file_format,
                chunk_rows=JOB_CHUNK_ROWS,
                on_chunk=progress,
            )
        except (UnreadableFile, ValueError) as exc:
            _fail(session, record, str(exc))
            return "failed"
        except Exception:
            # the chunks already committed stay (uploading the file again completes it, changing nothing twice)
            _fail(session, record, "internal error; upload the file again")
            raise
        record.status, record.finished_at, record.rows_done = ImportStatus.DONE, clock.now(), report.rows
        record.counts = _counts(report)
        record.rejects = [{"line": line, "reason": reason} for line, reason in report.rejected[:MAX_REJECTS_KEPT]]
        record.matches = report.matches[:MAX_REJECTS_KEPT]
        record.content = None  # the rows are in merchants now; the file need not be kept
        changed = tags.compute(tenant_id)
        db.commit_chunk()
        metrics.IMPORT_ROWS.inc(report.rows - rows_counted)
        metrics.IMPORT_RATE.set(report.rows / max(time.perf_counter() - started, 1e-6))
        log.info("import %s done: %s; %s merchants retagged", import_id, record.counts, changed)
        return "done"
    finally:
        db.scope_to_tenant(None)
        db.session.remove()


def _fail(session, record: MerchantImport, error: str) -> None:
    session.rollback()  # the chunk that failed; the chunks before it are committed and stay
    record.status, record.error, record.finished_at = ImportStatus.FAILED, error[:2000], clock.now()
    record.content = None
    db.commit_chunk()


@db.job
def compute_tags(tenant_id: int | None = None) -> int:
    """Nightly (all tenants) and after each import (its tenant)."""
    return tags.compute(tenant_id)
