"""The whole pipeline in-process on a small demo in a temp dir: a real Dagster run, real dbt, real DuckDB
(the session's `demo_world`, tests/conftest.py)."""
from __future__ import annotations

import dagster as dg

from pipelines.exports import EXPORTS
from pipelines.warehouse import connect


def test_full_refresh_then_rerun(demo_world, published_demo_rerun):
    """The session's demo world (generated, then `refresh_all`) and its rerun (conftest)."""
    settings, lines = demo_world.settings, demo_world.run_lines
    assert any("raw/tickets" in line for line in lines), "progress names each materialized asset"

    with connect(settings.warehouse_path, read_only=True) as con:
        loaded = {e.name: con.execute(f"SELECT count(*) FROM raw.{e.name}").fetchone()[0] for e in EXPORTS}
        assert loaded == demo_world.written, "every row the generator wrote is loaded, none rejected"
        assert con.execute("SELECT count(*) FROM raw._rejects").fetchone()[0] == 0
        staged = con.execute("SELECT count(*), count(DISTINCT ticket_id) FROM staging.stg_helpdesk__tickets").fetchone()
        assert staged[0] == staged[1] > 0, "change export deduplicated to one row per ticket"
        days, channels = con.execute(
            "SELECT count(DISTINCT kpi_date), count(DISTINCT channel) FROM marts.fct_customer_service_daily"
        ).fetchone()
        assert days >= 10 and channels == 4
        mart_before = con.execute("SELECT * FROM marts.fct_customer_service_daily ORDER BY ALL").fetchall()

    # A second run over the same exports (on a copy of the warehouse) loads nothing new and gives the same KPIs.
    with connect(published_demo_rerun.settings.warehouse_path, read_only=True) as con:
        assert {e.name: con.execute(f"SELECT count(*) FROM raw.{e.name}").fetchone()[0] for e in EXPORTS} == loaded
        assert con.execute("SELECT * FROM marts.fct_customer_service_daily ORDER BY ALL").fetchall() == mart_before


def _ancestors(specs: dict[dg.AssetKey, dg.AssetSpec], key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    todo = [key]
    while todo:
        for dep in specs[todo.pop()].deps:
            if dep.asset_key not in seen:
                seen.add(dep.asset_key)
                todo.append(dep.asset_key)
    return seen


def test_definitions_hold_the_lineage_from_export_file_to_mart():
    from pipelines.definitions import defs
    from pipelines.transform import dbt_project

    import json

    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    for e in EXPORTS:
        assert dg.AssetKey(["raw", e.name]) in specs and specs[dg.AssetKey(["raw", e.name])].group_name == e.system
        assert dg.AssetKey(["landing", e.name]) in specs

    manifest = json.loads(dbt_project.manifest_path.read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    for m in models:
        layer = "sop" if m["schema"] == "sop" else m["fqn"][1]  # SOP gate views: schema sop, keys sop/<view>
        assert dg.AssetKey([layer, m["name"]]) in specs, m["name"]
    assert {m["fqn"][1] for m in models} >= {"staging", "intermediate", "marts"}

    # Every staging model sits on its raw asset, under the same group (the source system).
    for e in EXPORTS:
        stg = specs[dg.AssetKey(["staging", f"stg_{e.system}__{e.name}"])]
        assert dg.AssetKey(["raw", e.name]) in {d.asset_key for d in stg.deps}
        assert stg.group_name == e.system

    up = _ancestors(specs, dg.AssetKey(["marts", "fct_customer_service_daily"]))
    for name in ("tickets", "ticket_interactions", "csat_responses"):
        assert dg.AssetKey(["raw", name]) in up and dg.AssetKey(["landing", name]) in up

    checks = list(defs.resolve_asset_graph().asset_check_keys)
    assert any(c.asset_key == dg.AssetKey(["marts", "fct_customer_service_daily"]) for c in checks), "dbt tests are checks"


def test_the_console_counts_the_runs_alerts_and_the_run_log_holds_each(demo_world):
    """The first run's KPIs turn off target: each alert is one `ALERT [kind] ...` line of the run log, and the
    console (what `kpi run` prints) has one line counting them by kind, never their JSON."""
    import collections
    import re

    lines = demo_world.run_lines
    assert not any(line.startswith("ALERT [") for line in lines), lines
    in_log = re.findall(r"ALERT \[(\w+)\]", (demo_world.settings.warehouse_path.parent / "last_run.log").read_text())
    assert in_log, "the demo's first run raises kpi_off_target alerts"
    counted, = [line for line in lines if "alert(s) raised" in line]
    kinds = ", ".join(f"{kind} ×{n}" for kind, n in sorted(collections.Counter(in_log).items()))
    assert f"! {len(in_log)} alert(s) raised: {kinds} (ops.alerts;" in counted, counted
