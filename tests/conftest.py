"""Shared fixtures: every test makes its own warehouse and landing folder in a temp dir."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.settings import DBT_PROJECT_DIR, Settings

DBT = str(Path(sys.executable).with_name("dbt"))


def require_debian_tool(path: str | None, what: str, make_target: str) -> None:
    """A Debian program a test drives (chromium, redis-server). `make test` installs it when run as
    root, as CI does: missing there, the test fails; elsewhere it is skipped with how to install it."""
    if path and Path(path).exists():
        return
    if os.geteuid() == 0:
        pytest.fail(f"{what} is missing although `make {make_target}` (part of `make test`) installs it as root")
    pytest.skip(f"{what} is not installed (sudo apt-get install {what}; `make test` installs it when run as root)")


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


DEMO_END = __import__("datetime").date(2026, 3, 31)


@pytest.fixture(scope="session")
def published_demo(tmp_path_factory) -> Settings:
    """A small demo (14 days) run once through the whole pipeline and published. Treat it as read-only:
    a test that changes it must copy it first (see `copy_of`)."""
    from pipelines.exports.demo import generate_demo_exports
    from pipelines.runner import run_job

    root = tmp_path_factory.mktemp("published_demo")
    with pytest.MonkeyPatch.context() as mp:
        for k, v in _demo_env(root).items():
            mp.setenv(k, v)
        generate_demo_exports(root / "landing", days=14, scale=0.2, seed=3, end_date=DEMO_END, progress=None)
        lines: list[str] = []
        assert run_job("refresh_all", print_fn=lines.append), "\n".join(lines)
        return Settings.from_env()


def _demo_env(root: Path) -> dict[str, str]:
    return {
        "KPI_LANDING_DIR": str(root / "landing"),
        "KPI_WAREHOUSE_PATH": str(root / "warehouse" / "kpi.duckdb"),
        "KPI_SERVING_PATH": str(root / "serving" / "kpi.duckdb"),
        "KPI_BUSINESS_TIMEZONE": "UTC",
        "KPI_BASE_CURRENCY": "USD",
        "KPI_TARGETS": "demo",  # the demo world is judged against the demo's targets, as `kpi demo` does
    }


def copy_of(demo: Settings, root: Path, monkeypatch) -> Settings:
    """A private copy of a published demo (landing, warehouse, serving), with the env pointed at it."""
    import shutil

    shutil.copytree(demo.landing_dir, root / "landing")
    shutil.copytree(demo.warehouse_path.parent, root / "warehouse")
    shutil.copytree(demo.serving_path.parent, root / "serving")
    for k, v in _demo_env(root).items():
        monkeypatch.setenv(k, v)
    return Settings.from_env()
