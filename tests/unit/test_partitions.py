"""The daily partitions start on the data's first day, and a full refresh covers the data's days."""
from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from pipelines.exports import BY_NAME
from pipelines.partitions import NO_DATA_START, covered_partitions, daily_partitions, data_days
from pipelines.settings import Settings
from tests.conftest import write_csv


@pytest.fixture
def settings(settings, monkeypatch) -> Settings:
    """The temp folders, without the KPI_PARTITIONS_START that tests/conftest.py sets."""
    monkeypatch.delenv("KPI_PARTITIONS_START", raising=False)
    return Settings.from_env()


def _deliver(settings, export: str, days: list[str]) -> None:
    for day in days:
        write_csv(settings.landing_dir, BY_NAME[export], [], day=day)


def test_the_data_days_start_when_every_daily_export_has_delivered(settings):
    assert data_days(settings.landing_dir) is None
    _deliver(settings, "orders", ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"])
    _deliver(settings, "tickets", ["2026-01-03", "2026-01-05"])  # tickets start later: 01-01 has no tickets
    write_csv(settings.landing_dir, BY_NAME["products"], [], day=None)  # a snapshot: no day
    write_csv(settings.landing_dir, BY_NAME["orders"], [], name="orders_backlog.csv")  # no date in its name

    assert data_days(settings.landing_dir) == (dt.date(2026, 1, 3), dt.date(2026, 1, 5))
    assert daily_partitions(settings).get_first_partition_key() == "2026-01-03"


def test_kpi_partitions_start_wins_and_no_data_keeps_a_fixed_start(settings, monkeypatch):
    assert daily_partitions(settings).get_first_partition_key() == NO_DATA_START
    _deliver(settings, "orders", ["2026-01-02"])
    monkeypatch.setenv("KPI_PARTITIONS_START", "2025-12-01")
    assert daily_partitions(Settings.from_env()).get_first_partition_key() == "2025-12-01"


def test_a_full_refresh_covers_the_data_days_within_the_partitions(settings):
    partitions = dg.DailyPartitionsDefinition(start_date="2026-01-02", end_date="2026-01-05")  # 01-02..01-04
    assert covered_partitions(settings, partitions) is None
    _deliver(settings, "orders", ["2026-01-01", "2026-01-02", "2026-01-03"])
    _deliver(settings, "tickets", ["2026-01-01", "2026-01-06"])  # 01-06: after the newest partition
    assert covered_partitions(settings, partitions) == "2026-01-02..2026-01-04"
    partitions = dg.DailyPartitionsDefinition(start_date="2026-01-10", end_date="2026-01-12")
    assert covered_partitions(settings, partitions) is None  # no data within the partitions
