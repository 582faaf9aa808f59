"""What the Dagster UI shows about each asset and check: every piece comes from its one home.

Descriptions from the export contracts and the dbt project, owners from the dbt groups and the SOP
registry (dbt_project/models/_groups.yml and expectations/sops.yml, read here on their own), kinds for the UI's icons, groups, code references.
"""
import fnmatch
import re

import dagster as dg
import pytest
import yaml

from pipelines.dbt_checks import describe_dbt_test, leading_comment
from pipelines.exports import EXPORTS
from pipelines.settings import DBT_PROJECT_DIR, PROJECT_ROOT

SOPS = yaml.safe_load((PROJECT_ROOT / "expectations" / "sops.yml").read_text())["sops"]
KPI_CATALOG = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["kpi_catalog"]


@pytest.fixture(scope="module")
def graph():
    from pipelines.definitions import defs

    return defs.resolve_asset_graph()


def _assets(graph):
    return {k.to_user_string(): graph.get(k) for k in graph.get_all_asset_keys()}


def _checks(graph):
    return {(k.asset_key.to_user_string(), k.name): graph.get(k) for k in graph.asset_check_keys}


def test_every_asset_has_a_description_kinds_and_a_named_group(graph):
    problems = []
    for name, node in sorted(_assets(graph).items()):
        desc = node.description or ""
        if len(desc) < 20 or "#### Raw SQL" in desc:  # dagster-dbt's fallback is the model's SQL
            problems.append(f"{name}: description {desc[:40]!r}")
        if not node.kinds:
            problems.append(f"{name}: no kinds")
        if not node.group_name or node.group_name == "default":
            problems.append(f"{name}: group {node.group_name!r}")
    assert not problems, "\n".join(problems)


def test_kinds_name_the_technology_of_each_layer(graph):
    assets = _assets(graph)
    for e in EXPORTS:
        assert assets[f"landing/{e.name}"].kinds == {e.format}, e.name
        assert {"duckdb", e.format} <= assets[f"raw/{e.name}"].kinds, e.name
    for name, node in assets.items():
        if name.split("/")[0] in ("staging", "intermediate", "marts", "seeds"):
            assert {"dbt", "duckdb"} <= node.kinds, name
    # Every asset a Great Expectations suite sits on shows the GX icon.
    gx_assets = {a for (a, _), c in _checks(graph).items() if "sop_id" in (c.metadata or {})}
    assert gx_assets and all("great_expectations" in assets[a].kinds for a in gx_assets)
    assert "great_expectations" in assets["ops/sop_check_results"].kinds


def test_descriptions_come_from_the_contracts_and_the_dbt_docs(graph):
    import json

    from pipelines.transform import ensure_manifest

    assets = _assets(graph)
    for e in EXPORTS:
        assert e.description.split(".")[0] in assets[f"landing/{e.name}"].description
        assert e.description.split(".")[0] in assets[f"raw/{e.name}"].description
    nodes = json.loads(ensure_manifest().read_text())["nodes"].values()
    models = {n["name"]: n for n in nodes if n["resource_type"] == "model"}
    mart = models["fct_customer_service_daily"]
    assert mart["description"] and assets["marts/fct_customer_service_daily"].description == mart["description"]
    # SOP gate views have no yml description: the comment their SQL starts with describes them.
    view = models["sop_cs_01__ticket_handling"]
    assert not view["description"]
    assert assets["sop/sop_cs_01__ticket_handling"].description == leading_comment(view["raw_code"])
    assert assets["sop/sop_cs_01__ticket_handling"].description.startswith("SOP-CS-01")


def test_python_and_dbt_assets_link_to_their_code(graph):
    for name, node in _assets(graph).items():
        if node.is_external:
            continue  # landing files and tables written as a side effect: no code of their own
        refs = node.metadata.get("dagster/code_references")
        assert refs and refs.code_references, name
        paths = [r.file_path for r in refs.code_references]
        if name.split("/")[0] in ("staging", "intermediate", "marts"):
            assert any(p.endswith(f"{name.split('/')[-1]}.sql") for p in paths), (name, paths)


