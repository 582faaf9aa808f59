"""The export contract: what a source system promises to write into the landing folder.

Each export is declared once (in the per-system modules beside this file); ingestion,
the dbt sources, the demo generator and the contract docs are all generated from it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Format = Literal["csv", "jsonl", "parquet"]

# Types are DuckDB types; the set is kept small so dbt can map them to Spark later.
TYPES = {"VARCHAR", "BIGINT", "INTEGER", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP", "DECIMAL(18,4)"}

FILE_EXTENSIONS: dict[str, str] = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    # A column the file must carry in its header; optional ones may be absent (NULL).
    required: bool = True
    # Primary-key columns are never nullable; a row with NULL there is rejected.
    nullable: bool = True
    # Without `seed`: the values the demo delivers, documented; another value is kept as delivered
    # (a warn test on the staging model names it). With `seed`: the meanings the KPI logic reads.
    allowed: tuple[str, ...] | None = None
    # A vocabulary the KPI logic reads through dbt_project/seeds/<seed>.csv (the business edits it:
    # columns <name>, kpi_<name>): its value as delivered, mapped to one of `allowed`.
    seed: str | None = None

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"column {self.name!r}: type {self.type!r} is not one of {sorted(TYPES)}")


@dataclass(frozen=True)
class Export:
    system: str  # source system (one Dagster group, one dbt staging folder)
    name: str  # export table name: raw.<name>
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    format: Format = "csv"
    # Change exports deliver the same key again with a newer change timestamp.
    change_timestamp: str | None = None
    # The business date a row belongs to (daily files are split on it); None for snapshots.
    event_date: str | None = None
    # "daily": one file per day; "snapshot": one full file, replaced on each delivery.
    cadence: Literal["daily", "snapshot"] = "daily"
    delimiter: str = ","
    extra: dict = field(default_factory=dict)
    # Freshness: hours the newest load may age before the export counts as stale. Default by
    # cadence: a daily export is due every day (24 h + 2 h for the nightly run's slack); a
    # snapshot is re-delivered only when it changes, so only its first delivery is expected.
    max_age_hours: float | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"export {self.name}: duplicate column names")
        for key in (*self.primary_key, self.change_timestamp, self.event_date):
            if key is not None and key not in names:
                raise ValueError(f"export {self.name}: {key!r} is not a declared column")
        for c in self.columns:
            if c.name in self.primary_key and (c.nullable or not c.required):
                raise ValueError(f"export {self.name}: primary-key column {c.name!r} must be required and not nullable")

    @property
    def expected_max_age_hours(self) -> float | None:
        if self.max_age_hours is not None:
            return self.max_age_hours
        return 26.0 if self.cadence == "daily" else None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def extension(self) -> str:
        return FILE_EXTENSIONS[self.format]

    @property
    def folder(self) -> str:
        """Landing sub-folder, relative to the landing dir."""
        return f"{self.system}/{self.name}"

    @property
    def file_glob(self) -> str:
        """Files of this export, relative to the landing dir (plain and gzip-compressed)."""
        return f"{self.folder}/{self.name}*.{self.extension}"

    def file_name(self, day: str | None = None) -> str:
        """The name a source system gives one delivery: per day, or one snapshot file."""
        return f"{self.name}_{day}.{self.extension}" if day else f"{self.name}.{self.extension}"

    @property
    def staging_model(self) -> str:
        return f"stg_{self.system}__{self.name}"

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"export {self.name} has no column {name!r}")


def unmapped_test(export: Export, column: Column) -> str:
    """Name of the warn test that stores the values of a seed-mapped column without a row in its seed."""
    return f"{export.staging_model}_{column.name}_in_seed_{column.seed}"


def col(name: str, type_: str, description: str, **kw) -> Column:
    return Column(name, type_, description, **kw)


def key(name: str, type_: str, description: str) -> Column:
    """A primary-key column: required and never NULL."""
    return Column(name, type_, description, required=True, nullable=False)
