"""The one way to open the DuckDB warehouse.

DuckDB allows one read-write process at a time; a second writer gets a lock error
straight away. Writers wait and retry for a while instead of failing the run.
"""
from __future__ import annotations

import time
from pathlib import Path

import duckdb

from .settings import get_settings

LOCK_RETRY_SECONDS = 120.0


def tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """`schema.name` of every table and view in the warehouse (the one way to ask what exists)."""
    return {r[0] for r in con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()}


def has_table(con: duckdb.DuckDBPyConnection, qualified_name: str) -> bool:
    """Whether `schema.name` exists (table or view)."""
    schema, name = qualified_name.split(".")
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
    ).fetchone()[0])


def connect(path: Path, *, read_only: bool = False, wait_seconds: float = LOCK_RETRY_SECONDS) -> duckdb.DuckDBPyConnection:
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise FileNotFoundError(f"warehouse {path} does not exist yet: materialize the pipeline first")
    deadline = time.monotonic() + wait_seconds
    delay = 0.1
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            # Timestamps in the exports are UTC; never let the machine's zone leak in.
            con.execute("SET TimeZone = 'UTC'")
            # DuckDB's default (80 % of RAM) let one web_events load reach 7.3 GB at scale 3 (kpi bench);
            # with a limit it spills to disk instead, at about the same speed.
            con.execute(f"SET memory_limit = '{get_settings().duckdb_memory_limit}'")
            return con
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


# --- the writer lane after a crash ---------------------------------------------------------
# Every warehouse writer runs in the Dagster pool `duckdb_writer` (limit 1). A run killed with
# SIGKILL (OOM killer, power loss, `kill -9`) never frees its slot, and every later run waits
# for it forever. In-process runs (`kpi run`, `make demo`) carry these tags, so the next one can
# tell that the process that held the slot is gone, mark that run failed and free the slot.
RUN_HOST_TAG = "kpi/host"
RUN_PID_TAG = "kpi/pid"
RUN_PID_STARTED_TAG = "kpi/pid_started"  # guards against a reused pid
_ACTIVE = ("NOT_STARTED", "STARTING", "STARTED", "CANCELING")


def _process_started(pid: int) -> str | None:
    """Start time of a process in clock ticks since boot (Linux), or None when unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def process_tags() -> dict[str, str]:
    """Tags naming this process, for a run executed in it."""
    import os
    import socket

    tags = {RUN_HOST_TAG: socket.gethostname(), RUN_PID_TAG: str(os.getpid())}
    started = _process_started(os.getpid())
    if started:
        tags[RUN_PID_STARTED_TAG] = started
    return tags


def _alive(pid: int, started: str | None) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _process_started(pid)
    return started is None or now is None or now == started


def release_dead_writers(instance, *, log=lambda _: None) -> list[str]:
    """Fail the in-process runs of this host whose process is gone and free their pool slots."""
    import socket

    import dagster as dg

    statuses = [dg.DagsterRunStatus[s] for s in _ACTIVE]
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=statuses, tags={RUN_HOST_TAG: socket.gethostname()}))
    released = []
    for run in runs:
        pid = int(run.tags.get(RUN_PID_TAG) or 0)
        if not pid or _alive(pid, run.tags.get(RUN_PID_STARTED_TAG)):
            continue
        instance.report_run_failed(run, f"the process that ran it (pid {pid}) is gone: killed or crashed")
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
        log(f"  ! run {run.run_id[:8]} died with its process (pid {pid}): marked failed, its writer slot freed")
    return released
