"""Every path and knob of the pipeline, read from the environment once.

Relative paths are resolved against the project root, so the same defaults work from
`make demo`, the Dagster webserver and the tests (which point them at a temp dir).
"""
from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


@contextlib.contextmanager
def scoped_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for what starts inside the block (a dbt process), then restore them:
    a step's dbt window must not leak into later runs of the same process (tests, code servers)."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _on(var: str, default: bool) -> bool:
    """A switch: 1/true/yes/on or 0/false/no/off; unset or empty = the default."""
    raw = (os.environ.get(var) or "").strip().lower()
    return default if not raw else raw not in ("0", "off", "false", "no")


def _path(var: str, default: str) -> Path:
    p = Path(os.environ.get(var) or default).expanduser()
    return p if p.is_absolute() else PROJECT_ROOT / p


def _non_negative_int(var: str, default: int) -> int:
    raw = os.environ.get(var)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{var}={raw!r}: expected a whole number of days (e.g. {default})") from None
    if value < 0:
        raise ValueError(f"{var}={raw!r}: must be 0 or more")
    return value


def _memory_limit(value: str) -> str:
    """A DuckDB memory_limit such as '2GB' (it is spliced into SQL and the dbt profile: checked here)."""
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value.strip(), re.IGNORECASE):
        raise ValueError(f"KPI_DUCKDB_MEMORY_LIMIT must be a size such as '2GB', got {value!r}")
    return value.strip()


EXECUTORS = ("in_process", "celery")
# Whose KPI targets (dbt model kpi_targets): the business's own (dbt_project/seeds/kpi_targets_business.csv,
# shipped without targets) or the demo's (demo_target in var kpi_catalog of dbt_project.yml, what `kpi demo` uses).
TARGET_SETS = ("business", "demo")


def _targets(value: str) -> str:
    value = value.strip().lower()
    if value not in TARGET_SETS:
        raise ValueError(f"KPI_TARGETS must be one of {', '.join(TARGET_SETS)}, got {value!r}")
    return value


