"""The raw schema: bookkeeping tables and one table per export, grown with the contracts."""
from __future__ import annotations

import duckdb

from ..exports import EXPORTS, Export
from ..exports.render import LINEAGE_COLUMNS
from .common import LOAD_LOG, REJECTS, _ident, _table, _type

def _table_columns(e: Export) -> list[tuple[str, str]]:
    return [(_ident(c.name), _type(c.type)) for c in e.columns] + [(n, t) for n, (t, _) in LINEAGE_COLUMNS.items()]


def _add_missing_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: list[tuple[str, str]]) -> None:
    have = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [schema, table]).fetchall()}
    for n, t in columns:
        if n not in have:
            con.execute(f"ALTER TABLE {schema}.{table} ADD COLUMN {n} {t}")


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, exports: tuple[Export, ...] = EXPORTS) -> None:
    """Create the raw schema, bookkeeping tables and one table per export (adding new contract columns)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {LOAD_LOG} (
            export VARCHAR, source_file VARCHAR, file_checksum VARCHAR,
            rows_loaded BIGINT, rows_rejected BIGINT, loaded_at TIMESTAMP, note VARCHAR)"""
    )
    # Size and mtime of each file as loaded: an unchanged file is skipped without reading it.
    # Inode and change time too: size and mtime alone let a corrected re-delivery that kept both
    # (copy tools that preserve mtime) pass as unchanged. Nothing sets a file's change time back.
    _add_missing_columns(con, "raw", "_load_log", [("note", "VARCHAR"), ("file_size", "BIGINT"), ("file_mtime_ns", "BIGINT"),
                                                   ("file_inode", "BIGINT"), ("file_ctime_ns", "BIGINT")])
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {REJECTS} (
            export VARCHAR, source_file VARCHAR, file_checksum VARCHAR, line BIGINT,
            column_name VARCHAR, error VARCHAR, raw_line VARCHAR, rejected_at TIMESTAMP)"""
    )
    for e in exports:
        cols = ", ".join(f"{n} {t}" for n, t in _table_columns(e))
        con.execute(f"CREATE TABLE IF NOT EXISTS {_table(e)} ({cols})")
        _add_missing_columns(con, "raw", _ident(e.name), _table_columns(e))
