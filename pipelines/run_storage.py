"""Dagster's run history in SQLite (DAGSTER_HOME) written without three disk syncs per event.

Dagster's SQLite event log opens a connection, commits and closes it once per event, in WAL
mode: every commit syncs (SQLite's default `synchronous=FULL`), and every close, being the last
connection to the file, checkpoints the WAL into the database and deletes it (two more syncs).
A refresh stores ~1,300 events (each asset and check planned, then its output and its result),
so on a busy disk this took 20-40 s of every run (`kpi bench`, pyinstrument, strace).

Here, on every SQLite connection SQLAlchemy opens in the process:
- `synchronous=NORMAL`: WAL commits survive a killed process (the crash tests kill runs); an OS
  crash or power loss can lose the last events of the run history, never the warehouse;
- one idle connection per database file in WAL mode, so Dagster's closes are not the last one
  and the WAL is checkpointed by SQLite's usual rule (every 1,000 pages) instead of per event.
200 events: 3.1 s → 0.7 s (tests/unit/test_run_storage.py counts the syncs).

And the event log keeps one SQLAlchemy engine per shard file instead of creating one per event:
Dagster's `SqliteEventLogStorage._connect` builds a new engine (NullPool) for every event, so
SQLAlchemy compiles each INSERT again and opens a new SQLite connection each time. A refresh's
~1,100 events spent ~5 s compiling and ~3 s connecting (pyinstrument, `kpi run` at scale 1).
Here the engine and one pooled connection per shard live until `release()` (end of the run).
"""
from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

MAX_KEPT_OPEN = 8  # a run touches 3 files (runs.db, index.db, its own shard); a long-lived process more
_keepers: OrderedDict[str, sqlite3.Connection] = OrderedDict()
_lock = threading.Lock()
_installed = False
# shard database URL -> (pid, engine): the event log's engines, at most MAX_KEPT_OPEN kept. Keyed by
# the file, not the storage object: a test's next instance may reuse a collected storage's id.
_engines: OrderedDict[str, tuple[int, Engine]] = OrderedDict()


def _wal_database(con: sqlite3.Connection) -> str | None:
    """The file of a connection's main database when it is in WAL mode (a new shard is not yet)."""
    if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        return None
    return next((row[2] for row in con.execute("PRAGMA database_list") if row[1] == "main"), None) or None


def _on_connect(dbapi_connection, _record) -> None:
    # Only SQLite connections: DuckDB's (GX, duckdb-engine) go through the same Engine class.
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    path = _wal_database(dbapi_connection)
    if not path:
        return
    with _lock:
        if path in _keepers:
            _keepers.move_to_end(path)
            return
        keeper = sqlite3.connect(path, check_same_thread=False)
        keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()  # joins the WAL: now it counts
        _keepers[path] = keeper
        while len(_keepers) > MAX_KEPT_OPEN:
            _keepers.popitem(last=False)[1].close()


def _shard_engine(storage, shard: str) -> Engine:
    """The storage's engine for a shard, created once per process (a forked child makes its own)."""
    url = storage.conn_string_for_shard(shard)
    with _lock:
        pid, engine = _engines.get(url, (None, None))
        if engine is None or pid != os.getpid():
            from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS

            # One pooled connection (a few more if a thread, such as the webserver's watcher, needs one).
            engine = create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=4,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
            _engines[url] = (os.getpid(), engine)
            while len(_engines) > MAX_KEPT_OPEN:
                _engines.popitem(last=False)[1][1].dispose()
        _engines.move_to_end(url)
        return engine


@contextmanager
def _connect(self, shard: str) -> Iterator[Connection]:
    """SqliteEventLogStorage._connect with the shard's engine kept (Dagster's makes one per call)."""
    with self._db_lock:
        engine = _shard_engine(self, shard)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        with engine.connect() as conn, conn.begin():
            yield conn


def _dispose_engines() -> None:
    with _lock:
        while _engines:
            _engines.popitem()[1][1].dispose()


def release() -> None:
    """Close the idle connections (the last close checkpoints each WAL); called at the end of a run."""
    _dispose_engines()
    with _lock:
        while _keepers:
            _keepers.popitem()[1].close()


def install() -> None:
    """For every SQLite connection SQLAlchemy opens in this process from now on (idempotent)."""
    global _installed
    with _lock:
        if not _installed:
            event.listen(Engine, "connect", _on_connect)
            _patch_event_log()
            _installed = True


def _patch_event_log() -> None:
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    wipe = SqliteEventLogStorage.wipe

    def wipe_closing_shards(self) -> None:  # wipe deletes shard files: no connection may keep one
        _dispose_engines()
        wipe(self)

    SqliteEventLogStorage._connect = _connect
    SqliteEventLogStorage.wipe = wipe_closing_shards
