"""Shared plumbing of the benchmarks: what bench.checkin, bench.detail, bench.sea_sweep, bench.load and
bench.nearby would otherwise each write again.

- ``run_main`` / ``parse_args``: a benchmark's main() around its own ``run`` and ``render``: a work
  directory kept on failure, SIGTERM that still stops our servers, the report printed and saved as
  bench/results/<name>-<time>.json.
- Bench databases: URLs, create/drop, whether a reused one is at the code's migrations; the one
  password of every bench user and the cheap hash cost datagen stores it at.
- ``QuietGate``: the machine has two cores; a measurement taken while another benchmark runs
  measures both. Wait for it to finish first, and flag any step it overlapped.
- ``server_env``: the environment every gunicorn of these benchmarks gets (see below why).
- ``login_many``: access tokens for many BDs, through the real login endpoint.
- ``sequential``: a one-connection HTTP client timing every request (service time, no queueing).
- ``plain_wrk``: ``wrk URL`` with headers, for GET throughput.
- ``WrkSession``: wrk driven by a Lua script that counts status codes and stops *cleanly* on request:
  no request is left in flight when wrk exits, so the rows in the database can be checked exactly
  against the responses the client saw.
- ``AccessLog``: the gunicorn access log of a server started with ``ACCESS_LOG_ARGS``, sliced by time
  window (the latency and status of every request that completed during, e.g., a sweep).
- Inputs for the wrk scripts: each BD's street of merchants (``streets``, ``write_bds_file``).
- Report pieces: target rows, the CPU column, the note on steps another workload overlapped.

It imports only httpload and stats: datagen builds on it, so every benchmark can import both.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from bench import httpload
from bench.stats import CPU_ROLES, percentile

ROOT = httpload.ROOT
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
# Redis database for these benchmarks' servers: the detail cache key holds tenant and merchant ids but
# not the database name, so sharing Redis db 0 with a dev server (or another bench database) could
# serve one database's payload for another's merchant.
BENCH_REDIS_URL = "redis://127.0.0.1:6379/12"
# Every bench user's password (datagen's manager and BDs, push_fanout's users), stored at a cheap argon2
# cost: with the app's production cost every first login would re-hash at 64 MiB and the next ones verify
# at that cost, seconds of CPU per hundred logins in the middle of a setup. Our servers get the same cost
# (server_env), so they never re-hash.
PASSWORD = "bench-pass-1"
PASSWORD_TIME_COST = 1
PASSWORD_MEMORY_COST_KIB = 1024
# Also waited for: any other benchmark module (other helpers run bench.push_fanout and the like) and the
# test suite, which the lead runs on the same two cores. Matched against full command lines.
OTHER_WORKLOADS = ("-m bench.", "bin/pytest")

# Every access-log line of our servers: "ACCESS <status> <microseconds> <method> <path>". Overrides
# gunicorn.conf.py's format through GUNICORN_CMD_ARGS (environment settings win over the config file);
# nothing else about gunicorn changes.
ACCESS_LOG_ARGS = '--access-logformat "ACCESS %(s)s %(D)s %(m)s %(U)s"'
_ACCESS_LINE = re.compile(r"^ACCESS (\d{3}) (\d+) (\S+) (\S+)$", re.M)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def db_url(database: str) -> str:
    return f"postgresql+psycopg://127.0.0.1:5432/{database}"


def plain_dsn(database: str) -> str:
    return f"postgresql://127.0.0.1:5432/{database}"


def password_hash() -> str:
    """PASSWORD hashed at the bench cost; one hash serves every user (hashing is the slow part)."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=PASSWORD_TIME_COST, memory_cost=PASSWORD_MEMORY_COST_KIB).hash(PASSWORD)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def target(value: Any, goal: str, ok: bool, **extra: Any) -> dict[str, Any]:
    """One row of a report's target table."""
    return {"value": value, "target": goal, "verdict": verdict(ok), **extra}


# --- a benchmark's main() ------------------------------------------------------------------------------


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None, *, no_wait: bool = False) -> argparse.Namespace:
    """``parser.parse_args(argv)`` plus ``args.started``, the time the report and its file are named after.
    ``no_wait`` adds the ``--no-wait`` option of the benchmarks that measure behind a QuietGate (last, where
    their help has always listed it)."""
    if no_wait:
        parser.add_argument("--no-wait", action="store_true", help="do not wait for a running bench.nearby")
    args = parser.parse_args(argv)
    args.started = datetime.now()
    return args


