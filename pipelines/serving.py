"""Publish the serving warehouse: a read-only snapshot for BI, swapped in by atomic rename.

BI tools hold their DuckDB file open and DuckDB allows one writer *or* many readers, so
analysts never read the pipeline's own warehouse. Each publish writes the marts into a
new file beside the serving path, closes it, and renames it over the old one:
- a reader that has the old file open keeps reading it (the old inode lives on);
- a new connection opens either the old or the new file, never a half-written one;
- a publish killed mid-way leaves only a temp file behind (removed by the next publish).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .exports import EXPORTS
from .settings import Settings
from .ops_tables import EXPORT_FRESHNESS, MART_STATE, PUBLISH_INFO, PUBLISHED_TABLES, SCHEMA as OPS
from .sql import literal
from .warehouse import connect, has_table

_STORAGE_VERSION = re.compile(r"^(v\d+\.\d+\.\d+|latest)$")
# Schemas copied into the serving file: the KPI marts (incl. dimensions and SOP compliance).
SERVED_SCHEMAS = ("marts",)


@dataclass
class PublishResult:
    path: Path
    snapshot_id: str
    tables: dict[str, int] = field(default_factory=dict)
    storage_version: str = ""
    parquet_dir: Path | None = None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temp_files(target: Path) -> None:
    for p in target.parent.glob(f"{target.name}.tmp-*"):
        p.unlink(missing_ok=True)


def _export_freshness_sql(on_time: dict) -> str:
    """Per export: files and rows loaded, last load, newest business date in the data, and whether its
    newest file arrived within the contract's cadence (`on_time`: the freshness check's own verdict)."""
    parts = []
    for e in EXPORTS:
        basis = e.event_date or e.change_timestamp  # snapshots: the newest change they carry
        newest = f"max(CAST({basis} AS DATE))" if basis else "CAST(NULL AS DATE)"
        f = on_time.get(e.name)
        limit = "CAST(NULL AS DOUBLE)" if f is None or f.max_age_hours is None else f"CAST({float(f.max_age_hours)!r} AS DOUBLE)"
        parts.append(
            f"""SELECT '{e.system}' AS system, '{e.name}' AS export, '{e.cadence}' AS cadence,
                   (SELECT count(*) FROM raw._load_log WHERE export = '{e.name}') AS files_loaded,
                   count(*) AS rows_in_raw, max(_loaded_at) AS last_loaded_at, {newest} AS newest_data_date,
                   {limit} AS max_age_hours, {'true' if f is not None and f.passed else 'false'} AS on_time
                FROM raw.{e.name}"""
        )
    return "\nUNION ALL\n".join(parts)


# What BI tools show for the ops tables publish writes itself (the marts' come from their dbt yml).
_OPS_DOCS: dict[str, tuple[str, dict[str, str]]] = {
    EXPORT_FRESHNESS: (
        "Per export, at publish: files and rows loaded, the last load, the newest business date in the data "
        "and whether its newest file arrived within the contract's age limit (the freshness check's verdict).",
        {
            "system": "Source system of the export (config/exports.yml).",
            "export": "Export name (raw.<export>).",
            "cadence": "How often the contract says the export is delivered.",
            "files_loaded": "Landing files loaded so far (raw._load_log).",
            "rows_in_raw": "Rows of the export in the raw zone.",
            "last_loaded_at": "UTC time of the newest load.",
            "newest_data_date": "Newest business date in the export's rows (its event date, or its newest change for snapshots).",
            "max_age_hours": "The contract's age limit of the newest file in hours; NULL for reference data (no limit).",
            "on_time": "The newest file arrived within max_age_hours (the freshness check's verdict at publish).",
        },
    ),
    PUBLISHED_TABLES: (
        "The tables of this snapshot and their row counts at publish (a reader can check it sees them whole).",
        {"table_name": "schema.table of a published mart.", "row_count": "Its rows at publish."},
    ),
    PUBLISH_INFO: (
        "Which snapshot this file is: one row.",
        {
            "snapshot_id": "Unique id of this publish.",
            "published_at": "UTC time of the publish.",
            "storage_version": "DuckDB storage version the file is written with (KPI_SERVING_STORAGE_VERSION).",
        },
    ),
}


def _source_docs(table: str) -> tuple[str, dict[str, str]]:
    """A dbt source table's description and column descriptions (e.g. ops.kpi_mart_state:
    models/marts/sop/_sop__sources.yml), from the parsed manifest."""
    from .transform import dbt_project

    schema, name = table.split(".")
    manifest = json.loads(dbt_project.manifest_path.read_text())
    for node in manifest["sources"].values():
        if node["schema"] == schema and node["name"] == name:
            return node["description"], {c: v["description"] for c, v in node["columns"].items()}
    return "", {}


def _comment(con, table: str, description: str, columns: dict[str, str]) -> None:
    """COMMENT ON a table of the serving file and its columns (CREATE TABLE AS keeps no comments)."""
    if description:
        con.execute(f"COMMENT ON TABLE serving.{table} IS {literal(description)}")
    for column, text in columns.items():
        if text:
            con.execute(f"COMMENT ON COLUMN serving.{table}.{column} IS {literal(text)}")


def _warehouse_docs(con, schema: str, name: str) -> tuple[str, dict[str, str]]:
    """The comments dbt wrote on a warehouse table (persist_docs)."""
    (description,) = con.execute(
        "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ? AND table_name = ?",
        [schema, name]).fetchone()
    columns = dict(con.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ? AND table_name = ?",
        [schema, name]).fetchall())
    return description or "", {c: t for c, t in columns.items() if t}


def publish(settings: Settings, *, log=lambda _: None, kill_switch=None) -> PublishResult:
    """Copy the marts into a new serving file and swap it in atomically.

    `kill_switch` is a test hook called after the copy, before the swap.
    """
    version = settings.serving_storage_version
    if not _STORAGE_VERSION.match(version):
        raise ValueError(f"KPI_SERVING_STORAGE_VERSION={version!r}: expected e.g. v1.1.0 or latest")
    target = settings.serving_path
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_files(target)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    snapshot_id = uuid.uuid4().hex
    result = PublishResult(path=target, snapshot_id=snapshot_id, storage_version=version)
    published_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    from .freshness import evaluate  # dagster-side module: imported when publishing only

    on_time = {f.key.path[-1]: f for f in evaluate(settings.warehouse_path, now=published_at) if f.key.path[0] == "raw"}

    with connect(settings.warehouse_path, read_only=True) as con:
        tables = con.execute(
            f"""SELECT table_schema, table_name FROM information_schema.tables
                WHERE table_schema IN ({', '.join('?' for _ in SERVED_SCHEMAS)}) AND table_type = 'BASE TABLE'
                ORDER BY 1, 2""",
            list(SERVED_SCHEMAS),
        ).fetchall()
        if not tables:
            raise RuntimeError(f"nothing to publish: no tables in schema(s) {SERVED_SCHEMAS} of {settings.warehouse_path}")
        con.execute(f"ATTACH {literal(str(tmp))} AS serving (STORAGE_VERSION '{version}', READ_ONLY false)")
        try:
            for schema in {s for s, _ in tables} | {OPS}:
                con.execute(f"CREATE SCHEMA serving.{schema}")
            for schema, name in tables:
                # Names come from our own warehouse catalog (dbt models), not from input files.
                con.execute(f"CREATE TABLE serving.{schema}.{name} AS SELECT * FROM {schema}.{name}")
                _comment(con, f"{schema}.{name}", *_warehouse_docs(con, schema, name))
                result.tables[f"{schema}.{name}"] = con.execute(f"SELECT count(*) FROM serving.{schema}.{name}").fetchone()[0]
            con.execute(f"CREATE TABLE serving.{EXPORT_FRESHNESS} AS {_export_freshness_sql(on_time)}")
            if has_table(con, MART_STATE):  # which domains' KPIs are stale, held back by which gate
                con.execute(f"CREATE TABLE serving.{MART_STATE} AS SELECT * FROM {MART_STATE}")
                _comment(con, MART_STATE, *_source_docs(MART_STATE))
            con.execute(f"CREATE TABLE serving.{PUBLISHED_TABLES} (table_name VARCHAR, row_count BIGINT)")
            con.executemany(f"INSERT INTO serving.{PUBLISHED_TABLES} VALUES (?, ?)", list(result.tables.items()))
            con.execute(
                f"CREATE TABLE serving.{PUBLISH_INFO} AS SELECT ? AS snapshot_id, ? AS published_at, ? AS storage_version",
                [snapshot_id, published_at, version],
            )
            for table, docs in _OPS_DOCS.items():
                _comment(con, table, *docs)
        finally:
            con.execute("DETACH serving")  # checkpoints: the temp file is complete, no WAL left

    if kill_switch:
        kill_switch(tmp)
    _fsync(tmp)
    os.replace(tmp, target)  # atomic on POSIX: readers see the old file or the new one
    _fsync(target.parent)
    log(f"published {len(result.tables)} tables to {target} (storage {version})")

    if settings.serving_parquet:
        result.parquet_dir = _export_parquet(target, result.tables)
        log(f"wrote Parquet copies to {result.parquet_dir}")
    return result


def _export_parquet(serving_file: Path, tables: dict[str, int]) -> Path:
    """One Parquet file per served table, written to a temp folder then swapped in."""
    final = serving_file.parent / "parquet"
    tmp = serving_file.parent / f"parquet.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    with connect(serving_file, read_only=True) as con:
        for table in tables:
            out = tmp / f"{table}.parquet"
            con.execute(f"COPY {table} TO {literal(str(out))} (FORMAT parquet)")
    old = serving_file.parent / f"parquet.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


# --- Dagster assets ---------------------------------------------------------------------
import dagster as dg  # noqa: E402

from .ingest import DUCKDB_WRITER_POOL  # noqa: E402
from .settings import get_settings  # noqa: E402


def _mart_asset_keys() -> list[dg.AssetKey]:
    """Every dbt mart, keyed as the dbt assets are (publish waits for all of them)."""
    from .transform import dbt_project, translator

    manifest = json.loads(dbt_project.manifest_path.read_text())
    return sorted(
        (translator.get_asset_key(n) for n in manifest["nodes"].values()
         if n["resource_type"] == "model" and n["fqn"][1] == "marts"),
        key=lambda k: k.to_user_string(),
    )


SERVING_KEY = dg.AssetKey(["serving", "kpi_warehouse"])
DASHBOARD_KEY = dg.AssetKey(["serving", "kpi_dashboard"])


@dg.asset(
    key=SERVING_KEY,
    deps=_mart_asset_keys(),
    group_name="serving",
    kinds={"duckdb"},
    pool=DUCKDB_WRITER_POOL,
    description=(
        "The read-only snapshot BI tools read (`KPI_SERVING_PATH`, default data/serving/kpi.duckdb): every "
        "mart, swapped in by atomic rename once the refresh and its blocking checks have passed. Written with "
        "storage version `KPI_SERVING_STORAGE_VERSION` so BI drivers on older DuckDB releases can open it."
    ),
)
def serving_warehouse(context) -> dg.MaterializeResult:
    from .alerts import kpis_turned_off_target, send_alert

    settings = get_settings()
    result = publish(settings, log=context.log.info)
    with connect(result.path, read_only=True) as con:
        turned = kpis_turned_off_target(con) if has_table(con, "marts.fct_kpi_daily") else []
    for alert in turned:
        alert.run_id = context.run.run_id
        send_alert(alert, settings)
    return dg.MaterializeResult(metadata={
        "kpis_turned_off_target": len(turned),
        "path": str(result.path),
        "snapshot_id": result.snapshot_id,
        "storage_version": result.storage_version,
        "tables": len(result.tables),
        "rows": sum(result.tables.values()),
        "row_counts": dg.MetadataValue.json(result.tables),
    })


@dg.asset(
    key=DASHBOARD_KEY,
    deps=[SERVING_KEY],
    group_name="serving",
    kinds={"html"},
    description="Static offline KPI dashboard (tiles, trends with targets, SOP compliance, export freshness) "
                "rendered from the serving snapshot: data/serving/dashboard.html.",
)
def kpi_dashboard(context) -> dg.MaterializeResult:
    from .dashboard import render_dashboard

    settings = get_settings()
    shown = render_dashboard(settings.serving_path, settings.dashboard_path, base_currency=settings.base_currency)
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(settings.dashboard_path)), **shown})


# The BI app (pipelines/bi/) in the lineage, downstream of the snapshot it reads. Not materialized: it
# is a server reading the newest snapshot on every page view. Keyed outside `serving/`, whose assets carry
# the marts' freshness policy (a never-materialized spec would always fail it). Owner: definitions.py.
BI_APP_KEY = dg.AssetKey(["bi", "kpi_app"])
kpi_app = dg.AssetSpec(
    key=BI_APP_KEY,
    deps=[SERVING_KEY],
    group_name="serving",
    kinds={"streamlit"},
    description="The BI app (Streamlit, pipelines/bi/): a page per KPI domain (trend against target, status, "
                "held-back marks), SOP compliance with the SOP pages, export freshness; filters by day / week / "
                "month, date range and segment. It reads the serving snapshot read-only, offline. Open it with "
                "`make bi`, then http://127.0.0.1:8501 (BI_PORT); docs/bi_connection_guide.md.",
)

serving_assets = [serving_warehouse, kpi_dashboard, kpi_app]
