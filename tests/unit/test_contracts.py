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


def _staging_tests(kind: str) -> dict[tuple[str, str], dict]:
    """(export, column) -> the arguments and config of the staging models' tests of one kind."""
    import yaml

    from pipelines.settings import DBT_PROJECT_DIR

    found = {}
    for path in (DBT_PROJECT_DIR / "models" / "staging").glob("*/_*__models.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            export = model["name"].split("__", 1)[1]
            for column in model.get("columns", []):
                for test in column.get("data_tests", []):
                    if isinstance(test, dict) and kind in test:
                        found[(export, column["name"])] = test[kind]
    return found


def test_staging_accepted_values_match_the_contracts_and_never_stop_a_refresh():
    """A descriptive vocabulary (allowed, no seed) is the demo's values: its dbt test agrees with the
    contract and only warns, so a business's other values are kept and reported."""
    in_dbt = _staging_tests("accepted_values")
    in_contracts = {(e.name, c.name): list(c.allowed) for e in EXPORTS for c in e.columns if c.allowed and not c.seed}
    assert {k: v["arguments"]["values"] for k, v in in_dbt.items()} == in_contracts
    assert {k: v.get("config", {}).get("severity") for k, v in in_dbt.items()} == {k: "warn" for k in in_contracts}


def test_seed_mapped_columns_have_their_seed_and_a_warn_test_storing_unmapped_values():
    """A vocabulary the logic reads (contract `seed=`): the seed maps the demo's values to themselves,
    the seed's own test accepts exactly the contract's meanings, and the staging model's warn test
    (named by contract.unmapped_test, which `kpi run` reads) stores the values without a row."""
    import csv

    import yaml

    from pipelines.exports.contract import unmapped_test
    from pipelines.settings import DBT_PROJECT_DIR

    seeds_yml = {s["name"]: s for s in yaml.safe_load((DBT_PROJECT_DIR / "seeds" / "_seeds.yml").read_text())["seeds"]}
    relationships = _staging_tests("relationships")
    mapped = [(e, c) for e in EXPORTS for c in e.columns if c.seed]
    assert len(mapped) == 10
    for e, c in mapped:
        with (DBT_PROJECT_DIR / "seeds" / f"{c.seed}.csv").open() as f:
            rows = list(csv.reader(f))
        assert rows[0] == [c.name, f"kpi_{c.name}"], c.seed
        assert {tuple(r) for r in rows[1:]} >= {(v, v) for v in c.allowed}, c.seed
        kpi_column = next(col for col in seeds_yml[c.seed]["columns"] if col["name"] == f"kpi_{c.name}")
        accepted = next(t["accepted_values"] for t in kpi_column["data_tests"] if isinstance(t, dict))
        assert accepted["arguments"]["values"] == list(c.allowed), c.seed
        test = relationships[(e.name, f"{c.name}_delivered")]
        assert test["name"] == unmapped_test(e, c)
        assert (test["config"]["severity"], test["config"]["store_failures"]) == ("warn", True)
        assert test["arguments"] == {"to": f"ref('{c.seed}')", "field": c.name}
