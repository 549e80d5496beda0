"""Prometheus metrics of the API, the RQ workers and cron (prometheus_client).

Every process of a machine writes its samples to one directory, ``PROMETHEUS_MULTIPROC_DIR``
(prometheus_client's multiprocess mode: one memory-mapped file per process and metric type), and ``GET
/metrics`` on the API adds them up, so one scrape covers every gunicorn worker, every RQ work horse and cron.
Without the variable (tests, a plain ``flask`` command) each process keeps its own samples in memory.

Files are named by process identity, ``<host>-<pid>``: the host keeps containers that share the directory
(a volume) apart, since their pids overlap. An RQ work horse (a fork per job) writes under its worker's
identity plus ``-horse`` rather than its own pid, so a worker that ran a million jobs leaves two sets of
files, not a million (one worker never runs two horses at once; ``app.worker`` sets that identity).

What is measured here versus at scrape time: counters and histograms are recorded where things happen;
queue depths and the outbox lag are read from Redis and PostgreSQL when ``/metrics`` is asked
(``app.web.metrics``), so they are current even when no process is doing anything.
"""

from __future__ import annotations

import os
import re
import socket

from prometheus_client import Counter, Gauge, Histogram, multiprocess, values

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"
# set in an RQ work horse (app.worker): the pid of the worker that forked it
_horse_of: int | None = None


def become_work_horse(worker_pid: int) -> None:
    """Write this process's metrics under its worker's identity (see the module docstring)."""
    global _horse_of
    _horse_of = worker_pid


def process_identity() -> str:
    """The name this process's metric files carry (distinct for processes that run at the same time)."""
    if _horse_of is not None:
        return f"{HOST}-{_horse_of}-horse"
    return f"{HOST}-{os.getpid()}"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


# before any metric below is made: each one's value class is chosen when it is constructed (an empty
# variable means in-process, where prometheus_client alone would write files to the working directory)
values.ValueClass = values.MultiProcessValue(process_identity) if multiprocess_dir() else values.MutexValue


_FILE_OWNER = re.compile(rf"^[a-z]+(?:_[a-z]+)?_{re.escape(HOST)}-(\d+)(?:-horse)?\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_files_of_dead_processes(path: str) -> list[str]:
    """Delete the metric files that processes of this host which are gone left behind (the API calls this at
    start, so totals restart with it; Prometheus reads a counter that drops as a restart). Files of other hosts
    sharing the directory, and of live processes (a running RQ worker's horses), are left alone."""
    removed = []
    for name in sorted(os.listdir(path)):
        owner = _FILE_OWNER.match(name)
        if owner and not _alive(int(owner.group(1))):
            os.remove(os.path.join(path, name))
            removed.append(name)
    return removed


def mark_process_dead(pid: int) -> None:
    """Drop a dead gunicorn worker's live gauges (pool in use); its counters stay in the totals."""
    multiprocess.mark_process_dead(f"{HOST}-{pid}")


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0)

HTTP_REQUESTS = Counter(
    "fieldsales_http_requests_total", "API requests by route template and status", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "fieldsales_http_request_duration_seconds",
    "API request latency by route template (from the app's first hook to its response)",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
DB_STATEMENTS = Histogram(
    "fieldsales_db_statements_per_request",
    "SQL statements one API request ran, by route template",
    ["route"],
    buckets=(0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89),
)
DB_POOL_IN_USE = Gauge(
    "fieldsales_db_pool_checked_out", "Database connections checked out of the pools", multiprocess_mode="livesum"
)
DB_POOL_OVERFLOW = Gauge(
    "fieldsales_db_pool_overflow",
    "Connections open beyond the pools' size (DB_POOL_SIZE); negative: free slots below it",
    multiprocess_mode="livesum",
)
DB_CHECKOUT_WAIT = Histogram(
    "fieldsales_db_pool_checkout_wait_seconds",
    "Time to get a connection from the pool (opening one included)",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0),
)
CACHE_LOOKUPS = Counter("fieldsales_cache_lookups_total", "Cache lookups by cache and result", ["cache", "result"])
JOBS_STARTED = Counter("fieldsales_jobs_started_total", "RQ jobs started, by function and queue", ["function", "queue"])
JOBS_FAILED = Counter(
    "fieldsales_jobs_failed_total", "RQ jobs that raised or timed out, by function and queue", ["function", "queue"]
)
JOB_DURATION = Histogram(
    "fieldsales_job_duration_seconds",
    "RQ job run time by function and queue",
    ["function", "queue"],
    buckets=JOB_BUCKETS,
)
PUSH_OUTCOMES = Counter(
    "fieldsales_push_outcomes_total",
    "Push deliveries per device by outcome and FCM error code (none when sent)",
    ["status", "error_code"],
)
SWEEP_RELEASED = Counter("fieldsales_lead_sweep_released_total", "Leads the sweep released to the public pool")
SWEEP_DURATION = Histogram("fieldsales_lead_sweep_duration_seconds", "Lead sweep run time", buckets=JOB_BUCKETS)
SWEEP_LAST_SUCCESS = Gauge(
    "fieldsales_lead_sweep_last_success_timestamp_seconds",
    "When a lead sweep last finished (Unix time)",
    multiprocess_mode="max",
)
IMPORT_ROWS = Counter("fieldsales_import_rows_total", "Merchant import rows processed (rate() = rows per second)")
IMPORT_RATE = Gauge(
    "fieldsales_import_last_rows_per_second",
    "Rows per second of the last finished merchant import",
    multiprocess_mode="mostrecent",
)
