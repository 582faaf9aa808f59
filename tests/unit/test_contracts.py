"""The contracts are the one declaration: generated files must match them, and they must be sound."""
from __future__ import annotations

import pytest

from pipelines.exports import BY_NAME, EXPORTS, SYSTEMS
from pipelines.exports.contract import Column, Export
from pipelines.exports.render import generated_files


def test_generated_files_are_up_to_date():
    stale = [str(p) for p, text in generated_files().items() if not p.exists() or p.read_text() != text]
    assert not stale, f"run `kpi contracts` to regenerate: {stale}"


def test_every_source_system_of_the_design_is_declared():
    assert set(SYSTEMS) == {"storefront", "helpdesk", "mes", "ads", "finance", "logistics"}
    assert len(EXPORTS) == len(BY_NAME) == 20


@pytest.mark.parametrize("e", EXPORTS, ids=lambda e: e.name)
def test_contract_is_sound(e: Export):
    assert e.primary_key and all(not e.column(k).nullable for k in e.primary_key)
    assert all(c.description for c in e.columns)
    if e.cadence == "daily":
        assert e.event_date, "daily exports are split into files by their event date"


def test_a_primary_key_column_must_not_be_nullable():
    with pytest.raises(ValueError, match="primary-key column 'id'"):
        Export(system="s", name="t", description="d", columns=(Column("id", "VARCHAR", "x"),), primary_key=("id",))


def test_unknown_type_is_refused():
    with pytest.raises(ValueError, match="type 'TEXT'"):
        Column("x", "TEXT", "d")


def _staging_accepted_values() -> dict[tuple[str, str], list[str]]:
    import yaml

    from pipelines.settings import DBT_PROJECT_DIR

    found = {}
    for path in (DBT_PROJECT_DIR / "models" / "staging").glob("*/_*__models.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            export = model["name"].split("__", 1)[1]
            for column in model.get("columns", []):
                for test in column.get("data_tests", []):
                    if isinstance(test, dict) and "accepted_values" in test:
                        found[(export, column["name"])] = test["accepted_values"]["arguments"]["values"]
    return found


def test_staging_accepted_values_match_the_contracts():
    """The allowed values live in the contracts; the dbt tests that check them must agree."""
    in_dbt = _staging_accepted_values()
    in_contracts = {(e.name, c.name): list(c.allowed) for e in EXPORTS for c in e.columns if c.allowed}
    assert in_dbt == in_contracts
