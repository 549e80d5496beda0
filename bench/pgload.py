"""A closed-loop SQL load generator: N psycopg AsyncConnections in one asyncio process.

Each connection runs the same statement back to back with the parameters of a random query point and
times every execution (send, execute, fetch all rows). One process and one event loop keep the client's
CPU use low, which matters when the database shares the machine's cores with it.

Connections use autocommit (no BEGIN/COMMIT round trips) and, by default, psycopg's default
``prepare_threshold`` (a server-side prepared statement after 5 executions of the same SQL). Note that
the app's own connections never get there: psycopg forgets its prepared statements on every ROLLBACK,
and every request ends with one (session close, pool reset). ``prepare=False`` measures the SQL the way
the app actually runs it, parsed and planned every time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import Any

import psycopg

from bench.stats import CpuMeter, Measurement, database_of, from_latencies


async def _run(
    dsn: str,
    sql: str,
    params: Sequence[dict[str, Any]],
    *,
    connections: int,
    warmup: float,
    duration: float,
    seed: int,
    prepare: bool,
) -> tuple[list[float], float, int, dict[str, float], list]:
    options = {} if prepare else {"prepare_threshold": None}
    conns = [
        await psycopg.AsyncConnection.connect(dsn, autocommit=True, options="-c jit=off", **options)
        for _ in range(connections)
    ]
    latencies: list[float] = []
    state = {"measuring": False, "stop": False, "rows": 0}

    async def client(conn: psycopg.AsyncConnection, rng: random.Random) -> None:
        while not state["stop"]:
            point = params[rng.randrange(len(params))]
            started = time.perf_counter()
            cursor = await conn.execute(sql, point)
            rows = await cursor.fetchall()
            elapsed = time.perf_counter() - started
            if state["measuring"]:
                latencies.append(elapsed)
                state["rows"] += len(rows)

    meter = CpuMeter(database=database_of(dsn))
    tasks = [asyncio.create_task(client(c, random.Random(seed * 1000 + i))) for i, c in enumerate(conns)]
    # Any query error ends the run: a benchmark that silently skips failures measures nothing.
    watch = asyncio.gather(*tasks)
    try:
        await asyncio.wait([watch], timeout=warmup)
        if watch.done():
            watch.result()  # raises the error that stopped a client
        meter.start()
        state["measuring"] = True
        window_start = time.perf_counter()
        await asyncio.wait([watch], timeout=duration)
        state["measuring"] = False
        window = time.perf_counter() - window_start
        cpu = meter.stop()
        if watch.done():
            watch.result()
        state["stop"] = True
        await watch
    finally:
        state["stop"] = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for conn in conns:
            await conn.close()
    return latencies, window, state["rows"], cpu, meter.top_other


def run(
    label: str,
    dsn: str,
    sql: str,
    params: Sequence[dict[str, Any]],
    *,
    connections: int,
    warmup: float,
    duration: float,
    seed: int = 1,
    prepare: bool = True,
) -> Measurement:
    """Warm up for ``warmup`` s, then measure ``duration`` s of closed-loop load; every latency is kept."""
    latencies, window, rows, cpu, top_other = asyncio.run(
        _run(dsn, sql, params, connections=connections, warmup=warmup, duration=duration, seed=seed, prepare=prepare)
    )
    if not latencies:
        raise RuntimeError(f"{label}: no query completed in {duration} s")
    return from_latencies(
        label,
        latencies,
        window,
        cpu_cores=cpu,
        extra={"rows_per_query": round(rows / len(latencies), 2), "busiest_other": top_other},
    )