def run_main(
    name: str,
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace, Path], dict[str, Any]],
    render: Callable[[dict[str, Any]], str],
    *,
    kept: str = "server logs and inputs",
) -> dict[str, Any]:
    """``run(args, work)`` in a fresh work directory, then print ``render(report)`` and save the report as
    bench/results/<name>-<started>.json; returns the report.

    On any error (SIGTERM included: it becomes SystemExit, so every server's context manager still stops
    its process group) the work directory is kept, with ``kept`` in it, and named on stderr.
    """
    install_sigterm_handler()
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name.replace('_', '-')}-"))
    try:
        report = run(args, work)
    except BaseException:
        print(f"\nFAILED; {kept} kept in {work}", file=sys.stderr)
        raise
    print(render(report))
    out = save_report(name, args.started, report)
    print(f"\nSaved {out.relative_to(ROOT)}")
    shutil.rmtree(work, ignore_errors=True)
    return report


# --- waiting for the machine ---------------------------------------------------------------------------


def _ancestors() -> set[str]:
    """This process and its parents (a `timeout` or shell wrapping us names our module too)."""
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(str(pid))
        try:
            with open(f"/proc/{pid}/stat") as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def other_workloads() -> list[str]:
    """Command lines of other benchmarks or test runs (never this process or its ancestors)."""
    done = subprocess.run(
        ["pgrep", "-af", "|".join(re.escape(p) for p in OTHER_WORKLOADS)], capture_output=True, text=True
    )
    own = _ancestors()
    found = []
    for line in done.stdout.splitlines():
        pid, _, command = line.partition(" ")
        if pid not in own and "pgrep" not in command:
            found.append(command)
    return found


def other_benchmark_running() -> bool:
    return bool(other_workloads())


# Between steps our own servers idle; more CPU than this elsewhere means someone else is busy (other
# helpers also run plain scripts that no process name gives away).
BUSY_CORES = 0.25


def busy_elsewhere(seconds: float = 2.0) -> float:
    """CPU cores busy over ``seconds`` outside this process: all cores minus machine-wide idle minus
    ours. (Per-process sums would not do: kernel worker threads report CPU time while the machine idles.)"""
    from bench.stats import CpuMeter

    meter = CpuMeter()
    meter.start()
    time.sleep(seconds)
    used = meter.stop()
    return max(0.0, (os.cpu_count() or 1) - used["idle"] - used["loadgen"])


class QuietGate:
    """Keeps our measurements apart from other workloads on this two-core machine.

    ``with gate("step"):`` first waits while another benchmark or test run is running, or more than
    BUSY_CORES are busy elsewhere (polling every 30 s; one budget of 40 minutes for the whole run, after
    which it measures anyway and says so), then watches for such a process during the step: a step one
    overlapped is flagged in the report. ``gate.wait()`` alone waits without watching (data builds).
    """

    def __init__(self, enabled: bool = True, max_wait_s: float = 40 * 60, poll_s: float = 30) -> None:
        self.enabled, self.budget_s, self.poll_s = enabled, max_wait_s, poll_s
        self.waited_s = 0.0
        self.gave_up = False
        self.overlapped: list[str] = []

    def wait(self) -> None:
        announced = False
        while self.enabled and not self.gave_up and (other_benchmark_running() or busy_elsewhere() > BUSY_CORES):
            if self.waited_s >= self.budget_s:
                log(f"other workloads still running after {self.budget_s / 60:.0f} min of waiting; measuring anyway")
                self.gave_up = True
                break
            if not announced:
                running = "; ".join(other_workloads())[:200] or f"{busy_elsewhere():.2f} cores busy elsewhere"
                log(f"another benchmark or test run is busy ({running}); waiting (polling every {self.poll_s:.0f} s)")
                announced = True
            time.sleep(self.poll_s)
            self.waited_s += self.poll_s

    @contextlib.contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        """Wait, then watch (a pgrep every second) for the other workload starting during the step: the
        lead runs short test files that start and end within one of our steps."""
        self.wait()
        seen = threading.Event()
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                if other_benchmark_running():
                    seen.set()
                done.wait(1.0)

        watcher = threading.Thread(target=watch, daemon=True)
        if self.enabled:
            watcher.start()
        try:
            yield
        finally:
            done.set()
            if self.enabled:
                watcher.join()
            if seen.is_set():
                self.overlapped.append(step)

    def as_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "waited_s": round(self.waited_s),
            "gave_up_waiting": self.gave_up,
            "steps_overlapping_other_benchmark": self.overlapped,
        }


