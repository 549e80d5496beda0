"""Multiprocess metrics: a real gunicorn (2 workers) and a real forking RQ worker write to one directory (a
tmp dir, gone after the test), and one scrape of the API's /metrics adds up what every process counted.
The same gunicorn shows its access log in the app's JSON format."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue

from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-the-tests-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def tmp_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("multiprocess")


@pytest.fixture(scope="module")
def env(tmp_dir):
    metrics_dir = tmp_dir / "metrics"
    metrics_dir.mkdir()
    return {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "METRICS_TOKEN": TOKEN,
        "FLASK_APP": "wsgi",
        "LOG_LEVEL": "WARNING",
        "PASSWORD_TIME_COST": "1",
        "PASSWORD_MEMORY_COST_KIB": "64",
    }


@pytest.fixture(scope="module")
def access_log(tmp_dir) -> Path:
    return tmp_dir / "access.log"


@pytest.fixture(scope="module")
def api(app, env, access_log):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env={**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "2", "LOG_FORMAT": "json"},
        stdout=access_log.open("wb"),
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:  # until gunicorn listens (start-up, not work: there is nothing to wait on instead)
            try:
                if httpx.get(f"{base}/api/v1/livez", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_one_scrape_adds_up_every_gunicorn_worker_and_rq_work_horse(api, env, redis_client):
    metrics_dir = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    # new connections each: both sync workers take turns accepting
    for _ in range(12):
        assert httpx.get(f"{api}/api/v1/readyz", headers={"Connection": "close"}).status_code == 200
    Queue("default", connection=redis_client).enqueue("tests.jobs.remember", "from a work horse")
    subprocess.run(
        [sys.executable, "-m", "flask", "worker", "--burst", "--queues", "default"], cwd=ROOT, env=env, check=True
    )
    assert redis_client.lrange("test:remembered", 0, -1) == [b"from a work horse"]

    samples = scrape(api)
    readyz = (("method", "GET"), ("route", "/api/v1/readyz"), ("status", "200"))
    assert samples[("fieldsales_http_requests_total", readyz)] == 12
    job = (("function", "tests.jobs.remember"), ("queue", "default"))
    assert samples[("fieldsales_jobs_started_total", job)] == 1
    assert samples[("fieldsales_job_duration_seconds_count", job)] == 1
    # the horse wrote under its worker's identity, not its own pid
    assert any(name.endswith("-horse.db") for name in os.listdir(metrics_dir))
    counted_by = {name for name in os.listdir(metrics_dir) if name.startswith("counter_")}
    assert len(counted_by) >= 3  # the gunicorn master, at least one worker, the RQ worker and its horse


def test_the_access_log_is_json_with_request_id_and_latency(api, access_log):
    response = httpx.get(f"{api}/api/v1/readyz?phone=13812345678", headers={"X-Request-ID": "access-log-0001"})
    assert response.status_code == 422  # readyz takes no query
    httpx.get(f"{api}/api/v1/livez")  # a later line: the one above has been written
    lines = [orjson.loads(line) for line in access_log.read_bytes().splitlines() if line.startswith(b"{")]
    entry = next(line for line in lines if line.get("request_id") == "access-log-0001")
    assert entry["logger"] == "gunicorn.access" and entry["level"] == "INFO" and entry["time"]
    assert entry["method"] == "GET" and entry["path"] == "/api/v1/readyz" and entry["status"] == 422
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] > 0
    assert "13812345678" not in access_log.read_text()  # query strings are not logged
