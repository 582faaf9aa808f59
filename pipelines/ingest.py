"""Load landing files into `raw.<export>`, driven by the export contracts.

Guarantees, per export and run:
- a file is checked against its contract before anything is written; a file missing a
  required column fails the load naming file and column, and nothing of the run is loaded;
- each export loads in one transaction: a failure leaves the table as it was;
- files already loaded with the same checksum are skipped (a re-run adds nothing); a
  file delivered again with new content replaces its own earlier rows;
- rows whose values do not cast to the contract type, or with a NULL primary key, go to
  `raw._rejects` with file, line, column and error; the rest of the file loads.
SQL identifiers come only from the contracts; file names and header names are bound
as parameters, never spliced into SQL.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb

from .exports import EXPORTS, Export
from .exports.render import LINEAGE_COLUMNS

LOAD_LOG = "raw._load_log"
REJECTS = "raw._rejects"


class ContractViolation(ValueError):
    """A landing file that breaks its export contract."""


@dataclass
class LoadResult:
    export: str
    files_seen: int = 0
    files_loaded: list[str] = field(default_factory=list)
    files_unchanged: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_in_table: int = 0
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    reject_sample: list[dict] = field(default_factory=list)


# --- DDL ------------------------------------------------------------------------------

def _table_columns(e: Export) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in e.columns] + [(n, t) for n, (t, _) in LINEAGE_COLUMNS.items()]


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, exports: tuple[Export, ...] = EXPORTS) -> None:
    """Create the raw schema, bookkeeping tables and one table per export (adding new contract columns)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {LOAD_LOG} (
            export VARCHAR, source_file VARCHAR, file_checksum VARCHAR,
            rows_loaded BIGINT, rows_rejected BIGINT, loaded_at TIMESTAMP)"""
    )
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {REJECTS} (
            export VARCHAR, source_file VARCHAR, file_checksum VARCHAR, line BIGINT,
            column_name VARCHAR, error VARCHAR, raw_line VARCHAR, rejected_at TIMESTAMP)"""
    )
    for e in exports:
        cols = ", ".join(f"{n} {t}" for n, t in _table_columns(e))
        con.execute(f"CREATE TABLE IF NOT EXISTS raw.{e.name} ({cols})")
        have = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
            [e.name]).fetchall()}
        for n, t in _table_columns(e):
            if n not in have:
                con.execute(f"ALTER TABLE raw.{e.name} ADD COLUMN {n} {t}")


# --- files ----------------------------------------------------------------------------

def discover_files(landing_dir: Path, e: Export) -> list[Path]:
    """The export's files under the landing dir (plain or .gz), sorted; links leaving the landing dir are refused."""
    root = Path(landing_dir).resolve()
    folder = root / e.folder
    if not folder.is_dir():
        return []
    found = set(folder.glob(f"{e.name}*.{e.extension}"))
    if e.format != "parquet":
        found |= set(folder.glob(f"{e.name}*.{e.extension}.gz"))
    files = []
    for p in sorted(found):
        target = p.resolve()
        if not target.is_relative_to(root):
            raise ContractViolation(f"{p}: links outside the landing folder {root} are refused (points to {target})")
        if target.is_file():
            files.append(p)
    return files


