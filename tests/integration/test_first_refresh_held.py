"""A business's very first refresh, with one bad row in one export: the domains that export feeds are held
back (they have no last good rows yet), every other domain's KPIs are in the long table and the published
snapshot. No dbt test may error on a held model's missing table (a relationships test from a built
dimension into a held mart did, and held the long table back: no KPI at all), and the console says what
happened in the user's terms.
"""
from __future__ import annotations

import datetime as dt

import pytest

from pipelines.warehouse import connect
from tests.conftest import _demo_env

END = dt.date(2026, 3, 31)


@pytest.fixture(scope="module")
def first_refresh(tmp_path_factory):
    from pipelines.exports.demo import generate_demo_exports
    from pipelines.runner import run_job
    from pipelines.settings import Settings
    from pipelines.sop.summary import print_sop_summary

    root = tmp_path_factory.mktemp("first_refresh_held")
    with pytest.MonkeyPatch.context() as mp:
        for k, v in _demo_env(root).items():
            mp.setenv(k, v)
        settings = Settings.from_env()
        generate_demo_exports(root / "landing", days=7, scale=0.1, seed=5, end_date=END, progress=None)
        # One order line whose updated_at is not a timestamp, as a hand-edited export has it.
        orders = sorted((root / "landing" / "storefront" / "orders").glob("*.csv"))[-1]
        lines = orders.read_text().splitlines()
        lines[2] = lines[2][:-3] + '"x"'
        orders.write_text("\n".join(lines) + "\n")
        out: list[str] = []
        ok = run_job("refresh_all", print_fn=out.append)
        sop: list[str] = []
        print_sop_summary(settings.warehouse_path, print_fn=sop.append)
        yield settings, ok, out, sop


def test_the_other_domains_kpis_are_published_on_a_first_refresh(first_refresh):
    settings, ok, out, _ = first_refresh
    assert not ok, "a failed data gate fails the run"
    for path in (settings.warehouse_path, settings.serving_path):
        with connect(path, read_only=True) as con:
            domains = {d for (d,) in con.execute("SELECT DISTINCT domain FROM marts.fct_kpi_daily").fetchall()}
        assert {"customer_service", "manufacturing"} <= domains, (path, domains)
        assert not domains & {"storefront", "marketing"}, "held, and no last good rows yet"
    assert not [line for line in out if line.startswith("  ✗ check marts/")], "no dbt test errors on a held mart"
    assert any("held back: fct_storefront_daily" in line and "none yet" in line for line in out), out
    # the intake gate of the orders sits on their staging model: what reads the orders is held back
    assert "  ✗ check staging/stg_storefront__orders:sop_data_01__export_intake failed (ERROR): 1 row(s) failing" in out


def test_the_console_names_causes_once_and_the_gates_it_could_not_evaluate(first_refresh):
    _, _, out, sop = first_refresh
    prefix = "  ! serving__kpi_warehouse not run: its upstream step(s) "
    [skipped] = [line for line in out if line.startswith("  ! serving__kpi_warehouse ")]
    assert skipped.startswith(prefix) and skipped.endswith(" did not run"), out
    names = skipped.removeprefix(prefix).removesuffix(" did not run").split(", ")
    assert sorted(names) == ["dbt_core", "dbt_logistics", "dbt_marketing", "dbt_storefront"], skipped  # each once
    [gate_step] = [line for line in out if line.startswith("  ! dbt_storefront not run")]
    assert gate_step.endswith("data_gates__logistics__marketing__storefront failed"), gate_step
    # SOP-LG-01's process gate on paid orders reads the refused orders: Dagster skipped it; its rate
    # counts only the rest.
    lg = next(i for i, line in enumerate(sop) if line.strip().startswith("SOP-LG-01"))
    assert "NOT EVALUATED" in sop[lg + 1] and "sop_lg_01__handling_time" in sop[lg + 1], sop


def test_a_run_that_evaluated_no_gate_does_not_show_an_older_runs_results_as_its_own(first_refresh):
    from pipelines.sop.summary import print_sop_summary

    settings, _, _, _ = first_refresh
    later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)  # a run started after those results
    lines: list[str] = []
    print_sop_summary(settings.warehouse_path, print_fn=lines.append, run_started=later)
    assert len(lines) == 1 and lines[0].startswith("\nSOP gates: none evaluated in this run; the latest results are from run ")
