"""Two full refreshes started together on one warehouse both succeed: one waits for the other."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from pipelines.settings import PROJECT_ROOT
from tests.conftest import copy_of


def test_two_runs_started_together_both_succeed(published_demo, tmp_path, monkeypatch):
    demo = copy_of(published_demo, tmp_path / "demo", monkeypatch)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    kpi = str(Path(sys.executable).with_name("kpi"))
    procs = [subprocess.Popen([kpi, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-4000:]
        assert "succeeded" in out
    assert demo.serving_path.exists()
