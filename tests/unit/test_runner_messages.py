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