def test_every_sop_gate_check_names_its_sop_and_rule(graph):
    gates = {g["suite"]: (s, g) for s in SOPS for g in s["gates"]}
    checks = _checks(graph)
    seen = set()
    for (asset, name), check in checks.items():
        if name not in gates:
            continue
        sop, gate = gates[name]
        seen.add(name)
        assert sop["id"] in check.description and sop["title"] in check.description, (asset, name)
        assert "Rules:" in check.description and f"expectations/{name}.json" in check.description
        assert check.blocking == (gate["severity"] == "block"), (asset, name)
        assert check.metadata["sop_id"] == sop["id"]
        assert check.metadata["owners"].value == [sop["owner"]["email"], f"team:{sop['owner']['team']}"]
    assert seen == set(gates), f"gates without a check: {set(gates) - seen}"


def test_every_dbt_test_check_describes_its_rule(graph):
    for (asset, name), check in _checks(graph).items():
        if "sop_id" in (check.metadata or {}):
            continue
        if name == "freshness":  # pipelines/freshness.py: the export's cadence or SOP-MK-02's limit, not a dbt test
            assert check.description and ("loaded within" in check.description or "SOP-MK-02" in check.description)
            assert not check.blocking, (asset, name)
            continue
        if name in ("kpi_anomaly", "rows_per_load_anomaly"):  # pipelines/anomaly.py: the weekday band, not a dbt test
            assert check.description.startswith("Anomaly (WARN): ") and "pipelines/anomaly.py" in check.description
            assert not check.blocking, (asset, name)
            continue
        assert check.description and check.description.startswith("dbt "), (asset, name, check.description)
        assert ("Blocking" in check.description) == check.blocking, (asset, name)


def _expected_owners(asset_names: list[str]) -> dict[str, set[str]]:
    """Owners as the registry assigns them, computed here from sops.yml alone."""
    raw_exports = [f"raw/{e.name}" for e in EXPORTS]
    expected: dict[str, set[str]] = {}

    def add(pattern: str, sop: dict) -> None:
        names = raw_exports if "{export}" in pattern else (fnmatch.filter(asset_names, pattern) if "*" in pattern else [pattern])
        for n in names:
            expected.setdefault(n, set()).update({sop["owner"]["email"], f"team:{sop['owner']['team']}"})

    for sop in SOPS:
        for gate in sop["gates"]:
            add(gate["asset"], sop)
            if gate.get("validates", "").startswith("sop."):
                add(gate["validates"].replace(".", "/"), sop)
        for name in sop["inputs"] + sop["outputs"]:
            if re.fullmatch(r"[a-z_]+(/[a-z0-9_*]+)+", name):
                add(name, sop)
        for kpi_id in sop["indicators"]:
            add(f"marts/{KPI_CATALOG[kpi_id]['mart']}", sop)
    return expected


GROUP_OWNERS = {g["name"]: g["owner"]["email"]
                for g in yaml.safe_load((DBT_PROJECT_DIR / "models" / "_groups.yml").read_text())["groups"]}


