"""The raw zone: every raw table as typed Parquet, partitioned by export date.

    <raw_zone>/<export>/export_date=YYYY-MM-DD/data_0.parquet
    <raw_zone>/<export>/_manifest.json     which landing file went to which partition, by checksum

A second warehouse engine (Spark, through dbt-spark: docs/spark.md) reads these files as external
tables (dbt_project/macros/spark_raw_zone.sql), so both engines build from the same typed rows:
the contract's types and the lineage columns of `raw.<export>`, nothing re-parsed.

Written by `ingest.load_export` (pipelines/ingest/load.py) after its transaction committed (a failed load writes nothing),
from the committed table, so the zone is a copy of `raw.<export>` and never ahead of it. The
export date of a row is the date in its landing file's name (`tickets_2026-11-21.csv`), or the
day the file was first loaded for files without one (snapshots). Only the partitions whose files
changed are rewritten, each one swapped in by a directory rename. The manifest is written last:
a crash in between leaves it behind the partitions, and the next sync rewrites them again.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import duckdb

from .exports import Export

PARTITION_COLUMN = "export_date"
MANIFEST = "_manifest.json"
_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


def export_date_of(source_file: str, first_loaded: str) -> str:
    """The partition of a landing file: the last date in its name, else the day it was first loaded."""
    found = _DATE_IN_NAME.findall(Path(source_file).name)
    return found[-1] if found else first_loaded


def _read_manifest(folder: Path) -> dict[str, dict]:
    try:
        return json.loads((folder / MANIFEST).read_text())["files"]
    except FileNotFoundError:
        return {}


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _typed_columns(e: Export, con: duckdb.DuckDBPyConnection) -> str:
    """The table's columns; TIMESTAMP (UTC, naive) written as TIMESTAMPTZ, i.e. Parquet
    `isAdjustedToUTC=true`: what Spark reads as its TIMESTAMP (an instant), same values."""
    cols = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'raw' "
        "AND table_name = ? ORDER BY ordinal_position", [e.name]).fetchall()
    return ", ".join(f"CAST(t.{c} AS TIMESTAMPTZ) AS {c}" if t == "TIMESTAMP" else f"t.{c}" for c, t in cols)


def sync_export(con: duckdb.DuckDBPyConnection, e: Export, root: Path) -> list[str]:
    """Bring <root>/<export> in line with raw.<export> and raw._load_log; return the partitions rewritten."""
    folder = Path(root) / e.name
    folder.mkdir(parents=True, exist_ok=True)
    before = _read_manifest(folder)
    logged = con.execute(
        "SELECT source_file, file_checksum, CAST(CAST(loaded_at AS DATE) AS VARCHAR) FROM raw._load_log WHERE export = ?",
        [e.name]).fetchall()
    after: dict[str, dict] = {}
    for rel, checksum, loaded_day in logged:
        old = before.get(rel)
        first = old["first_loaded"] if old else loaded_day
        after[rel] = {"checksum": checksum, "first_loaded": first, PARTITION_COLUMN: export_date_of(rel, first)}
    changed = {rel for rel in before.keys() | after.keys() if before.get(rel) != after.get(rel)}
    stale = {before[r][PARTITION_COLUMN] for r in changed if r in before} | {after[r][PARTITION_COLUMN] for r in changed if r in after}
    # A partition folder on disk that no file maps to (e.g. left by a crash before the manifest): drop it.
    on_disk = {p.name.split("=", 1)[1] for p in folder.glob(f"{PARTITION_COLUMN}=*") if p.is_dir()}
    stale |= on_disk - {m[PARTITION_COLUMN] for m in after.values()}
    if not stale:
        return []

    con.execute("SET enable_progress_bar = false")  # a COPY of a large table would draw one into the run's log
    staging = folder / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    files = [[rel, m[PARTITION_COLUMN]] for rel, m in after.items() if m[PARTITION_COLUMN] in stale]
    con.execute("CREATE OR REPLACE TEMP TABLE _rz_files (source_file VARCHAR, export_date VARCHAR)")
    if files:
        con.executemany("INSERT INTO _rz_files VALUES (?, ?)", files)
    try:
        # One scan of the table writes every stale partition (hive layout export_date=...).
        con.execute(
            f"""COPY (SELECT {_typed_columns(e, con)}, CAST(f.export_date AS DATE) AS {PARTITION_COLUMN}
                      FROM raw.{e.name} t JOIN _rz_files f ON t._source_file = f.source_file)
                TO '{staging.as_posix()}' (FORMAT parquet, PARTITION_BY ({PARTITION_COLUMN}), COMPRESSION zstd,
                                           FILENAME_PATTERN 'data_{{i}}', OVERWRITE_OR_IGNORE true)""")
    finally:
        con.execute("DROP TABLE IF EXISTS _rz_files")
    for day in sorted(stale):
        target = folder / f"{PARTITION_COLUMN}={day}"
        new = staging / f"{PARTITION_COLUMN}={day}"
        old = folder / f".old-{PARTITION_COLUMN}={day}"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        if new.exists():  # a partition whose files all went (or only loaded 0 rows) stays absent
            new.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    _write_atomically(folder / MANIFEST, json.dumps({"export": e.name, "files": after}, indent=1, sort_keys=True))
    return sorted(stale)


def sync_load_log(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """raw._load_log as <root>/_load_log/data_0.parquet (small: rewritten whole; the export-volume gate reads it)."""
    folder = Path(root) / "_load_log"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".data_0.parquet.{os.getpid()}.tmp"
    con.execute(f"COPY (SELECT * REPLACE (CAST(loaded_at AS TIMESTAMPTZ) AS loaded_at) FROM raw._load_log) "
                f"TO '{tmp.as_posix()}' (FORMAT parquet)")
    os.replace(tmp, folder / "data_0.parquet")