def open_run(database: str, args: argparse.Namespace) -> tuple[str, str, QuietGate]:
    """The SQLAlchemy URL and libpq DSN of a run's database, and the run's QuietGate (off with --no-wait),
    already waited on: building or resetting the database is no measurement, but it would disturb
    another workload's."""
    gate = QuietGate(enabled=not args.no_wait)
    gate.wait()
    return db_url(database), plain_dsn(database), gate


# --- servers -------------------------------------------------------------------------------------------


def server_env(url: str, **extra: str) -> dict[str, str]:
    """The environment of our gunicorns.

    - JWT_ACCESS_MINUTES: a run logs in once; tokens must outlive it (15 min by default).
    - PASSWORD_*: the cost of the stored hash (see PASSWORD), so logins never re-hash.
    - REDIS_URL: see BENCH_REDIS_URL.
    """
    return {
        "DATABASE_URL": url,
        "REDIS_URL": BENCH_REDIS_URL,
        "APP_ENV": "development",
        "JWT_ACCESS_MINUTES": "240",
        "PASSWORD_TIME_COST": str(PASSWORD_TIME_COST),
        "PASSWORD_MEMORY_COST_KIB": str(PASSWORD_MEMORY_COST_KIB),
        "GUNICORN_CMD_ARGS": ACCESS_LOG_ARGS,
        **extra,
    }


def app_config(url: str, **overrides: Any) -> dict[str, Any]:
    """The same settings for an in-process ``create_app`` (profiling, statement counts, sweeps)."""
    return {
        "DATABASE_URL": url,
        "REDIS_URL": BENCH_REDIS_URL,
        "PASSWORD_TIME_COST": PASSWORD_TIME_COST,
        "PASSWORD_MEMORY_COST_KIB": PASSWORD_MEMORY_COST_KIB,
        **overrides,
    }


def bd_names(count: int) -> list[str]:
    """Usernames of the first ``count`` of datagen's BDs."""
    return [f"bd{i}" for i in range(count)]


def login_many(base_url: str, usernames: list[str], threads: int = 4) -> list[str]:
    """Access tokens for ``usernames`` (same order), logged in through the API a few at a time."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda name: httpload.login(base_url, name, PASSWORD), usernames))


def git_head() -> str | None:
    """The short commit the run measured (None outside a git checkout)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return head.stdout.strip() or None


def environment(dsn: str, **extra: Any) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:
        pg = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("server_version", "shared_buffers", "synchronous_commit", "autovacuum")
        }
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "app", "migrations"], cwd=ROOT, capture_output=True, text=True
    )
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgres": pg,
        "git_head": git_head(),
        "app_uncommitted_changes": bool(dirty.stdout.strip()),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        **extra,
    }


def save_report(name: str, started: datetime, report: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"{name}-{started:%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(report, indent=2, default=str, ensure_ascii=False))
    return out


def install_sigterm_handler() -> None:
    """SIGTERM becomes SystemExit, so every ``finally`` (and every server's context manager) runs."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def vacuum(dsn: str, *tables: str) -> None:
    """VACUUM (ANALYZE): autovacuum is off on this server, so without it new rows have no statistics
    and no visibility map (no index-only scans), and the numbers depend on what ran before."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in tables:
            conn.execute(f'VACUUM (ANALYZE) "{table}"')


# --- a sequential client -------------------------------------------------------------------------------


@dataclass
class Sequential:
    latencies_s: list[float]
    seconds: float
    body_bytes: int
    statuses: Counter

    def summary(self) -> dict[str, Any]:
        return {
            **summarize(self.latencies_s),
            "rps": round(len(self.latencies_s) / self.seconds, 1),
            "body_bytes": self.body_bytes,
        }


def summarize(latencies_s: list[float]) -> dict[str, Any]:
    """Count and nearest-rank percentiles (ms) of latencies in seconds."""
    ordered = sorted(latencies_s)
    return {
        "requests": len(ordered),
        "p50_ms": round(percentile(ordered, 50) * 1000, 3),
        "p90_ms": round(percentile(ordered, 90) * 1000, 3),
        "p99_ms": round(percentile(ordered, 99) * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3) if ordered else None,
    }


def connection(base_url: str) -> http.client.HTTPConnection:
    """A new connection to one of our servers (``http://host:port``): gunicorn's sync workers close
    every connection after its response, so each request opens its own."""
    host, port = base_url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)


