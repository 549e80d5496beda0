"""CPU per PostgreSQL server and role, for the benchmarks that move database work around (replicas, PgBouncer).

``stats.CpuMeter`` knows one database server; here there are two clusters (the primary and the streaming
replica ``scripts/replica`` runs, told apart by the cluster name in their process titles) and a pooler. A
run's database is shared with nobody, but the primary's cluster is (the tests of other work), so only the
backends serving the benchmark's database count as its database CPU; replication's own processes (the
primary's walsender, the replica's startup/walreceiver, which replay *every* write of the primary) are
reported apart.
"""

from __future__ import annotations

import os
import time

from bench.stats import _idle_seconds, _proc_cpu

REPLICA_CLUSTER = "fieldsales-replica"  # cluster_name scripts/replica gives the replica
ROLES = ("db_primary", "db_replica", "replication", "pgbouncer", "app", "loadgen", "other", "idle")


class ServerCpu:
    """CPU cores by role between ``start()`` and ``stop()``; the interface ``harness.run_wrk`` expects."""

    def __init__(self, database: str, app_pgids: set[int]) -> None:
        self.database = database
        self.app_pgids = app_pgids
        self._cmdlines: dict[int, str] = {}
        self.top_other: list[tuple[str, float]] = []

    def _cmdline(self, pid: int) -> str:
        if pid not in self._cmdlines:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    self._cmdlines[pid] = handle.read().decode(errors="replace").replace("\0", " ")
            except OSError:
                self._cmdlines[pid] = ""
        return self._cmdlines[pid]

    def _role(self, pid: int, comm: str, pgrp: int) -> str:
        if comm.startswith("postgres"):
            title = self._cmdline(pid)
            if f" {self.database} " in title:
                return "db_replica" if f"{REPLICA_CLUSTER}:" in title else "db_primary"
            if "walsender" in title or f"{REPLICA_CLUSTER}:" in title:
                return "replication"
            return "other"
        if comm == "pgbouncer":
            return "pgbouncer"
        if pgrp in self.app_pgids:
            return "app"
        if pid == os.getpid() or comm == "wrk":
            return "loadgen"
        return "other"

    def start(self) -> None:
        self._before = _proc_cpu()
        self._idle_before = _idle_seconds()
        self._started = time.perf_counter()

    def stop(self) -> dict[str, float]:
        after = _proc_cpu()
        elapsed = time.perf_counter() - self._started
        used = dict.fromkeys(ROLES, 0.0)
        others: dict[str, float] = {}
        for pid, (comm, pgrp, cpu) in after.items():
            previous = self._before.get(pid)
            delta = max(cpu - previous[2] if previous and previous[0] == comm else cpu, 0.0)
            role = self._role(pid, comm, pgrp)
            used[role] += delta
            if role == "other" and delta > 0:
                others[comm] = others.get(comm, 0.0) + delta
        used["idle"] = _idle_seconds() - self._idle_before
        self.top_other = [
            (comm, round(sec / elapsed, 2)) for comm, sec in sorted(others.items(), key=lambda i: -i[1])[:3]
        ]
        return {role: round(seconds / elapsed, 3) for role, seconds in used.items()}
