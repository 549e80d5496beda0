"""Creating reminders: every kind goes through ``remind`` (once per ``dedupe_key``, pushed after commit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert

from app import clock, db
from app.i18n import DEFAULT_LOCALE, Text
from app.outbox.service import enqueue_after_commit
from app.reminders import jobs
from app.reminders.models import Reminder


def remind(
    tenant_id: int,
    user_id: int,
    kind: str,
    text: Text,
    merchant_id: int | None,
    dedupe_key: str,
    payload: dict[str, Any],
    due_at: datetime | None = None,
    *,
    push: bool = True,
) -> int | None:
    """A to-do in the user's to-do center, with its push unless ``push`` is off; once per ``dedupe_key``.

    ``text`` is its title, shown to the user in their language (``app.i18n``). Returns the new reminder's id, or
    None when one with that key exists already.
    """
    reminder_id = db.session.execute(
        insert(Reminder)
        .values(
            tenant_id=tenant_id,
            user_id=user_id,
            kind=kind,
            title=text.render(DEFAULT_LOCALE)[:200],
            message=text.as_json(),
            merchant_id=merchant_id,
            due_at=due_at or clock.now(),
            dedupe_key=dedupe_key[:200],
            payload=payload,
        )
        .on_conflict_do_nothing()
        .returning(Reminder.id)
    ).scalar_one_or_none()
    if reminder_id is not None and push:
        enqueue_after_commit(jobs.push_reminder, queue="push", reminder_id=reminder_id)
    return reminder_id