def sequential(base_url: str, path: str, headers: dict[str, str], *, requests: int, warmup: int) -> Sequential:
    """GET ``path`` back to back on one client, timing connect + request + full body read of each.

    A new connection per request (see ``connection``), the same for every server compared. Any non-200
    answer is an error.
    """
    latencies, statuses, size = [], Counter(), 0
    window_start = 0.0
    for i in range(warmup + requests):
        if i == warmup:
            window_start = time.perf_counter()
        started = time.perf_counter()
        conn = connection(base_url)
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status}: {body[:300]!r}")
        statuses[response.status] += 1
        size = len(body)
        if i >= warmup:
            latencies.append(elapsed)
    return Sequential(latencies, time.perf_counter() - window_start, size, statuses)


# --- wrk -----------------------------------------------------------------------------------------------


def plain_wrk(
    url: str, *, headers: dict[str, str] | None = None, connections: int = 4, duration: float = 10, warmup: float = 2
) -> dict[str, Any]:
    """``wrk --latency URL`` (GET, optional headers): throughput and latency; raises on any non-2xx."""

    def run(seconds: float) -> str:
        command = httpload.wrk_command(
            url, connections=connections, seconds=max(1, round(seconds)), timeout=WRK_TIMEOUT, headers=headers
        )
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    if warmup > 0:
        run(warmup)
    parsed = httpload.parse_wrk(run(duration))
    if parsed["non_2xx"] or sum(parsed["socket_errors"].values()) - parsed["socket_errors"]["read"]:
        raise RuntimeError(f"wrk {url}: errors {parsed}")
    return parsed


# wrk's per-request timeout: a slow request is measured as a latency rather than dropped as a timeout
# (wrk's default is 2 s).
WRK_TIMEOUT = "10s"
_WRKSTAT = re.compile(r"^WRKSTAT (\w+) (\S+) (\d+)$", re.M)


@dataclass
class WrkResult:
    """What one scripted wrk run saw: wrk's summary plus the script's own counts."""

    summary: dict[str, Any]  # httpload.parse_wrk of the output
    sent: int
    received: int
    statuses: dict[int, int]
    window_s: float  # from start to the stop request: the measured window
    output: str = field(repr=False)
    cpu_cores: dict[str, float] | None = None  # CpuMeter over the window, when run_wrk was given one

    @property
    def rps(self) -> float:
        return self.received / self.window_s if self.window_s else 0.0

    @property
    def in_flight_at_exit(self) -> int:
        return self.sent - self.received

    def as_dict(self) -> dict[str, Any]:
        return {
            "rps": round(self.rps, 1),
            "window_s": round(self.window_s, 2),
            "sent": self.sent,
            "received": self.received,
            "in_flight_at_exit": self.in_flight_at_exit,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "p50_ms": self.summary["p50_ms"],
            "p75_ms": self.summary["p75_ms"],
            "p90_ms": self.summary["p90_ms"],
            "p99_ms": self.summary["p99_ms"],
            "socket_errors": self.summary["socket_errors"],
        }


