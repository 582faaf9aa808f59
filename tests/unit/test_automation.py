"""The nightly schedule and the new-export sensor, evaluated as the Dagster daemon evaluates them."""
from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.automation import new_export_files, nightly_refresh
from pipelines.exports import BY_NAME
from tests.conftest import write_csv


def test_nightly_schedule_requests_the_partition_of_the_day_before():
    assert nightly_refresh.cron_schedule == "0 2 * * *"
    when = dt.datetime(2026, 3, 5, 2, 0, tzinfo=ZoneInfo("UTC"))
    with dg.instance_for_test() as instance:
        ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=when, repository_def=_repo())
        request = nightly_refresh.evaluate_tick(ctx).run_requests[0]
    assert nightly_refresh.job_name == "refresh_all"
    assert request.run_key == "nightly-2026-03-04"
    assert request.partition_key == "2026-03-04"  # the incremental dbt models rebuild that day (+ lookback)
    assert request.tags["kpi/trigger"] == "nightly_schedule" and request.tags["kpi/covers_date"] == "2026-03-04"


def _repo():
    # The daemon evaluates with the code location's repository: it checks the partition key exists.
    from pipelines.definitions import defs

    return defs.get_repository_def()


def _tick(instance, cursor):
    result = new_export_files.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=_repo()))
    return result.run_requests or [], result.cursor


def test_sensor_starts_one_run_per_new_file_and_none_for_files_seen(settings):
    tickets, orders = BY_NAME["tickets"], BY_NAME["orders"]
    write_csv(settings.landing_dir, tickets, [], day="2026-01-01")
    with dg.instance_for_test() as instance:
        runs, cursor = _tick(instance, None)
        assert runs == [], "the first tick records what is there"

        write_csv(settings.landing_dir, tickets, [], day="2026-01-02")
        write_csv(settings.landing_dir, orders, [], day="2026-01-02")
        runs, cursor = _tick(instance, cursor)
        assert sorted(r.tags["kpi/first_file"] for r in runs) == [
            "helpdesk/tickets/tickets_2026-01-02.csv", "storefront/orders/orders_2026-01-02.csv"]
        assert sorted(k.to_user_string() for r in runs for k in r.asset_selection) == ["raw/orders", "raw/tickets"]

        runs, cursor = _tick(instance, cursor)
        assert runs == [], "files already seen start nothing"

        # A corrected re-delivery of a file already seen is a change.
        path = write_csv(settings.landing_dir, tickets, [{"ticket_id": "T1"}], day="2026-01-01")
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
        runs, cursor = _tick(instance, cursor)
        assert [r.tags["kpi/first_file"] for r in runs] == ["helpdesk/tickets/tickets_2026-01-01.csv"]

        # The cursor is a few fields per export, not a list of every file ever delivered (the UI shows it).
        size = len(cursor)
        for day in range(3, 31):
            write_csv(settings.landing_dir, tickets, [], day=f"2026-01-{day:02d}")
        runs, cursor = _tick(instance, cursor)
        assert [r.tags["kpi/files"] for r in runs] == ["28"]
        assert len(cursor) <= size + 2, cursor
