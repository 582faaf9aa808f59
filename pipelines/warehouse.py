"""The one way to open the DuckDB warehouse.

DuckDB allows one read-write process at a time; a second writer gets a lock error
straight away. Writers wait and retry for a while instead of failing the run.
"""
from __future__ import annotations

import time
from pathlib import Path

import duckdb

LOCK_RETRY_SECONDS = 120.0


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
            return con
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
