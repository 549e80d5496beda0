"""Keeping the sync change log bounded."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from app import clock, db
from app.sync.queries import CHANGE_LOG_DAYS


@db.job
def prune_sync_changes() -> int:
    """Delete change-log rows older than ``CHANGE_LOG_DAYS`` (cursors that old start over). A scheduled job."""
    cutoff = clock.now() - timedelta(days=CHANGE_LOG_DAYS)
    return db.session.execute(text("DELETE FROM sync_changes WHERE created_at < :cutoff"), {"cutoff": cutoff}).rowcount
