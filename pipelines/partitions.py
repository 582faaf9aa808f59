"""Daily partitions and the date window an incremental dbt run rebuilds.

A partition is a business day. The raw assets of the daily exports are partitioned by it (one
file a day); the dbt steps are not (their marts are rebuilt whole), but a run for a day (or for
a range of days: `kpi run --partition FIRST..LAST`) hands dbt the window `min_date..max_date` of the run's
partitions (in the environment, KPI_WINDOW_MIN_DATE/MAX_DATE: pipelines/transform.py; the same
days as `--vars` for a hand-run dbt), and the incremental models rebuild only those days.

The partitions start on the data's first day (`data_days`), or KPI_PARTITIONS_START: Dagster fixes
a partitions definition when it loads the code, so a process started before the first delivery
(or before older days were delivered) shows the new days after a reload of the code location.
A full refresh marks every day of the data (`covered_partitions`): one event per raw asset and day.

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


# The first partition while the landing folder holds no dated daily file (and KPI_PARTITIONS_START is unset).
NO_DATA_START = "2024-01-01"


def data_days(landing_dir: Path) -> tuple[dt.date, dt.date] | None:
    """The data's days in the landing folder, from the daily exports' file names (the date in a
    name, as the raw zone reads it): the first day every daily export with files has delivered
    (before it, some export has no data: no day to offer for a backfill) and the newest day
    delivered. None without a dated daily file."""
    from .raw_zone import export_date_of

    firsts, lasts = [], []
    for e in EXPORTS:
        if e.cadence != "daily":
            continue
        # The contract's file names (plain or gzip-compressed); not pipelines.ingest's discover_files,
        # which imports this module.
        names = [p.name for glob in (e.file_glob, f"{e.file_glob}.gz") for p in Path(landing_dir).glob(glob)]
        days = sorted(d for d in (_day(export_date_of(n, "")) for n in names) if d)
        if days:
            firsts.append(days[0])
            lasts.append(days[-1])
    if not firsts:
        return None
    return max(firsts), max(lasts)


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:  # no date in the name, or not a real one (2026-13-01)
        return None


def daily_partitions(settings: Settings | None = None) -> dg.DailyPartitionsDefinition:
    s = settings or get_settings()
    days = None if s.partitions_start else data_days(s.landing_dir)
    start = s.partitions_start or (days[0].isoformat() if days else NO_DATA_START)
    # end_offset 0: the newest partition is the last complete business day (yesterday).
    return dg.DailyPartitionsDefinition(start_date=start, timezone=s.business_timezone)


DAILY = daily_partitions()
# A backfill of many days is one run: dbt rebuilds the whole window once, not day by day.
SINGLE_RUN = dg.BackfillPolicy.single_run()


def covered_partitions(settings: Settings | None = None, partitions: dg.PartitionsDefinition | None = None) -> str | None:
    """The partitions a full refresh covers, `FIRST..LAST` (`kpi run --partition`'s form): the data's
    days in the landing folder within the partitions (DAILY). None without data in them."""
    s = settings or get_settings()
    days = data_days(s.landing_dir)
    keys = (partitions or DAILY).get_partition_keys()
    if days is None or not keys:
        return None
    first, last = max(days[0].isoformat(), keys[0]), min(days[1].isoformat(), keys[-1])
    return f"{first}..{last}" if first <= last else None


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
    """The window of a partitioned run (None for an unpartitioned run: rebuild everything). The
    partitions are the run's (Dagster reads them from its tags): an unpartitioned dbt step in a run
    of a day gets that day's window."""
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
