"""HTTP side of the benchmarks: a gunicorn we start and always stop, and wrk runs parsed into numbers."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.stats import CpuMeter, Measurement, database_of

ROOT = Path(__file__).resolve().parent.parent
LUA_SCRIPT = Path(__file__).resolve().parent / "nearby.lua"


def free_port() -> int:
    """A port nothing listens on now (another gunicorn, e.g. `make run`, may hold 8000)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path
    database: str | None = None  # for CPU accounting: the postgres backends serving it

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> int:
        """Live worker processes (children of the gunicorn master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return len(children.read_text().split())
        except OSError:
            return 0


@contextlib.contextmanager
def gunicorn(name: str, wsgi_app: str, env: dict[str, str], log_dir: Path, *, timeout: float = 60) -> Iterator[Server]:
    """Run ``gunicorn -c gunicorn.conf.py <wsgi_app>`` in its own process group; stop the whole group on exit.

    The access log goes to a file rather than a pipe: an unread pipe fills up and blocks the workers.
    """
    port = free_port()
    log_path = log_dir / f"{name}.log"
    full_env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(port)}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", wsgi_app],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, port, process, log_path, database_of(env["DATABASE_URL"]) if "DATABASE_URL" in env else None)
    try:
        _wait_until_listening(server, timeout)
        yield server
    finally:
        stop_group(process)


def _wait_until_listening(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name}: gunicorn exited ({server.process.returncode}); see {server.log_path}:\n"
                + server.log_path.read_text()[-3000:]
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name}: port {server.port} not answering after {timeout} s; see {server.log_path}")


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group of a process started with ``start_new_session`` (a gunicorn master and its
    workers, an RQ worker and its work horse), then SIGKILL whatever is left after 25 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=25)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # The master is gone; make sure no orphaned worker of its group survives.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


# --- plain HTTP helpers (stdlib only) ---------------------------------------------------------------


def get_json(url: str, token: str | None = None) -> tuple[int, object]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def login(base_url: str, username: str, password: str) -> str:
    body = json.dumps({"username": username, "password": password}).encode()
    request = urllib.request.Request(
        f"{base_url}/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["access_token"]


# --- wrk --------------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _to_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * _UNITS_MS[unit]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, the latency distribution, totals and error counts from ``wrk --latency`` output."""
    distribution = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.M))
    if set(distribution) != {"50", "75", "90", "99"}:
        raise RuntimeError(f"no latency distribution in wrk output (was --latency given?):\n{output}")
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", output, re.M)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(total.group(1)),
        "seconds": _to_ms(total.group(2) + total.group(3)) / 1000,
        **{f"p{pct}_ms": _to_ms(value) for pct, value in distribution.items()},
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"), map(int, socket_errors.groups())))
        if socket_errors
        else {"connect": 0, "read": 0, "write": 0, "timeout": 0},
    }


