"""Shared fixtures: a temp warehouse and landing folder per test (`settings`), and the worlds built once
per test run (shared by the pytest-xdist workers) and read by many tests (`demo_world`: copy it before
changing it, `copy_of`)."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The tests' worlds have fixed dates (2026): their partitions must not start on the first day of a demo
# left in data/landing (pipelines/partitions.py reads it when first imported, after this line). A test
# about the data's first day unsets it; the browser test's `make dev` runs without it.
os.environ.setdefault("KPI_PARTITIONS_START", "2024-01-01")

from pipelines.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings  # noqa: E402

DBT = str(Path(sys.executable).with_name("dbt"))


def require_debian_tool(path: str | None, what: str, make_target: str) -> None:
    """A Debian program a test drives (chromium, redis-server). `make test` installs it when run as
    root, as CI does: missing there, the test fails; elsewhere it is skipped with how to install it."""
    if path and Path(path).exists():
        return
    if os.geteuid() == 0:
        pytest.fail(f"{what} is missing although `make {make_target}` (part of `make test`) installs it as root")
    pytest.skip(f"{what} is not installed (sudo apt-get install {what}; `make test` installs it when run as root)")


# `pytest -m "not slow"`: the developer run (README). Slow = builds a world of its own or drives a
# JVM, Celery workers or a browser: the tests that use a published demo, carry one of those markers,
# or live in a module listed here (modules whose shared world is a module fixture).
SLOW_FIXTURES = {"demo_world", "published_demo", "published_demo_rerun"}
SLOW_MARKERS = ("spark", "celery", "browser")
SLOW_MODULES = {
    "test_kpi_marts.py",        # 59 demo days loaded, every model and data test built
    "test_incremental.py",      # five pipeline runs: full refresh, two nights, a correction, a full refresh
    "test_bench.py",            # `kpi bench`: the pipeline twice, the DuckDB floor and the pandas baseline
    "test_dbt_unit_tests.py",   # every model built empty, then dbt's unit tests
    "test_sop_gates.py",        # a clean and a broken 42-day world, staging and gate views built
    "test_partial_selection.py",  # a demo and a pipeline run per test
    "test_data_test_window.py",   # a full refresh and nightly runs of a world of its own
    "test_shell_run_history.py",  # `kpi run` from the shell: a whole pipeline run
    "test_make_dev.py",           # starts `make dev` (the Dagster webserver and daemon) and stops it
    "test_first_refresh_held.py",  # a 7-day world of its own through a whole pipeline run
    "test_anomaly_demo.py",       # a 36-day demo generated and loaded (and the published demo)
}


# `make test` (pytest-xdist, --dist loadfile --no-loadscope-reorder) hands the files to its workers in
# collection order, each to the next idle worker: the longest files go first, so that no worker starts one
# of them when the other is nearly done (longest-processing-time-first). Every other file keeps its order after.
LONGEST_FIRST = (
    "test_spark_portability.py", "test_real_exports.py", "test_incremental.py", "test_bench.py",
    "test_celery_executor.py", "test_quarantine.py", "test_sop_pipeline.py", "test_concurrent_runs.py",
    "test_dagster_ui_browser.py", "test_serving.py", "test_crash_recovery.py", "test_shell_run_history.py",
    "test_partial_selection.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if (SLOW_FIXTURES & set(item.fixturenames) or any(item.get_closest_marker(m) for m in SLOW_MARKERS)
                or item.path.name in SLOW_MODULES):
            item.add_marker(pytest.mark.slow)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's tests stay together, in order


@pytest.fixture(scope="session", autouse=True)
def _tests_dagster_home(tmp_path_factory):
    """The tests' runs are recorded in an instance of their own (per pytest-xdist worker), with the
    project's instance config: never in the project's `.dagster/` run history, which `make` exports as
    DAGSTER_HOME and `make dev` shows. A test about that history points at it itself."""
    import shutil

    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(PROJECT_ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home))
        yield home


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
# `demo_world`'s exports: a test that delivers them again (changed) generates with these.
DEMO_EXPORTS = {"days": 14, "scale": 0.2, "seed": 3, "end_date": DEMO_END}


@dataclasses.dataclass(frozen=True)
class DemoWorld:
    """A demo run through the whole pipeline: its paths, the rows the generator wrote per export and
    the run's progress lines (what `kpi run` prints)."""
    settings: Settings
    written: dict[str, int]
    run_lines: list[str]


def _built_once(tmp_path_factory, name: str, build) -> tuple[Path, dict]:
    """`build(root)` once per test run, also when pytest-xdist runs the session in several worker processes
    (xdist's docs: a session fixture is per worker; share it through a file lock). The first worker to ask
    builds into a folder every worker sees; the others wait on the lock and read the JSON it returned."""
    import fcntl
    import json
    import shutil

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's temp folder: the workers' own folders are in it
    root, built = base / name, base / name / "built.json"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also when the build raises
        if not built.exists():
            shutil.rmtree(root, ignore_errors=True)  # what a worker's failed build left
            root.mkdir()
            built.write_text(json.dumps(build(root)))
        return root, json.loads(built.read_text())


def _settings_of(root: Path) -> Settings:
    with pytest.MonkeyPatch.context() as mp:
        for k, v in _demo_env(root).items():
            mp.setenv(k, v)
        return Settings.from_env()


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory) -> DemoWorld:
    """A small demo (14 days) run once per test run (all xdist workers) through the whole pipeline and
    published. Treat it as read-only: a test that changes it must copy it first (see `copy_of`)."""

    def build(root: Path) -> dict:
        from pipelines.exports.demo import generate_demo_exports
        from pipelines.runner import run_job

        with pytest.MonkeyPatch.context() as mp:
            for k, v in _demo_env(root).items():
                mp.setenv(k, v)
            written = generate_demo_exports(root / "landing", **DEMO_EXPORTS, progress=None)
            lines: list[str] = []
            assert run_job("refresh_all", print_fn=lines.append), "\n".join(lines)
            return {"written": written, "run_lines": lines}

    root, built = _built_once(tmp_path_factory, "published_demo", build)
    return DemoWorld(_settings_of(root), built["written"], built["run_lines"])


@pytest.fixture(scope="session")
def published_demo(demo_world) -> Settings:
    """The paths of `demo_world` (read-only)."""
    return demo_world.settings


@pytest.fixture(scope="session")
def published_demo_rerun(demo_world, tmp_path_factory) -> DemoWorld:
    """A copy of `demo_world` after a second `refresh_all` over the same exports (read-only): one rerun
    per test run for every test about what a rerun changes."""

    def build(root: Path) -> dict:
        from pipelines.runner import run_job

        with pytest.MonkeyPatch.context() as mp:
            copy_of(demo_world.settings, root, mp)
            lines: list[str] = []
            assert run_job("refresh_all", print_fn=lines.append), "\n".join(lines)
            return {"run_lines": lines}

    root, built = _built_once(tmp_path_factory, "published_demo_rerun", build)
    return DemoWorld(_settings_of(root), demo_world.written, built["run_lines"])


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
