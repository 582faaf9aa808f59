"""The Dagster assets: the landing files (external) and one raw asset per export."""
from __future__ import annotations

import dagster as dg

from ..exports import EXPORTS, Export
from ..exports.render import LINEAGE_COLUMNS
from ..partitions import DAILY, SINGLE_RUN
from ..settings import get_settings
from .common import LOAD_LOG, REJECTS
from .load import load_export

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
        # Daily exports are partitioned by business day; the loader still takes every new or
        # changed file, whatever the partition (a file is the unit of loading), so nothing is lost.
        partitions_def=DAILY if e.cadence == "daily" else None,
        backfill_policy=SINGLE_RUN if e.cadence == "daily" else None,
        description=(
            f"Raw `{e.name}` export loaded into `raw.{e.name}` with explicit types and lineage columns. "
            f"{e.description} Rows that do not cast are quarantined in `raw._rejects`."
        ),
        metadata={"dagster/column_schema": _table_schema(e), "dagster/table_name": f"raw.{e.name}"},
    )
    def _raw(context) -> dg.MaterializeResult:  # context type hints break under postponed annotations
        settings = get_settings()
        from ..warehouse import connect

        if settings.sop_gates:  # the SOP gate steps come after dbt_staging: import GX while this export loads
            from ..sop.gate_runner import warm_up_in_background

            warm_up_in_background()
        with connect(settings.warehouse_path) as con:
            result = load_export(con, e, settings.landing_dir, log=context.log.info)
        for warning in result.warnings:
            context.log.info(f"{e.name}: {warning}")
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
                "load_notes": dg.MetadataValue.json(result.warnings[:50]),
            }
        )

    return _raw


# Written by every raw asset in the same transaction as its rows; read by the export-volume
# gate (SOP-DATA-01). Declared so the UI shows what it is, not a bare stub of a dbt source.
load_log_spec = dg.AssetSpec(
    key=dg.AssetKey(["raw", "_load_log"]),
    description=(
        "The ingest bookkeeping (`raw._load_log`): one row per landing file a raw asset loaded, with its "
        "export, checksum, rows loaded and rejected, load time and what was detected (encoding, delimiter). "
        "Written by every `raw/*` asset; it decides which files are new."
    ),
    group_name="sop",
    kinds={"duckdb"},
    metadata={"dagster/table_name": LOAD_LOG},
)
landing_specs = [landing_spec(e) for e in EXPORTS]
raw_assets = [build_raw_asset(e) for e in EXPORTS]