def test_owners_of_every_asset_come_from_their_dbt_group_and_the_sop_registry(graph):
    """A dbt asset's owner is its dbt group's (models/_groups.yml); an asset outside dbt the `core` group's
    unless an SOP names it; every asset an SOP names has that SOP's owner and team as well."""
    import json

    from pipelines.transform import ensure_manifest

    nodes = json.loads(ensure_manifest().read_text())["nodes"]
    assets = _assets(graph)
    expected = _expected_owners(sorted(assets))
    assert set(expected) <= set(assets), f"the registry names assets that do not exist: {set(expected) - set(assets)}"
    for name, node in assets.items():
        uid = (node.metadata or {}).get("dagster_dbt/unique_id")
        if uid:
            expected.setdefault(name, set()).add(GROUP_OWNERS[nodes[uid]["config"]["group"]])
        elif name not in expected:
            expected[name] = {GROUP_OWNERS["core"]}
    wrong = {n: (sorted(node.owners), sorted(expected.get(n, set())))
             for n, node in assets.items() if set(node.owners) != expected.get(n, set())}
    assert not wrong, wrong
    assert all(node.owners for node in assets.values())
    assert "ecommerce.lead@shop.example" in assets["intermediate/int_storefront__orders"].owners
    assert assets["serving/kpi_warehouse"].owners == ["data.platform@shop.example"]
    # Every layer an SOP names carries them: landing (SOP-DATA-01's landing/*), raw, staging, gate views, marts.
    for name in ["landing/tickets", "raw/tickets", "staging/stg_helpdesk__tickets",
                 "sop/sop_cs_01__ticket_handling", "marts/fct_customer_service_daily"]:
        assert assets[name].owners, name
    assert "cs.lead@shop.example" in assets["marts/fct_customer_service_daily"].owners


def test_owners_reach_an_intermediate_asset_an_sop_names():
    """No SOP names an intermediate model today; the rule covers every layer, so test it on one."""
    from pipelines.sop.checks import owners_by_asset
    from pipelines.sop.registry import registry

    reg = registry()
    sop = reg.sops[0]
    changed = type(reg)(**{**reg.__dict__, "sops": (type(sop)(**{**sop.__dict__, "outputs": (*sop.outputs, "intermediate/int_customer_service__tickets")}), *reg.sops[1:])})
    key = dg.AssetKey(["intermediate", "int_customer_service__tickets"])
    owners = owners_by_asset([key], changed)
    assert owners[key] == sop.owner.dagster_owners
    assert key not in owners_by_asset([key], reg)


@pytest.mark.parametrize("node, expected", [
    ({"test_metadata": {"name": "not_null", "kwargs": {"column_name": "ticket_id"}}, "column_name": "ticket_id",
      "config": {"severity": "ERROR"}}, "dbt test `not_null`: `ticket_id` is never NULL. Blocking"),
    ({"test_metadata": {"name": "accepted_range", "kwargs": {"column_name": "x", "min_value": 0, "max_value": 1}},
      "column_name": "x", "config": {"severity": "warn"}}, "`x` is ≥ 0 and ≤ 1 where not NULL. Warning"),
    ({"test_metadata": {"name": "unique_combination", "kwargs": {"combination_of_columns": ["a", "b"]}},
      "config": {}}, "one row per (a, b)."),
    ({"raw_code": "{#- Every KPI has a target. -#}\n{{ config(meta={}) }}\nselect 1", "config": {}},
     "dbt singular test: Every KPI has a target. Blocking"),
    ({"meta": {"description": "Own words."}, "test_metadata": {"name": "unique", "kwargs": {}}, "config": {}},
     "dbt test `unique`: Own words."),
])
def test_dbt_test_descriptions(node, expected, tmp_path):
    assert expected in describe_dbt_test(node, {"macros": {}}, tmp_path)


def test_leading_comment_skips_config_blocks():
    sql = "{{ config(schema='sop', materialized='view') }}\n{#- SOP-X: one row\n    per thing. -#}\nselect 1"
    assert leading_comment(sql) == "SOP-X: one row per thing."
    assert leading_comment("select 1 {# not leading #}") == ""


def test_the_bi_app_sits_downstream_of_the_snapshot_unmaterialized_and_without_a_freshness_policy(graph):
    """bi/kpi_app: the Streamlit app in the lineage, never materialized by a run (a spec), so outside
    `serving/` whose freshness policy it would always fail; owned like the other serving assets."""
    app = _assets(graph)["bi/kpi_app"]
    assert app.parent_keys == {dg.AssetKey(["serving", "kpi_warehouse"])}
    assert app.kinds == {"streamlit"} and "make bi" in app.description
    assert not app.is_materializable
    assert app.owners == _assets(graph)["serving/kpi_warehouse"].owners
    assert app.freshness_policy is None
