"""Nightly incremental runs (daily partitions, dbt vars window) against full refreshes, on real runs.

The demo world is generated once; its files are delivered day by day as the source systems
would, each night followed by the run of that day's partition. The result must equal a full
refresh of the same files, KPI row for KPI row; a corrected export re-delivered for a day far
behind the lookback must correct that day; an export that stops arriving fails its freshness check.
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.exports import BY_NAME, EXPORTS
from pipelines.settings import Settings

END = dt.date(2026, 3, 20)
DAYS = 12  # the days before the nights cover the corrected day, far behind the lookback
NIGHTS = [END - dt.timedelta(days=1), END]  # delivered one by one after the first full refresh
CORRECTED_DAY = END - dt.timedelta(days=9)  # far behind the 3-day lookback of the last night

# Compared tables: every KPI mart and the incremental model. SOP compliance is dated by the run
# that checked (its history differs by construction), so it is left out.
TABLES = ["intermediate.int_storefront__sessions", "marts.fct_storefront_daily", "marts.fct_marketing_daily",
          "marts.fct_customer_service_daily", "marts.fct_logistics_daily", "marts.fct_logistics_inventory_daily",
          "marts.fct_manufacturing_daily", "marts.fct_customer_cohorts"]
KPI_LONG = "SELECT * FROM marts.fct_kpi_daily WHERE domain <> 'sop'"
# and its week and month roll-ups, rebuilt from it by a nightly run too
KPI_PERIODS = [f"SELECT * FROM marts.{t} WHERE domain <> 'sop'" for t in ("kpi_weekly", "kpi_monthly")]


def _env(root: Path) -> dict[str, str]:
    return {"KPI_LANDING_DIR": str(root / "landing"), "KPI_WAREHOUSE_PATH": str(root / "warehouse" / "kpi.duckdb"),
            "KPI_SERVING_PATH": str(root / "serving" / "kpi.duckdb"), "KPI_BUSINESS_TIMEZONE": "UTC",
            "KPI_BASE_CURRENCY": "USD", "KPI_INCREMENTAL_LOOKBACK_DAYS": "3"}


def _day_of(path: Path) -> dt.date | None:
    stem = path.name.split(".")[0]
    try:
        return dt.date.fromisoformat(stem[-10:])
    except ValueError:
        return None  # a snapshot (one file, no day)


def _deliver(src: Path, landing: Path, *, through: dt.date, only: dt.date | None = None) -> int:
    """Copy the exports of the days up to `through` (or of day `only`) as the source systems deliver them."""
    n = 0
    for f in sorted(p for p in src.rglob("*") if p.is_file()):
        day = _day_of(f)
        wanted = (day == only) if only else (day is None or day <= through)
        if wanted:
            dest = landing / f.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)
            n += 1
    return n


def _run(**kw) -> None:
    from pipelines.runner import run_job

    lines: list[str] = []
    assert run_job("refresh_all", print_fn=lines.append, **kw), "\n".join(lines)


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    # Sums of doubles may differ in the last bits with the order DuckDB adds them in.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(sql).fetchall()
    return sorted(tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows)


@pytest.fixture(scope="module")
def nightly(tmp_path_factory):
    """12 small demo days: the first 10 by a full refresh, then one nightly partition run per new day."""
    from pipelines.exports.demo import generate_demo_exports

    root = tmp_path_factory.mktemp("nightly")
    src = root / "exports"
    generate_demo_exports(src, days=DAYS, scale=0.1, seed=11, end_date=END, progress=None)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in _env(root).items():
            mp.setenv(k, v)
        settings = Settings.from_env()
        _deliver(src, settings.landing_dir, through=NIGHTS[0] - dt.timedelta(days=1))
        _run()  # `kpi run`: the full refresh
        for night in NIGHTS:
            assert _deliver(src, settings.landing_dir, through=night, only=night) > 0
            _run(partitions=night.isoformat())
        yield settings, src, root, mp


def test_nightly_incremental_runs_equal_a_full_refresh(nightly, tmp_path, monkeypatch):
    settings, src, _root, _mp = nightly
    incremental = {t: _rows(settings.warehouse_path, f"SELECT * FROM {t}") for t in TABLES}
    incremental_kpis = _rows(settings.warehouse_path, KPI_LONG)
    incremental_periods = [_rows(settings.warehouse_path, q) for q in KPI_PERIODS]
    newest = _rows(settings.warehouse_path, "SELECT max(session_date) FROM intermediate.int_storefront__sessions")
    assert newest == [(END,)], "the last night's sessions were built"

    for k, v in _env(tmp_path).items():
        monkeypatch.setenv(k, v)
    full = Settings.from_env()
    shutil.copytree(settings.landing_dir, full.landing_dir)
    _run()
    for t in TABLES:
        expected = _rows(full.warehouse_path, f"SELECT * FROM {t}")
        assert expected, f"{t} is empty: nothing compared"
        assert incremental[t] == expected, f"{t}: incremental differs from a full refresh"
    assert incremental_kpis == _rows(full.warehouse_path, KPI_LONG)
    for q, rows in zip(KPI_PERIODS, incremental_periods):
        assert rows and rows == _rows(full.warehouse_path, q), f"{q}: incremental differs from a full refresh"


def test_corrected_past_day_export_recomputes_that_day(nightly):
    """A web_sessions file of a day 9 days back is re-delivered with one session's device corrected
    from mobile to desktop: that day's sessions move by exactly one between the two device segments."""
    settings, _src, _root, _mp = nightly
    e = BY_NAME["web_sessions"]
    path = settings.landing_dir / e.folder / e.file_name(CORRECTED_DAY.isoformat())
    kpi = ("SELECT segment, denominator FROM marts.fct_kpi_daily WHERE kpi_id = 'sf_conversion_rate' "
           f"AND segment_type = 'device' AND kpi_date = DATE '{CORRECTED_DAY}' AND segment IN ('mobile', 'desktop')")
    before = dict(_rows(settings.warehouse_path, kpi))

    with duckdb.connect() as con:
        con.execute(f"CREATE TABLE s AS SELECT * FROM read_csv('{path}', all_varchar = true)")
        session_id = con.execute("SELECT min(session_id) FROM s WHERE device = 'mobile'").fetchone()[0]
        assert session_id, f"{path} has no mobile session to correct"
        con.execute("UPDATE s SET device = 'desktop' WHERE session_id = ?", [session_id])
        path.unlink()
        con.execute(f"COPY s TO '{path}' (HEADER, DELIMITER ',')")

    _run(partitions=END.isoformat())  # the nightly run again: its window is END-3..END, the file is older
    after = dict(_rows(settings.warehouse_path, kpi))
    assert after["desktop"] == before["desktop"] + 1
    assert after["mobile"] == before["mobile"] - 1
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        device = con.execute("SELECT device FROM intermediate.int_storefront__sessions WHERE session_id = ?",
                             [session_id]).fetchone()[0]
    assert device == "desktop"


def test_a_stale_export_fails_its_freshness_check(nightly):
    """Freshness checks in a real Dagster run: tickets last loaded 30 h ago (> 26 h for a daily
    export) is stale; orders, just loaded, is fresh; the marts were refreshed in this session."""
    import dagster as dg

    from pipelines.definitions import defs

    settings, *_ = nightly
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("UPDATE raw._load_log SET loaded_at = loaded_at - INTERVAL 30 HOUR WHERE export = 'tickets'")
    result = defs.resolve_job_def("export_freshness").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success  # WARN checks: a stale export is shown, it stops nothing
    evaluations = {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {f"raw/{e.name}" for e in EXPORTS} | {"marts/fct_kpi_daily"}
    assert not evaluations["raw/tickets"].passed
    assert evaluations["raw/tickets"].metadata["age_hours"].value >= 30
    assert evaluations["raw/orders"].passed
    assert evaluations["marts/fct_kpi_daily"].passed
    assert evaluations["raw/tickets"].severity == dg.AssetCheckSeverity.WARN
