"""How `kpi run` words Dagster's own messages on the console (pipelines/runner.py)."""
from pipelines.runner import _skipped_step


def test_a_skipped_step_names_each_upstream_step_once_failed_first():
    message = ("Dependencies for step dbt_core failed: ['dbt_manufacturing', 'dbt_manufacturing']. "
               "Dependencies for step dbt_core were not executed: ['dbt_logistics', 'dbt_marketing', 'dbt_logistics']. "
               "Not executing.")
    assert _skipped_step(message) == ("not run: its upstream step(s) dbt_manufacturing failed; "
                                      "dbt_logistics, dbt_marketing did not run")


def test_one_kind_of_cause_and_other_messages_unchanged():
    assert _skipped_step("Dependencies for step serving__kpi_warehouse were not executed: ['dbt_core']. Not executing.") \
        == "not run: its upstream step(s) dbt_core did not run"
    assert _skipped_step("Started execution of step \"dbt_core\".") == "Started execution of step \"dbt_core\"."


def test_a_run_of_many_days_prints_each_asset_once():
    """A full refresh materializes a daily raw asset once per day: one progress line per asset."""
    from types import SimpleNamespace

    import dagster as dg

    from pipelines.runner import _ProgressHandler

    def materialized(path: str, partition: str | None):
        m = SimpleNamespace(asset_key=dg.AssetKey(path.split("/")), partition=partition, metadata={})
        return SimpleNamespace(event_type_value="ASSET_MATERIALIZATION",
                               event_specific_data=SimpleNamespace(materialization=m))

    lines: list[str] = []
    handler = _ProgressHandler(lines.append)
    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        handler.on_event(materialized("raw/orders", day), "raw_orders", "", 20)
    handler.on_event(materialized("marts/fct_storefront_daily", None), "dbt_storefront", "", 20)
    assert [line.split()[1] for line in lines] == ["raw/orders", "marts/fct_storefront_daily"]
    assert handler.counts["assets"] == 2 and handler.counts["partitions"] == 3
