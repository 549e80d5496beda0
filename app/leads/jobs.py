"""Scheduled pool jobs: drop due leads back to the public pool, and remind owners before that happens.

Both are set-based, batched, idempotent and safe to run on several workers at once: the sweeper takes
its batch with ``FOR UPDATE SKIP LOCKED`` and re-checks ``drops_at`` under the lock, and reminders are
unique per (lead, drop date, threshold).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import text

from app import clock, db, metrics
from app.outbox.service import enqueue_after_commit
from app.reminders.jobs import push_reminder

log = logging.getLogger(__name__)

SWEEP_BATCH = 5000
REMINDER_DAYS = (3, 1)

SWEEP_SQL = text(
    """
    WITH due AS (
        SELECT merchant_id, owner_id, drop_reason, drops_at FROM leads
        WHERE state = 'private' AND drops_at <= :now
          -- a manager's lock holds the lead (its drops_at already counts the pause; this guards the edges)
          AND (locked_until IS NULL OR locked_until <= :now)
        ORDER BY drops_at
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ), dropped AS (
        UPDATE leads l
        SET state = 'public', owner_id = NULL, drops_at = NULL, drop_reason = NULL, version = l.version + 1,
            locked_until = NULL, lock_reason = NULL, locked_by_id = NULL, paused_seconds = 0
        FROM due
        WHERE l.merchant_id = due.merchant_id AND l.state = 'private' AND l.drops_at <= :now
        RETURNING l.merchant_id, l.tenant_id, due.owner_id AS owner_id, due.drop_reason AS reason,
                  due.drops_at AS dropped_at
    ), history AS (
        INSERT INTO lead_events (tenant_id, merchant_id, action, from_owner_id, reason, details, created_at)
        SELECT tenant_id, merchant_id, 'drop', owner_id, reason,
               jsonb_build_object('drops_at', dropped_at, 'swept_at', :now), :now
        FROM dropped
    ), closed AS (
        -- the drop warnings (and a pending signing's confirmation) of a dropped lead have no reason left
        UPDATE reminders r SET done_at = :now, payload = r.payload || '{"closed_by": "dropped"}'::jsonb
        FROM dropped
        WHERE r.merchant_id = dropped.merchant_id AND r.done_at IS NULL
          AND r.kind IN ('lead_dropping', 'sign_confirmation')
    ), touched AS (
        UPDATE merchants m SET detail_version = m.detail_version + 1
        FROM dropped WHERE m.id = dropped.merchant_id
    )
    SELECT count(*) FROM dropped
    """
)


def sweep_due_leads(now: datetime | None = None, batch: int = SWEEP_BATCH, max_batches: int | None = None) -> int:
    """Release every private lead whose drop time has passed; returns how many were released."""
    now = now or clock.now()
    released, batches = 0, 0
    started = time.perf_counter()
    try:
        while max_batches is None or batches < max_batches:
            # one unit of work a batch: its locks are held no longer than the batch
            with db.atomic():
                count = db.session.execute(SWEEP_SQL, {"now": now, "batch": batch}).scalar_one()
            released, batches = released + count, batches + 1
            # a short batch may only mean that rows were locked and skipped: stop only when nothing is left
            if count == 0:
                break
    finally:
        metrics.SWEEP_RELEASED.inc(released)
        db.session.remove()
    metrics.SWEEP_DURATION.observe(time.perf_counter() - started)
    metrics.SWEEP_LAST_SUCCESS.set(time.time())
    if released:
        log.info("sweep released %s leads", released)
    return released


REMIND_SQL = text(
    """
    INSERT INTO reminders (tenant_id, user_id, kind, title, message, merchant_id, due_at, dedupe_key, payload,
                           created_at)
    SELECT l.tenant_id, l.owner_id, 'lead_dropping',
           'Lead drops in ' || :days || (CASE WHEN :days = 1 THEN ' day: ' ELSE ' days: ' END) || m.name,
           -- app.i18n: todo_lead_dropping(_tomorrow), the same text in each reader's language
           CASE WHEN :days = 1
                THEN jsonb_build_object('key', 'todo_lead_dropping_tomorrow', 'args',
                                        jsonb_build_object('merchant', m.name))
                ELSE jsonb_build_object('key', 'todo_lead_dropping', 'args',
                                        jsonb_build_object('merchant', m.name, 'days', :days))
           END,
           l.merchant_id, l.drops_at,
           'lead-drop:' || l.merchant_id || ':' || l.owner_id || ':' || extract(epoch FROM l.drops_at)::bigint
             || ':' || :days || 'd',
           jsonb_build_object('drop_reason', l.drop_reason, 'drops_at', l.drops_at, 'days', :days), :now
    FROM leads l JOIN merchants m ON m.id = l.merchant_id
    WHERE l.state = 'private' AND l.drops_at > :now AND l.drops_at <= :horizon
      AND (l.locked_until IS NULL OR l.locked_until <= :now)
    ON CONFLICT (tenant_id, dedupe_key) DO NOTHING
    RETURNING id
    """
)


@db.job
def remind_dropping_leads(now: datetime | None = None) -> int:
    """A to-do and a push for each owner whose lead drops within 3 days, and again within 1 day; each once."""
    now = now or clock.now()
    created = 0
    for days in REMINDER_DAYS:
        rows = db.session.execute(REMIND_SQL, {"now": now, "horizon": now + timedelta(days=days), "days": days})
        for (reminder_id,) in rows.all():
            # the push leaves only if the reminder commits
            enqueue_after_commit(push_reminder, queue="push", reminder_id=reminder_id)
            created += 1
    return created
