"""Export jobs (RQ): an export id in, own session, safe to run again (a finished export is skipped)."""

from __future__ import annotations

from app import db, redis_conn
from app.exports import service


def enqueue_export(export_id: int) -> None:
    """Outbox entry point: hand the export to its own RQ job (it commits its progress as it goes, which the
    outbox's transaction must not)."""
    redis_conn.queue("default").enqueue(
        build_export,
        export_id,
        job_id=f"export-{export_id}",
        job_timeout=3600,
        failure_ttl=redis_conn.FAILED_JOB_TTL_S,
    )


def build_export(export_id: int) -> str:
    try:
        return service.build(export_id)
    finally:
        db.session.remove()