class WrkSession:
    """wrk running a Lua script built on ``wrk_common.lua``, stopped with a stop file rather than -d.

    ``start()`` launches wrk (with a long -d as a safety net); ``stop()`` creates the stop file, after
    which every connection finishes the request it has in flight and sends no more; after ``drain_s``
    wrk gets SIGINT, prints its summary and the script's counts (requests sent, responses received,
    per status). ``sent == received`` proves nothing was in flight at exit.
    """

    def __init__(
        self,
        script: Path,
        base_url: str,
        env: dict[str, str],
        work: Path,
        *,
        connections: int,
        threads: int = 2,
        max_seconds: float = 900,
    ) -> None:
        self.stop_file = work / f"wrk-stop-{time.monotonic_ns()}"
        self.env = {**os.environ, **env, "WRK_STOP_FILE": str(self.stop_file), "WRK_THREADS": str(threads)}
        self.command = httpload.wrk_command(
            base_url,
            connections=connections,
            seconds=int(max_seconds),
            threads=threads,
            timeout=WRK_TIMEOUT,
            script=script,
        )
        self.process: subprocess.Popen | None = None
        self.started = self.stop_requested = 0.0

    def start(self) -> WrkSession:
        self.stop_file.unlink(missing_ok=True)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        return self

    def stop(self, drain_s: float = 3.0) -> WrkResult:
        self.stop_requested = time.perf_counter()
        self.stop_file.touch()
        time.sleep(drain_s)
        self.process.send_signal(signal.SIGINT)
        try:
            out, err = self.process.communicate(timeout=30)
        finally:
            self.kill()
        self.stop_file.unlink(missing_ok=True)
        if self.process.returncode not in (0, -signal.SIGINT):
            raise RuntimeError(f"wrk failed ({self.process.returncode}):\n{out}\n{err}")
        if err.strip():
            raise RuntimeError(f"wrk script error:\n{err}\n{out}")
        stats = _WRKSTAT.findall(out)
        counts = {(kind, key): int(n) for kind, key, n in stats}
        return WrkResult(
            summary=httpload.parse_wrk(out),
            sent=counts.get(("count", "sent"), 0),
            received=counts.get(("count", "received"), 0),
            statuses={int(key): n for (kind, key), n in counts.items() if kind == "status"},
            window_s=self.stop_requested - self.started,
            output=out,
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> WrkSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
        self.stop_file.unlink(missing_ok=True)


def run_wrk(
    script: Path,
    base_url: str,
    env: dict[str, str],
    work: Path,
    *,
    connections: int,
    seconds: float,
    drain_s: float = 3.0,
    meter: Any = None,
) -> WrkResult:
    """A WrkSession for a fixed number of seconds; ``meter`` (a CpuMeter) covers exactly that window,
    not the drain after it, when the machine idles."""
    with WrkSession(script, base_url, env, work, connections=connections) as session:
        if meter is not None:
            meter.start()
        time.sleep(seconds)
        cpu = meter.stop() if meter is not None else None
        result = session.stop(drain_s)
    if meter is not None:
        result.cpu_cores = {**cpu, "busiest_other": meter.top_other}
    return result


# --- gunicorn's access log -----------------------------------------------------------------------------


class AccessLog:
    """Byte offsets into a server's log file: ``mark()`` now, ``since(mark)`` the requests completed since."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size

    def between(self, start: int, end: int | None = None) -> list[tuple[int, float, str]]:
        """(status, milliseconds, path) of every request logged between two marks."""
        with open(self.path, "rb") as handle:
            handle.seek(start)
            raw = handle.read(None if end is None else end - start).decode(errors="replace")
        return [(int(status), int(us) / 1000, path) for status, us, _method, path in _ACCESS_LINE.findall(raw)]


def latency_summary(entries: list[tuple[int, float, str]], seconds: float) -> dict[str, Any]:
    """Rate, status counts and server-side latency percentiles of access-log entries."""
    ordered = sorted(ms for _status, ms, _path in entries)
    return {
        "requests": len(entries),
        "rps": round(len(entries) / seconds, 1) if seconds else None,
        "statuses": {str(k): v for k, v in sorted(Counter(status for status, _ms, _path in entries).items())},
        "server_p50_ms": round(percentile(ordered, 50), 2) if ordered else None,
        "server_p90_ms": round(percentile(ordered, 90), 2) if ordered else None,
        "server_p99_ms": round(percentile(ordered, 99), 2) if ordered else None,
    }


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


# --- inputs of the wrk scripts -------------------------------------------------------------------------

STREET_MERCHANTS = 8  # a BD's round: the merchants of one street


def streets(dsn: str, tenant_id: int, count: int, radius_m: float) -> list[list[tuple[int, float, float]]]:
    """For each of ``count`` BDs, (id, lat, lng) of up to STREET_MERCHANTS merchants within ``radius_m`` of a
    random centre merchant, nearest first: a BD checks in along a street, not across the city (the
    impossible-speed check compares a check-in with the same BD's previous one)."""
    with psycopg.connect(dsn) as conn:
        centres = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM merchants WHERE tenant_id = %s ORDER BY md5(id::text) LIMIT %s", (tenant_id, count)
            )
        ]
        return [
            [
                (r[0], r[1], r[2])
                for r in conn.execute(
                    "SELECT n.id, ST_Y(n.location::geometry), ST_X(n.location::geometry) FROM merchants c "
                    "JOIN merchants n ON n.tenant_id = c.tenant_id AND ST_DWithin(n.location, c.location, %s) "
                    "WHERE c.id = %s ORDER BY n.location <-> c.location LIMIT %s",
                    (radius_m, centre, STREET_MERCHANTS),
                ).fetchall()
            ]
            for centre in centres
        ]


def write_lines(path: Path, values: list[Any]) -> Path:
    path.write_text("".join(f"{v}\n" for v in values))
    return path


