"""The KPI declaration (dbt_project.yml vars) against KPI_CATALOG.md, the targets seed, the marts' docs,
and the pure functions of the KPI report and metadata (no warehouse needed)."""
from __future__ import annotations

import csv
import datetime as dt
import re

import duckdb
import pytest
import yaml

from pipelines.kpis import kpi_catalog, kpi_marts, kpis_of_mart, status_sql, value_sql, with_kpi_metadata
from pipelines.report import format_value, last_complete_week
from pipelines.settings import DBT_PROJECT_DIR

# Every kpi_id of KPI_CATALOG.md (written out here, not read from the declaration under test),
# plus the four process measures of its last section.
CATALOGUE = {
    "customer_service": ["cs_first_response_minutes", "cs_first_response_sla_rate", "cs_first_contact_resolution_rate", "cs_resolution_minutes",
                         "cs_csat_rate", "cs_csat_score", "cs_escalation_rate", "cs_unanswered_tickets",
                         "cs_reopen_rate", "cs_one_touch_resolution_rate"],
    "manufacturing": ["mf_availability_rate", "mf_performance_rate", "mf_quality_rate", "mf_oee_rate",
                      "mf_cycle_time_seconds", "mf_scrap_rate", "mf_throughput_units_per_hour"],
    "marketing": ["mk_spend_amount", "mk_ctr_rate", "mk_cpc_amount", "mk_cpm_amount", "mk_conversion_rate", "mk_roas_rate",
                  "mk_roi_rate", "mk_cac_amount"],
    "logistics": ["lg_on_time_delivery_rate", "lg_order_accuracy_rate", "lg_fill_rate", "lg_transportation_cost_amount",
                  "lg_transportation_cost_per_order_amount", "lg_transportation_cost_revenue_rate",
                  "lg_perfect_order_rate", "lg_otif_rate", "lg_return_rate", "lg_stockout_rate"],
    "storefront": ["sf_conversion_rate", "sf_cart_abandonment_rate", "sf_average_order_value_amount",
                   "sf_net_revenue_amount", "sf_new_customer_rate", "sf_clv_12m_amount",
                   "sf_order_count", "sf_units_per_order", "sf_discount_rate", "sf_discounted_order_rate",
                   "sf_refund_rate", "sf_refunded_amount"],
}
PROCESS_MEASURES = ["lg_order_to_ship_hours", "lg_ship_to_delivery_hours", "lg_refund_lead_time_hours",
                    "lg_inventory_days_of_supply"]
# Plain amounts and counts (catalogue rule 1: value in the numerator, no denominator).
SUM_KPIS = {"sf_net_revenue_amount", "sf_order_count", "sf_refunded_amount", "mk_spend_amount", "lg_transportation_cost_amount", "cs_unanswered_tickets"}


def test_declaration_holds_every_catalogue_kpi_once_with_its_domain():
    catalog = kpi_catalog()
    expected = {k: d for d, ks in CATALOGUE.items() for k in ks} | {k: "logistics" for k in PROCESS_MEASURES}
    expected["sop_compliance_rate"] = "sop"  # SOP_CATALOG.md: the compliance rate next to the KPIs
    assert {k: v["domain"] for k, v in catalog.items()} == expected


def test_every_kpi_is_tied_to_a_declared_goal_owner_and_definition():
    vars_ = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    for kpi_id, kpi in kpi_catalog().items():
        assert kpi["goal"] in vars_["kpi_goals"], kpi_id
        assert kpi["mart"] in vars_["kpi_marts"], kpi_id
        assert kpi["owner"].strip() and len(kpi["definition"]) > 20, kpi_id
        assert kpi["direction"] in ("higher_is_better", "lower_is_better"), kpi_id
        assert kpi["rollup"] == ("sum" if kpi_id in SUM_KPIS else "ratio"), kpi_id
    assert kpi_catalog()["sf_clv_12m_amount"]["grain"] == "month"


