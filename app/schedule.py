"""Periodic jobs, run by ``flask cron``. Every job is idempotent and safe on several workers at once."""

from __future__ import annotations

from rq.cron import CronScheduler

from app.devices.service import prune_stale_devices
from app.intake.jobs import compute_tags
from app.leads.jobs import remind_dropping_leads, sweep_due_leads
from app.outbox.service import sweep as sweep_outbox
from app.sales.contracts import remind_contract_renewals


def register_periodic_jobs(scheduler: CronScheduler) -> None:
    scheduler.register(sweep_outbox, queue_name="default", interval=30, name="outbox-sweep")
    scheduler.register(sweep_due_leads, queue_name="sweeps", interval=60, name="lead-sweep", job_timeout=1800)
    scheduler.register(remind_dropping_leads, queue_name="sweeps", interval=900, name="lead-reminders")
    scheduler.register(remind_contract_renewals, queue_name="sweeps", cron="0 1 * * *", name="contract-renewals")
    scheduler.register(prune_stale_devices, queue_name="sweeps", cron="30 3 * * *", name="prune-devices")
    # after the night's sales and competitor imports, before the BDs' morning
    scheduler.register(
        compute_tags, queue_name="sweeps", cron="0 4 * * *", name="classification-tags", job_timeout=1800
    )
