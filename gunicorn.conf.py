"""Gunicorn settings: ``gunicorn -c gunicorn.conf.py wsgi:app``. Every knob can be set from the environment.

HOST / PORT          where to listen (default 127.0.0.1:8000; the container sets HOST=0.0.0.0)
WEB_CONCURRENCY      worker processes (default 2 x CPUs + 1)
GUNICORN_WORKER_CLASS  e.g. "gthread" or "gevent" (default "sync")
GUNICORN_CONTROL_SOCKET  path of gunicorn's control socket for ``gunicornc`` (default: none)
PROMETHEUS_MULTIPROC_DIR  where every worker writes its metrics for /metrics (default: var/metrics)
"""

from __future__ import annotations

import os
import sys
from multiprocessing import cpu_count

_host = os.environ.get("HOST", "127.0.0.1")
_port = os.environ.get("PORT", "8000")
# An IPv6 address needs brackets in host:port.
bind = f"[{_host}]:{_port}" if ":" in _host and not _host.startswith("[") else f"{_host}:{_port}"

# The API is I/O-bound on PostgreSQL: the usual 2n+1 sync workers keep every core busy while others wait.
# Each worker has its own SQLAlchemy pool (DB_POOL_SIZE), so keep workers x pool under max_connections.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * cpu_count() + 1))
# Sync workers: simple, one request per process, and a slow client cannot starve the others because a
# reverse proxy (or the mobile app's own timeouts) buffers them. Other classes are opt-in.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")

# Kill a worker stuck on one request for 30 s (the mobile app gives up well before that anyway).
timeout = 30
# On SIGTERM (deploys, Ctrl-C in scripts/run), let in-flight requests finish for up to 20 s.
graceful_timeout = 20
# Keep idle connections from a load balancer open a little longer than a request takes to arrive.
keepalive = 5

# Import the app once in the master, then fork: workers start faster, share memory copy-on-write, and a
# broken app fails at startup instead of in a crash-looping worker.
preload_app = True

# Recycle each worker after ~5000 requests to cap slow memory growth; the jitter keeps all workers from
# restarting at the same moment.
max_requests = 5000
max_requests_jitter = 500

# Metrics (app/metrics.py): every worker writes its samples to this directory and /metrics adds them up. Set
# here, before the app is imported (preload_app), because prometheus_client picks its mode at import. RQ
# workers and cron on the same machine must be given the same directory to appear in the same scrape.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "var", "metrics")
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# Access log on stdout, one line per request. With LOG_FORMAT=json (the default) in the app's JSON format
# (time, level, logger, message, request_id, plus method, path, status, bytes, duration_ms, remote_addr and
# user_agent; app/web/access_log.py); with LOG_FORMAT=text one compact line (client, request line, status,
# response bytes, ms, request id). An --access-logformat given on the command line wins (the benchmarks').
accesslog = "-"
errorlog = "-"
if os.environ.get("LOG_FORMAT", "json") == "json":
    logger_class = "app.web.access_log.JsonAccessLogger"
    access_log_format = "json"  # app.web.access_log.JSON_ACCESS_FORMAT
else:
    access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms %({x-request-id}o)s'

# Gunicorn >= 25 opens a control socket at one fixed per-user path ($HOME/.gunicorn/gunicorn.ctl), so two
# instances (two checkouts, the tests, a container with a read-only home) would collide. Opt-in instead.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# The worker heartbeat file lives on a RAM disk: on a disk-backed or overlay filesystem (containers) the
# heartbeat's fchmod can block, and the master would kill a healthy worker as stuck.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"


def on_starting(server):
    """Forget the metric files of this host's processes that are gone (a previous run of the API)."""
    metrics = sys.modules.get("app.metrics")
    if metrics is not None:
        removed = metrics.remove_files_of_dead_processes(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        if removed:
            server.log.info("removed %s metric files of processes that are gone", len(removed))


def child_exit(server, worker):
    """A worker that exits takes its live gauges (connections in use) with it; its counters stay."""
    metrics = sys.modules.get("app.metrics")
    if metrics is not None and metrics.multiprocess_dir():
        metrics.mark_process_dead(worker.pid)


def post_fork(server, worker):
    """Never share a database connection the master may have opened with preload_app across processes."""
    db = sys.modules.get("app.db")
    engine = getattr(db, "_engine", None) if db is not None else None
    if engine is not None:
        # close=False: drop the inherited pool without closing sockets the parent still owns.
        engine.dispose(close=False)
