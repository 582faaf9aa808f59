"""The anomaly rule (pipelines/anomaly.py) on hand-built history in a real DuckDB warehouse, and its Dagster checks
in a real run: a halved denominator and a spike fire, a weekday that is always low does not, too little history
is "not judged", an export delivered with a tenth of its rows fires, and the alerts go to the owners, once."""
import datetime as dt
import json

import dagster as dg
import duckdb
import pytest

from pipelines import anomaly
from pipelines.kpis import kpi_catalog

NEWEST = dt.date(2026, 3, 1)  # a Sunday
DAYS = [NEWEST - dt.timedelta(days=i) for i in range(7 * anomaly.HISTORY_WEEKS, -1, -1)]  # 8 weeks before it, and it


def _wobble(i: int) -> float:
    """A deterministic ±4 % day-to-day noise."""
    return 1 + 0.02 * ((i * 7) % 5 - 2)


def _kpi_rows() -> list[tuple]:
    rows = []
    for i, day in enumerate(DAYS):
        sunday, newest = day.weekday() == 6, day == NEWEST
        # Sessions: Sundays always ~40 % of a weekday (seasonality), the newest Sunday too.
        sessions = (800 if sunday else 2000) * _wobble(i)
        rows.append(("sf_conversion_rate", day, 0.03 * _wobble(i + 1), sessions))
        # CSAT responses: the newest day's denominator halves (its value stays put).
        rows.append(("cs_csat_rate", day, 0.8 * _wobble(i + 2), 400 * _wobble(i) * (0.5 if newest else 1)))
        # Net revenue (a sum KPI, no denominator): the newest day spikes to 3×.
        rows.append(("sf_net_revenue_amount", day, 50_000 * _wobble(i) * (3 if newest else 1), None))
        # Unanswered tickets (a count): 0-2 a day, 5 on the newest day: too few to judge, not an anomaly.
        rows.append(("cs_unanswered_tickets", day, 5 if newest else i % 3, None))
        # Ad spend: only 3 weeks of history.
        if day > NEWEST - dt.timedelta(days=22):
            rows.append(("mk_spend_amount", day, 900 * _wobble(i), None))
    return rows


def _load_log_rows() -> list[tuple]:
    rows = []
    for i, day in enumerate(DAYS):
        orders = (400 if day.weekday() == 6 else 1000) * _wobble(i)
        rows.append(("orders", f"storefront/orders/orders_{day}.csv", int(orders / 10 if day == NEWEST else orders)))
        rows.append(("tickets", f"helpdesk/tickets/tickets_{day}.csv", int(300 * _wobble(i + 3))))
        # A small export: ~8 rows a day swing too much to judge, whatever the newest day brings.
        rows.append(("fx_rates", f"finance/fx_rates/fx_rates_{day}.csv", 1 if day == NEWEST else 8 + i % 2))
        if day >= NEWEST - dt.timedelta(days=7):  # a new export: two files so far
            rows.append(("returns", f"logistics/returns/returns_{day}.csv", 40))
    rows.append(("products", "storefront/products/products.csv", 500))  # a snapshot: no business date
    return rows


def build_warehouse(path) -> None:
    """The tables the rule reads, with the columns it reads: marts.dim_kpi, marts.fct_kpi_daily, raw._load_log."""
    catalog = kpi_catalog()
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts; CREATE SCHEMA raw")
        con.execute("CREATE TABLE marts.dim_kpi (kpi_id VARCHAR, rollup VARCHAR, grain VARCHAR, unit VARCHAR)")
        con.executemany("INSERT INTO marts.dim_kpi VALUES (?, ?, ?, ?)",
                        [[k, v["rollup"], v.get("grain", "day"), v["unit"]] for k, v in catalog.items()])
        con.execute("""CREATE TABLE marts.fct_kpi_daily (kpi_id VARCHAR, kpi_date DATE, segment_type VARCHAR,
                       segment VARCHAR, value DOUBLE, denominator DOUBLE)""")
        rows = _kpi_rows()
        con.executemany("INSERT INTO marts.fct_kpi_daily VALUES (?, ?, 'all', 'all', ?, ?)", [list(r) for r in rows])
        # A segment row far off: the rule reads the whole business only.
        con.execute("INSERT INTO marts.fct_kpi_daily VALUES ('sf_conversion_rate', ?, 'channel', 'email', 0.9, 1)", [NEWEST])
        con.execute("""CREATE TABLE raw._load_log (export VARCHAR, source_file VARCHAR, file_checksum VARCHAR,
                       rows_loaded BIGINT, rows_rejected BIGINT, loaded_at TIMESTAMP, note VARCHAR)""")
        con.executemany("INSERT INTO raw._load_log VALUES (?, ?, 'x', ?, 0, now(), NULL)", [list(r) for r in _load_log_rows()])


@pytest.fixture
def warehouse(settings):
    build_warehouse(settings.warehouse_path)
    return settings.warehouse_path


def test_rule_fires_on_a_halved_denominator_and_a_spike_not_on_a_low_weekday(warehouse):
    kpis, _ = anomaly.evaluate(warehouse)
    by = {(j.subject, j.measure): j for j in kpis}

    conv = by["sf_conversion_rate", "denominator"]
    assert conv.verdict == "normal", conv  # Sundays are always low: judged against Sundays only
    assert conv.history_count == anomaly.HISTORY_WEEKS and all(h["day"].weekday() == 6 for h in conv.history)
    assert conv.lower <= conv.observed <= conv.upper and conv.upper < 1500  # a weekday's 2000 would be outside
    assert by["sf_conversion_rate", "value"].verdict == "normal"

    halved = by["cs_csat_rate", "denominator"]
    assert halved.verdict == "anomaly" and halved.observed < halved.lower, halved
    assert by["cs_csat_rate", "value"].verdict == "normal"  # the rate itself did not move

    spike = by["sf_net_revenue_amount", "value"]
    assert spike.verdict == "anomaly" and spike.observed > spike.upper, spike
    assert ("sf_net_revenue_amount", "denominator") not in by, "a sum KPI has no denominator series"
    few = by["cs_unanswered_tickets", "value"]  # a count KPI's floor is its own count
    assert few.verdict == "not_judged" and few.reason.startswith("too small to judge"), few


