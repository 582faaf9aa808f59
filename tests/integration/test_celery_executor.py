"""The whole pipeline on two real Celery workers, Debian's redis-server as the broker.

Nothing is mocked: a redis-server and two `celery -A pipelines.distributed worker` processes are
started here (each in its own process group, stopped by PID at the end even when the test fails),
`run_job(executor="celery")` orchestrates `refresh_all_celery` from this process, and the steps run
in the workers' processes against a temp warehouse and DAGSTER_HOME.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.settings import PROJECT_ROOT, Settings
from pipelines.warehouse import connect
from tests.conftest import _demo_env, require_debian_tool

pytestmark = pytest.mark.celery

REDIS_SERVER = shutil.which("redis-server")
CELERY = str(Path(sys.executable).with_name("celery"))
WORKERS = ("w1", "w2")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, *, grace: float = 20.0) -> None:
    """SIGTERM the process group the process leads (celery: warm shutdown), SIGKILL it if still there."""
    if proc.poll() is not None:
        return
    with_group = os.getpgid(proc.pid) == proc.pid
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig) if with_group else proc.send_signal(sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def redis_broker(tmp_path):
    require_debian_tool(REDIS_SERVER, "redis-server", "redis")  # the Celery executor's broker
    import redis

    port = _free_port()
    data = tmp_path / "redis"
    data.mkdir()
    log = open(data / "redis.log", "w")
    # No persistence (no RDB snapshot, no AOF), loopback only, its own dir: nothing outlives the test.
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(data), "--daemonize", "no"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {port}: {(data / 'redis.log').read_text()[-2000:]}")
                time.sleep(0.1)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc, grace=10)
        log.close()


def _start_workers(env: dict[str, str], logs: Path) -> dict[str, subprocess.Popen]:
    """Two workers, one step at a time each, named w1@<host> and w2@<host>; returns when both are ready."""
    workers: dict[str, subprocess.Popen] = {}
    for name in WORKERS:
        workers[name] = subprocess.Popen(
            [CELERY, "-A", "pipelines.distributed", "worker", "--concurrency", "1", "--loglevel", "INFO",
             "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=PROJECT_ROOT, env=env, stdout=open(logs / f"{name}.log", "w"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    for name, proc in workers.items():
        log = logs / f"{name}.log"
        while f"{name}@" not in log.read_text() or " ready." not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"celery worker {name} did not start (exit {proc.poll()}):\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
    return workers


def _worker_of(pid: int, workers: dict[str, subprocess.Popen]) -> str | None:
    """Which of our workers a process belongs to (the worker itself or its pool's child process)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        family = {proc.pid, *(p.pid for p in proc.parents())}
    except psutil.NoSuchProcess:
        return None
    return next((name for name, w in workers.items() if w.pid in family), None)


def test_whole_pipeline_on_two_celery_workers_matches_the_in_process_run(published_demo, redis_broker, tmp_path,
                                                                           monkeypatch):
    from pipelines.runner import run_job

    # Same exports as the in-process run of `published_demo`, a fresh warehouse and run history.
    root = tmp_path / "celery"
    shutil.copytree(published_demo.landing_dir, root / "landing")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "config" / "dagster.yaml", home / "dagster.yaml")  # the duckdb_writer pool
    # The settings of the in-process run (the demo's targets included), pointed at this copy.
    env_vars = {
        "DAGSTER_HOME": str(home),
        **_demo_env(root),
        "KPI_CELERY_BROKER": redis_broker,
    }
    for k, v in env_vars.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("KPI_CELERY_BACKEND", raising=False)
    settings = Settings.from_env()

    workers = _start_workers({**os.environ, **env_vars}, root)
    try:
        lines: list[str] = []
        t0 = time.perf_counter()
        ok = run_job("refresh_all", executor="celery", print_fn=lines.append)
        elapsed = time.perf_counter() - t0
        assert ok, "\n".join(lines)
        assert "on Celery workers" in lines[-1], lines[-1]

        with dg.DagsterInstance.get() as instance:
            [run] = instance.get_runs(filters=dg.RunsFilter(job_name="refresh_all_celery"))
            assert run.status == dg.DagsterRunStatus.SUCCESS
            events = [r.event_log_entry for r in instance.get_records_for_run(run.run_id, limit=100_000).records]
        step_events = [e for e in events if e.dagster_event is not None and e.step_key]
        started = {e.step_key: e for e in step_events if e.dagster_event.event_type_value == "STEP_START"}
        succeeded = {e.step_key: e for e in step_events if e.dagster_event.event_type_value == "STEP_SUCCESS"}
        assert set(started) == set(succeeded) and len(started) >= 20, (sorted(started), sorted(succeeded))

        # Every step ran in one of the two workers' processes, never in this (the orchestrating) one,
        # and both workers took steps. (Checked while the workers still run: their pool children exist.)
        ran_in = {step: _worker_of(e.dagster_event.pid, workers) for step, e in started.items()}
        assert os.getpid() not in {e.dagster_event.pid for e in started.values()}
        assert None not in ran_in.values(), {s: started[s].dagster_event.pid for s, w in ran_in.items() if w is None}
        assert set(ran_in.values()) == set(WORKERS), ran_in
        # ...and the worker's own report (dagster-celery's engine event names the Celery worker).
        reported = {e.step_key: e.dagster_event.engine_event_data.metadata["Celery worker"].value
                    for e in step_events if e.dagster_event.event_type_value == "ENGINE_EVENT"
                    and "in celery worker" in (e.user_message or e.dagster_event.message or "")}
        assert set(reported) == set(started)
        assert {host.split("@")[0] for host in reported.values()} == set(WORKERS), reported
        assert all(reported[s].split("@")[0] == w for s, w in ran_in.items()), (reported, ran_in)
    finally:
        for proc in workers.values():
            _stop(proc)

    # One DuckDB writer at a time: no two steps (all in the pool duckdb_writer) overlapped in time.
    spans = sorted((started[s].timestamp, succeeded[s].timestamp, s) for s in started)
    for (_, end, step), (begin, _, nxt) in zip(spans, spans[1:]):
        assert begin >= end, f"steps {step} and {nxt} ran at the same time on the Celery workers"

    # The same KPIs as the in-process run of the same exports, row for row.
    query = "SELECT * FROM marts.fct_kpi_daily ORDER BY ALL"
    with connect(published_demo.warehouse_path, read_only=True) as con:
        expected = con.execute(query).fetchall()
    with connect(settings.warehouse_path, read_only=True) as con:
        got = con.execute(query).fetchall()
    assert len(expected) > 1000
    assert got == expected, [row for row in got if row not in set(expected)][:5]
    assert settings.serving_path.exists(), "published once the blocking checks passed"
    print(f"celery run of the whole pipeline: {elapsed:.0f}s, steps per worker: "
          f"{ {w: list(ran_in.values()).count(w) for w in WORKERS} }")