def wrk_command(
    url: str,
    *,
    connections: int,
    seconds: int,
    threads: int | None = None,
    timeout: str | None = None,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
) -> list[str]:
    """The ``wrk --latency`` command line; ``threads`` defaults to two, or one for a single connection
    (wrk refuses more threads than connections)."""
    command = ["wrk", f"-t{threads or min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if timeout:
        command += ["--timeout", timeout]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", str(script)]
    return [*command, url]


@dataclass
class Target:
    """One thing to load: a server, the path prefix the Lua script appends the point to, and a token."""

    label: str
    server: Server
    path_prefix: str
    token: str | None = None


def _wrk_once(target: Target, points_file: Path, work: Path, *, connections: int, seconds: int) -> dict:
    """One ``wrk --latency`` run; raises on any non-2xx response or socket error."""
    quantiles_path = work / "wrk-quantiles.txt"
    quantiles_path.unlink(missing_ok=True)
    env = {
        **os.environ,
        "NEARBY_POINTS": str(points_file),
        "NEARBY_PATH": target.path_prefix,
        "NEARBY_TOKEN": target.token or "",
        "NEARBY_QUANTILES": str(quantiles_path),
    }
    command = wrk_command(target.server.base_url, connections=connections, seconds=seconds, script=LUA_SCRIPT)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"{target.label}: wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    parsed = parse_wrk(done.stdout)
    # Sync gunicorn workers close every connection after the response; wrk copes. Anything else is an error.
    if parsed["non_2xx"] or sum(parsed["socket_errors"].values()):
        raise RuntimeError(
            f"{target.label}: {parsed['non_2xx']} non-2xx responses, socket errors "
            f"{parsed['socket_errors']}; see {target.server.log_path}\n{done.stdout}"
        )
    lines = quantiles_path.read_text().split("\n")
    parsed["quantiles_us"] = [int(line.split()[1]) for line in lines[1:] if line.strip()]
    return parsed


def _merged_percentile(runs: list[dict], pct: float) -> float:
    """A percentile (ms) of several runs together: each run's 1,000 quantiles weighted by its request count."""
    weighted = sorted(
        (value, run["requests"] / len(run["quantiles_us"])) for run in runs for value in run["quantiles_us"]
    )
    total, seen = sum(weight for _, weight in weighted), 0.0
    for value, weight in weighted:
        seen += weight
        if seen >= pct / 100 * total:
            return value / 1000
    return weighted[-1][0] / 1000


def interleaved(
    targets: list[Target],
    points_file: Path,
    work: Path,
    *,
    connections: int,
    duration: float,
    warmup: float,
    rounds: int,
) -> dict[str, Measurement]:
    """Load each target for ``duration`` seconds in total, in ``rounds`` alternating slices (A B A B ...).

    The host's speed drifts during a run (other tenants of the VM, other jobs on the machine); alternating
    short slices exposes every target to the same drift, which keeps their ratio honest. Throughput is
    the total over all slices; percentiles come from the slices' merged latency distributions.
    """
    slice_s = max(1, round(duration / rounds))
    for target in targets:
        if warmup > 0:
            _wrk_once(target, points_file, work, connections=connections, seconds=max(1, round(warmup)))
    runs: dict[str, list[dict]] = {t.label: [] for t in targets}
    cpu_seconds: dict[str, dict[str, float]] = {t.label: {} for t in targets}
    elapsed: dict[str, float] = {t.label: 0.0 for t in targets}
    busiest: dict[str, dict[str, float]] = {t.label: {} for t in targets}
    for _ in range(rounds):
        for target in targets:
            meter = CpuMeter(app_pgid=target.server.process.pid, database=target.server.database)
            meter.start()
            runs[target.label].append(_wrk_once(target, points_file, work, connections=connections, seconds=slice_s))
            cores = meter.stop()
            elapsed[target.label] += meter.elapsed
            for role, value in cores.items():
                cpu_seconds[target.label][role] = cpu_seconds[target.label].get(role, 0.0) + value * meter.elapsed
            for comm, value in meter.top_other:
                busiest[target.label][comm] = busiest[target.label].get(comm, 0.0) + value * meter.elapsed
    results = {}
    for target in targets:
        these, window = runs[target.label], elapsed[target.label]
        top = sorted(busiest[target.label].items(), key=lambda item: -item[1])[:3]
        results[target.label] = Measurement(
            label=target.label,
            requests=sum(run["requests"] for run in these),
            seconds=sum(run["seconds"] for run in these),
            p50_ms=_merged_percentile(these, 50),
            p90_ms=_merged_percentile(these, 90),
            p99_ms=_merged_percentile(these, 99),
            cpu_cores={role: round(value / window, 2) for role, value in cpu_seconds[target.label].items()},
            extra={
                "rounds": rounds,
                "slice_s": slice_s,
                "workers": target.server.workers(),
                "rps_by_round": [round(run["rps"], 1) for run in these],
                "wrk_p99_ms_by_round": [round(run["p99_ms"], 2) for run in these],
                "busiest_other": [(comm, round(value / window, 2)) for comm, value in top],
            },
        )
    return results
