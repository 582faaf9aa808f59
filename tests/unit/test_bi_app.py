"""The BI app without a browser: Streamlit's own test harness (AppTest) runs the app's script."""
from __future__ import annotations

import pytest

from pipelines.settings import PROJECT_ROOT

pytest.importorskip("streamlit", reason="the BI app's extra is not installed (`make test` installs it)")
APP = str(PROJECT_ROOT / "pipelines" / "bi" / "app.py")


def _run(monkeypatch, serving):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("KPI_SERVING_PATH", str(serving))
    return AppTest.from_file(APP, default_timeout=30).run()


def test_a_missing_snapshot_says_which_file_and_what_to_run(tmp_path, monkeypatch):
    at = _run(monkeypatch, tmp_path / "serving" / "kpi.duckdb")
    assert not at.exception
    [error] = at.error
    assert str(tmp_path / "serving" / "kpi.duckdb") in error.value and "make demo" in error.value


def test_a_snapshot_without_kpis_says_so(tmp_path, monkeypatch):
    import duckdb

    empty = tmp_path / "kpi.duckdb"
    duckdb.connect(str(empty)).close()
    at = _run(monkeypatch, empty)
    assert not at.exception
    [error] = at.error
    assert "marts.dim_kpi" in error.value and "make demo" in error.value