def _executor(value: str) -> str:
    value = value.strip().lower().replace("-", "_")
    if value not in EXECUTORS:
        raise ValueError(f"KPI_EXECUTOR must be one of {', '.join(EXECUTORS)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse_path: Path
    business_timezone: str
    base_currency: str
    dbt_target_dir: Path
    serving_path: Path
    serving_storage_version: str
    serving_parquet: bool
    sop_docs_dir: Path
    sop_gates: bool
    nightly_cron: str
    partitions_start: str | None
    lookback_days: int
    duckdb_memory_limit: str = "2GB"
    executor: str = "in_process"
    celery_broker: str = "redis://127.0.0.1:6379/0"
    celery_backend: str = "redis://127.0.0.1:6379/0"
    # The raw zone: every raw table as typed Parquet partitioned by export date (pipelines/raw_zone.py),
    # what a Spark warehouse reads as external tables. None (the default): not written.
    raw_zone_dir: Path | None = None
    # Spark target only (dbt target `spark`): its warehouse dir and Derby metastore live here.
    spark_dir: Path | None = None
    # Which exports the business delivers (pipelines/exports/delivered.py).
    exports_config: Path = PROJECT_ROOT / "config" / "exports.yml"
    # Whose KPI targets: TARGET_SETS.
    targets: str = "business"

    @classmethod
    def from_env(cls) -> "Settings":
        warehouse_path = _path("KPI_WAREHOUSE_PATH", "data/warehouse/kpi.duckdb")
        # The folder holding the warehouse's folder (data/): the SOP site, the raw zone and Spark's
        # files default to it, so a test's temp warehouse gets its own.
        data_dir = warehouse_path.parent.parent
        return cls(
            landing_dir=_path("KPI_LANDING_DIR", "data/landing"),
            warehouse_path=warehouse_path,
            business_timezone=os.environ.get("KPI_BUSINESS_TIMEZONE") or "UTC",
            base_currency=(os.environ.get("KPI_BASE_CURRENCY") or "USD").upper(),
            dbt_target_dir=_path("KPI_DBT_TARGET_DIR", "dbt_project/target"),
            serving_path=_path("KPI_SERVING_PATH", "data/serving/kpi.duckdb"),
            # DuckDB 2.0 writes a format older readers cannot open; BI drivers often embed 1.1-1.4.
            serving_storage_version=os.environ.get("KPI_SERVING_STORAGE_VERSION") or "v1.1.0",
            serving_parquet=_on("KPI_SERVING_PARQUET", False),
            # The SOP site: GX Data Docs + a page per SOP (pipelines/sop/docs.py); default: beside the
            # warehouse's folder (data/sop_docs), so a test's temp warehouse gets its own.
            sop_docs_dir=_path("KPI_SOP_DOCS_DIR", str(data_dir / "sop_docs")),
            # SOP gates on (default). `off` only to measure what they cost: no checks, one dbt build.
            sop_gates=_on("KPI_SOP_GATES", True),
            nightly_cron=os.environ.get("KPI_NIGHTLY_CRON") or "0 2 * * *",
            # First day of the daily partitions (a backfill cannot start earlier); unset: the data's
            # first day in the landing folder (pipelines/partitions.py).
            partitions_start=os.environ.get("KPI_PARTITIONS_START") or None,
            # A nightly run recomputes this many days before its partition: late events land there.
            lookback_days=_non_negative_int("KPI_INCREMENTAL_LOOKBACK_DAYS", 3),
            duckdb_memory_limit=_memory_limit(os.environ.get("KPI_DUCKDB_MEMORY_LIMIT") or "2GB"),
            # Where `kpi run` and the nightly schedule run the steps: in one process, or on Celery workers.
            executor=_executor(os.environ.get("KPI_EXECUTOR") or "in_process"),
            celery_broker=(broker := os.environ.get("KPI_CELERY_BROKER") or "redis://127.0.0.1:6379/0"),
            # Where a worker leaves a step's events; Celery's default (rpc://) needs an AMQP broker.
            celery_backend=os.environ.get("KPI_CELERY_BACKEND") or broker,
            # Default: beside the warehouse's folder (data/raw_zone), so a test's temp warehouse gets its own.
            # Written only for a second engine that reads it (the Spark target): KPI_RAW_ZONE=on or KPI_RAW_ZONE_DIR set.
            raw_zone_dir=(_path("KPI_RAW_ZONE_DIR", str(data_dir / "raw_zone"))
                          if _on("KPI_RAW_ZONE", bool(os.environ.get("KPI_RAW_ZONE_DIR"))) else None),
            spark_dir=_path("KPI_SPARK_DIR", str(data_dir / "spark")),
            exports_config=_path("KPI_EXPORTS_CONFIG", "config/exports.yml"),
            targets=_targets(os.environ.get("KPI_TARGETS") or "business"),
        )

    @property
    def dashboard_path(self) -> Path:
        return self.serving_path.parent / "dashboard.html"

    def dbt_env(self) -> dict[str, str]:
        """What dbt reads through env_var() in profiles.yml and dbt_project.yml."""
        return {
            "KPI_WAREHOUSE_PATH": str(self.warehouse_path),
            "KPI_BUSINESS_TIMEZONE": self.business_timezone,
            "KPI_BASE_CURRENCY": self.base_currency,
            "KPI_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "KPI_TARGETS": self.targets,
        }

    def spark_env(self) -> dict[str, str]:
        """What the `spark` target reads on top (profiles.yml, macros/spark_raw_zone.sql); the DuckDB
        refresh does not need it."""
        return {"KPI_RAW_ZONE_DIR": str(self.raw_zone_dir or ""), "KPI_SPARK_DIR": str(self.spark_dir)}


def get_settings() -> Settings:
    return Settings.from_env()
