"""Delivering a push to a user's devices, and acting on each device's outcome.

Every push of the system (tasks, reminders) goes through ``deliver``: each device's outcome is logged (the
delivery log behind ``GET /tasks/{id}``), dead tokens are deleted, mismatched ones disabled, and transient
failures retried later for just the devices that failed, with the delay the policy chose.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from datetime import timedelta
from typing import Any

from rq import Retry
from sqlalchemy import delete, select, update

from app import clock, db, metrics, push_gateway, redis_conn
from app.devices.models import Device, PushDelivery
from push.messages import PushContent

log = logging.getLogger(__name__)

# Jobs not backed by an outbox row are retried by RQ itself when they fail, or when their worker dies
# mid-job (RQ's registry cleanup finds them abandoned); a re-run resends at most what the dead job had sent.
ABANDONED_RETRY = Retry(max=3, interval=[30, 120, 600])

STATUS_OF = {
    "sent": "sent",
    "retry": "retry",
    "failed": "failed",
    "delete_device": "deleted",
    "disable_device": "disabled",
}


def deliver(
    *,
    tenant_id: int,
    users: list[int],
    message: dict[str, Any],
    attempt: int,
    device_ids: list[int] | None,
    log_fields: Any,
    retry: Any,
) -> dict[str, int]:
    query = select(Device).where(Device.user_id.in_(users), Device.disabled_at.is_(None))
    if device_ids is not None:
        query = query.where(Device.id.in_(device_ids))
    devices = {device.token: device for device in db.session.scalars(query)}
    if not devices:
        return {}
    content = PushContent(
        title=message["title"],
        body=message["body"],
        data=message["data"],
        collapse_key=message["collapse_key"],
        channel_id=message.get("channel_id", "tasks"),
        title_loc_key=message.get("title_loc_key"),
        title_loc_args=tuple(message.get("title_loc_args", ())),
        body_loc_key=message.get("body_loc_key"),
        body_loc_args=tuple(message.get("body_loc_args", ())),
    )
    outcomes = push_gateway.backend().send(list(devices), content, attempt=attempt)
    counts: dict[str, int] = defaultdict(int)
    retries: dict[float, list[int]] = defaultdict(list)
    dead, disabled = [], []
    for outcome in outcomes:
        device = devices[outcome.token]
        status = STATUS_OF[outcome.status]
        counts[status] += 1
        metrics.PUSH_OUTCOMES.labels(status, outcome.error_code or "none").inc()
        db.session.add(
            PushDelivery(
                tenant_id=tenant_id,
                device_id=device.id,
                device_key=device_key(device.token),
                user_id=device.user_id,
                attempt=attempt,
                status=status,
                error_code=outcome.error_code,
                message_id=outcome.message_id,
                **log_fields(device),
            )
        )
        if outcome.status == "delete_device":
            dead.append(device.id)
        elif outcome.status == "disable_device":
            disabled.append(device.id)
        elif outcome.status == "retry":
            retries[round(outcome.retry_after_s or 0.0, 1)].append(device.id)
    db.session.flush()
    if dead:
        db.session.execute(delete(Device).where(Device.id.in_(dead)))
    if disabled:
        log.warning("disabling %s devices after SENDER_ID_MISMATCH", len(disabled))
        db.session.execute(
            update(Device)
            .where(Device.id.in_(disabled))
            .values(disabled_at=clock.now(), disabled_reason="SENDER_ID_MISMATCH")
        )
    for delay, ids in retries.items():
        # bound now: the lambda runs after the commit, when the loop has moved on
        db.on_commit(lambda delay=delay, ids=ids: retry(delay, ids))
    return dict(counts)


def device_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def retry_later(func: Any, delay_s: float, **kwargs: Any) -> None:
    redis_conn.queue("push").enqueue_in(timedelta(seconds=max(1.0, delay_s)), func, retry=ABANDONED_RETRY, **kwargs)
