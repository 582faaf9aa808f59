"""The console KPI summary: every KPI of every daily mart over the last days of data.

Marts store each KPI as `<kpi_id>_numerator`, `<kpi_id>_denominator` and `<kpi_id>`;
a period value is sum(numerator) / sum(denominator), never an average of daily ratios.
"""
from __future__ import annotations

from pathlib import Path

from .warehouse import connect


def kpi_period_values(con, table: str, days: int) -> tuple[str, str, list[tuple[str, float | None]]]:
    cols = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' AND table_name = ? ORDER BY ordinal_position",
        [table]).fetchall()]
    kpis = [c.removesuffix("_numerator") for c in cols if c.endswith("_numerator")]
    if not kpis:
        return "", "", []
    last = con.execute(f"SELECT max(kpi_date) FROM marts.{table}").fetchone()[0]
    if last is None:
        return "", "", []
    # Identifiers come from the warehouse catalog of our own marts, not from user input.
    exprs = ", ".join(
        f"sum({k}_numerator) / nullif(sum({k}_denominator), 0)" if not _is_count(con, table, k) else f"sum({k}_numerator)"
        for k in kpis
    )
    row = con.execute(
        f"SELECT min(kpi_date), max(kpi_date), {exprs} FROM marts.{table} WHERE kpi_date > ?::DATE - ?::INTEGER",
        [last, days],
    ).fetchone()
    return str(row[0]), str(row[1]), list(zip(kpis, row[2:]))


def _is_count(con, table: str, kpi: str) -> bool:
    """A plain amount or count carries no denominator (KPI_CATALOG rule 1)."""
    return con.execute(f"SELECT count({kpi}_denominator) = 0 FROM marts.{table}").fetchone()[0]


def print_kpi_summary(warehouse_path: Path, days: int = 7, print_fn=print) -> None:
    with connect(warehouse_path, read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
            "AND table_name LIKE 'fct_%_daily' ORDER BY 1").fetchall()]
        if not tables:
            print_fn("no KPI marts in the warehouse yet")
            return
        for table in tables:
            first, last, values = kpi_period_values(con, table, days)
            if not values:
                continue
            domain = table.removeprefix("fct_").removesuffix("_daily").replace("_", " ")
            print_fn(f"\n{domain} — {first} to {last}")
            for kpi, value in values:
                shown = "n/a" if value is None else (f"{value:.1%}" if kpi.endswith("_rate") else f"{value:,.2f}")
                print_fn(f"  {kpi:<40} {shown:>12}")
