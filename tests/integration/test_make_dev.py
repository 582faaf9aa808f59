"""`make dev` stops on SIGTERM (a service manager, `docker stop`, `kill`) within seconds, leaving no process."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request

import psutil

from pipelines.settings import PROJECT_ROOT

GRACE = 5  # DEV_GRACE: seconds dagster dev gets before what is left of it is killed


def test_make_dev_stops_on_sigterm_and_leaves_no_process(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home"), "KPI_LANDING_DIR": str(tmp_path / "landing"),
           "KPI_WAREHOUSE_PATH": str(tmp_path / "warehouse" / "kpi.duckdb")}
    log = tmp_path / "dev.log"
    with open(log, "w") as out:
        make = subprocess.Popen(["make", "--no-print-directory", "dev", f"PORT={port}", f"DEV_GRACE={GRACE}"],
                                cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    tree: list[int] = []
    try:
        deadline = time.monotonic() + 300
        while True:
            assert make.poll() is None, log.read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "webserver did not come up:\n" + log.read_text()[-3000:]
                time.sleep(0.5)
        # An open browser tab: a connection the webserver waits on when told to stop.
        tab = socket.create_connection(("127.0.0.1", port))
        tab.sendall(f"GET /server_info HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        tree = [make.pid] + [p.pid for p in psutil.Process(make.pid).children(recursive=True)]
        assert len(tree) >= 4, tree  # make, its shell, dagster dev, the webserver, the daemon, code servers

        started = time.monotonic()
        os.kill(make.pid, signal.SIGTERM)  # the make process only, as `kill <pid>` does
        make.wait(timeout=GRACE + 20)
        while time.monotonic() - started < GRACE + 20:
            alive = [p for p in tree if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
            if not alive:
                break
            time.sleep(0.2)
        took = time.monotonic() - started
        assert not alive, [psutil.Process(p).cmdline()[:4] for p in alive if psutil.pid_exists(p)]
        assert took < GRACE + 5, f"stopped after {took:.1f} s"
        tab.close()
    finally:  # whatever the outcome, nothing of this test keeps running
        for pid in tree or [make.pid]:
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
