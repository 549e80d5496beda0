"""The RQ worker of ``flask worker``: records job metrics and runs each job under its request id.

Every job runs with the request id of the request that enqueued it (``meta["request_id"]``, set by the
outbox), for the whole of RQ's handling, failure included: log lines and error reports of the job carry it.
"""

from __future__ import annotations

import os
import time

from rq import Queue, SimpleWorker, Worker
from rq.job import Job

from app import metrics
from app.web import request_id


def job_function(job: Job) -> str:
    """The function a job runs; for an outbox dispatch, the outbox row's job (``meta["job"]``)."""
    return str(job.meta.get("job") or job.func_name)


class MeasuredJobs:
    """Mixin for RQ workers: jobs started, failed and their duration, by function and queue."""

    def perform_job(self, job: Job, queue: Queue, execution) -> bool:
        labels = (job_function(job), queue.name)
        metrics.JOBS_STARTED.labels(*labels).inc()
        started = time.perf_counter()
        ok = False
        try:
            with request_id.bind(job.meta.get("request_id")):
                ok = super().perform_job(job, queue, execution)
        finally:
            metrics.JOB_DURATION.labels(*labels).observe(time.perf_counter() - started)
            if not ok:
                metrics.JOBS_FAILED.labels(*labels).inc()
        return ok


class MeasuredWorker(MeasuredJobs, Worker):
    """``flask worker``: forks a work horse per job, which writes its metrics under the worker's identity."""

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        metrics.become_work_horse(os.getppid())
        super().main_work_horse(job, queue)


class MeasuredSimpleWorker(MeasuredJobs, SimpleWorker):
    """Runs jobs in its own process (tests, ``flask worker --simple``)."""
