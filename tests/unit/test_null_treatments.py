"""Every column the export contracts declare nullable has a documented KPI treatment, and only those;
every seed-mapped column a documented treatment of a value its seed does not map.

The treatments (pipelines/exports/nulls.py) are rendered into docs/export_contracts.md; the page
is checked here against what `kpi contracts` would write, so table and contracts cannot drift.
"""
from __future__ import annotations

import pytest

from pipelines.exports import BY_NAME
from pipelines.exports.nulls import NULL_TREATMENTS, UNMAPPED_TREATMENTS
from pipelines.exports.render import docs_path, null_treatments_markdown, unmapped_treatments_markdown
from pipelines.kpis import kpi_catalog


def _nullable_columns() -> set[tuple[str, str]]:
    return {(e.name, c.name) for e in BY_NAME.values() for c in e.columns if c.nullable}


def test_every_nullable_contract_column_has_a_treatment_and_vice_versa():
    nullable = _nullable_columns()
    assert nullable - set(NULL_TREATMENTS) == set(), "nullable contract columns without a treatment"
    assert set(NULL_TREATMENTS) - nullable == set(), "treatments of columns the contracts do not declare nullable"


def test_treatments_name_catalogue_kpis_or_say_no_kpi_reads_the_column():
    catalogue = set(kpi_catalog())
    for column, t in NULL_TREATMENTS.items():
        assert t.treatment.strip(), column
        assert isinstance(t.kpis, tuple) and set(t.kpis) <= catalogue, (column, set(t.kpis) - catalogue)
        assert t.kpis or "read by no KPI" in t.treatment or "versions of the" in t.treatment or "SOP-" in t.treatment, column


def _seed_mapped_columns() -> set[tuple[str, str]]:
    return {(e.name, c.name) for e in BY_NAME.values() for c in e.columns if c.seed}


def test_every_seed_mapped_column_has_an_unmapped_treatment_and_vice_versa():
    assert set(UNMAPPED_TREATMENTS) == _seed_mapped_columns()
    catalogue = set(kpi_catalog())
    for column, t in UNMAPPED_TREATMENTS.items():
        assert t.treatment.strip() and set(t.kpis) <= catalogue, column
        assert t.kpis or "read by no KPI" in t.treatment, column


@pytest.mark.parametrize("heading, table, columns", [
    ("## When a value is empty", null_treatments_markdown, _nullable_columns),
    ("## When a value is not in its seed", unmapped_treatments_markdown, _seed_mapped_columns),
], ids=["empty", "not_in_seed"])
def test_the_contracts_page_carries_each_table_row_for_row(heading, table, columns):
    page = docs_path().read_text()
    rows = [line for line in table() if line.startswith("| `")]
    assert len(rows) == len(columns())
    for row in rows:
        assert row in page, row
    section = page.split(heading, 1)[1].split("\n## ", 1)[0]
    documented = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
    assert documented == {f"{export}.{column}" for export, column in columns()}
