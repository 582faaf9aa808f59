"""config/exports.yml: which exports a business delivers, and what follows for freshness and KPIs."""
from __future__ import annotations

import datetime as dt

import pytest

from pipelines.exports import BY_NAME
from pipelines.exports.delivered import delivered_exports, not_delivered
from pipelines.freshness import evaluate
from pipelines.ingest import raw_asset_key
from pipelines.kpis import kpi_catalog, kpis_not_computed
from pipelines.settings import PROJECT_ROOT, Settings


def test_default_config_delivers_every_export(monkeypatch):
    monkeypatch.delenv("KPI_EXPORTS_CONFIG", raising=False)
    path = Settings.from_env().exports_config
    assert path == PROJECT_ROOT / "config" / "exports.yml"
    assert delivered_exports(path) == set(BY_NAME)
    assert delivered_exports(PROJECT_ROOT / "no such file.yml") == set(BY_NAME)


def test_per_system_lists_and_all(tmp_path):
    f = tmp_path / "exports.yml"
    f.write_text("delivered:\n  storefront: [orders, order_lines]\n  logistics: all\n")
    assert delivered_exports(f) == {"orders", "order_lines", "shipments", "shipment_lines", "returns", "inventory_snapshots"}
    assert "fx_rates" in not_delivered(f) and "orders" not in not_delivered(f)


@pytest.mark.parametrize("text, named", [
    ("delivered:\n  shop: all\n", "unknown source system 'shop'"),
    ("delivered:\n  storefront: [order]\n", "storefront: unknown export 'order'"),
    ("delivered: some\n", "must be `all` or a mapping"),
    ("exports: all\n", "expected a key `delivered:`"),
])
def test_mistakes_are_named_with_the_file(tmp_path, text, named):
    f = tmp_path / "exports.yml"
    f.write_text(text)
    with pytest.raises(ValueError) as exc:
        delivered_exports(f)
    assert str(f) in str(exc.value) and named in str(exc.value)


def test_relative_config_path_is_project_relative(monkeypatch):
    monkeypatch.setenv("KPI_EXPORTS_CONFIG", "tests/fixtures/real_exports/eu_shop/exports.yml")
    path = Settings.from_env().exports_config
    assert path == PROJECT_ROOT / "tests" / "fixtures" / "real_exports" / "eu_shop" / "exports.yml"
    assert "web_sessions" in not_delivered(path)


def test_kpis_needing_an_absent_export_are_not_computed():
    reasons = kpis_not_computed({"returns", "web_sessions"})
    assert reasons["lg_return_rate"] == "not computed: needs returns (not delivered)"
    assert reasons["mk_roas_rate"] == "not computed: needs web_sessions (not delivered)"
    assert "lg_on_time_delivery_rate" not in reasons and "sf_net_revenue_amount" not in reasons
    # every export a KPI needs exists in the contracts
    for kpi_id, kpi in kpi_catalog().items():
        assert set(kpi.get("needs") or ()) <= set(BY_NAME), kpi_id
    assert kpis_not_computed(set()) == {}


def test_freshness_of_an_export_not_in_use(tmp_path):
    """No warehouse yet: every export in use is 'never' delivered (fails); one not in use passes."""
    now = dt.datetime(2026, 11, 22, 12)
    checks = {f.key: f for f in evaluate(tmp_path / "kpi.duckdb", now=now, delivered=frozenset({"orders"}))}
    assert not checks[raw_asset_key(BY_NAME["orders"])].passed
    tickets = checks[raw_asset_key(BY_NAME["tickets"])]
    assert tickets.passed and "not in use" in tickets.description


def test_relative_path_settings_are_project_relative(monkeypatch):
    """Issue #16 point 7: every path setting given relative is taken from the project folder (not
    the working directory), and dbt gets the absolute warehouse path."""
    monkeypatch.chdir("/")
    rel = {"KPI_LANDING_DIR": "data/x/landing", "KPI_WAREHOUSE_PATH": "data/x/warehouse/kpi.duckdb",
           "KPI_SERVING_PATH": "data/x/serving/kpi.duckdb", "KPI_SOP_DOCS_DIR": "data/x/sop_docs",
           "KPI_RAW_ZONE_DIR": "data/x/raw_zone", "KPI_SPARK_DIR": "data/x/spark", "KPI_DBT_TARGET_DIR": "data/x/target",
           "KPI_EXPORTS_CONFIG": "config/exports.yml"}
    for k, v in rel.items():
        monkeypatch.setenv(k, v)
    s = Settings.from_env()
    paths = {"KPI_LANDING_DIR": s.landing_dir, "KPI_WAREHOUSE_PATH": s.warehouse_path, "KPI_SERVING_PATH": s.serving_path,
             "KPI_SOP_DOCS_DIR": s.sop_docs_dir, "KPI_RAW_ZONE_DIR": s.raw_zone_dir, "KPI_SPARK_DIR": s.spark_dir,
             "KPI_DBT_TARGET_DIR": s.dbt_target_dir, "KPI_EXPORTS_CONFIG": s.exports_config}
    for k, p in paths.items():
        assert p == PROJECT_ROOT / rel[k], k
    assert s.dbt_env()["KPI_WAREHOUSE_PATH"] == str(PROJECT_ROOT / rel["KPI_WAREHOUSE_PATH"])
    assert s.spark_env()["KPI_SPARK_DIR"] == str(PROJECT_ROOT / rel["KPI_SPARK_DIR"])


def test_summary_without_a_warehouse_is_one_line(tmp_path, monkeypatch, capsys):
    """Issue #16 point 7: `kpi summary` before any run says so in one line, not a FileNotFoundError
    traceback, whatever the working directory."""
    from pipelines.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KPI_WAREHOUSE_PATH", "data/never_built/kpi.duckdb")
    assert main(["summary"]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert "Traceback" not in out.err
    assert lines == [f"no warehouse at {PROJECT_ROOT / 'data/never_built/kpi.duckdb'} yet: "
                     "run `kpi run` (your exports) or `make demo` first"]


@pytest.mark.parametrize("value, expected", [(None, "business"), ("demo", "demo"), (" Demo ", "demo")])
def test_targets_setting_reaches_dbt(monkeypatch, value, expected):
    """Issue #16 point 5: the business's own targets unless KPI_TARGETS=demo (what `kpi demo` sets)."""
    if value is None:
        monkeypatch.delenv("KPI_TARGETS", raising=False)
    else:
        monkeypatch.setenv("KPI_TARGETS", value)
    assert Settings.from_env().dbt_env()["KPI_TARGETS"] == expected


def test_unknown_targets_setting_is_refused(monkeypatch):
    monkeypatch.setenv("KPI_TARGETS", "ours")
    with pytest.raises(ValueError, match="KPI_TARGETS must be one of business, demo, got 'ours'"):
        Settings.from_env()
