"""Periodic jobs, run by ``flask cron``. Every job is idempotent and safe on several workers at once."""

from __future__ import annotations

from rq.cron import CronScheduler

from app.devices.service import prune_stale_devices
from app.idempotency.service import purge_expired_keys
from app.intake.jobs import compute_tags
from app.leads.jobs import remind_dropping_leads, sweep_due_leads
from app.outbox.service import sweep as sweep_outbox
from app.sales.contracts import remind_contract_renewals
from app.sync.jobs import prune_sync_changes
from app.tasks.jobs import remind_overdue_tasks


def register_periodic_jobs(scheduler: CronScheduler) -> None:
    scheduler.register(sweep_outbox, queue_name="default", interval=30, name="outbox-sweep")
    scheduler.register(sweep_due_leads, queue_name="sweeps", interval=60, name="lead-sweep", job_timeout=1800)
    scheduler.register(remind_dropping_leads, queue_name="sweeps", interval=900, name="lead-reminders")
    # a key's answer is kept IDEMPOTENCY_KEY_TTL_HOURS; an expired one is ignored until this deletes it
    scheduler.register(purge_expired_keys, queue_name="sweeps", interval=3600, name="idempotency-purge")
    scheduler.register(remind_overdue_tasks, queue_name="sweeps", interval=60, name="task-overdue-reminders")
    scheduler.register(remind_contract_renewals, queue_name="sweeps", cron="0 1 * * *", name="contract-renewals")
    scheduler.register(prune_stale_devices, queue_name="sweeps", cron="30 3 * * *", name="prune-devices")
    scheduler.register(prune_sync_changes, queue_name="sweeps", cron="45 3 * * *", name="prune-sync-changes")
    # after the night's sales and competitor imports, before the BDs' morning
    scheduler.register(
        compute_tags, queue_name="sweeps", cron="0 4 * * *", name="classification-tags", job_timeout=1800
    )
