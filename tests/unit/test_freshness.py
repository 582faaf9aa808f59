"""Freshness rules on a real DuckDB warehouse: each export against its cadence, the marts against SOP-MK-02's limit."""
from __future__ import annotations

import datetime as dt
import json

import duckdb

from pipelines.exports import BY_NAME
from pipelines.freshness import MARTS_KEY, evaluate, mart_max_age_hours
from pipelines.sop.registry import EXPECTATIONS_DIR

NOW = dt.datetime(2026, 6, 30, 12, 0)


def _warehouse(tmp_path, loads: dict[str, dt.datetime], refreshed: dt.datetime | None):
    path = tmp_path / "kpi.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA raw; CREATE SCHEMA ops")
        con.execute("CREATE TABLE raw._load_log (export VARCHAR, source_file VARCHAR, loaded_at TIMESTAMP)")
        for export, at in loads.items():
            con.execute("INSERT INTO raw._load_log VALUES (?, 'old.csv', ?), (?, 'new.csv', ?)",
                        [export, at - dt.timedelta(days=5), export, at])
        con.execute("CREATE TABLE ops.sop_refresh_log (run_id VARCHAR, finished_at TIMESTAMP, marts_built BIGINT)")
        if refreshed:
            con.execute("INSERT INTO ops.sop_refresh_log VALUES ('r1', ?, 7), ('r2', ?, 0)",
                        [refreshed, refreshed + dt.timedelta(hours=5)])  # r2 built no mart: not a refresh of them
    return path


def test_daily_export_is_stale_after_26_hours_a_snapshot_only_when_never_delivered(tmp_path):
    path = _warehouse(tmp_path, {
        "tickets": NOW - dt.timedelta(hours=25, minutes=59),  # fresh
        "orders": NOW - dt.timedelta(hours=26, minutes=1),  # stale
        "campaigns": NOW - dt.timedelta(days=90),  # a snapshot: re-delivered only when it changes
    }, refreshed=NOW - dt.timedelta(hours=20))
    by_key = {f.key.to_user_string(): f for f in evaluate(path, now=NOW)}
    assert BY_NAME["tickets"].expected_max_age_hours == 26 and BY_NAME["campaigns"].expected_max_age_hours is None
    assert by_key["raw/tickets"].passed
    assert not by_key["raw/orders"].passed and by_key["raw/orders"].age_hours == 26.02
    assert by_key["raw/campaigns"].passed
    assert not by_key["raw/products"].passed, "a snapshot never delivered is stale"
    assert not by_key["raw/web_events"].passed and "never" in by_key["raw/web_events"].description
    assert by_key["marts/fct_kpi_daily"].passed and by_key["marts/fct_kpi_daily"].age_hours == 20


def test_marts_limit_is_sop_mk_02s_and_only_refreshes_that_built_marts_count(tmp_path):
    suite = json.loads((EXPECTATIONS_DIR / "sop_mk_02__mart_refresh.json").read_text())
    assert mart_max_age_hours() == suite["expectations"][0]["kwargs"]["max_value"] == 26
    path = _warehouse(tmp_path, {}, refreshed=NOW - dt.timedelta(hours=27))  # r2 (22 h ago) built no mart
    marts = next(f for f in evaluate(path, now=NOW) if f.key == MARTS_KEY)
    assert not marts.passed and marts.age_hours == 27
    assert not next(f for f in evaluate(tmp_path / "missing.duckdb", now=NOW) if f.key == MARTS_KEY).passed


def test_the_marts_and_the_snapshot_carry_dagsters_freshness_policy_with_sop_mk_02s_limit():
    import dagster as dg
    import yaml

    from pipelines.definitions import defs
    from pipelines.settings import PROJECT_ROOT

    graph = defs.resolve_asset_graph()
    policies = {k.to_user_string(): graph.get(k).freshness_policy for k in graph.get_all_asset_keys()}
    marts = {k for k in policies if k.startswith("marts/")}
    assert {"marts/fct_kpi_daily", "marts/fct_storefront_daily", "marts/dim_kpi"} <= marts
    assert {k for k, p in policies.items() if p is not None} == marts | {"serving/kpi_warehouse", "serving/kpi_dashboard"}
    windows = {p.fail_window.to_timedelta() for p in policies.values() if p is not None}
    assert windows == {dt.timedelta(hours=mart_max_age_hours())} == {dt.timedelta(hours=26)}
    assert {type(p) for p in policies.values() if p is not None} == {type(dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(1)))}
    # evaluated by the instance the project configures (make dev, the tests' instances)
    assert yaml.safe_load((PROJECT_ROOT / "config" / "dagster.yaml").read_text())["freshness"] == {"enabled": True}
