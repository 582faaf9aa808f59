"""The only module that uses library internals (Dagster, dagster-dbt) on purpose; each use is guarded
by tests/unit/test_compat.py, which fails when the library changes what it relies on.

- `KpiDbtCliResource`: DbtCliResource without two costs it pays on every `cli()` call that this
  project never uses: `dbt --version` in a subprocess (1.5-4 s per dbt process) and a dbt Core adapter
  built in-process (~5 s per call; used only by `fetch_row_counts()` / `fetch_column_metadata()`).
- dbt in the step's process (pipelines/dbt_in_process.py): dbt's events as the dicts of its JSON log
  (`msg_to_dict`) made into dagster-dbt's event message (`DbtCoreCliEventMessage`, not exported), the
  queries of an interrupted build cancelled (`FACTORY.adapters`), and the DuckDB database that
  dbt-duckdb keeps open in the process after a build closed (`DuckDBConnectionManager._ENV`).
- dbt's parsed project saved and loaded across processes (`save_parsed_manifest`/`load_parsed_manifest`:
  `Manifest.to_msgpack`/`from_msgpack`, as dbt keeps its partial-parse state): a new process with a
  warehouse of another folder (each test's, each Celery worker's first run) skips a full parse.
- `reconstructable_job`: the Celery variant of a job, rebuilt by the workers from this code location.
- `KeptEngineSqliteEventLogStorage`: Dagster's SQLite event log with its engines kept, an event log
  storage class named in config/dagster.yaml (opt-in per instance; nothing is patched, nothing done at
  import). Why:
  Dagster's SQLite event log opens a connection, commits and closes it once per event, in WAL
  mode: every commit syncs (SQLite's default `synchronous=FULL`), and every close, being the last
  connection to the file, checkpoints the WAL into the database and deletes it (two more syncs).
  A refresh stores ~1,300 events (each asset and check planned, then its output and its result),
  so on a busy disk this took 20-40 s of every run (`kpi bench`, pyinstrument, strace).

  Here, on every connection of the event log's engines:
  - `synchronous=NORMAL`: WAL commits survive a killed process (the crash tests kill runs); an OS
    crash or power loss can lose the last events of the run history, never the warehouse;
  - one idle connection per database file in WAL mode, so Dagster's closes are not the last one
    and the WAL is checkpointed by SQLite's usual rule (every 1,000 pages) instead of per event.
  200 events: 3.1 s → 0.7 s (tests/unit/test_run_storage.py counts the syncs).

  And the event log keeps one SQLAlchemy engine per shard file instead of creating one per event:
  Dagster's `SqliteEventLogStorage._connect` builds a new engine (NullPool) for every event, so
  SQLAlchemy compiles each INSERT again and opens a new SQLite connection each time. A refresh's
  ~1,100 events spent ~5 s compiling and ~3 s connecting (pyinstrument, `kpi run` at scale 1).
  Here the engine and one pooled connection per shard live until `release_event_log()` (end of a run).

  And it remembers which tables exist: Dagster's `has_table` builds an engine and connects on every
  asset check event (2.2 s of a refresh's ~340 check events, pyinstrument, `kpi run` at scale 0.05).
"""
from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as installed_version

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

from dagster_dbt import DbtCliResource


