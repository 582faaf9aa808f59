"""The SOP registry, its suites, the Dagster checks built from it, the demo faults and the SOP pages."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines.exports.demo_faults import BY_NAME as FAULTS_BY_NAME, DEFAULT_FAULTS, DOC_PATH, FAULTS, render_faults_doc, resolve
from pipelines.sop.registry import EXPECTATIONS_DIR, REGISTRY_PATH, RegistryError, load_registry, load_suite

CATALOGUE = ["SOP-CS-01", "SOP-CS-02", "SOP-MF-01", "SOP-MF-02", "SOP-MK-01", "SOP-MK-02",
             "SOP-LG-01", "SOP-LG-02", "SOP-RT-01", "SOP-DATA-01"]  # shared/SOP_CATALOG.md
REG = load_registry()


def test_the_registry_holds_every_sop_of_the_catalogue_with_its_six_properties():
    assert [s.id for s in REG.sops] == CATALOGUE
    for s in REG.sops:
        assert s.goal and s.owner.role and s.performers and s.trigger and s.inputs and s.outputs and s.steps, s.id
        assert s.version and isinstance(s.last_reviewed, dt.date)
        assert {g.severity for g in s.gates} == {"block", "warn"}, f"{s.id} needs data gates and process gates"
        assert s.owner.dagster_owners[0].count("@") == 1 and s.owner.dagster_owners[1].startswith("team:")


def test_indicators_are_kpis_of_the_catalogue():
    from pipelines.kpis import kpi_catalog

    known = set(kpi_catalog())
    for s in REG.sops:
        assert set(s.indicators) <= known, f"{s.id}: unknown kpi_id(s) {set(s.indicators) - known}"


def test_every_suite_is_a_valid_gx_suite_and_every_file_is_used():
    import great_expectations as gx

    used = {g.suite for g in REG.gates}
    files = {p.stem for p in EXPECTATIONS_DIR.glob("*.json")}
    assert used == files, f"suites without a gate: {files - used}; gates without a suite: {used - files}"
    for name in sorted(files):
        raw = load_suite(EXPECTATIONS_DIR / f"{name}.json")
        suite = gx.ExpectationSuite(name=raw["name"], expectations=raw["expectations"])  # GX validates types and kwargs
        assert len(suite.expectations) == len(raw["expectations"])


def test_thresholds_are_in_the_suites_not_in_the_gate_sql():
    gates_sql = (Path(__file__).resolve().parents[2] / "dbt_project/models/sop_gates")
    for path in gates_sql.glob("*.sql"):
        sql = path.read_text()
        for number in ("1440", " 240", "1.10", "> 48", "<= 5 "):
            assert number not in sql, f"{path.name} holds a threshold ({number.strip()}): it belongs in the suite"
    suite = json.loads((EXPECTATIONS_DIR / "sop_cs_01__first_response.json").read_text())
    assert {e["kwargs"].get("max_value") for e in suite["expectations"]} >= {1440, 240, 10, 5}


def test_sops_overdue_for_review_are_reported():
    assert [s.id for s in REG.overdue(dt.date(2026, 11, 22))] == ["SOP-MK-02", "SOP-LG-02", "SOP-RT-01"]
    assert REG.overdue(dt.date(2026, 1, 1)) == []


def _broken_registry(tmp_path, edit) -> Path:
    shutil.copytree(EXPECTATIONS_DIR, tmp_path / "expectations")
    path = tmp_path / "expectations" / "sops.yml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["sops"][0]["owner"].update(email="cs lead"), "SOP-CS-01.owner: `email` must be an e-mail"),
    (lambda d: d["sops"][1].pop("trigger"), "SOP-CS-02: `trigger` is missing"),
    (lambda d: d["sops"][2]["gates"][0].update(severity="stop"), "SOP-MF-01, gate 1: `severity` must be one of"),
    (lambda d: d["sops"][3].update(last_reviewed="last spring"), "SOP-MF-02: `last_reviewed` must be a date"),
    (lambda d: d["sops"][5]["gates"][0].update(keys=["spend_date", "platform", "campaign_id"]),
     "the data gates with a tolerance on staging/stg_ads__ad_spend_daily list different `keys`"),
])
def test_a_broken_registry_names_the_sop_and_the_field(tmp_path, monkeypatch, edit, message):
    from pipelines.sop import registry as registry_module

    path = _broken_registry(tmp_path, edit)
    monkeypatch.setattr(registry_module, "EXPECTATIONS_DIR", path.parent)
    with pytest.raises(RegistryError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_registry(path)


def test_a_broken_suite_names_the_file_and_the_expectation(tmp_path):
    path = tmp_path / "sop_cs_01__tickets.json"
    suite = json.loads((EXPECTATIONS_DIR / path.name).read_text())
    suite["expectations"][1]["meta"]["id"] = suite["expectations"][0]["meta"]["id"]
    path.write_text(json.dumps(suite))
    with pytest.raises(RegistryError, match=r"sop_cs_01__tickets\.json, expectation 2: `meta\.id` 'one_row_per_ticket' appears twice"):
        load_suite(path)


def test_the_registry_reads_each_gates_tolerance_from_gx_mostly_in_its_suite(tmp_path, monkeypatch):
    from pipelines.sop import registry as registry_module

    gates = {g.suite: g for g in REG.gates}
    timeline = gates["sop_lg_01__shipment_timeline"]
    assert timeline.tolerance == 0.99 and timeline.quarantines  # mostly 0.99 on both expectations
    assert gates["sop_cs_01__tickets"].tolerance == 0.99  # the smallest: one_row_per_ticket has no mostly
    for strict in ("sop_mk_02__fx_coverage", "sop_data_01__export_intake"):  # 1.0, the notes say why
        assert gates[strict].tolerance == 1.0 and not gates[strict].quarantines
        assert "No tolerance (mostly 1.0)" in load_suite(gates[strict].suite_path)["notes"]
    assert gates["sop_lg_01__handling_time"].tolerance == 0.95 and not gates["sop_lg_01__handling_time"].quarantines
    # the business edits the share in the suite; the registry reads it from there
    shutil.copytree(EXPECTATIONS_DIR, tmp_path / "expectations")
    suite_path = tmp_path / "expectations" / "sop_lg_01__shipment_timeline.json"
    suite = json.loads(suite_path.read_text())
    suite["expectations"][0]["kwargs"]["mostly"] = 0.995
    suite["expectations"][1]["kwargs"]["mostly"] = 0.995
    suite_path.write_text(json.dumps(suite))
    monkeypatch.setattr(registry_module, "EXPECTATIONS_DIR", tmp_path / "expectations")
    edited = {g.suite: g for g in load_registry(tmp_path / "expectations" / "sops.yml").gates}
    assert edited["sop_lg_01__shipment_timeline"].tolerance == 0.995
    suite["expectations"][0]["kwargs"]["mostly"] = 99
    suite_path.write_text(json.dumps(suite))
    with pytest.raises(RegistryError, match=r"shipment_timeline\.json, expectation 1 \(delivered_not_before_shipped\): "
                                            r"`mostly` must be a share of rows in \(0, 1\], got 99"):
        load_suite(suite_path)


def test_every_model_reading_a_gated_asset_leaves_its_quarantined_rows_out_by_the_gates_keys():
    """A data gate with a tolerance lets rows through only because the models reading its asset drop
    them: every non-gate model selecting from that staging model calls macro not_quarantined with the
    gate's keys (the quarantine's key_columns)."""
    import re

    models = Path(__file__).resolve().parents[2] / "dbt_project" / "models"
    keys = {g.asset.split("/")[1]: list(g.keys) for g in REG.gates if g.quarantines}
    assert "stg_logistics__shipments" in keys
    readers = 0
    for path in models.rglob("*.sql"):
        if "sop_gates" in path.parts:  # the SOP gate views judge every row, quarantined or not
            continue
        sql = path.read_text()
        for model, columns in keys.items():
            reads = len(re.findall(rf"ref\('{model}'\)", sql))
            if reads:
                readers += 1
                assert sql.count(f"{{{{ not_quarantined('{model}', {columns!r}) }}}}") == reads, (
                    f"{path.name} reads {model} without not_quarantined('{model}', {columns!r})")
    assert readers >= len(keys)


def test_checks_are_generated_from_the_registry_data_gates_blocking():
    from pipelines.definitions import defs
    from pipelines.sop.checks import check_asset_key

    graph = defs.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name): graph.get_check_spec(k) for k in graph.asset_check_keys}
    targets = REG.targets()
    assert len(targets) == 27 - 1 + 20  # the intake gate once per export
    for t in targets:
        spec = checks[(check_asset_key(t).to_user_string(), t.gate.suite)]
        assert spec.blocking == (t.gate.severity == "block"), t.label
        assert spec.metadata["sop_id"] == t.gate.sop_id and "@" in spec.metadata["owner"]
    job = defs.resolve_job_def("refresh_all")
    assert {(k.asset_key.to_user_string(), k.name) for k in job.asset_layer.asset_graph.asset_check_keys} >= {
        (check_asset_key(t).to_user_string(), t.gate.suite) for t in targets}


def test_assets_carry_the_owners_of_their_sops():
    from pipelines.definitions import defs

    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    assert {"cs.lead@shop.example", "team:customer_service"} <= set(specs["staging/stg_helpdesk__tickets"].owners)
    assert {"plant.manager@shop.example", "quality.manager@shop.example"} <= set(specs["staging/stg_mes__production_runs"].owners)
    assert "team:data_platform" in specs["raw/orders"].owners
    for key, spec in specs.items():
        for owner in spec.owners:
            assert "@" in owner or owner.startswith("team:"), (key, owner)


def test_every_gate_has_a_fault_that_breaks_it_and_the_fault_doc_is_current():
    suites = {g.suite: g for g in REG.gates}
    for f in FAULTS:
        assert f.suite in suites and suites[f.suite].sop_id == f.sop_id, f.name
        ids = {e["meta"]["id"] for e in load_suite(EXPECTATIONS_DIR / f"{f.suite}.json")["expectations"]}
        assert f.expectation in ids, f"{f.name}: {f.suite} has no expectation {f.expectation}"
        assert (f.kind == "data") == suites[f.suite].is_data_gate, f.name
    # every gate but the refresh interval (it judges the pipeline's own refreshes, see test_sop_gates.py)
    assert set(suites) - {f.suite for f in FAULTS} == {"sop_mk_02__mart_refresh"}
    assert {FAULTS_BY_NAME[n].sop_id for n in DEFAULT_FAULTS} == set(CATALOGUE), "the default set breaks every SOP"
    assert DOC_PATH.read_text() == render_faults_doc(), "docs/faults.md is stale: python -m pipelines.exports.demo_faults"
    with pytest.raises(ValueError, match="unknown fault"):
        resolve("late_first_responses,lost_parcel")
    assert resolve(None) == frozenset() and resolve("all") == frozenset(FAULTS_BY_NAME)


def _checksums(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_fault_changes_only_the_export_it_breaks(tmp_path):
    from pipelines.exports.demo import generate_demo_exports

    end = dt.date(2026, 3, 31)
    generate_demo_exports(tmp_path / "clean", days=14, scale=0.2, seed=5, end_date=end, progress=None)
    generate_demo_exports(tmp_path / "faulty", days=14, scale=0.2, seed=5, end_date=end, progress=None,
                          faults=["missing_tracking_numbers", "broken_export_file", "escalation_missed"])
    clean, faulty = _checksums(tmp_path / "clean"), _checksums(tmp_path / "faulty")
    assert clean.keys() == faulty.keys()
    changed = {p.split("/")[1] for p in clean if clean[p] != faulty[p]}
    assert changed == {"shipments", "web_events", "tickets", "ticket_interactions", "csat_responses"}


def test_flowcharts_are_self_contained_svg_with_every_step_and_exception():
    from pipelines.sop.docs import flowchart_svg

    for s in REG.sops:
        svg = flowchart_svg(s)
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        text = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
        for i, step in enumerate(s.steps, 1):
            assert f"{i}. {step.name}" in text
        assert text.count("Exception") == sum(1 for st in s.steps if st.exceptions)
        assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_the_readonly_dialect_keeps_results_after_the_connection_closes_and_refuses_writes(tmp_path):
    """The GX-on-DuckDB bug: plain duckdb-engine rolls back on close and the pending result is gone."""
    import duckdb
    import sqlalchemy as sa

    from pipelines.sop.gx_duckdb import readonly_url

    path = tmp_path / "kpi.duckdb"
    duckdb.connect(str(path)).execute("CREATE TABLE t AS SELECT range AS x FROM range(5)").close()
    plain, ours = sa.create_engine(f"duckdb:///{path}"), sa.create_engine(readonly_url(path))
    try:
        with plain.connect() as c:
            lost = c.exec_driver_sql("SELECT count(*) FROM t")
        assert lost.fetchall() == []  # what makes every GX metric fail with IndexError
        plain.dispose()
        with ours.connect() as c:
            kept = c.exec_driver_sql("SELECT count(*) FROM t")
        assert kept.fetchall() == [(5,)]
        with ours.connect() as c, pytest.raises(sa.exc.SQLAlchemyError, match="read-only"):
            c.exec_driver_sql("INSERT INTO t VALUES (6)")
    finally:
        plain.dispose()
        ours.dispose()


def test_a_breach_names_a_small_share_with_its_digits_and_the_tolerance_it_broke():
    """2 of 4460 rows is 0.0448 %, not "0.0 %"; an expectation without `mostly` has no tolerance."""
    import dataclasses

    from pipelines.sop.checks import breach
    from pipelines.sop.gate_runner import ExpectationOutcome, GateOutcome

    target = next(t for t in load_registry().targets() if t.gate.severity == "block")
    strict = ExpectationOutcome("no_rows_quarantined", "expect_column_values_to_be_null", "x", False, 4460, 2, 100 * 2 / 4460)
    tolerant = dataclasses.replace(strict, expectation="within_one_percent", unexpected=60,
                                   unexpected_percent=100 * 60 / 4460, mostly=0.99)
    text = breach(GateOutcome(target, None, None, 4460, [strict, tolerant], 0.1))
    assert "no_rows_quarantined 2 of 4460 rows (0.0448 %, tolerance 0 (no mostly in its suite))" in text, text
    assert "within_one_percent 60 of 4460 rows (1.35 %, tolerance 1 % (mostly 0.99))" in text, text


def test_the_ops_table_names_of_python_are_the_ones_dbt_declares_and_creates():
    """pipelines/ops_tables.py names the ops tables of the gate and dbt steps; dbt declares them as source `ops` and
    creates them (macros/sop_ops_tables.sql): the same four, by the same names."""
    import yaml

    from pipelines.ops_tables import SCHEMA, SOP_OPS_TABLES
    from pipelines.settings import DBT_PROJECT_DIR

    sources = yaml.safe_load((DBT_PROJECT_DIR / "models" / "marts" / "sop" / "_sop__sources.yml").read_text())["sources"]
    ops = next(s for s in sources if s["name"] == "ops")
    declared = {f"{ops['schema']}.{t['name']}" for t in ops["tables"]}
    created = set(re.findall(r"create table if not exists (ops\.\w+)",
                             (DBT_PROJECT_DIR / "macros" / "sop_ops_tables.sql").read_text(), re.I))
    assert ops["schema"] == SCHEMA
    assert set(SOP_OPS_TABLES) == created and set(SOP_OPS_TABLES) <= declared, (SOP_OPS_TABLES, created, declared)
