"""The load transaction: one export's new or changed files, all or nothing."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb

from ..exports import Export
from .common import ContractViolation, LOAD_LOG, LoadResult, PAUSE_ENV, REJECTS, _capped, _ident, _insert_rows, _table
from .tables import ensure_raw_tables
from . import files as _files  # _files._stat: a test replaces it to simulate a file changing while read
from .files import _File, _fingerprint, _identity, _prepare, _sniff, discover_files, unmatched_files
from .header import _csv_header, _landing_names, _parquet_columns, check_contract
from .read import _create_stage_tables, _quarantine_unterminated, _stage_csv, _stage_jsonl, _stage_parquet
from .quarantine import _quarantine_keys

def _pause_for_crash_tests(e: Export) -> None:
    spec = os.environ.get(PAUSE_ENV, "")
    name, _, marker = spec.partition(":")
    if name == e.name and marker:
        Path(marker).write_text(str(os.getpid()))
        time.sleep(600)


def load_export(
    con: duckdb.DuckDBPyConnection,
    e: Export,
    landing_dir: Path,
    *,
    log: Callable[[str], None] = lambda _: None,
    raw_zone_dir: Path | None | bool = True,
) -> LoadResult:
    """Load new or changed files of one export into raw.<export> in a single transaction, then
    bring its raw zone (Parquet for a second engine: pipelines/raw_zone.py) in line with what committed.
    raw_zone_dir: True = from the settings (KPI_RAW_ZONE_DIR), None/False = not written."""
    result = _load_export(con, e, landing_dir, log=log)  # raises before the raw zone is touched
    if raw_zone_dir is True:
        from ..settings import get_settings

        raw_zone_dir = get_settings().raw_zone_dir
    if raw_zone_dir:
        from ..raw_zone import sync_export, sync_load_log

        rewritten = sync_export(con, e, raw_zone_dir)
        sync_load_log(con, raw_zone_dir)
        if rewritten:
            log(f"{e.name}: raw zone partition(s) rewritten: {len(rewritten)}")
    return result


def _load_export(con: duckdb.DuckDBPyConnection, e: Export, landing_dir: Path, *,
                 log: Callable[[str], None]) -> LoadResult:
    ensure_raw_tables(con, (e,))
    con.execute("SET TimeZone = 'UTC'")  # offset-less timestamps are UTC; offsets convert to UTC
    landing_dir = Path(landing_dir).resolve()
    result = LoadResult(export=e.name)
    files = discover_files(landing_dir, e)
    result.files_seen = len(files)
    logged = con.execute(
        # The stat is trusted only for a file last written 2 s before its load: a rewrite in the same
        # coarse mtime tick as the first write would otherwise look unchanged.
        f"SELECT source_file, file_checksum, rows_loaded + rows_rejected, "
        f"CASE WHEN file_mtime_ns < epoch_ns(loaded_at) - 2000000000 THEN file_size END, file_mtime_ns, file_inode, "
        f"file_ctime_ns FROM {LOAD_LOG} WHERE export = ?", [e.name]).fetchall()
    loaded = {rel: checksum for rel, checksum, *_ in logged}
    rows_of = {rel: n for rel, _, n, *_ in logged}
    with_rows = {checksum: rel for rel, checksum, n, *_ in sorted(logged) if n}
    stat_of = {rel: tuple(ident) for rel, _, _, *ident in logged if None not in ident}
    for name in unmatched_files(landing_dir, e):
        result.warnings.append(f"{e.folder}/{name}: ignored: its name does not match {e.name}*.{e.extension}"
                               + ("" if e.format == "parquet" else " (or .gz)"))

    todo: list[_File] = []
    for p in files:
        rel = p.relative_to(landing_dir).as_posix()
        # Same size, mtime, inode and change time as when it was loaded: unchanged, no need to hash it.
        # Hashing every landing file on every run grew with the history (a year: ~7,000 files, 0.7 GB per night).
        if rel in loaded and stat_of.get(rel) == _identity(p):
            result.files_unchanged += 1
            continue
        f = _fingerprint(p, rel, len(todo) + 1)
        if loaded.get(rel) == f.checksum:
            result.files_unchanged += 1
            continue
        todo.append(f)
    if not todo:
        result.rows_in_table = con.execute(f"SELECT count(*) FROM {_table(e)}").fetchone()[0]
        return result
    # A byte-identical copy of a file that stays loaded, or of an earlier file of this run, loads nothing.
    changing = {f.rel for f in todo}
    first_with_checksum: dict[str, _File] = {}
    for f in todo:
        original = with_rows.get(f.checksum)
        if original and original != f.rel and original not in changing:
            f.copy_of = original
        elif f.checksum in first_with_checksum:
            f.copy_of = first_with_checksum[f.checksum].rel
        first_with_checksum.setdefault(f.checksum, f)

    log(f"{e.name}: loading {len(todo)} new or changed file(s) of {len(files)}")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    tmp = Path(tempfile.mkdtemp(prefix="kpi-ingest-"))
    in_transaction = False
    try:
        # 1. Prepare and check every file against the contract before reading any rows.
        for f in todo:
            if f.copy_of:
                continue
            if e.format != "parquet" and not f.empty:
                _sniff(f)
            _prepare(f, e, tmp)
            if f.empty:
                pass
            elif e.format == "csv":
                _csv_header(f, e)
            elif e.format == "parquet":
                f.header = _parquet_columns(f)
            if e.format != "jsonl" and not f.empty:
                extra = check_contract(f.path, f.header, e)
                if extra:
                    result.extra_columns[f.rel] = _capped(extra)
        readable = [f for f in todo if not f.copy_of]
        # A re-delivery replaces what the file loaded before. Without even a header row it is far more
        # likely a broken transfer than a retraction: keep the rows (a header-only file retracts them).
        for f in readable:
            if f.empty and not f.header and rows_of.get(f.rel):
                raise ContractViolation(
                    f"{f.path}: delivered again empty, but it loaded {rows_of[f.rel]} row(s) before; keeping them "
                    "(an interrupted transfer?). To retract them, deliver the file with its header row only. "
                    f"Nothing of export '{e.name}' was loaded in this run.")

        # 2. Stage into connection-private temp tables, outside the transaction: DuckDB 2.0 loses
        # the values of a multi-row-group CSV insert with store_rejects inside an explicit
        # transaction (tests/integration/test_ingest.py guards this).
        _create_stage_tables(con, e)
        _insert_rows(con, "_paths", [[f.fid, str(f.read_path) if f.read_path else None, f.rel,
                                      not (f.blank_lines and e.format == "csv")] for f in todo], 4)
        try:
            if e.format == "csv":
                _stage_csv(con, e, readable)
                _quarantine_unterminated(con, e, readable)
            elif e.format == "jsonl":
                _stage_jsonl(con, e, readable, result)
            else:
                _stage_parquet(con, e, readable)
        except duckdb.IOException as exc:
            raise ContractViolation(f"export '{e.name}': a file could not be read ({exc}); "
                                    "nothing of this export was loaded in this run") from exc
        # Every record read is now in _stage or _stage_rejects, once: from here on none may get lost.
        records = dict(con.execute(
            "SELECT fid, count(*) FROM (SELECT fid FROM _stage UNION ALL SELECT fid FROM _stage_rejects) GROUP BY fid"
        ).fetchall())
        _quarantine_keys(con, e)
        for f in readable:
            if _files._stat(f.path) != f.stat:
                raise ContractViolation(
                    f"{f.path}: changed while it was being read (is it still being written?); nothing of export "
                    f"'{e.name}' was loaded in this run: it loads on the next run")

        # 3. One transaction: replace what these files loaded before, insert, quarantine, log.
        con.execute("BEGIN TRANSACTION")
        in_transaction = True
        con.execute("CREATE OR REPLACE TEMP TABLE _files (fid INTEGER, source_file VARCHAR, file_checksum VARCHAR)")
        _insert_rows(con, "_files", [[f.fid, f.rel, f.checksum] for f in todo], 3)
        con.execute(f"DELETE FROM {_table(e)} WHERE _source_file IN (SELECT source_file FROM _files)")
        con.execute(f"DELETE FROM {REJECTS} WHERE export = ? AND source_file IN (SELECT source_file FROM _files)", [e.name])
        cols = ", ".join(_ident(c) for c in e.column_names)
        con.execute(
            f"""INSERT INTO {_table(e)} ({cols}, _source_file, _file_checksum, _loaded_at)
                SELECT {', '.join('s.' + _ident(c) for c in e.column_names)}, f.source_file, f.file_checksum, ?
                FROM _stage s JOIN _files f USING (fid)""",
            [now],
        )
        con.execute(
            f"""INSERT INTO {REJECTS} SELECT ?, f.source_file, f.file_checksum, r.line, r.column_name, r.error, r.raw_line, ?
                FROM _stage_rejects r JOIN _files f USING (fid) ORDER BY r.fid, r.line""",
            [e.name, now],
        )
        per_file = dict(con.execute("SELECT fid, count(*) FROM _stage GROUP BY 1").fetchall())
        rejected = dict(con.execute("SELECT fid, count(*) FROM _stage_rejects GROUP BY 1").fetchall())
        con.execute(f"DELETE FROM {LOAD_LOG} WHERE export = ? AND source_file IN (SELECT source_file FROM _files)", [e.name])
        log_rows = []
        for f in todo:
            notes = list(f.notes)
            if f.copy_of and records.get(first_with_checksum[f.checksum].fid, 1):
                notes.append(f"byte-identical to {f.copy_of}, which is loaded: not loaded twice")
            elif f.empty:
                notes.append("empty file: no rows")
            log_rows.append([e.name, f.rel, f.checksum, per_file.get(f.fid, 0), rejected.get(f.fid, 0), now,
                             "; ".join(notes) or None, *f.identity])
            if notes:
                result.warnings.append(f"{f.rel}: {'; '.join(notes)}")
        con.execute("CREATE OR REPLACE TEMP TABLE _log (export VARCHAR, source_file VARCHAR, file_checksum VARCHAR, "
                    "rows_loaded BIGINT, rows_rejected BIGINT, loaded_at TIMESTAMP, note VARCHAR, file_size BIGINT, "
                    "file_mtime_ns BIGINT, file_inode BIGINT, file_ctime_ns BIGINT)")
        _insert_rows(con, "_log", log_rows, 11)
        con.execute(f"INSERT INTO {LOAD_LOG} (export, source_file, file_checksum, rows_loaded, rows_rejected, loaded_at, note, "
                    "file_size, file_mtime_ns, file_inode, file_ctime_ns) SELECT * FROM _log")
        result.rows_loaded = sum(per_file.values())
        result.rows_rejected = sum(rejected.values())
        # Every record read must end up loaded or quarantined under its file: never lose rows silently.
        inserted = dict(con.execute(
            f"SELECT f.fid, count(*) FROM {_table(e)} t JOIN _files f ON t._source_file = f.source_file "
            "WHERE t._loaded_at = ? GROUP BY 1", [now]).fetchall())
        for f in readable:
            got = inserted.get(f.fid, 0) + rejected.get(f.fid, 0)
            if got != records.get(f.fid, 0) or inserted.get(f.fid, 0) != per_file.get(f.fid, 0):
                raise RuntimeError(
                    f"{f.path}: read {records.get(f.fid, 0)} records but loaded {inserted.get(f.fid, 0)} and "
                    f"quarantined {rejected.get(f.fid, 0)}; nothing was loaded (an internal error: please report it)")
        result.files_loaded = sorted(f.rel for f in todo)
        result.reject_sample = [
            dict(zip(("file", "line", "column", "error"), r))
            for r in con.execute(
                f"""SELECT source_file, line, column_name, error FROM {REJECTS} WHERE export = ? AND rejected_at = ?
                    ORDER BY source_file, line LIMIT 5""",
                [e.name, now],
            ).fetchall()
        ]
        _pause_for_crash_tests(e)
        con.execute("COMMIT")
        in_transaction = False
    except BaseException as exc:
        if in_transaction:
            con.execute("ROLLBACK")
        if isinstance(exc, (ContractViolation, duckdb.Error)) and str(tmp) in str(exc):
            raise type(exc)(_landing_names(str(exc), todo)) from exc  # name the file the user delivered
        raise
    finally:
        for t in ("_stage", "_stage_rejects", "_files", "_paths", "_colnames", "_scan_raw", "_scan_files", "_rl",
                  "_rej_errors", "_rej_scans", "_pq", "_checked", "_dupkeys", "_dupinfo", "_log"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        shutil.rmtree(tmp, ignore_errors=True)
    result.rows_in_table = con.execute(f"SELECT count(*) FROM {_table(e)}").fetchone()[0]
    return result
