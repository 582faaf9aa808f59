"""The console KPI report: per domain, every KPI of the last complete week (Monday to Sunday)
with its value, target and status.

Read from the week roll-up `marts.kpi_weekly` (segment_type = 'all') and `marts.dim_kpi`: a week's
value re-sums the daily components, sum(numerator) / sum(denominator) (amounts and counts:
sum(numerator)), never an average of daily values; targets of amounts and counts are daily
whole-business figures, so a week is compared with 7 × the target (dbt macros kpi_value and
kpi_period_rollup). Month-grain KPIs (the
12-month CLV, by cohort month) show the newest cohort month that has a value; the SOP compliance
rate (dated by the gate run, after the data) the newest run's day when the week has none.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from .kpis import STATUS_LABEL, kpis_not_computed, status_sql, value_sql
from .warehouse import connect, has_table

UNIT_SUFFIX = {"minutes": " min", "hours": " h", "seconds": " s", "days": " days", "count": "", "score": "", "units": " units"}


@dataclass(frozen=True)
class KpiLine:
    domain: str
    kpi_id: str
    kpi_name: str
    unit: str
    value: float | None
    target: float | None
    status: str | None
    note: str = ""


def last_complete_week(last_day: dt.date, days: int = 7) -> tuple[dt.date, dt.date]:
    """The `days` days ending on the last Sunday on or before `last_day` (days=7: Monday to Sunday)."""
    end = last_day - dt.timedelta(days=(last_day.weekday() + 1) % 7)
    return end - dt.timedelta(days=days - 1), end


def kpi_week(con, days: int = 7, not_delivered: frozenset[str] = frozenset()) -> tuple[dt.date, dt.date, list[KpiLine]] | None:
    """Every KPI over the last complete week (or `days` days ending on the last Sunday) of the warehouse.
    A KPI needing an export in `not_delivered` has no value, and says so.

    A week (days = 7) is read from `marts.kpi_weekly`: value, target and status as the snapshot's
    analysts see them, computed by the one rollup rule (dbt macro kpi_value). Any other length is
    no calendar period of the marts: it re-sums the daily components here, in SQL rendered from the
    same dbt macros (kpis.value_sql, kpis.status_sql)."""
    if not (has_table(con, "marts.fct_kpi_daily") and has_table(con, "marts.dim_kpi")):
        return None
    # The end of the business data. SOP compliance is dated by when the gates ran (the wall
    # clock, after the data's last day): it must not move the week past the data.
    last = con.execute(
        "SELECT max(kpi_date) FROM marts.fct_kpi_daily WHERE segment_type = 'all' AND domain <> 'sop'").fetchone()[0]
    if last is None:
        return None
    start, end = last_complete_week(last, days)
    if days == 7 and has_table(con, "marts.kpi_weekly"):
        rows = con.execute(
            """
            SELECT k.domain, k.kpi_id, k.kpi_name, k.unit, k.grain, k.direction, k.target, k.warning_band,
                   w.value, w.target, w.status, coalesce(w.days_with_data, 0), coalesce(w.is_complete, false)
            FROM marts.dim_kpi AS k
            LEFT JOIN marts.kpi_weekly AS w
                ON w.kpi_id = k.kpi_id AND w.segment_type = 'all' AND w.period_start = ?
            ORDER BY k.catalog_order
            """,
            [start],
        ).fetchall()
    else:
        rows = con.execute(
            f"""
            WITH sums AS (
                SELECT k.domain, k.kpi_id, k.kpi_name, k.unit, k.rollup, k.grain, k.direction, k.target,
                       k.warning_band, min(k.catalog_order) AS catalog_order,
                       sum(f.numerator) AS numerator, sum(f.denominator) AS denominator, count(f.kpi_id) AS n
                FROM marts.dim_kpi AS k
                LEFT JOIN marts.fct_kpi_daily AS f
                    ON f.kpi_id = k.kpi_id AND f.segment_type = 'all' AND f.kpi_date BETWEEN ? AND ?
                GROUP BY ALL
            ),
            valued AS (
                SELECT *, {value_sql('rollup', 'numerator', 'denominator')} AS value,
                       CASE WHEN rollup = 'sum' THEN target * ? ELSE target END AS period_target
                FROM sums
            )
            SELECT domain, kpi_id, kpi_name, unit, grain, direction, target, warning_band, value, period_target,
                   {status_sql('value', 'period_target', 'direction', 'warning_band')}, n, true
            FROM valued
            ORDER BY catalog_order
            """,
            [start, end, days],
        ).fetchall()
    lines = []
    not_computed = kpis_not_computed(not_delivered)
    for domain, kpi_id, name, unit, grain, direction, target, band, value, period_target, status, n, complete in rows:
        if kpi_id in not_computed:
            lines.append(KpiLine(domain, kpi_id, name, unit, None, target, None, not_computed[kpi_id]))
            continue
        note = ""
        if grain == "month":
            latest = con.execute(
                """SELECT kpi_date, value, status FROM marts.fct_kpi_daily
                   WHERE kpi_id = ? AND segment_type = 'all' AND kpi_date <= ? AND value IS NOT NULL
                   ORDER BY kpi_date DESC LIMIT 1""",
                [kpi_id, end],
            ).fetchone()
            value, status = latest[1:] if latest else (None, None)  # the status dbt gave the cohort's row
            note = f"cohort {latest[0]:%Y-%m}" if latest else "no cohort with 12 full months yet"
            period_target = target
        elif domain == "sop" and not n:
            # SOP compliance is dated by the gate run, after the data's last day: the latest run's day.
            latest = con.execute(
                """SELECT kpi_date, value, target, status FROM marts.fct_kpi_daily
                   WHERE kpi_id = ? AND segment_type = 'all' ORDER BY kpi_date DESC LIMIT 1""",
                [kpi_id],
            ).fetchone()
            value, period_target, status = latest[1:] if latest else (None, target, None)
            note = f"checks of {latest[0]}" if latest else "no SOP gate has run yet"
        elif not n:
            note = "no data in the week"
        elif not complete:
            note = f"data for {n} of {days} days: not judged"
        lines.append(KpiLine(domain, kpi_id, name, unit, value, period_target, status, note))
    return start, end, lines


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "rate":
        return f"{value:.1%}"
    if unit in UNIT_SUFFIX:
        decimals = 0 if unit == "count" else 2
        return f"{value:,.{decimals}f}{UNIT_SUFFIX[unit]}"
    return f"{value:,.2f} {unit}"  # an amount: the unit is the base currency


def print_kpi_summary(warehouse_path: Path, days: int = 7, print_fn=None) -> None:
    """Print, per domain, each KPI of the last complete week with value, target and status."""
    print_fn = print_fn or print  # looked up at call time: a patched print reaches it
    from .sop.results import held_domains
    from .exports.delivered import not_delivered
    from .settings import get_settings

    if not Path(warehouse_path).exists():  # one line, not connect()'s FileNotFoundError traceback
        print_fn(f"no warehouse at {warehouse_path} yet: run `kpi run` (your exports) or `make demo` first")
        return
    with connect(warehouse_path, read_only=True) as con:
        week = kpi_week(con, days, not_delivered(get_settings().exports_config))
        held = held_domains(con)
    if week is None:
        print_fn("no KPIs in the warehouse yet (marts.fct_kpi_daily is missing or empty)")
        return
    start, end, lines = week
    period = f"{start:%a %Y-%m-%d} to {end:%a %Y-%m-%d}"
    print_fn(f"\nKPIs of the last complete week, {period} (targets of amounts and counts × {days} days)")
    domain = None
    for line in lines:
        if line.domain != domain:
            domain = line.domain
            print_fn(f"\n{domain.replace('_', ' ')}")
            for h in held.get(domain, []):  # a failed data gate holds the domain back: last good rows
                print_fn(f"  STALE: {h.mart} held back by {h.gate} ({h.reason}); last good rows built {h.built_at or '-'}")
            print_fn(f"  {'kpi_id':<42} {'value':>16} {'target':>16}  status")
        status = "-" if line.status is None else STATUS_LABEL.get(line.status, line.status)
        status = status if line.status == "on_target" else status.upper()  # the bad ones stand out in a column
        note = f"  ({line.note})" if line.note else ""
        print_fn(f"  {line.kpi_id:<42} {format_value(line.value, line.unit):>16} "
                 f"{format_value(line.target, line.unit) if line.target is not None else 'no target':>16}  {status}{note}")
    print_fn("\ntargets: yours in dbt_project/seeds/kpi_targets_business.csv (a row per KPI; an empty target or no row = "
             "no target), then `kpi run`; `kpi demo` uses the demo's, demo_target in dbt_project/dbt_project.yml (KPI_TARGETS=demo)")


@dataclass(frozen=True)
class Unmapped:
    column: str  # export.column
    seed_file: str  # the seed the business edits
    test: str  # the warn test that stored the values
    values: list[tuple[str, int]]  # (value as delivered, rows)


AUDIT_SCHEMA = "dbt_test__audit"  # where dbt stores a test's failures (store_failures)


def unmapped_values(con) -> list[Unmapped]:
    """Per seed-mapped contract column, the delivered values its seed has no row for, with their row
    counts: read from the stored failures of the column's warn test (one row per row it flagged)."""
    from .exports import EXPORTS
    from .exports.contract import unmapped_test

    found = []
    for e in EXPORTS:
        for c in e.columns:
            test = unmapped_test(e, c) if c.seed else None
            if test is None or not has_table(con, f"{AUDIT_SCHEMA}.{test}"):
                continue
            values = con.execute(f"SELECT from_field, count(*) FROM {AUDIT_SCHEMA}.{test} GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
            if values:
                found.append(Unmapped(f"{e.name}.{c.name}", f"dbt_project/seeds/{c.seed}.csv", test, values))
    return found


def print_unmapped_values(warehouse_path: Path, print_fn=None) -> None:
    """After a run: each vocabulary value without a row in its seed, its rows and the seed to edit."""
    print_fn = print_fn or print
    if not Path(warehouse_path).exists():
        return
    with connect(warehouse_path, read_only=True) as con:
        found = unmapped_values(con)
    if not found:
        return
    print_fn("\nvalues not in their seed: kept as delivered, counted as none of the seed's meanings "
             "(docs/export_contracts.md, 'When a value is not in its seed'); add a row per value, then `kpi run`")
    for u in found:
        listed = ", ".join(f"{value} ({rows} row{'s' if rows != 1 else ''})" for value, rows in u.values)
        print_fn(f"  {u.column:<32} {listed}  -> {u.seed_file}  (warn test {u.test})")
