"""Artifacts generated from the contracts: dbt source declarations and the contract docs.

They are committed (dbt and readers need them as files) and a test fails when they
drift from the contracts; `kpi contracts` regenerates them.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from ..settings import DBT_PROJECT_DIR, PROJECT_ROOT
from . import SYSTEMS
from .contract import Export

LINEAGE_COLUMNS = {
    "_source_file": ("VARCHAR", "Landing file the row was loaded from, relative to the landing folder."),
    "_file_checksum": ("VARCHAR", "SHA-256 of that file: a re-delivered file with new content replaces its rows."),
    "_loaded_at": ("TIMESTAMP", "When the row was loaded into the warehouse (UTC)."),
}

HEADER = "# Generated from pipelines/exports/{module}.py by `kpi contracts`: do not edit by hand.\n"


def sources_path(system: str) -> Path:
    return DBT_PROJECT_DIR / "models" / "staging" / system / f"_{system}__sources.yml"


def docs_path() -> Path:
    return PROJECT_ROOT / "docs" / "export_contracts.md"


def _table(e: Export) -> dict:
    notes = [e.description, f"Primary key: {', '.join(e.primary_key)}."]
    if e.change_timestamp:
        notes.append(f"Change export: deduplicated in staging to the newest `{e.change_timestamp}`.")
    return {
        "name": e.name,
        "description": " ".join(notes),
        "loaded_at_field": "_loaded_at",
        # event_date: the column whose business day a nightly run's data tests window on (macros/data_test_window.sql)
        "meta": {"dagster": {"asset_key": ["raw", e.name]}, **({"event_date": e.event_date} if e.event_date else {})},
        "columns": [
            {"name": c.name, "data_type": c.type.lower(), "description": c.description}
            for c in e.columns
        ]
        + [{"name": n, "data_type": t.lower(), "description": d} for n, (t, d) in LINEAGE_COLUMNS.items()],
    }


def dbt_sources_yaml(system: str) -> str:
    doc = {
        "version": 2,
        "sources": [
            {
                "name": system,
                "schema": "raw",
                "description": f"Raw `{system}` exports, loaded as delivered by the Dagster ingest assets (group `{system}`).",
                "tables": [_table(e) for e in SYSTEMS[system]],
            }
        ],
    }
    return HEADER.format(module=system) + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)


def contracts_markdown() -> str:
    out = [
        "# Export contracts",
        "",
        "Generated from `pipelines/exports/` by `kpi contracts`: do not edit by hand.",
        "",
        "Each export lands as files under the landing folder (`KPI_LANDING_DIR`, default `data/landing/`),",
        "at the path pattern shown. A file must carry every *required* column in its header (in any order;",
        "extra columns are ignored); values must cast to the column type, or the row is quarantined in",
        "`raw._rejects` with its file and line. Timestamps are UTC, ISO 8601 (`2026-01-31 23:59:00`).",
        "",
    ]
    for system, exports in SYSTEMS.items():
        out += [f"## {system}", ""]
        for e in exports:
            kind = "change export" if e.change_timestamp else "append-only"
            out += [
                f"### `{e.name}`",
                "",
                e.description,
                "",
                f"- files: `{e.file_glob}` ({e.format}, {'one file per day' if e.cadence == 'daily' else 'one full snapshot'})",
                f"- primary key: `{', '.join(e.primary_key)}`; {kind}"
                + (f" (newest `{e.change_timestamp}` wins)" if e.change_timestamp else ""),
                f"- warehouse table: `raw.{e.name}`",
                "",
                "| column | type | required | null | description |",
                "|---|---|---|---|---|",
            ]
            for c in e.columns:
                desc = c.description + vocabulary_note(c)
                out.append(
                    f"| `{c.name}` | {c.type} | {'yes' if c.required else 'no'} | {'yes' if c.nullable else 'no'} | {desc} |"
                )
            out.append("")
    out += null_treatments_markdown()
    out += unmapped_treatments_markdown()
    return "\n".join(out)


def vocabulary_note(c) -> str:
    """How the contract page states a column's vocabulary: mapped through its seed, or the demo's values."""
    if c.seed:
        return (f" Mapped through `dbt_project/seeds/{c.seed}.csv` (the business adds a row per own value) to one of:"
                f" {', '.join(c.allowed)}; a value without a row is kept as delivered and reported (see below).")
    if c.allowed:
        return f" The demo's values: {', '.join(c.allowed)}; another value is kept as delivered (a warn test names it)."
    return ""


def null_treatments_markdown() -> list[str]:
    """The table of what each KPI does with an empty nullable column (pipelines/exports/nulls.py)."""
    from .nulls import NULL_TREATMENTS

    out = [
        "## When a value is empty",
        "",
        "Every column above with `null: yes` may be empty. What the KPIs do with an empty value, per",
        "column (declared in `pipelines/exports/nulls.py`; a unit test keeps it to exactly the nullable",
        "columns). A value the contract allows never stops a refresh: a row left out of a KPI is counted",
        "by the warn test named here, shown in the run's output.",
        "",
        "| column | when empty | KPIs concerned |",
        "|---|---|---|",
    ]
    for (export, column), t in NULL_TREATMENTS.items():
        kpis = ", ".join(f"`{k}`" for k in t.kpis) or "none"
        out.append(f"| `{export}.{column}` | {t.treatment} | {kpis} |")
    out.append("")
    return out


def unmapped_treatments_markdown() -> list[str]:
    """The table of what each KPI does with a value its seed does not map (pipelines/exports/nulls.py)."""
    from . import BY_NAME
    from .contract import unmapped_test
    from .nulls import UNMAPPED_TREATMENTS

    out = [
        "## When a value is not in its seed",
        "",
        "A column above mapped through a seed is in the business's own words: `dbt_project/seeds/<seed>.csv`",
        "has one row per value as delivered (trimmed, lower case) and the meaning the KPIs read. A value",
        "without a row never stops a refresh: it is kept as delivered, counts as none of the meanings, is",
        "stored by the warn test named here, and `kpi run` prints it with its row count and the seed to edit.",
        "Add the row and run again.",
        "",
        "| column | seed | when not in the seed | KPIs concerned | warn test |",
        "|---|---|---|---|---|",
    ]
    for (export, column), t in UNMAPPED_TREATMENTS.items():
        e = BY_NAME[export]
        c = e.column(column)
        kpis = ", ".join(f"`{k}`" for k in t.kpis) or "none"
        out.append(f"| `{export}.{column}` | `{c.seed}` | {t.treatment} | {kpis} | `{unmapped_test(e, c)}` |")
    out.append("")
    return out


def generated_files() -> dict[Path, str]:
    files = {sources_path(s): dbt_sources_yaml(s) for s in SYSTEMS}
    files[docs_path()] = contracts_markdown()
    from ..kpis import KPI_CATALOG_PAGE, kpi_catalog_markdown  # the KPI catalogue page, generated the same way

    files[KPI_CATALOG_PAGE] = kpi_catalog_markdown()
    from ..kpis import mart_docs_files  # the marts' KPI columns in their yml, from the same declaration

    files.update(mart_docs_files())
    return files


def write_generated() -> list[Path]:
    written = []
    for path, text in generated_files().items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written