def test_too_little_history_month_grain_and_missing_kpis_are_not_judged_with_the_reason(warehouse):
    kpis, _ = anomaly.evaluate(warehouse)
    by = {(j.subject, j.measure): j for j in kpis}
    short = by["mk_spend_amount", "value"]
    assert short.verdict == "not_judged" and short.history_count == 3
    assert short.reason == "too little history: 3 earlier Sunday(s) with a value in 8 weeks, 4 needed"
    assert by["sf_clv_12m_amount", "value"].reason == "month grain: the weekday band does not apply"
    assert by["cs_escalation_rate", "value"].verdict == "not_judged"  # no rows at all
    assert {j.subject for j in kpis} == set(kpi_catalog()), "every KPI is listed, judged or not"
    result = anomaly.kpi_result(kpis)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["not_judged"].value["mk_spend_amount:value"].startswith("too little history")


def test_an_export_delivered_with_a_tenth_of_its_rows_fires(warehouse):
    _, exports = anomaly.evaluate(warehouse)
    orders = exports["orders"]
    assert orders.verdict == "anomaly" and orders.day == NEWEST and orders.observed == 40, orders
    assert orders.lower > 250 and orders.history_count == anomaly.HISTORY_WEEKS
    assert exports["tickets"].verdict == "normal"
    assert exports["returns"].verdict == "not_judged" and exports["returns"].history_count == 1
    assert exports["fx_rates"].verdict == "not_judged" and exports["fx_rates"].reason.startswith("too small to judge")
    assert "products" not in exports, "snapshots have no business date per load: not watched"
    assert set(exports) == {e.name for e in anomaly.DAILY_EXPORTS}


def _check_job():
    specs = [dg.AssetSpec(anomaly.KPI_KEY), *(dg.AssetSpec(dg.AssetKey(["raw", e.name])) for e in anomaly.DAILY_EXPORTS)]
    defs = dg.Definitions(assets=specs, asset_checks=[anomaly.anomaly_checks],
                          jobs=[dg.define_asset_job("anomaly", selection=dg.AssetSelection.checks(anomaly.anomaly_checks))])
    return defs.resolve_job_def("anomaly")


def _evaluations(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def test_the_dagster_checks_warn_with_the_band_and_alert_each_owner_once(warehouse, caplog):
    with dg.DagsterInstance.ephemeral() as instance:
        result = _check_job().execute_in_process(instance=instance)
    assert result.success
    evals = _evaluations(result)
    assert len(evals) == len(anomaly.DAILY_EXPORTS) + 1, "one evaluation per daily export, one for all KPIs"
    assert all(e.severity == dg.AssetCheckSeverity.WARN for e in evals.values())
    failed = {k for k, e in evals.items() if not e.passed}
    assert failed == {"raw/orders:rows_per_load_anomaly", "marts/fct_kpi_daily:kpi_anomaly"}

    orders = evals["raw/orders:rows_per_load_anomaly"].metadata
    assert orders["observed"].value == 40 and orders["lower"].value > 250 and orders["upper"].value > orders["lower"].value
    assert len(orders["history"].value) == orders["history_count"].value == anomaly.HISTORY_WEEKS
    kpi = evals["marts/fct_kpi_daily:kpi_anomaly"]
    anomalous = {(a["subject"], a["measure"]) for a in kpi.metadata["anomalous"].value}
    assert anomalous == {("cs_csat_rate", "denominator"), ("sf_net_revenue_amount", "value")}
    assert all({"observed", "lower", "upper", "history"} <= set(a) for a in kpi.metadata["anomalous"].value)
    assert "cs_csat_rate denominator" in kpi.description
    returns = evals["raw/returns:rows_per_load_anomaly"]
    assert returns.passed and returns.description.startswith("not judged: too little history")
    assert returns.metadata["verdict"].value == "not_judged"

    from pipelines.warehouse import connect

    with connect(warehouse, read_only=True) as con:
        alerts = con.execute("SELECT kind, severity, owner, title, details FROM ops.alerts "
                             "ORDER BY details->>'measure' = 'rows_loaded' DESC, title").fetchall()
    assert [(a[0], a[2]) for a in alerts] == [
        # export orders: the owners raw/orders shows in Dagster (the SOPs naming it: SOP-DATA-01, a logistics SOP)
        ("anomaly", "data.platform@shop.example, team:data_platform, logistics.lead@shop.example, team:logistics"),
        ("anomaly", "Head of Customer Service"),  # cs_csat_rate: the catalogue's owner
        ("anomaly", "Head of E-commerce"),  # sf_net_revenue_amount
    ], alerts
    assert json.loads(alerts[0][4])["observed"] == 40

    # The same day again (a re-run): no second alert, neither in ops.alerts nor in the log (nor the webhook).
    def raised():
        return [r for r in caplog.records if r.getMessage().startswith("ALERT [anomaly]")]
    assert len(raised()) == 3
    with dg.DagsterInstance.ephemeral() as instance:
        assert _check_job().execute_in_process(instance=instance).success
    assert len(raised()) == 3, "raised again"
    with connect(warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ops.alerts").fetchone()[0] == 3