def write_bds_file(path: Path, tokens: list[str], areas: list[list[tuple[int, float, float]]]) -> Path:
    """One BD per line, as wrk_common.lua's read_bds() reads it: "<token> <id>,<lat>,<lng>;..."."""
    return write_lines(
        path,
        [
            f"{token} " + ";".join(f"{mid},{lat:.7f},{lng:.7f}" for mid, lat, lng in area)
            for token, area in zip(tokens, areas, strict=True)
        ],
    )


# --- databases -----------------------------------------------------------------------------------------


def database_exists(database: str) -> bool:
    with psycopg.connect(plain_dsn("postgres"), autocommit=True) as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is not None


def drop_database(database: str) -> None:
    with psycopg.connect(plain_dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def recreate_database(database: str) -> None:
    """An empty ``database`` (dropped first, whoever is connected to it)."""
    with psycopg.connect(plain_dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')


def schema_heads() -> set[str]:
    """The Alembic heads of the code's migrations."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return set(ScriptDirectory.from_config(config).get_heads())


def schema_revisions(dsn: str) -> set[str] | None:
    """The Alembic revisions a database is at; None when it has none (not migrated, or not there)."""
    try:
        with psycopg.connect(dsn) as conn:
            return {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
    except psycopg.Error:
        return None


def schema_is_current(dsn: str) -> bool:
    """The database is migrated to the code's Alembic heads (a reused bench database may predate a
    migration; measuring yesterday's schema would be wrong)."""
    return schema_revisions(dsn) == schema_heads()


# --- in process ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def sql_recorder():
    """Every SQL statement the engine sends, with its wall time (client side: includes the round trip)."""
    from sqlalchemy import event

    from app import db

    records: list[tuple[str, float]] = []

    def before(conn, _cursor, _statement, _params, _context, _many):
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn, _cursor, statement, _params, _context, _many):
        records.append((statement, time.perf_counter() - conn.info["bench_started"].pop()))

    engine = db.engine()
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield records
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def slowest_plan_nodes(plan: dict[str, Any], limit: int = 5) -> list[dict[str, Any]]:
    """The plan nodes with the most exclusive time (actual total x loops minus their children's)."""
    nodes: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> float:
        total = node.get("Actual Total Time", 0.0) * node.get("Actual Loops", 1)
        children = sum(walk(child) for child in node.get("Plans", []))
        label = (
            node["Node Type"]
            + (f" on {node['Relation Name']}" if "Relation Name" in node else "")
            + (f" using {node['Index Name']}" if "Index Name" in node else "")
        )
        nodes.append(
            {
                "node": label,
                "self_ms": round(max(total - children, 0.0), 3),
                "loops": node.get("Actual Loops", 1),
                "rows": node.get("Actual Rows"),
            }
        )
        return total

    walk(plan)
    nodes.sort(key=lambda n: -n["self_ms"])
    return nodes[:limit]


# --- reports -------------------------------------------------------------------------------------------

CPU_COLUMN = "CPU cores " + "/".join(CPU_ROLES)


def cpu_cells(cores: dict[str, float]) -> str:
    """The CPU column of a report row: cores per role, in CPU_COLUMN's order."""
    return "/".join(f"{cores.get(role, 0):.2f}" for role in CPU_ROLES)


def target_rows(
    targets: dict[str, dict[str, Any]], labels: dict[str, str], *, widths: tuple[int, int, int]
) -> list[str]:
    """The "Targets" table: one line per key of ``labels``; label, value and goal columns ``widths`` wide."""
    label_w, value_w, goal_w = widths
    rows = []
    for key, label in labels.items():
        t = targets[key]
        rows.append(f"  {label:<{label_w}}{t['value']!s:>{value_w}}   target {t['target']:<{goal_w}} {t['verdict']}")
    return rows


def with_overlap_note(lines: list[str], gate: dict[str, Any]) -> str:
    """A rendered report: ``lines``, then (after a blank line) the overlap warnings, if any."""
    notes = overlap_note(gate)
    return "\n".join(lines + ([""] + notes if notes else []))


def overlap_note(gate: dict[str, Any]) -> list[str]:
    """Report lines saying which steps another benchmark overlapped (empty when none did)."""
    lines = []
    if gate.get("waited_s"):
        lines.append(f"(waited {gate['waited_s']} s for other benchmarks / test runs to finish before measuring)")
    if gate.get("steps_overlapping_other_benchmark"):
        lines.append(
            "WARNING: another benchmark or test run was running during: "
            + ", ".join(gate["steps_overlapping_other_benchmark"])
            + " (those figures are disturbed)"
        )
    return lines
