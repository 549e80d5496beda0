"""Multiprocess metrics: a real gunicorn (2 workers) and a real forking RQ worker write to one directory (a
tmp dir, gone after the test), and one scrape of the API's /metrics adds up what every process counted."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
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


@pytest.fixture
def env(tmp_path):
    metrics_dir = tmp_path / "metrics"
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


@pytest.fixture
def api(app, env):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env={**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "2"},
        stdout=subprocess.DEVNULL,
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
