"""Creating reminders: every kind goes through ``remind`` (once per ``dedupe_key``, pushed after commit).

Closing them: ``resolve`` marks the open reminders whose reason is gone done (a lead that was visited or
changed hands, a planned visit that happened, a task that was done), with what closed them in the payload.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
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


# What each system reminder is about, and so what may close it.
LEAD_DROPPING = "lead_dropping"
PLANNED_VISIT = "planned_visit"
SIGN_CONFIRMATION = "sign_confirmation"
TASK_OVERDUE = "task_overdue"


def resolve(
    kinds: tuple[str, ...],
    reason: str,
    *,
    merchant_id: int | None = None,
    user_id: int | None = None,
    assignment_id: int | None = None,
) -> int:
    """Close the open reminders of these kinds (for a merchant, a user, a task assignment); returns how many."""
    conditions = [Reminder.kind.in_(kinds), Reminder.done_at.is_(None)]
    if merchant_id is not None:
        conditions.append(Reminder.merchant_id == merchant_id)
    if user_id is not None:
        conditions.append(Reminder.user_id == user_id)
    if assignment_id is not None:
        conditions.append(Reminder.payload["assignment_id"].astext == str(assignment_id))
    result = db.session.execute(
        update(Reminder)
        .where(*conditions)
        .values(done_at=clock.now(), payload=Reminder.payload.op("||")(func.jsonb_build_object("closed_by", reason)))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
