"""The API's start-up cleanup of multiprocess metric files: only this host's dead processes lose theirs."""

from __future__ import annotations

import os
import subprocess
import sys

from app import metrics


def test_only_files_of_this_hosts_dead_processes_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    me = metrics.process_identity()
    names = [
        f"counter_{me}.db",
        f"gauge_livesum_{me}-horse.db",  # a live worker's horse
        f"counter_{metrics.HOST}-{dead.pid}.db",
        f"histogram_{metrics.HOST}-{dead.pid}-horse.db",
        f"gauge_livesum_{metrics.HOST}-{dead.pid}.db",
        "counter_another-host-1.db",  # a container sharing the volume
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    removed = metrics.remove_files_of_dead_processes(str(tmp_path))
    assert sorted(removed) == sorted(names[2:5])
    assert sorted(os.listdir(tmp_path)) == sorted([names[0], names[1], names[5]])
