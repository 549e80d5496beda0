"""The push of a reminder (RQ): ids in, own unit of work, safe to run again."""

from __future__ import annotations

from app import db
from app.devices import push
from app.i18n import Text
from app.org.locales import locales_of
from app.reminders.models import Reminder


@db.job
def push_reminder(reminder_id: int, attempt: int = 1, device_ids: list[int] | None = None) -> dict[str, int]:
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None or reminder.done_at is not None:
        return {}
    locale = locales_of([reminder.user_id]).get(reminder.user_id)
    title = Text("push_reminder_title")
    text = Text.from_json(reminder.message)
    message = {
        "title": title.render(locale),
        "body": text.render(locale) if text else reminder.title,
        "title_loc_key": title.key,
        "data": {"type": reminder.kind, "id": f"r{reminder.id}", "deep_link": "fieldsales://todos"},
        "collapse_key": f"reminder-{reminder.id}",
        "channel_id": "reminders",
    }
    if text:
        message.update(body_loc_key=text.key, body_loc_args=text.positional_args())
    return push.deliver(
        tenant_id=reminder.tenant_id,
        users=[reminder.user_id],
        message=message,
        attempt=attempt,
        device_ids=device_ids,
        log_fields=lambda device: {"reminder_id": reminder.id},
        retry=lambda delay, ids: push.retry_later(
            push_reminder, delay, reminder_id=reminder.id, attempt=attempt + 1, device_ids=ids
        ),
    )
