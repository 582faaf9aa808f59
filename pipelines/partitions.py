"""Daily partitions and the date window an incremental dbt run rebuilds.

A partition is a business day. The raw asset of a daily export and the dbt steps are
partitioned by it; a run for a day (or a range of days, one run per backfill) hands dbt the
window `min_date..max_date` (in the environment, KPI_WINDOW_MIN_DATE/MAX_DATE: pipelines/transform.py;
the same days as `--vars` for a hand-run dbt), and the incremental models rebuild only those days.

The window is widened so that a nightly run stays equal to a full refresh:
  - `lookback_days` before the first day: late events (a session's web events after midnight,
    a day's file delivered twice) land in the days just before;
  - back to the oldest business date among the rows loaded since the previous refresh: a
    corrected export re-delivered for a day weeks ago recomputes that day too.
A run without a partition passes no window: the incremental models rebuild every day.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from .exports import EXPORTS
from .ops_tables import REFRESH_LOG
from .settings import Settings, get_settings


def daily_partitions(settings: Settings | None = None) -> dg.DailyPartitionsDefinition:
    s = settings or get_settings()
    # end_offset 0: the newest partition is the last complete business day (yesterday).
    return dg.DailyPartitionsDefinition(start_date=s.partitions_start, timezone=s.business_timezone)


DAILY = daily_partitions()
# A backfill of many days is one run: dbt rebuilds the whole window once, not day by day.
SINGLE_RUN = dg.BackfillPolicy.single_run()


@dataclass(frozen=True)
class Window:
    min_date: dt.date
    max_date: dt.date
    partition_start: dt.date
    reason: str

    def dbt_vars(self) -> dict[str, str]:
        """The window as dbt `--vars` (a hand-run dbt, the tests); var() wins over the environment."""
        return {"min_date": self.min_date.isoformat(), "max_date": self.max_date.isoformat()}


def oldest_date_loaded_since_last_refresh(warehouse_path: Path) -> dt.date | None:
    """The oldest business date (event date, UTC day) among raw rows loaded after the previous dbt refresh started."""
    from .warehouse import connect, tables

    if not Path(warehouse_path).exists():
        return None
    with connect(warehouse_path, read_only=True) as con:
        existing = tables(con)
        if REFRESH_LOG not in existing:
            return None
        since = con.execute(f"SELECT max(started_at) FROM {REFRESH_LOG}").fetchone()[0]
        if since is None:
            return None
        parts = [f"SELECT min(CAST({e.event_date} AS DATE)) AS d FROM raw.{e.name} WHERE _loaded_at >= $since"
                 for e in EXPORTS if e.cadence == "daily" and e.event_date and f"raw.{e.name}" in existing]
        if not parts:
            return None
        return con.execute(f"SELECT min(d) FROM ({' UNION ALL '.join(parts)})", {"since": since}).fetchone()[0]


def run_window(context, settings: Settings | None = None) -> Window | None:
    """The window of a partitioned run (None for an unpartitioned run: rebuild everything)."""
    if not context.has_partition_key and not context.has_partition_key_range:
        return None
    s = settings or get_settings()
    keys = context.partition_key_range
    first, last = dt.date.fromisoformat(keys.start), dt.date.fromisoformat(keys.end)
    start = first - dt.timedelta(days=s.lookback_days)
    reason = f"partitions {keys.start}..{keys.end}, lookback {s.lookback_days} day(s)"
    # UTC day of the raw timestamp; one more day covers any business timezone offset.
    oldest = oldest_date_loaded_since_last_refresh(s.warehouse_path)
    if oldest is not None and oldest - dt.timedelta(days=1) < start:
        start = oldest - dt.timedelta(days=1)
        reason += f", widened to {start} for rows loaded since the previous refresh"
    return Window(min_date=start, max_date=last, partition_start=first, reason=reason)
