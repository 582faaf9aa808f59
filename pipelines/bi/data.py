"""What the BI app reads from the serving snapshot: plain DuckDB queries, no Streamlit.

Every function takes a read-only connection to the snapshot (`open_snapshot`): the app opens one
per script run (each page view or filter change), so a new publish (an atomic rename onto the same
path) is seen on the next one, and no connection is held on a replaced file.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from ..ops_tables import EXPORT_FRESHNESS, MART_STATE, PUBLISH_INFO
from ..warehouse import connect, has_table

# One table per period grain: the daily long table and its dbt roll-ups (one rollup rule: macro kpi_value).
GRAIN_TABLES = {"day": "marts.fct_kpi_daily", "week": "marts.kpi_weekly", "month": "marts.kpi_monthly"}
REQUIRED = ("marts.dim_kpi", "marts.fct_kpi_daily", "marts.kpi_weekly", "marts.kpi_monthly")
SOP_DOMAIN = "sop"  # the SOP compliance rate's domain: its page also lists each SOP


def snapshot_problem(path: Path) -> str | None:
    """Why the app cannot show the snapshot at `path` (missing, no KPIs), or None."""
    path = Path(path)
    if not path.exists():
        return (f"No serving snapshot at `{path}`. Run `make demo` first (or `kpi run` on your exports): "
                "the app reads only that file (KPI_SERVING_PATH).")
    with connect(path, read_only=True) as con:
        missing = [t for t in REQUIRED if not has_table(con, t)]
        if missing:
            return (f"The serving snapshot `{path}` has no {', '.join(missing)}: it was published by an older "
                    "pipeline or before any KPI was built. Run `make demo` first (or `kpi run`).")
        if not con.execute("SELECT count(*) FROM marts.fct_kpi_daily").fetchone()[0]:
            return f"The serving snapshot `{path}` holds no KPI rows yet (marts.fct_kpi_daily is empty): run `make demo` first (or `kpi run`)."
    return None


def open_snapshot(path: Path):
    """A read-only connection to the snapshot (the project's one way to open a DuckDB file)."""
    return connect(path, read_only=True)


def publish_info(con) -> tuple[str, dt.datetime] | None:
    if not has_table(con, PUBLISH_INFO):
        return None
    return con.execute(f"SELECT snapshot_id, published_at FROM {PUBLISH_INFO}").fetchone()


def domains(con) -> list[str]:
    """The KPI domains in the catalogue's order, from marts.dim_kpi (the one list)."""
    return [r[0] for r in con.execute(
        "SELECT domain FROM marts.dim_kpi GROUP BY domain ORDER BY min(catalog_order)").fetchall()]


def date_span(con, domain: str) -> tuple[dt.date, dt.date] | None:
    """First and last day with KPI rows of `domain`."""
    first, last = con.execute(
        "SELECT min(kpi_date), max(kpi_date) FROM marts.fct_kpi_daily WHERE domain = ?", [domain]).fetchone()
    return None if first is None else (first, last)


def segments(con, domain: str) -> dict[str, list[str]]:
    """segment_type -> its segments, for the KPIs of `domain` ('all' first: the whole business)."""
    out: dict[str, list[str]] = {}
    for segment_type, segment in con.execute(
            """SELECT DISTINCT segment_type, segment FROM marts.fct_kpi_daily WHERE domain = ?
               ORDER BY segment_type <> 'all', segment_type, segment""", [domain]).fetchall():
        out.setdefault(segment_type, []).append(segment)
    return out


def kpi_periods(con, domain: str, grain: str, start: dt.date, end: dt.date,
                segment_type: str = "all", segment: str = "all") -> pd.DataFrame:
    """Every KPI of `domain` per period of `grain` overlapping start..end, for one segment: period_start,
    period_end, kpi_id, kpi_name, unit, direction, value, target, status, days_in_period,
    days_with_data, is_complete, is_stale (a day is complete and has data when it has a row)."""
    if grain == "day":
        source = """SELECT kpi_date AS period_start, kpi_date AS period_end, kpi_id, segment_type, segment, value,
                           target, status, 1 AS days_in_period, 1 AS days_with_data, true AS is_complete, is_stale
                    FROM marts.fct_kpi_daily"""
    else:
        source = f"""SELECT period_start, period_end, kpi_id, segment_type, segment, value, target, status,
                            days_in_period, days_with_data, is_complete, is_stale FROM {GRAIN_TABLES[grain]}"""
    return con.execute(
        f"""SELECT p.period_start, p.period_end, k.kpi_id, k.kpi_name, k.unit, k.direction, k.grain AS kpi_grain,
                   p.value, p.target, p.status, p.days_in_period, p.days_with_data, p.is_complete,
                   coalesce(p.is_stale, false) AS is_stale
            FROM marts.dim_kpi AS k
            JOIN ({source}) AS p ON p.kpi_id = k.kpi_id
            WHERE k.domain = ? AND p.segment_type = ? AND p.segment = ?
              AND p.period_end >= ? AND p.period_start <= ?
            ORDER BY p.period_start, k.catalog_order""",
        [domain, segment_type, segment, start, end],
    ).df()


def default_period(periods: pd.DataFrame) -> dt.date | None:
    """The newest complete period of `periods` (the newest one when none is complete)."""
    if periods.empty:
        return None
    complete = periods[periods["is_complete"]]
    return (complete if not complete.empty else periods)["period_start"].max()


def holds(con, domain: str) -> list:
    """The holds (sop.results.MartHold: mart, gate, reason, built_at) of `domain`'s KPI marts: a failed
    data gate keeps them at their last good rows (ops.kpi_mart_state, fct_kpi_daily.is_stale)."""
    from ..sop.results import held_domains

    return held_domains(con).get(domain, [])


def mart_state(con) -> pd.DataFrame:
    """ops.kpi_mart_state as published: per KPI mart, last built and whether a gate holds it back."""
    if not has_table(con, MART_STATE):
        return pd.DataFrame()
    return con.execute(
        f"SELECT mart, built_at, held_by, held_reason, held_since FROM {MART_STATE} ORDER BY held_by IS NULL, mart").df()


def export_freshness(con) -> pd.DataFrame:
    if not has_table(con, EXPORT_FRESHNESS):
        return pd.DataFrame()
    return con.execute(
        f"""SELECT system, export, cadence, files_loaded, rows_in_raw, last_loaded_at, newest_data_date,
                   max_age_hours, on_time FROM {EXPORT_FRESHNESS} ORDER BY system, export""").df()


def sop_compliance(con, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per SOP over start..end: checks, failed checks, and the compliance rate re-summed from its
    components (sum(passed) / sum(checks), never an average of daily rates), with its newest day."""
    if not has_table(con, "marts.fct_sop_compliance_daily"):
        return pd.DataFrame()
    return con.execute(
        """SELECT sop_id, sum(sop_compliance_rate_numerator) / nullif(sum(sop_compliance_rate_denominator), 0) AS compliance,
                  sum(check_count) AS checks, sum(failed_check_count) AS failed_checks,
                  sum(failed_data_check_count) AS failed_data_checks, max(kpi_date) AS last_day
           FROM marts.fct_sop_compliance_daily WHERE kpi_date BETWEEN ? AND ?
           GROUP BY sop_id ORDER BY sop_id""",
        [start, end],
    ).df()


def sop_page(sop_docs_dir: Path, sop_id: str) -> Path:
    """The SOP site's page of `sop_id` (the site's own layout: pipelines/sop/docs.py page_path)."""
    from ..sop.docs import page_path

    return page_path(sop_docs_dir, sop_id)