def test_business_targets_name_only_catalogue_kpis_and_ship_empty():
    with open(DBT_PROJECT_DIR / "seeds" / "kpi_targets_business.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["kpi_id", "target", "warning_band"]  # no direction: the declaration's only
    ids = [r["kpi_id"] for r in rows]
    assert len(ids) == len(set(ids)) and set(ids) <= set(kpi_catalog())
    # The business's targets ship empty: its KPIs show "no target" until it sets its own.
    assert [r for r in rows if r["target"].strip() or r["warning_band"].strip()] == []


def test_every_kpi_declares_its_warning_band_and_a_demo_target():
    for kpi_id, kpi in kpi_catalog().items():
        assert isinstance(kpi["warning_band"], (int, float)) and kpi["warning_band"] >= 0, kpi_id
        assert isinstance(kpi.get("demo_target"), (int, float)), kpi_id  # the demo judges every KPI


def _mart_docs() -> dict[str, dict[str, dict]]:
    docs = {}
    for path in (DBT_PROJECT_DIR / "models" / "marts").rglob("_*__models.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            docs[model["name"]] = {c["name"]: c for c in model.get("columns", [])}
    return docs


def test_every_mart_documents_the_three_columns_of_each_of_its_kpis():
    docs = _mart_docs()
    for mart in kpi_marts():
        if mart == "fct_kpi_daily":
            continue
        columns = docs[mart]
        for kpi_id in kpis_of_mart(mart):
            for suffix in ("_numerator", "_denominator", ""):
                col = columns.get(kpi_id + suffix)
                assert col and col.get("description") and col.get("data_type"), f"{mart}.{kpi_id}{suffix}"
            # the value column's docs render the one declaration (the SOP mart's docs are the SOP owner's)
            if mart != "fct_sop_compliance_daily":
                assert f"var('kpi_catalog').{kpi_id}.definition" in columns[kpi_id]["description"], kpi_id


def test_long_table_has_exactly_the_catalogue_columns():
    docs = _mart_docs()
    # the catalogue's columns, then the stale marks of a domain held back by its data gate (#17)
    assert list(docs["fct_kpi_daily"]) == ["kpi_id", "domain", "kpi_date", "segment_type", "segment", "numerator",
                                           "denominator", "value", "unit", "target", "status",
                                           "is_stale", "stale_gate", "stale_reason", "last_good_built_at"]
    for model, columns in docs.items():
        for name, col in columns.items():
            assert col.get("description"), f"{model}.{name} has no description"


@pytest.mark.parametrize("value, target, direction, band, expected", [
    (0.80, 0.80, "higher_is_better", 0.1, "on_target"),
    (0.90, 0.80, "higher_is_better", 0.1, "on_target"),
    (0.75, 0.80, "higher_is_better", 0.1, "at_risk"),
    (0.70, 0.80, "higher_is_better", 0.1, "off_target"),
    (9.0, 10.0, "lower_is_better", 0.2, "on_target"),
    (11.5, 10.0, "lower_is_better", 0.2, "at_risk"),
    (12.5, 10.0, "lower_is_better", 0.2, "off_target"),
    (1.0, 0.0, "lower_is_better", 0.0, "off_target"),
    (-0.05, -0.1, "higher_is_better", 0.5, "on_target"),
    (-0.12, -0.1, "higher_is_better", 0.5, "at_risk"),
    (None, 0.8, "higher_is_better", 0.1, None),
    (0.8, None, "higher_is_better", 0.1, None),
])
def test_status_rule(value, target, direction, band, expected):
    """The dbt macro kpi_status, as Python renders it for the SQL it runs itself (the rule's one home)."""
    sql = f"SELECT {status_sql('v', 't', 'd', 'b')} FROM (SELECT ?::double AS v, ?::double AS t, ?::varchar AS d, ?::double AS b)"
    assert duckdb.execute(sql, [value, target, direction, band]).fetchone()[0] == expected


@pytest.mark.parametrize("rollup, num, den, expected", [
    ("ratio", 3, 4, 0.75), ("ratio", 3, 0, None), ("ratio", 0, 5, 0.0), ("sum", 7.5, None, 7.5), ("sum", None, None, None),
])
def test_rollup_rule(rollup, num, den, expected):
    """The dbt macro kpi_value, rendered: ratio → numerator / denominator, NULL (never 0 or inf) on a 0 denominator."""
    sql = f"SELECT {value_sql('r', 'n', 'd')} FROM (SELECT ?::varchar AS r, ?::double AS n, ?::double AS d)"
    assert duckdb.execute(sql, [rollup, num, den]).fetchone()[0] == expected


def test_last_complete_week_is_monday_to_sunday():
    assert last_complete_week(dt.date(2026, 3, 31)) == (dt.date(2026, 3, 23), dt.date(2026, 3, 29))  # a Tuesday
    assert last_complete_week(dt.date(2026, 3, 29)) == (dt.date(2026, 3, 23), dt.date(2026, 3, 29))  # a Sunday
    assert last_complete_week(dt.date(2026, 3, 28)) == (dt.date(2026, 3, 16), dt.date(2026, 3, 22))  # a Saturday


def test_value_formats():
    assert format_value(0.0312, "rate") == "3.1%"
    assert format_value(1234.5, "USD") == "1,234.50 USD"
    assert format_value(3, "count") == "3"
    assert format_value(2.125, "units") == "2.12 units"  # units per order: a mean, not a count
    assert format_value(None, "hours") == "n/a"


def test_metadata_wrapper_holds_kpi_mart_events_until_the_stream_ends(tmp_path):
    """Events of KPI marts come after every other event, enriched; a failing stream still reports them, then raises."""
    import dagster as dg
    import duckdb

    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute("""CREATE TABLE marts.fct_logistics_inventory_daily AS SELECT * FROM (VALUES
        (DATE '2026-03-01', 'W1', 1, 10, 0.1, 30, 3.0, 10.0),
        (DATE '2026-03-02', 'W1', 1, 4, 0.25, 20, 4.0, 5.0),
        (DATE '2026-03-02', 'W2', 0, 3, 0.0, 10, 1.0, 10.0))
        AS t(kpi_date, warehouse_id, lg_stockout_rate_numerator, lg_stockout_rate_denominator, lg_stockout_rate,
             lg_inventory_days_of_supply_numerator, lg_inventory_days_of_supply_denominator, lg_inventory_days_of_supply)""")
    con.close()

    class Context:
        keys = {"inv": dg.AssetKey(["marts", "fct_logistics_inventory_daily"]), "stg": dg.AssetKey(["staging", "x"])}

        def asset_key_for_output(self, name):
            return self.keys[name]

    def stream(fail: bool):
        yield dg.Output(None, output_name="inv", metadata={"unique_id": "model.x"})
        yield dg.Output(None, output_name="stg")
        if fail:
            raise RuntimeError("dbt failed")

    out = list(with_kpi_metadata(stream(False), Context(), warehouse_path=path))
    assert [e.output_name for e in out] == ["stg", "inv"]
    md = out[1].metadata
    # newest day 03-02, summed over both warehouses: 1 / 7 stockout, 30 / 5 days of supply; shown as the
    # UI should (a rate to 4 decimals, not 0.14285714285714285; other units to 2)
    assert md["lg_stockout_rate"].value == 0.1429
    assert md["lg_inventory_days_of_supply"].value == 6.0
    assert md["unique_id"].value == "model.x"

    seen = []
    with pytest.raises(RuntimeError, match="dbt failed"):
        for e in with_kpi_metadata(stream(True), Context(), warehouse_path=path):
            seen.append(e.output_name)
    assert seen == ["stg", "inv"]


def test_kpi_ids_are_snake_case_with_domain_prefix():
    prefix = {"storefront": "sf_", "customer_service": "cs_", "manufacturing": "mf_", "marketing": "mk_", "logistics": "lg_",
              "sop": "sop_"}
    for kpi_id, kpi in kpi_catalog().items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", kpi_id) and kpi_id.startswith(prefix[kpi["domain"]]), kpi_id


def test_every_kpi_has_a_hand_computed_dbt_unit_test_on_its_mart():
    """A dbt unit test of the KPI's mart expects a value for it (the unit tests run in test_dbt_unit_tests.py)."""
    expected_keys: dict[str, set[str]] = {}
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        for ut in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", []) or []:
            rows = ut.get("expect", {}).get("rows") or []
            keys = set().union(*(r.keys() for r in rows)) if isinstance(rows, list) and rows else set()
            expected_keys.setdefault(ut["model"], set()).update(keys)
    for kpi_id, kpi in kpi_catalog().items():
        keys = expected_keys.get(kpi["mart"], set())
        assert kpi_id in keys or f"{kpi_id}_numerator" in keys, f"no dbt unit test of {kpi['mart']} expects {kpi_id}"
    assert {"value", "status", "target"} <= expected_keys["fct_kpi_daily"]