class KpiDbtCliResource(DbtCliResource):
    """dagster-dbt's resource; the version from the package metadata, no in-process adapter."""

    @cached_property
    def _cli_version(self):
        from packaging.version import Version

        return Version(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_event_dict(msg) -> dict:
    """A dbt event as the dict of dbt's JSON log line (what dagster-dbt parses from its subprocess)."""
    from dbt_common.events.functions import msg_to_dict

    return msg_to_dict(msg)


def dbt_event_message(raw_event: dict):
    """dagster-dbt's message for one dbt Core event; `.to_default_asset_events(...)` gives Dagster's events."""
    from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

    return DbtCoreCliEventMessage(raw_event=raw_event, event_history_metadata={})


def cancel_dbt_queries() -> None:
    """Cancel the queries of every dbt adapter of this process (what dbt does on Ctrl-C)."""
    from dbt.adapters.factory import FACTORY

    for adapter in list(FACTORY.adapters.values()):
        try:
            adapter.cancel_open_connections()
        except Exception:  # noqa: BLE001 - best effort: a connection may be closing already
            pass


def release_dbt_duckdb() -> None:
    """Close the DuckDB database that dbt-duckdb keeps open in the process after a build (closed
    only at exit), so that another process can open the warehouse."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def save_parsed_manifest(manifest, path) -> None:
    """dbt's parsed Manifest to a file, in the format dbt saves its partial-parse state in (msgpack);
    written beside and renamed into place, so a process never reads a file another one is writing."""
    from dbt.parser.manifest import extended_mashumaro_encoder

    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(manifest.to_msgpack(extended_mashumaro_encoder))
    os.replace(tmp, path)


def load_parsed_manifest(path):
    """A Manifest saved by `save_parsed_manifest`; None when there is none or it does not load (a file
    of another dbt version, cut short): the caller parses then."""
    from dbt.contracts.graph.manifest import Manifest
    from dbt.parser.manifest import extended_mashumuro_decoder

    try:
        return Manifest.from_msgpack(path.read_bytes(), decoder=extended_mashumuro_decoder)
    except Exception:  # noqa: BLE001 - any unreadable file means: parse again
        return None


def reconstructable_job(module: str, attribute: str, job_name: str):
    """A job of the Definitions object `module.attribute`, reconstructable in another process."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    return ReconstructableRepository.for_module(module, attribute).get_reconstructable_job(job_name)


# --- the event log storage -------------------------------------------------------------------

MAX_KEPT_OPEN = 8  # a run touches 2 event log files (index.db, its own shard); a long-lived process more
_keepers: OrderedDict[str, sqlite3.Connection] = OrderedDict()
_lock = threading.Lock()
# shard database URL -> (pid, engine), at most MAX_KEPT_OPEN kept. Keyed by the file, not the storage
# object: a test's next instance may reuse a collected storage's id.
_engines: OrderedDict[str, tuple[int, Engine]] = OrderedDict()


def _wal_database(con: sqlite3.Connection) -> str | None:
    """The file of a connection's main database when it is in WAL mode (a new shard is not yet)."""
    if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        return None
    return next((row[2] for row in con.execute("PRAGMA database_list") if row[1] == "main"), None) or None


def _on_connect(dbapi_connection: sqlite3.Connection, _record) -> None:
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


def _shard_engine(url: str) -> Engine:
    """The engine of a shard file, created once per process (a forked child makes its own)."""
    with _lock:
        pid, engine = _engines.get(url, (None, None))
        if engine is None or pid != os.getpid():
            # One pooled connection (a few more if a thread, such as the webserver's watcher, needs one).
            engine = create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=4,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
            event.listen(engine, "connect", _on_connect)
            _engines[url] = (os.getpid(), engine)
            while len(_engines) > MAX_KEPT_OPEN:
                _engines.popitem(last=False)[1][1].dispose()
        _engines.move_to_end(url)
        return engine


def _dispose_engines() -> None:
    with _lock:
        while _engines:
            _engines.popitem()[1][1].dispose()


def release_event_log() -> None:
    """Close the kept connections (the last close checkpoints each WAL); called at the end of a run."""
    _dispose_engines()
    with _lock:
        while _keepers:
            _keepers.popitem()[1].close()


class KeptEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage keeping one engine and connection per shard file (config/dagster.yaml:
    event_log_storage). `base_dir` defaults to Dagster's own, $DAGSTER_HOME/history/runs."""

    @classmethod
    def config_type(cls):
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        base_dir = config_value.get("base_dir") or os.path.join(os.environ["DAGSTER_HOME"], "history", "runs")
        return cls(base_dir=base_dir, inst_data=inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = _shard_engine(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        # Dagster asks on every asset check event (`supports_asset_checks`) and every tagged
        # materialization, each time with a new engine and connection: ~6.5 ms, 2.2 s for a refresh's
        # ~340 check events. A table once there stays (migrations add tables) until wipe().
        present = self.__dict__.setdefault("_tables_present", set())
        if table_name in present:
            return True
        if super().has_table(table_name):
            present.add(table_name)
            return True
        return False

    def wipe(self) -> None:
        _dispose_engines()  # wipe deletes shard files: no connection may keep one
        self.__dict__.pop("_tables_present", None)
        super().wipe()
