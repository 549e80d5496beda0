"""What every benchmark scenario reports, and who burnt the CPU while it ran.

On a 2-core machine the database, the web server and the load generator all compete for the same
cores, so a scenario's numbers only mean something next to where the CPU went. ``CpuMeter`` samples
/proc before and after a measured window and splits the CPU time by role.
"""

from __future__ import annotations

import math
import os
import resource
import time
from dataclasses import asdict, dataclass, field
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# What CpuMeter.stop() splits the CPU into, in the order every report prints them.
CPU_ROLES = ("db", "app", "loadgen", "other", "idle")


@dataclass
class Measurement:
    """One scenario's result: throughput and latency percentiles over the measured window."""

    label: str
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int = 0
    # Per-role CPU use during the window, in cores (1.0 = one core busy the whole time).
    cpu_cores: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rps": round(self.rps, 1)}


def database_of(url: str) -> str:
    """The database name of a libpq or SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    return make_url(url).database


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (no interpolation: a real observed latency)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def from_latencies(label: str, latencies_s: list[float], seconds: float, **kwargs: Any) -> Measurement:
    ordered = sorted(latencies_s)
    return Measurement(
        label=label,
        requests=len(ordered),
        seconds=seconds,
        p50_ms=percentile(ordered, 50) * 1000,
        p90_ms=percentile(ordered, 90) * 1000,
        p99_ms=percentile(ordered, 99) * 1000,
        **kwargs,
    )


# --- CPU accounting -------------------------------------------------------------------------------


def _idle_seconds() -> float:
    """Machine-wide idle + iowait CPU seconds so far (first line of /proc/stat, in clock ticks)."""
    with open("/proc/stat") as handle:
        fields = handle.readline().split()
    return (int(fields[4]) + int(fields[5])) / CLOCK_TICKS


def _proc_cpu() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, process group, CPU seconds so far) for every process we can read."""
    result = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                raw = handle.read().decode(errors="replace")
        except OSError:  # the process exited while we were looking
            continue
        # The command name is in parentheses and may itself contain spaces or parentheses.
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        # fields[0] is field 3 (state) of proc(5): pgrp is field 5, utime 14, stime 15.
        pgrp, utime, stime = int(fields[2]), int(fields[11]), int(fields[12])
        result[int(entry)] = (comm, pgrp, (utime + stime) / CLOCK_TICKS)
    return result


class CpuMeter:
    """CPU seconds spent by role between ``start()`` and ``stop()``.

    Roles: ``db`` (postgres processes; with ``database`` given, only those serving that database, so a test
    suite's backends count as ``other``), ``app`` (the process group of a gunicorn we started), ``loadgen``
    (this Python process plus finished child processes such as wrk, from getrusage), ``other`` (anything
    else on the machine: a test suite running meanwhile shows up here) and ``idle`` (machine-wide).
    Processes that exit inside the window (a gunicorn worker recycled by max_requests) take their CPU
    time with them, so ``app`` can read slightly low.
    """

    def __init__(self, app_pgid: int | None = None, database: str | None = None) -> None:
        self.app_pgid = app_pgid
        self.database = database
        self._cmdlines: dict[int, str] = {}
        self._before: dict[int, tuple[str, int, float]] = {}
        self._loadgen_before = 0.0
        self._idle_before = 0.0
        self._started = 0.0
        self.top_other: list[tuple[str, float]] = []
        self.elapsed = 0.0

    def _role(self, pid: int, comm: str, pgrp: int) -> str:
        if comm.startswith("postgres"):
            return "db" if self.database is None or self._serves_database(pid) else "other"
        if self.app_pgid is not None and pgrp == self.app_pgid:
            return "app"
        if pid == os.getpid() or comm == "wrk":
            return "loadgen"  # counted through getrusage instead, which also sees wrk after it exits
        return "other"

    def _serves_database(self, pid: int) -> bool:
        """A backend's title reads "postgres: 15/main: <user> <database> <client> <state>"."""
        if pid not in self._cmdlines:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    self._cmdlines[pid] = handle.read().decode(errors="replace").replace("\0", " ")
            except OSError:
                self._cmdlines[pid] = ""
        return f" {self.database} " in self._cmdlines[pid]

    @staticmethod
    def _own_cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def start(self) -> None:
        self._before = _proc_cpu()
        self._loadgen_before = self._own_cpu()
        self._idle_before = _idle_seconds()
        self._started = time.perf_counter()

    def stop(self) -> dict[str, float]:
        after = _proc_cpu()
        elapsed = self.elapsed = time.perf_counter() - self._started
        used: dict[str, float] = {"db": 0.0, "app": 0.0, "loadgen": 0.0, "other": 0.0}
        others: dict[str, float] = {}
        for pid, (comm, pgrp, cpu) in after.items():
            previous = self._before.get(pid)
            # A process born inside the window (wrk, a fresh worker) counts from zero.
            delta = max(cpu - previous[2] if previous and previous[0] == comm else cpu, 0.0)
            role = self._role(pid, comm, pgrp)
            if role != "loadgen":
                used[role] += delta
            if role == "other" and delta > 0:
                others[comm] = others.get(comm, 0.0) + delta
        used["loadgen"] = self._own_cpu() - self._loadgen_before
        used["idle"] = _idle_seconds() - self._idle_before
        # Who else was busy: the first thing to check when a run looks slower than the last one.
        self.top_other = [
            (comm, round(sec / elapsed, 2))
            for comm, sec in sorted(others.items(), key=lambda item: -item[1])[:3]
            if sec / elapsed >= 0.01
        ]
        return {role: round(seconds / elapsed, 2) for role, seconds in used.items()}