def file_checksum(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


def read_header(path: Path, e: Export) -> list[str]:
    """Column names a file declares: CSV header row, keys of the first JSON line, Parquet schema."""
    if e.format == "parquet":
        try:
            rows = duckdb.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        except duckdb.Error as exc:
            raise ContractViolation(f"{path}: not a readable Parquet file ({exc})") from exc
        return [r[0] for r in rows]
    with _open_text(path) as f:
        if e.format == "csv":
            header = next(csv.reader(f, delimiter=e.delimiter), None)
            if header is None:
                raise ContractViolation(f"{path}: empty file, expected a header row with columns {', '.join(e.required_columns)}")
            return [h.strip() for h in header]
        line = f.readline()
        if not line.strip():
            return []  # an empty JSON-lines file carries no rows and no columns
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ContractViolation(f"{path}, line 1: not a JSON object ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise ContractViolation(f"{path}, line 1: expected a JSON object, got {type(obj).__name__}")
        return list(obj)


def check_contract(path: Path, header: list[str], e: Export) -> list[str]:
    """Raise if a required column is missing; return the extra (ignored) columns."""
    if e.format == "jsonl" and not header:
        return []
    missing = [c for c in e.required_columns if c not in header]
    if missing:
        raise ContractViolation(
            f"{path}: missing required column(s) {', '.join(missing)} of export '{e.name}' "
            f"(the file has: {', '.join(header) or 'no columns'}; expected: {', '.join(e.column_names)}). "
            "Nothing of this export was loaded in this run."
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ContractViolation(f"{path}: column(s) {', '.join(dupes)} appear more than once in the header")
    known = set(e.column_names)
    return [h for h in header if h not in known]


# --- loading --------------------------------------------------------------------------

def _cast_select(e: Export, present: set[str]) -> str:
    """Typed select list over a stage of VARCHAR (or natively typed) columns; absent optional columns are NULL."""
    return ", ".join(
        f"TRY_CAST({c.name} AS {c.type}) AS {c.name}" if c.name in present else f"CAST(NULL AS {c.type}) AS {c.name}"
        for c in e.columns
    )


def _cast_failure_sql(e: Export, present: set[str]) -> str:
    """A SQL expression naming the first column whose value does not cast (NULL when the row is fine)."""
    whens = " ".join(
        f"WHEN {c.name} IS NOT NULL AND TRY_CAST({c.name} AS {c.type}) IS NULL THEN '{c.name}'"
        for c in e.columns if c.name in present
    )
    return f"CASE {whens} END" if whens else "NULL"


def _stage_csv(con, e: Export, files: list[tuple[Path, str]], headers: dict[Path, list[str]]) -> None:
    """Read CSV files with the contract types; DuckDB's reader quarantines rows that do not cast."""
    by_header: dict[tuple[str, ...], list[Path]] = {}
    for p, _ in files:
        by_header.setdefault(tuple(headers[p]), []).append(p)
    types = {c.name: c.type for c in e.columns}
    for header, paths in by_header.items():
        # Extra header names come from the file: they never reach SQL text, only positions do.
        columns = {(h if h in types else f"_extra_{i}"): types.get(h, "VARCHAR") for i, h in enumerate(header)}
        present = {h for h in header if h in types}
        sel = ", ".join(c.name if c.name in present else f"CAST(NULL AS {c.type}) AS {c.name}" for c in e.columns)
        con.execute("DROP TABLE IF EXISTS _rej_errors; DROP TABLE IF EXISTS _rej_scans")
        struct = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
        con.execute(
            f"""INSERT INTO _stage SELECT {sel}, filename FROM read_csv(?, header = true, columns = {struct},
                auto_detect = false, delim = ?, quote = '"', escape = '"', filename = true,
                store_rejects = true, rejects_table = '_rej_errors', rejects_scan = '_rej_scans')""",
            [[str(p) for p in paths], e.delimiter],
        )
        con.execute(
            """INSERT INTO _stage_rejects
               SELECT s.file_path, r.line, r.column_name, r.error_message, r.csv_line
               FROM _rej_errors r JOIN _rej_scans s USING (scan_id, file_id)"""
        )


def _stage_typed(con, e: Export, files: list[tuple[Path, str]], headers: dict[Path, list[str]]) -> None:
    """JSON lines and Parquet: read, TRY_CAST to the contract, quarantine rows that do not cast."""
    for p, _ in files:
        present = {h for h in headers[p] if h in {c.name for c in e.columns}}
        if not present:
            continue  # an empty JSON-lines file
        if e.format == "jsonl":
            cols = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in e.column_names if c in present) + "}"
            src = f"read_json(?, format = 'newline_delimited', columns = {cols}, filename = true) WITH ORDINALITY AS t"
            line = "t.ordinality"
        else:
            src = "read_parquet(?, filename = true, file_row_number = true)"
            line = "file_row_number + 1"
        con.execute(f"CREATE OR REPLACE TEMP TABLE _typed_src AS SELECT *, {line} AS _line, {_cast_failure_sql(e, present)} AS _bad FROM {src}", [str(p)])
        raw_row = "json_object(" + ", ".join(f"'{c}', {c}" for c in e.column_names if c in present) + ")::VARCHAR"
        con.execute(
            f"""INSERT INTO _stage_rejects SELECT filename, _line, _bad,
                'Could not convert value of column ' || _bad || ' to the contract type', {raw_row}
                FROM _typed_src WHERE _bad IS NOT NULL"""
        )
        con.execute(f"INSERT INTO _stage SELECT {_cast_select(e, present)}, filename FROM _typed_src WHERE _bad IS NULL")


def load_export(
    con: duckdb.DuckDBPyConnection,
    e: Export,
    landing_dir: Path,
    *,
    log: Callable[[str], None] = lambda _: None,
) -> LoadResult:
    """Load new or changed files of one export into raw.<export> in a single transaction."""
    ensure_raw_tables(con, (e,))
    landing_dir = Path(landing_dir).resolve()
    result = LoadResult(export=e.name)
    files = discover_files(landing_dir, e)
    result.files_seen = len(files)
    loaded = dict(con.execute(f"SELECT source_file, file_checksum FROM {LOAD_LOG} WHERE export = ?", [e.name]).fetchall())

    todo: list[tuple[Path, str]] = []
    for p in files:
        rel = p.relative_to(landing_dir).as_posix()
        checksum = file_checksum(p)
        if loaded.get(rel) == checksum:
            result.files_unchanged += 1
        else:
            todo.append((p, checksum))
    if not todo:
        result.rows_in_table = con.execute(f"SELECT count(*) FROM raw.{e.name}").fetchone()[0]
        return result

    # Check every file against the contract before writing anything.
    headers = {p: read_header(p, e) for p, _ in todo}
    for p, _ in todo:
        extra = check_contract(p, headers[p], e)
        if extra:
            result.extra_columns[p.relative_to(landing_dir).as_posix()] = extra

    log(f"{e.name}: loading {len(todo)} new or changed file(s) of {len(files)}")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rel_of = {str(p): p.relative_to(landing_dir).as_posix() for p, _ in todo}
    checksum_of = {p.relative_to(landing_dir).as_posix(): c for p, c in todo}
    pk_null = " OR ".join(f"{k} IS NULL" for k in e.primary_key)

    in_transaction = False
    try:
        # Stage into connection-private temp tables first, outside the transaction: DuckDB 2.0
        # loses the values of a multi-row-group CSV insert with store_rejects inside an
        # explicit transaction (tests/integration/test_ingest.py guards this).
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _stage AS SELECT "
            + ", ".join(f"CAST(NULL AS {c.type}) AS {c.name}" for c in e.columns)
            + ", CAST(NULL AS VARCHAR) AS _source_path LIMIT 0"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _stage_rejects (source_path VARCHAR, line BIGINT, "
            "column_name VARCHAR, error VARCHAR, raw_line VARCHAR)"
        )
        (_stage_csv if e.format == "csv" else _stage_typed)(con, e, todo, headers)
        staged, attributed = con.execute("SELECT count(*), count(_source_path) FROM _stage").fetchone()

        con.execute("BEGIN TRANSACTION")
        in_transaction = True
        con.execute("CREATE OR REPLACE TEMP TABLE _files (source_path VARCHAR, source_file VARCHAR, file_checksum VARCHAR)")
        con.executemany("INSERT INTO _files VALUES (?, ?, ?)", [[k, v, checksum_of[v]] for k, v in rel_of.items()])
        # Rows without a primary key cannot be deduplicated or joined: quarantine them too.
        con.execute(
            f"""INSERT INTO _stage_rejects SELECT _source_path, NULL, '{'/'.join(e.primary_key)}',
                'primary key is NULL', NULL FROM _stage WHERE {pk_null}"""
        )
        pk_null_rows = con.execute(f"SELECT count(*) FROM _stage WHERE {pk_null}").fetchone()[0]
        con.execute(f"DELETE FROM _stage WHERE {pk_null}")

        # Replace what these files loaded before (a re-delivery), then insert.
        con.execute(f"DELETE FROM raw.{e.name} WHERE _source_file IN (SELECT source_file FROM _files)")
        con.execute(f"DELETE FROM {REJECTS} WHERE export = ? AND source_file IN (SELECT source_file FROM _files)", [e.name])
        cols = ", ".join(e.column_names)
        con.execute(
            f"""INSERT INTO raw.{e.name} ({cols}, _source_file, _file_checksum, _loaded_at)
                SELECT {', '.join('s.' + c for c in e.column_names)}, f.source_file, f.file_checksum, ?
                FROM _stage s JOIN _files f ON s._source_path = f.source_path""",
            [now],
        )
        con.execute(
            f"""INSERT INTO {REJECTS} SELECT ?, f.source_file, f.file_checksum, r.line, r.column_name, r.error, r.raw_line, ?
                FROM _stage_rejects r JOIN _files f ON r.source_path = f.source_path""",
            [e.name, now],
        )
        per_file = dict(con.execute("SELECT _source_path, count(*) FROM _stage GROUP BY 1").fetchall())
        rejected = dict(con.execute("SELECT source_path, count(*) FROM _stage_rejects GROUP BY 1").fetchall())
        con.execute(f"DELETE FROM {LOAD_LOG} WHERE export = ? AND source_file IN (SELECT source_file FROM _files)", [e.name])
        con.executemany(
            f"INSERT INTO {LOAD_LOG} VALUES (?, ?, ?, ?, ?, ?)",
            [[e.name, rel, checksum_of[rel], per_file.get(path, 0), rejected.get(path, 0), now] for path, rel in rel_of.items()],
        )
        result.rows_loaded = sum(per_file.values())
        result.rows_rejected = sum(rejected.values())
        # Every staged row must end up loaded or quarantined under its file: never lose rows silently.
        inserted = con.execute(f"SELECT count(*) FROM raw.{e.name} WHERE _loaded_at = ?", [now]).fetchone()[0]
        if not (staged == attributed == inserted + pk_null_rows) or inserted != result.rows_loaded:
            raise RuntimeError(
                f"{e.name}: read {staged} rows ({attributed} traceable to their file) but loaded {inserted} and "
                f"quarantined {pk_null_rows}; nothing was loaded (an internal error: please report it)"
            )
        result.files_loaded = sorted(rel_of.values())
        result.reject_sample = [
            dict(zip(("file", "line", "column", "error"), r))
            for r in con.execute(
                f"SELECT source_file, line, column_name, error FROM {REJECTS} WHERE export = ? AND rejected_at = ? ORDER BY source_file, line LIMIT 5",
                [e.name, now],
            ).fetchall()
        ]
        con.execute("COMMIT")
    except BaseException:
        if in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        for t in ("_stage", "_stage_rejects", "_files", "_typed_src", "_rej_errors", "_rej_scans"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    result.rows_in_table = con.execute(f"SELECT count(*) FROM raw.{e.name}").fetchone()[0]
    return result


# --- Dagster assets ---------------------------------------------------------------------
# Imported here, not at the top, so the loading engine above stays usable without Dagster.
import dagster as dg  # noqa: E402

from .settings import get_settings  # noqa: E402

DUCKDB_WRITER_POOL = "duckdb_writer"  # every asset that writes the warehouse runs in this pool


def landing_asset_key(e: Export) -> dg.AssetKey:
    return dg.AssetKey(["landing", e.name])


def raw_asset_key(e: Export) -> dg.AssetKey:
    return dg.AssetKey(["raw", e.name])


def _table_schema(e: Export) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(c.name, c.type, description=c.description) for c in e.columns]
        + [dg.TableColumn(n, t, description=d) for n, (t, d) in LINEAGE_COLUMNS.items()]
    )


def landing_spec(e: Export) -> dg.AssetSpec:
    """The export files themselves: an external asset, so lineage starts at the file."""
    return dg.AssetSpec(
        key=landing_asset_key(e),
        description=f"{e.description}\n\nFiles `{e.file_glob}` in the landing folder ({e.format}).",
        group_name=e.system,
        kinds={e.format},
        metadata={"file_glob": e.file_glob, "primary_key": ", ".join(e.primary_key), "dagster/column_schema": _table_schema(e)},
    )


def build_raw_asset(e: Export) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_asset_key(e),
        deps=[landing_asset_key(e)],
        group_name=e.system,
        kinds={"duckdb", e.format},
        pool=DUCKDB_WRITER_POOL,
        description=(
            f"Raw `{e.name}` export loaded into `raw.{e.name}` with explicit types and lineage columns. "
            f"{e.description} Rows that do not cast are quarantined in `raw._rejects`."
        ),
        metadata={"dagster/column_schema": _table_schema(e), "dagster/table_name": f"raw.{e.name}"},
    )
    def _raw(context) -> dg.MaterializeResult:  # context type hints break under postponed annotations
        settings = get_settings()
        from .warehouse import connect

        with connect(settings.warehouse_path) as con:
            result = load_export(con, e, settings.landing_dir, log=context.log.info)
        if result.rows_rejected:
            context.log.warning(
                f"{e.name}: {result.rows_rejected} row(s) quarantined in {REJECTS}; first: {result.reject_sample[:1]}"
            )
        return dg.MaterializeResult(
            metadata={
                "files_seen": result.files_seen,
                "files_loaded": len(result.files_loaded),
                "files_unchanged": result.files_unchanged,
                "rows_loaded": result.rows_loaded,
                "rows_rejected": result.rows_rejected,
                "dagster/row_count": result.rows_in_table,
                "reject_sample": dg.MetadataValue.json(result.reject_sample),
                "extra_columns_ignored": dg.MetadataValue.json(result.extra_columns),
            }
        )

    return _raw


landing_specs = [landing_spec(e) for e in EXPORTS]
raw_assets = [build_raw_asset(e) for e in EXPORTS]
