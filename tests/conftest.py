"""Shared fixtures: every test makes its own warehouse and landing folder in a temp dir."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.settings import DBT_PROJECT_DIR, Settings

DBT = str(Path(sys.executable).with_name("dbt"))


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """Point every path of the pipeline at a temp dir (landing, warehouse, dbt target)."""
    monkeypatch.setenv("KPI_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("KPI_WAREHOUSE_PATH", str(tmp_path / "warehouse" / "kpi.duckdb"))
    monkeypatch.setenv("KPI_BUSINESS_TIMEZONE", "UTC")
    monkeypatch.setenv("KPI_BASE_CURRENCY", "USD")
    (tmp_path / "landing").mkdir()
    return Settings.from_env()


@pytest.fixture
def run_dbt(settings, tmp_path):
    """Run the dbt CLI of this venv against the temp warehouse; fail the test with dbt's output on error."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, **settings.dbt_env(), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}
        cmd = [DBT, *args, "--project-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "dbt_target"),
               "--log-path", str(tmp_path / "dbt_logs")]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            pytest.fail(f"dbt {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
        return proc

    return run


def write_csv(landing_dir: Path, export, rows: list[dict], *, day: str | None = "2026-01-01",
              columns: list[str] | None = None, name: str | None = None) -> Path:
    """Write rows as a landing CSV of `export` (header = the contract's columns unless given)."""
    import csv

    columns = columns or export.column_names
    path = Path(landing_dir) / export.folder / (name or export.file_name(day))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    return path
