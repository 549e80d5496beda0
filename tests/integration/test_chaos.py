"""The short form of ``scripts/chaos``: every fault scenario against real processes on throwaway servers.

The script starts its own PostgreSQL cluster, redis-server, FCM server and gunicorn on free ports, so this
test never stops the shared servers the rest of the suite uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from app.config import ROOT
from scripts.chaos import PG_BIN


@pytest.mark.skipif(
    not (PG_BIN / "initdb").exists() or not shutil.which("redis-server"),
    reason="needs PostgreSQL's initdb and redis-server on this machine",
)
def test_every_fault_scenario_survives(tmp_path):
    figures = tmp_path / "chaos.json"
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "chaos"), "--quick", "--json", str(figures)],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
        check=False,
    )
    summary = [line for line in result.stdout.splitlines() if line.startswith("chaos ")]
    assert result.returncode == 0, "\n".join(summary) + "\n" + result.stderr[-3000:]
    report = json.loads(figures.read_text())
    assert set(report) == {"redis", "fcm", "postgres", "worker"}
    assert report["postgres"]["statuses"].get("503", 0) > 0
    assert report["fcm"]["delivered"] == report["fcm"]["pending_during_outage"]
    assert report["worker"]["delivered"] == report["worker"]["devices"]
