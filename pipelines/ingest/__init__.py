"""Load landing files into `raw.<export>`, driven by the export contracts.

Guarantees, per export and run (docs/guarantees.md says how each one is tested):
- Nothing half-way. Every new or changed file is read, converted and checked into
  connection-private temp tables first; then one transaction replaces what re-delivered
  files loaded before, inserts the rows, quarantines the rejects and writes the load log.
  An error or a kill at any point leaves `raw.*` as it was.
- File-level problems fail the export's load with a message naming the file and what was
  expected, and nothing of the export is loaded in that run: a missing required column, a
  header name that differs from a contract name only in case or spacing, a contract column
  twice, a file that cannot be read or decompressed, a link leaving the landing folder, a
  file that changed while it was read.
- Row-level problems quarantine the row in `raw._rejects` (file, line, column, error, the
  row as read) and the rest loads: a value that does not convert to the contract type, a
  line with too few or too many fields, an unterminated quote, invalid UTF-8, a line over
  2 MB, an empty primary key, a key twice in one file, a key of a non-change export that
  another file already loaded.
- Files are read as delivered: UTF-8 (with or without BOM), UTF-16 (BOM) or Windows-1252 /
  Latin-1 (detected and transcoded); LF, CRLF or CR line endings; gzip by content, whatever
  the name; the contract's delimiter or one detected from the header (`;`, tab, `|`);
  timestamps in ISO 8601 with or without `T`, with an offset or `Z` (converted to UTC), or
  a date alone (midnight UTC).
- A file already loaded with the same checksum is skipped; a file delivered again with new
  content replaces the rows it loaded before; a byte-identical copy of a loaded file under
  another name is recorded and not loaded twice.
SQL identifiers come only from the contracts (checked by `common._ident`); file names, header
names and values are bound as parameters or stay inside DuckDB, never spliced into SQL.

One concern per module: `files` finds and prepares the landing files, `header` checks a file's
header against its export contract, `read` reads each format into the stage tables, `convert`
converts text to the contract's types, `quarantine` quarantines rows by key, `load` is the load
transaction, `tables` the raw schema, `assets` the Dagster assets; `common` is what they share.
"""
from __future__ import annotations

from .assets import (DUCKDB_WRITER_POOL, build_raw_asset, landing_asset_key, landing_spec, landing_specs, load_log_spec,
                     raw_asset_key, raw_assets)
from .common import LOAD_LOG, PAUSE_ENV, REJECTS, ContractViolation, LoadResult
from .header import check_contract
from .files import discover_files, file_checksum, unmatched_files
from .load import load_export
from .tables import ensure_raw_tables

__all__ = ["DUCKDB_WRITER_POOL", "LOAD_LOG", "PAUSE_ENV", "REJECTS", "ContractViolation", "LoadResult", "build_raw_asset",
           "check_contract", "discover_files", "ensure_raw_tables", "file_checksum", "landing_asset_key", "landing_spec",
           "landing_specs", "load_export", "load_log_spec", "raw_asset_key", "raw_assets", "unmatched_files"]
